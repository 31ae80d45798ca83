"""Tests for tasks.measures.

Independent cross-checks: the Rockafellar-Uryasev LP (and the drawdown LP with running-peak
variables) solved with cvxpy/HiGHS, brute-force quantiles / tail averages written with plain
loops over distinct values, plain numpy formulas for uniform probabilities, and drawdowns
computed by hand.
"""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np
import pytest

from tasks import measures as rm
from tasks.measures import DRAWDOWN_MEASURES, RiskMeasure

LP_TOL = 1e-8
SOCP_TOL = 1e-7


# ---------------------------------------------------------------------------------------------
# independent reference implementations
# ---------------------------------------------------------------------------------------------
def _solve(prob: cp.Problem, solver: str = cp.HIGHS) -> float:
    prob.solve(solver=solver)
    assert prob.status == cp.OPTIMAL, prob.status
    return float(prob.value)


def ru_lp(losses: np.ndarray, w: np.ndarray, alpha: float) -> float:
    """Rockafellar-Uryasev LP: min z + (1/alpha) w^T u, u >= L - z, u >= 0."""
    z = cp.Variable()
    u = cp.Variable(losses.shape[0], nonneg=True)
    return _solve(cp.Problem(cp.Minimize(z + (w / alpha) @ u), [u >= losses - z]))


def cdar_lp(paths: np.ndarray, p: np.ndarray, alpha: float) -> float:
    """CDaR LP with running-peak variables U (peak >= 0 = c_0, nondecreasing, >= cumulative)."""
    P, T = paths.shape
    c = np.cumsum(paths, axis=1)
    U = cp.Variable((P, T))
    s = cp.Variable((P, T), nonneg=True)
    z = cp.Variable()
    W = np.repeat((p / T)[:, None], T, axis=1)
    cons = [U[:, 0] >= 0, U >= c, U[:, 1:] >= U[:, :-1], s >= U - c - z]
    return _solve(cp.Problem(cp.Minimize(z + cp.sum(cp.multiply(W, s)) / alpha), cons))


def var_brute(x: np.ndarray, p: np.ndarray, alpha: float) -> float:
    """Smallest loss level z (over the support) with P(-x <= z) >= 1 - alpha."""
    losses = -np.asarray(x, dtype=float)
    support = sorted({float(v) for v, q in zip(losses, p) if q > 0})
    for z in support:
        prob_le = sum(q for v, q in zip(losses, p) if q > 0 and v <= z)
        if prob_le >= 1.0 - alpha - 1e-12:
            return z
    raise AssertionError("unreachable")


def tail_average_brute(losses: np.ndarray, p: np.ndarray, alpha: float) -> float:
    """Average of the worst alpha probability mass, the boundary atom taken fractionally."""
    support = sorted({float(v) for v, q in zip(losses, p) if q > 0}, reverse=True)
    remaining, total = alpha, 0.0
    for v in support:
        mass = sum(q for l, q in zip(losses, p) if l == v)
        take = min(mass, remaining)
        total += take * v
        remaining -= take
        if remaining <= 0.0:
            break
    return total / alpha


def drawdowns_loop(steps: np.ndarray) -> np.ndarray:
    """Drawdowns of one path with a plain loop (peak starts at c_0 = 0)."""
    out, c, peak = [], 0.0, 0.0
    for r in steps:
        c += r
        peak = max(peak, c)
        out.append(peak - c)
    return np.array(out)


def random_case(rng: np.random.Generator, S: int, *, zeros: int, discrete: bool):
    """P&L x (S,) and non-uniform p (S,) with `zeros` zero-probability scenarios."""
    if discrete:  # few distinct values -> ties -> atoms at the VaR
        x = rng.integers(-4, 5, size=S) / 2.0
    else:
        x = rng.standard_t(3, size=S)
    p = rng.dirichlet(np.full(S, 0.7))
    if zeros:
        p[rng.choice(S, size=zeros, replace=False)] = 0.0
        p /= p.sum()
    return x, p


