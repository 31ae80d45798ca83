import numpy as np
import pytest
from scipy.optimize import linprog

from tasks.optimize import PortfolioProblem, efficient_frontier, frontier_targets, optimize
from tasks.risk_measures import conditional_value_at_risk


def _data(s=400, n=4, seed=0):
    rng = np.random.default_rng(seed)
    R = rng.normal(0.02, 0.1, size=(s, n)) * np.linspace(0.5, 1.5, n) + np.linspace(0, 0.03, n)
    p = rng.uniform(0.2, 1.0, s)
    p[:5] = 0.0
    return R, p / p.sum()


def _ru_linprog(R, p, v, alpha, lo, hi, floor=None):
    """Independent Rockafellar-Uryasev LP with scipy/HiGHS: x = [e (n), z, u (S)]."""
    s, n = R.shape
    c = np.concatenate([np.zeros(n), [1.0], p / alpha])
    # -R e - z - u <= 0
    A_ub = np.hstack([-R, -np.ones((s, 1)), -np.eye(s)])
    b_ub = np.zeros(s)
    if floor is not None:
        mu = R.T @ p
        A_ub = np.vstack([A_ub, np.concatenate([-mu, [0.0], np.zeros(s)])])
        b_ub = np.append(b_ub, -floor)
    A_eq = np.concatenate([v, [0.0], np.zeros(s)])[None, :]
    bounds = [(lo[i], hi[i]) for i in range(n)] + [(None, None)] + [(0, None)] * s
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=[1.0], bounds=bounds, method="highs")
    assert res.status == 0
    return res.fun, res.x[:n]


@pytest.mark.parametrize("floor", [None, 0.03])
def test_cvar_matches_independent_lp_and_evaluator(floor):
    R, p = _data()
    v = np.array([1.0, 1.0, 0.5, 2.0])
    lo, hi = np.full(4, -1.0), np.full(4, 1.5)
    res = optimize(R, p, v=v, rm="CVaR", alpha=0.1, lowerret=floor, bounds=(lo, hi))
    ref, e_ref = _ru_linprog(R, p, v, 0.1, lo, hi, floor)
    assert res.status == "optimal"
    assert res.risk == pytest.approx(ref, abs=1e-7)
    assert conditional_value_at_risk(R @ res.exposures, p, 0.1) == pytest.approx(res.risk, abs=1e-12)
    assert v @ res.exposures == pytest.approx(1.0, abs=1e-8)
    if floor is not None:
        assert res.expected_return >= floor - 1e-8


def test_cvar_against_brute_force_grid():
    R, p = _data(s=300, n=3, seed=4)
    res = optimize(R, p, rm="CVaR", alpha=0.05, bounds=(np.zeros(3), np.ones(3)))
    best = np.inf
    for a in np.linspace(0, 1, 201):
        for b in np.linspace(0, 1 - a, max(2, int(round((1 - a) * 200)) + 1)):
            e = np.array([a, b, 1 - a - b])
            best = min(best, conditional_value_at_risk(R @ e, p, 0.05))
    assert res.risk <= best + 1e-9           # the LP is at least as good as any grid point
    assert res.risk >= best - 5e-3           # and the grid gets close to it


def test_minimum_variance_closed_form():
    R, p = _data(s=500, n=4, seed=2)
    v = np.array([1.0, 0.8, 1.2, 1.0])
    mu = R.T @ p
    cov = ((R - mu) * p[:, None]).T @ (R - mu)
    w = np.linalg.solve(cov, v)
    e_star = w / (v @ w)
    res = optimize(R, p, v=v, rm="MV")
    assert np.allclose(res.exposures, e_star, atol=1e-6)
    assert res.risk == pytest.approx(np.sqrt(e_star @ cov @ e_star), rel=1e-9)


def test_demeaned_cvar_is_cvar_of_centered_pnl():
    R, p = _data(seed=5)
    res = optimize(R, p, rm="CVaR", alpha=0.1, demean=True, bounds=(np.zeros(4), np.ones(4)))
    pnl = R @ res.exposures
    assert res.risk == pytest.approx(conditional_value_at_risk(pnl - p @ pnl, p, 0.1), abs=1e-12)
    ref, _ = _ru_linprog(R - R.T @ p, p, np.ones(4), 0.1, np.zeros(4), np.ones(4))
    assert res.risk == pytest.approx(ref, abs=1e-7)


@pytest.mark.parametrize("rm", ["CVaR", "MV"])
def test_frontier_monotone_and_budget(rm):
    R, p = _data(seed=7)
    v = np.array([1.0, 1.0, 0.3, 1.0])
    fr = efficient_frontier(R, p, points=12, v=v, rm=rm, alpha=0.1, bounds=(np.full(4, -0.5), np.full(4, 1.0)))
    assert (fr["status"] == "optimal").all() and len(fr) == 12
    e = fr[[f"e{i}" for i in range(4)]].to_numpy()
    assert np.allclose(e @ v, 1.0, atol=1e-8)
    assert (np.diff(fr["expected_return"]) > 0).all()
    assert (np.diff(fr["risk"]) >= -1e-9).all()
    assert (e >= -0.5 - 1e-8).all() and (e <= 1.0 + 1e-8).all()


def test_infeasible_floor_reports_status():
    R, p = _data()
    prob = PortfolioProblem(R, p, rm="CVaR", bounds=(np.zeros(4), np.ones(4)))
    res = prob.min_risk(lowerret=10.0)
    assert res.status == "infeasible" and np.isnan(res.exposures).all() and not res.ok
    # the compiled problem stays usable after an infeasible point
    assert prob.min_risk(lowerret=0.0).ok


def test_compiled_problem_resolves_identically():
    R, p = _data(seed=9)
    prob = PortfolioProblem(R, p, rm="CVaR", alpha=0.1, bounds=(np.zeros(4), np.ones(4)))
    a = prob.min_risk(0.03).exposures
    prob.min_risk(0.01)
    b = prob.min_risk(0.03).exposures
    fresh = PortfolioProblem(R, p, rm="CVaR", alpha=0.1, bounds=(np.zeros(4), np.ones(4))).min_risk(0.03).exposures
    assert np.array_equal(a, b) and np.array_equal(a, fresh)


def test_frontier_targets():
    t = frontier_targets(0.01, 0.05, 5)
    assert np.allclose(t[:-1], [0.01, 0.02, 0.03, 0.04]) and 0.05 - 1e-9 < t[-1] < 0.05
    with pytest.raises(ValueError):
        frontier_targets(0, 1, 1)


def test_typo_in_risk_measure_fails_fast():
    R, p = _data()
    with pytest.raises(ValueError):
        optimize(R, p, rm="CVAR")


def test_unaligned_input_gives_identical_bits():
    """Data deserialized on another worker can be unaligned; results must not change."""
    R, p = _data(s=3000, seed=11)
    buf = np.zeros(R.nbytes + 8, dtype=np.uint8)
    Ru = np.ndarray(R.shape, dtype=np.float64, buffer=buf, offset=3)
    Ru[...] = R
    assert not Ru.flags.aligned
    kw = dict(rm="CVaR", alpha=0.1, bounds=(np.zeros(4), np.ones(4)))
    a = PortfolioProblem(R, p, **kw).min_risk(0.03)
    b = PortfolioProblem(Ru, p, **kw).min_risk(0.03)
    assert np.array_equal(a.exposures, b.exposures) and a.expected_return == b.expected_return