ALPHAS = [0.01, 0.05, 0.1, 0.25, 0.5, 0.9]


# ---------------------------------------------------------------------------------------------
# enum
# ---------------------------------------------------------------------------------------------
def test_enum_codes():
    names = ["MV", "MAD", "MSV", "FLPM", "SLPM", "CVaR", "WR", "MDD", "ADD", "CDaR"]
    assert [m.name for m in RiskMeasure] == names
    assert all(m.value == m.name for m in RiskMeasure)
    assert RiskMeasure("CVaR") is RiskMeasure.CVaR
    assert RiskMeasure.CVaR == "CVaR" and str(RiskMeasure.CVaR) == "CVaR"
    for bad in ["CVAR", "cvar", "CVaR ", "VaR"]:
        with pytest.raises(ValueError):
            RiskMeasure(bad)
    assert DRAWDOWN_MEASURES == frozenset({RiskMeasure.MDD, RiskMeasure.ADD, RiskMeasure.CDaR})


# ---------------------------------------------------------------------------------------------
# CVaR / VaR
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_cvar_matches_ru_lp(seed):
    rng = np.random.default_rng(seed)
    S = [9, 16, 40][seed % 3]
    x, p = random_case(rng, S, zeros=seed % 4, discrete=seed % 2 == 0)
    for alpha in ALPHAS + [1.0]:
        ours = rm.conditional_value_at_risk(x, p, alpha)
        assert abs(ours - ru_lp(-x, p, alpha)) < LP_TOL, alpha
        assert abs(ours - tail_average_brute(-x, p, alpha)) < 1e-12, alpha


def test_cvar_atom_exactly_at_var():
    # dyadic probabilities: every sum below is exact in floating point
    x = np.array([-3.0, -1.0, -1.0, -1.0, 0.0, 2.0, 2.0, 5.0, -9.0])
    p = np.array([1, 2, 1, 1, 4, 3, 2, 2, 0]) / 16.0  # -9 has p = 0
    # losses sorted: 3 (1/16), 1 (4/16 in three scenarios), 0, -2, -5
    assert rm.worst_realization(x, p) == 3.0
    # alpha = 1/16: tail mass exactly exhausted by the worst atom -> VaR is the next loss
    assert rm.value_at_risk(x, p, 1 / 16) == 1.0
    assert rm.conditional_value_at_risk(x, p, 1 / 16) == pytest.approx(3.0, abs=1e-15)
    # alpha = 1/8: worst atom (1/16) + half of the tied atom at 1 (fractional weight)
    assert rm.value_at_risk(x, p, 1 / 8) == 1.0
    assert rm.conditional_value_at_risk(x, p, 1 / 8) == pytest.approx((3 / 16 + 1 / 16) * 8, abs=1e-15)
    # alpha = 5/16: atom at 1 fully used -> VaR jumps to the next loss (0)
    assert rm.value_at_risk(x, p, 5 / 16) == 0.0
    assert rm.conditional_value_at_risk(x, p, 5 / 16) == pytest.approx((3 + 4) / 16 * 16 / 5, abs=1e-15)
    for alpha in [1 / 16, 1 / 8, 3 / 16, 5 / 16, 0.3, 9 / 16, 0.75]:
        assert rm.value_at_risk(x, p, alpha) == var_brute(x, p, alpha)
        ours = rm.conditional_value_at_risk(x, p, alpha)
        assert abs(ours - ru_lp(-x, p, alpha)) < LP_TOL
        assert abs(ours - tail_average_brute(-x, p, alpha)) < 1e-14


@pytest.mark.parametrize("seed", range(8))
def test_var_matches_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    x, p = random_case(rng, 25, zeros=3, discrete=seed % 2 == 0)
    for alpha in ALPHAS:
        assert rm.value_at_risk(x, p, alpha) == var_brute(x, p, alpha)


def test_tail_mass_far_from_the_largest_losses():
    # The largest losses carry almost no probability, so the alpha tail reaches deep into the
    # sorted losses (exercises the widening of the partial sort); reference: full sort.
    rng = np.random.default_rng(21)
    S, M = 3000, 3
    x = rng.normal(size=(S, M))
    x[:, 1] = np.round(x[:, 1], 1)  # ties
    p = np.where(x[:, 0] < -0.5, 1e-7, 1.0)
    p[rng.choice(S, 200, replace=False)] = 0.0
    p /= p.sum()
    for alpha in [0.01, 0.05, 0.3, 0.99, 1.0]:
        cvar = rm.conditional_value_at_risk(x, p, alpha)
        for j in range(M):
            L = -x[:, j]
            order = np.argsort(-L, kind="stable")
            Ls, ps = L[order], p[order]
            before = np.concatenate([[0.0], np.cumsum(ps)[:-1]])
            ref = Ls @ np.clip(alpha - before, 0.0, ps) / alpha  # fractional tail average
            assert cvar[j] == pytest.approx(ref, rel=1e-12, abs=1e-12)
            if alpha < 1:
                keep = ps > 0
                cum_le = 1.0 - np.concatenate([[0.0], np.cumsum(ps[keep])[:-1]])  # P(L <= Ls_i)
                ref_var = Ls[keep][cum_le >= 1 - alpha - 1e-12].min()
                assert rm.value_at_risk(x[:, j], p, alpha) == ref_var


def test_var_ignores_worst_zero_probability_scenario():
    x = np.array([-100.0, -1.0, 0.5, 1.0])
    p = np.array([0.0, 0.2, 0.3, 0.5])
    assert rm.value_at_risk(x, p, 0.1) == 1.0
    assert rm.conditional_value_at_risk(x, p, 0.1) == 1.0
    assert rm.worst_realization(x, p) == 1.0


# ---------------------------------------------------------------------------------------------
# uniform p reproduces plain numpy / Riskfolio population formulas
# ---------------------------------------------------------------------------------------------
def test_uniform_matches_numpy():
    rng = np.random.default_rng(7)
    S = 37
    x = rng.normal(0.001, 0.02, size=S)
    mu = x.mean()
    cases = {
        "expected_return": (rm.expected_return(x), mu),
        "MV": (rm.standard_deviation(x), np.std(x, ddof=0)),
        "MAD": (rm.mean_absolute_deviation(x), np.mean(np.abs(x - mu))),
        "MSV": (rm.semi_deviation(x), np.sqrt(np.mean(np.minimum(x - mu, 0.0) ** 2))),
        "FLPM": (rm.first_lower_partial_moment(x, rf=0.01), np.mean(np.maximum(0.01 - x, 0.0))),
        "SLPM": (rm.second_lower_partial_moment(x, rf=0.01), np.sqrt(np.mean(np.maximum(0.01 - x, 0.0) ** 2))),
        "WR": (rm.worst_realization(x), -x.min()),
    }
    for name, (ours, ref) in cases.items():
        assert ours == pytest.approx(ref, rel=1e-13, abs=1e-16), name
    # explicit uniform p gives the same as p=None
    u = np.full(S, 1 / S)
    assert rm.semi_deviation(x, u) == pytest.approx(cases["MSV"][1], rel=1e-13)

    # VaR / CVaR: alpha*S not an integer -> same as Riskfolio's VaR_Hist / CVaR_Hist formulas
    xs = np.sort(x)
    for alpha in [0.05, 0.1, 0.33]:
        k = math.ceil(alpha * S)
        assert rm.value_at_risk(x, alpha=alpha) == -xs[k - 1]
        assert rm.value_at_risk(x, alpha=alpha) == np.quantile(-x, 1 - alpha, method="inverted_cdf")
        cvar_hist = -xs[k - 1] - np.sum(xs[:k] - xs[k - 1]) / (alpha * S)
        assert rm.conditional_value_at_risk(x, alpha=alpha) == pytest.approx(cvar_hist, rel=1e-12)


def test_uniform_integer_tail_count():
    # alpha*S integer (S = 1000, alpha = 0.05: 50 scenarios): CVaR is the mean of the 50 worst
    # losses; VaR = min{z : P(L <= z) >= 0.95} is the 51st largest loss (Riskfolio: the 50th).
    rng = np.random.default_rng(3)
    x = rng.normal(size=1000)
    losses = np.sort(-x)[::-1]
    assert rm.value_at_risk(x, alpha=0.05) == losses[50]
    assert rm.conditional_value_at_risk(x, alpha=0.05) == pytest.approx(losses[:50].mean(), rel=1e-13)
    assert rm.conditional_value_at_risk(x, alpha=1.0) == pytest.approx(-x.mean(), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# the other measures against their LP / SOCP formulations (non-uniform p)
# ---------------------------------------------------------------------------------------------
def test_deviation_measures_match_lp_socp():
    rng = np.random.default_rng(11)
    x, p = random_case(rng, 30, zeros=4, discrete=False)
    S, rf = x.shape[0], 0.1
    mu = float(p @ x)
    n = cp.Variable(S, nonneg=True)
    mad = _solve(cp.Problem(cp.Minimize(p @ n), [n >= x - mu, n >= mu - x]))
    assert abs(rm.mean_absolute_deviation(x, p) - mad) < LP_TOL
    flpm = _solve(cp.Problem(cp.Minimize(p @ n), [n >= rf - x]))
    assert abs(rm.first_lower_partial_moment(x, p, rf) - flpm) < LP_TOL
    t = cp.Variable()
    wr = _solve(cp.Problem(cp.Minimize(t), [t >= -x[p > 0]]))
    assert abs(rm.worst_realization(x, p) - wr) < LP_TOL
    sq = np.sqrt(p)
    msv = _solve(cp.Problem(cp.Minimize(cp.norm(cp.multiply(sq, n), 2)), [n >= mu - x]), cp.CLARABEL)
    assert abs(rm.semi_deviation(x, p) - msv) < SOCP_TOL
    slpm = _solve(cp.Problem(cp.Minimize(cp.norm(cp.multiply(sq, n), 2)), [n >= rf - x]), cp.CLARABEL)
    assert abs(rm.second_lower_partial_moment(x, p, rf) - slpm) < SOCP_TOL
    sd = np.sqrt(p @ (x - mu) ** 2)  # weighted variance via a different route: E[x^2] - mu^2
    assert rm.standard_deviation(x, p) == pytest.approx(np.sqrt(p @ x**2 - mu**2), rel=1e-10)
    assert rm.standard_deviation(x, p) == pytest.approx(sd, rel=1e-14)


# ---------------------------------------------------------------------------------------------
# p = 0 scenarios have no influence
# ---------------------------------------------------------------------------------------------
def _all_scenario_measures(x, p):
    return {
        "ER": rm.expected_return(x, p),
        "MV": rm.standard_deviation(x, p),
        "MAD": rm.mean_absolute_deviation(x, p),
        "MSV": rm.semi_deviation(x, p),
        "FLPM": rm.first_lower_partial_moment(x, p, rf=0.01),
        "SLPM": rm.second_lower_partial_moment(x, p, rf=0.01),
        "VaR": rm.value_at_risk(x, p, 0.1),
        "CVaR": rm.conditional_value_at_risk(x, p, 0.1),
        "WR": rm.worst_realization(x, p),
    }


def test_zero_probability_scenarios_have_no_influence():
    rng = np.random.default_rng(5)
    S, M = 20, 3
    x = rng.normal(size=(S, M))
    p = rng.dirichlet(np.ones(S))
    dead = np.array([0, 4, 9, 13, 19])
    p[dead] = 0.0
    p /= p.sum()
    base = _all_scenario_measures(x, p)
    alive = p > 0
    reduced = _all_scenario_measures(x[alive], p[alive])
    for extreme in [1e300, -1e300, np.inf, -np.inf, np.nan, 1e6]:
        x2 = x.copy()
        x2[dead] = extreme
        x2[dead[::2], 1] = -extreme if not np.isnan(extreme) else 0.0
        got = _all_scenario_measures(x2, p)
        for name in base:
            np.testing.assert_array_equal(got[name], base[name], err_msg=f"{name} {extreme}")
    for name in base:
        np.testing.assert_allclose(reduced[name], base[name], rtol=1e-14, atol=0, err_msg=name)


def test_zero_probability_paths_have_no_influence():
    rng = np.random.default_rng(6)
    paths = rng.normal(size=(6, 8, 2))
    p = np.array([0.2, 0.0, 0.3, 0.1, 0.0, 0.4])
    funcs = [rm.max_drawdown, rm.average_drawdown,
             lambda a, q: rm.conditional_drawdown_at_risk(a, q, 0.2)]
    base = [f(paths, p) for f in funcs]
    for extreme in [-1e300, np.inf, -np.inf, np.nan]:
        paths2 = paths.copy()
        paths2[[1, 4]] = extreme
        for f, b in zip(funcs, base):
            np.testing.assert_array_equal(f(paths2, p), b)


# ---------------------------------------------------------------------------------------------
# drawdowns
# ---------------------------------------------------------------------------------------------
# Hand-computed (uncompounded, c_0 = 0):
#   path A steps [1, -2, 3, -4]: c = 1, -1, 2, -2; peak = 1, 1, 2, 2; d = 0, 2, 0, 4
#   path B steps [-1, -1, 3, -0.5]: c = -1, -2, 1, 0.5; peak (incl. 0) = 0, 0, 1, 1; d = 1, 2, 0, 0.5
#   path C steps [-100, 0, 0, 0]: d = 100, 100, 100, 100 (worst, but probability 0)
PATHS = np.array([[1.0, -2.0, 3.0, -4.0], [-1.0, -1.0, 3.0, -0.5], [-100.0, 0.0, 0.0, 0.0]])
PATH_P = np.array([0.75, 0.25, 0.0])


def test_drawdown_paths_hand_computed():
    expected = np.array([[0.0, 2.0, 0.0, 4.0], [1.0, 2.0, 0.0, 0.5], [100.0, 100.0, 100.0, 100.0]])
    np.testing.assert_array_equal(rm.drawdown_paths(PATHS), expected)
    # (P, T, M): second portfolio is the negated P&L
    # -A: c = -1, 1, -2, 2 -> peak 0, 1, 1, 2 -> d = 1, 0, 3, 0
    # -B: c = 1, 2, -1, -0.5 -> peak 1, 2, 2, 2 -> d = 0, 0, 3, 2.5
    # -C: c = 100 -> d = 0
    d3 = rm.drawdown_paths(np.stack([PATHS, -PATHS], axis=2))
    assert d3.shape == (3, 4, 2)
    np.testing.assert_array_equal(d3[..., 0], expected)
    np.testing.assert_array_equal(d3[..., 1], [[1, 0, 3, 0], [0, 0, 3, 2.5], [0, 0, 0, 0]])
    rng = np.random.default_rng(1)
    for steps in rng.normal(size=(5, 12)):
        np.testing.assert_allclose(rm.drawdown_paths(steps[None, :])[0], drawdowns_loop(steps), atol=1e-15)


def test_drawdown_measures_hand_computed():
    # MDD: worst over A and B (C has p = 0) = 4
    assert rm.max_drawdown(PATHS, PATH_P) == 4.0
    assert rm.max_drawdown(PATHS) == 100.0  # uniform p: C counts
    # ADD: 0.75 * (6/4) + 0.25 * (3.5/4) = 1.125 + 0.21875
    assert rm.average_drawdown(PATHS, PATH_P) == 1.34375
    # CDaR: cells of A weigh 0.75/4 = 0.1875, cells of B 0.25/4 = 0.0625. Sorted drawdowns:
    # 4 (.1875), 2 (.1875, A), 2 (.0625, B), 1 (.0625), 0.5 (.0625), 0 ...
    assert rm.conditional_drawdown_at_risk(PATHS, PATH_P, 0.1) == 4.0
    # alpha = .25: 4*.1875 + 2*.0625 = .875 -> / .25
    assert rm.conditional_drawdown_at_risk(PATHS, PATH_P, 0.25) == 3.5
    # alpha = .5: 4*.1875 + 2*.25 + 1*.0625 = 1.3125 -> / .5
    assert rm.conditional_drawdown_at_risk(PATHS, PATH_P, 0.5) == 2.625
    assert rm.conditional_drawdown_at_risk(PATHS, PATH_P, 1.0) == pytest.approx(1.34375, abs=1e-15)
    # single path = Riskfolio's MDD_Abs / ADD_Abs / CDaR_Abs population versions
    assert rm.max_drawdown(PATHS[1:2]) == 2.0
    assert rm.average_drawdown(PATHS[1:2]) == 0.875
    for alpha in [0.1, 0.25, 0.5, 0.75, 1.0]:
        assert abs(rm.conditional_drawdown_at_risk(PATHS, PATH_P, alpha) - cdar_lp(PATHS, PATH_P, alpha)) < LP_TOL


@pytest.mark.parametrize("seed", range(4))
def test_cdar_matches_lp_and_brute_force(seed):
    rng = np.random.default_rng(200 + seed)
    P, T = 5, 7
    if seed % 2 == 0:
        paths = rng.integers(-2, 3, size=(P, T)).astype(float)  # many tied drawdowns
    else:
        paths = rng.normal(size=(P, T))
    p = rng.dirichlet(np.ones(P))
    p[seed % P] = 0.0
    paths[seed % P] = -5.0  # zero-probability path holds the worst drawdown
    p /= p.sum()
    cells = np.concatenate([drawdowns_loop(s) for s in paths])
    w = np.repeat(p / T, T)
    for alpha in ALPHAS + [1.0]:
        ours = rm.conditional_drawdown_at_risk(paths, p, alpha)
        assert abs(ours - cdar_lp(paths, p, alpha)) < LP_TOL, alpha
        assert abs(ours - tail_average_brute(cells, w, alpha)) < 1e-12, alpha
    assert rm.max_drawdown(paths, p) == pytest.approx(max(drawdowns_loop(s).max() for s, q in zip(paths, p) if q > 0))
    assert rm.average_drawdown(paths, p) == pytest.approx(w @ cells, rel=1e-14)


# ---------------------------------------------------------------------------------------------
# vectorisation
# ---------------------------------------------------------------------------------------------
def test_vectorised_equals_column_by_column():
    rng = np.random.default_rng(9)
    S, M = 50, 4
    x = np.round(rng.normal(size=(S, M)), 1)  # rounded: ties
    p = rng.dirichlet(np.ones(S))
    p[[3, 7]] = 0.0
    p /= p.sum()
    funcs = [
        rm.expected_return, rm.standard_deviation, rm.mean_absolute_deviation, rm.semi_deviation,
        lambda a, q: rm.first_lower_partial_moment(a, q, 0.05),
        lambda a, q: rm.second_lower_partial_moment(a, q, 0.05),
        lambda a, q: rm.value_at_risk(a, q, 0.1),
        lambda a, q: rm.conditional_value_at_risk(a, q, 0.1),
        rm.worst_realization,
    ]
    for f in funcs:
        vec = f(x, p)
        assert isinstance(vec, np.ndarray) and vec.shape == (M,)
        cols = [f(x[:, j], p) for j in range(M)]
        assert all(isinstance(c, float) for c in cols)
        np.testing.assert_allclose(vec, cols, rtol=1e-14, atol=1e-15)

    paths = np.round(rng.normal(size=(6, 9, M)), 1)
    pp = rng.dirichlet(np.ones(6))
    dfuncs = [rm.max_drawdown, rm.average_drawdown,
              lambda a, q: rm.conditional_drawdown_at_risk(a, q, 0.15)]
    for f in dfuncs:
        vec = f(paths, pp)
        assert vec.shape == (M,)
        np.testing.assert_allclose(vec, [f(paths[:, :, j], pp) for j in range(M)], rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(
        rm.drawdown_paths(paths)[..., 2], rm.drawdown_paths(paths[..., 2])
    )


# ---------------------------------------------------------------------------------------------
# dispatcher and validation
# ---------------------------------------------------------------------------------------------
def test_risk_dispatcher():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(30, 2))
    p = rng.dirichlet(np.ones(30))
    paths = rng.normal(size=(4, 6, 2))
    pp = np.array([0.1, 0.2, 0.3, 0.4])
    alpha, rf = 0.2, 0.03
    expected = {
        "MV": rm.standard_deviation(x, p),
        "MAD": rm.mean_absolute_deviation(x, p),
        "MSV": rm.semi_deviation(x, p),
        "FLPM": rm.first_lower_partial_moment(x, p, rf),
        "SLPM": rm.second_lower_partial_moment(x, p, rf),
        "CVaR": rm.conditional_value_at_risk(x, p, alpha),
        "WR": rm.worst_realization(x, p),
        "MDD": rm.max_drawdown(paths, pp),
        "ADD": rm.average_drawdown(paths, pp),
        "CDaR": rm.conditional_drawdown_at_risk(paths, pp, alpha),
    }
    assert set(expected) == {m.value for m in RiskMeasure}
    for code, ref in expected.items():
        for key in (code, RiskMeasure(code)):
            if RiskMeasure(code) in DRAWDOWN_MEASURES:
                got = rm.risk(key, p=pp, paths=paths, alpha=alpha, rf=rf)
            else:
                got = rm.risk(key, x, p, alpha=alpha, rf=rf)
            np.testing.assert_array_equal(got, ref, err_msg=code)
    # single portfolio -> float
    assert isinstance(rm.risk("CVaR", x[:, 0], p), float)

    with pytest.raises(ValueError, match="unknown risk measure"):
        rm.risk("CVAR ", x, p)
    with pytest.raises(ValueError):
        rm.risk("cvar", x, p)
    for code in DRAWDOWN_MEASURES:
        with pytest.raises(ValueError, match="paths"):
            rm.risk(code, x, p)
    with pytest.raises(ValueError, match="length|shape"):
        rm.risk("CDaR", p=p, paths=paths)  # scenario p (30,) for 4 paths
    with pytest.raises(ValueError, match="x"):
        rm.risk("MV", paths=paths)


def test_input_validation():
    x = np.arange(4.0)
    with pytest.raises(ValueError):
        rm.standard_deviation(x, [0.5, 0.5, 0.5, -0.5])  # negative
    with pytest.raises(ValueError):
        rm.standard_deviation(x, [0.3, 0.3, 0.3, 0.3])  # does not sum to 1
    with pytest.raises(ValueError):
        rm.standard_deviation(x, [0.5, 0.5])  # wrong length
    with pytest.raises(ValueError):
        rm.standard_deviation(np.zeros((2, 2, 2)))
    for bad in [0.0, -0.1, 1.5]:
        with pytest.raises(ValueError):
            rm.conditional_value_at_risk(x, alpha=bad)
        with pytest.raises(ValueError):
            rm.conditional_drawdown_at_risk(x[None, :], alpha=bad)
    with pytest.raises(ValueError):
        rm.value_at_risk(x, alpha=1.0)
    with pytest.raises(ValueError):
        rm.max_drawdown(x)  # paths must be (P, T[, M])
