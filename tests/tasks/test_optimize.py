import numpy as np
import pytest
from scipy.optimize import linprog, minimize

from tasks import measures as rmod
from tasks.measures import (
    DRAWDOWN_MEASURES,
    RiskMeasure,
    conditional_value_at_risk,
)
from tasks.optimization import (
    Constraints,
    Objective,
    PortfolioProblem,
    efficient_frontier,
    frontier_limits,
    frontier_targets,
    optimize,
)


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


# =============================================================================================
# Issue #4: all ten measures x four objectives, constraints, cutting planes
# =============================================================================================

MEASURES = [m.value for m in RiskMeasure]
OBJECTIVES = [o.value for o in Objective]
RF, AVERSION, ALPHA = 0.001, 2.0, 0.1


def _small(seed=3):
    """Three correlated instruments, scenarios and paths, some with zero probability (and junk)."""
    rng = np.random.default_rng(seed)
    S, P, T = 120, 24, 8
    scale, drift = np.array([0.5, 1.0, 1.6]), np.array([0.002, 0.008, 0.014])
    L = np.array([[1.0, 0, 0], [0.4, 0.9, 0], [0.2, 0.3, 0.9]])
    R = (rng.standard_t(6, size=(S, 3)) @ L.T) * 0.04 * scale + drift
    p = rng.uniform(0.3, 1.0, S)
    p[:3], R[:3] = 0.0, -5.0  # zero-probability scenarios must not matter (WR!)
    paths = (rng.normal(0, 0.015, size=(P, T, 3)) @ L.T) * scale + drift / 4
    pp = rng.uniform(0.3, 1.0, P)
    pp[0], paths[0] = 0.0, -1.0
    return R, p / p.sum(), paths, pp / pp.sum()


@pytest.fixture(scope="module")
def small():
    return _small()


@pytest.fixture(scope="module")
def simplex_grid(small):
    """Every measure on a 1/200 grid of the long-only simplex (independent brute force)."""
    R, p, paths, pp = small
    st = 200
    a = np.arange(st + 1)
    A, B = np.meshgrid(a, a, indexing="ij")
    m = A + B <= st
    E = np.stack([A[m], B[m], st - A[m] - B[m]]) / st
    risks = {}
    for rm in MEASURES:
        prob = pp if RiskMeasure(rm) in DRAWDOWN_MEASURES else p
        risks[rm] = rmod.risk(rm, R @ E, prob, paths=paths @ E, alpha=ALPHA, rf=RF)
    return E, R.T @ p, risks


@pytest.fixture(scope="module")
def small_problems(small):
    R, p, paths, pp = small
    return {rm: PortfolioProblem(R, p, rm=rm, alpha=ALPHA, rf=RF, paths=paths, path_p=pp,
                                 constraints=Constraints(sht=False)) for rm in MEASURES}


@pytest.mark.parametrize("obj", OBJECTIVES)
@pytest.mark.parametrize("rm", MEASURES)
def test_every_measure_and_objective_against_brute_force(rm, obj, simplex_grid, small_problems):
    E, mu, risks = simplex_grid
    risk = risks[rm]
    prob = small_problems[rm]
    res = prob.solve(obj, l=AVERSION)
    assert res.status == "optimal" and res.objective == obj
    e = res.exposures
    assert e.sum() == pytest.approx(1.0, abs=1e-8) and (e >= -1e-8).all()
    # the reported risk is the evaluator's, and the formulation agrees with it at the optimum
    assert res.risk == pytest.approx(prob.evaluate_risk(e), abs=1e-14)
    assert res.model_risk == pytest.approx(res.risk, abs=1e-7)
    scale = float(np.abs(risk).max())
    if obj == "MinRisk":
        value, grid = res.risk, risk.min()
        assert value <= grid + 1e-8 * scale  # no grid point is less risky
        assert value >= grid - 2e-3 * scale  # and the grid comes close
    elif obj == "MaxRet":
        i = int(np.argmax(mu))
        assert res.expected_return == pytest.approx(mu[i], abs=1e-8)
        assert np.allclose(e, np.eye(3)[i], atol=1e-6)
    elif obj == "Sharpe":
        ratio = np.where(risk > 0, (mu @ E - RF) / np.where(risk > 0, risk, 1.0), -np.inf)
        value, grid = res.ratio(RF), ratio.max()
        assert value >= grid - 1e-6 * abs(grid)
        assert value <= grid + 2e-3 * abs(grid)
    else:
        pen = risk**2 if rm == "MV" else risk
        util = mu @ E - AVERSION * pen
        value = res.expected_return - AVERSION * (res.risk**2 if rm == "MV" else res.risk)
        assert value >= util.max() - 1e-8 * scale
        assert value <= util.max() + 2e-3 * scale


def _pairs_dd(paths_kept):
    """Rows of all (u <= t) pairs per path: drawdown d_{j,t} >= c_{j,u} - c_{j,t} (c_0 = 0)."""
    P, T, n = paths_kept.shape
    C = np.concatenate([np.zeros((P, 1, n)), np.cumsum(paths_kept, axis=1)], axis=1)
    rows, cells = [], []
    for j in range(P):
        for t in range(1, T + 1):
            for u in range(t):
                rows.append(C[j, u] - C[j, t])
                cells.append(j * T + t - 1)
    return np.array(rows), np.array(cells)


def _lp_reference(rm, R, p, paths, pp, v, lo, hi, floor):
    """Independent LP (scipy/HiGHS) of min risk s.t. v e = 1, mu e >= floor, lo <= e <= hi."""
    keep = p > 0
    X, q = R[keep], p[keep]
    mu = X.T @ q
    n = X.shape[1]
    blocks_ub, b_ub, cost, bnds = [], [], [], []

    def add_vars(c, b):
        cost.extend(c)
        bnds.extend(b)

    add_vars([0.0] * n, list(zip(lo, hi)))
    if rm == "MAD":  # a_s >= |D_s e|
        D = X - mu
        s = len(q)
        add_vars(list(q), [(0, None)] * s)
        blocks_ub += [np.hstack([D, -np.eye(s)]), np.hstack([-D, -np.eye(s)])]
        b_ub += [np.zeros(s), np.zeros(s)]
    elif rm == "FLPM":
        s = len(q)
        add_vars(list(q), [(0, None)] * s)
        blocks_ub.append(np.hstack([-X, -np.eye(s)]))
        b_ub.append(np.full(s, -RF))
    elif rm == "WR":
        add_vars([1.0], [(None, None)])
        blocks_ub.append(np.hstack([-X, -np.ones((len(q), 1))]))
        b_ub.append(np.zeros(len(q)))
    else:  # drawdowns with pairwise rows (a different formulation from the optimiser's)
        kp = pp > 0
        Pk = paths[kp]
        P, T, _ = Pk.shape
        w = np.repeat(pp[kp] / T, T)
        pairs, cells = _pairs_dd(Pk)
        m = len(pairs)
        if rm == "MDD":
            add_vars([1.0], [(None, None)])
            blocks_ub.append(np.hstack([pairs, -np.ones((m, 1))]))
            b_ub.append(np.zeros(m))
        else:
            ncell = P * T
            sel = np.zeros((m, ncell))
            sel[np.arange(m), cells] = 1.0
            if rm == "ADD":
                add_vars(list(w), [(0, None)] * ncell)
                blocks_ub.append(np.hstack([pairs, -sel]))
                b_ub.append(np.zeros(m))
            else:  # CDaR: z + sum w/alpha g, g >= d - z, d >= pair
                add_vars(list(np.zeros(ncell)) + [1.0] + list(w / ALPHA),
                         [(0, None)] * ncell + [(None, None)] + [(0, None)] * ncell)
                blocks_ub.append(np.hstack([pairs, -sel, np.zeros((m, 1 + ncell))]))
                blocks_ub.append(np.hstack([np.zeros((ncell, n)), np.eye(ncell), -np.ones((ncell, 1)), -np.eye(ncell)]))
                b_ub += [np.zeros(m), np.zeros(ncell)]
    nv = len(cost)
    A_ub = np.vstack([np.hstack([b, np.zeros((b.shape[0], nv - b.shape[1]))]) for b in blocks_ub])
    A_ub = np.vstack([A_ub, np.concatenate([-mu, np.zeros(nv - n)])])
    b_all = np.concatenate(b_ub + [[-floor]])
    A_eq = np.concatenate([v, np.zeros(nv - n)])[None, :]
    res = linprog(cost, A_ub=A_ub, b_ub=b_all, A_eq=A_eq, b_eq=[1.0], bounds=bnds, method="highs")
    assert res.status == 0
    return res.fun


@pytest.mark.parametrize("rm", ["MAD", "FLPM", "WR", "MDD", "ADD", "CDaR"])
def test_lp_measures_match_independent_linprog_with_shorts_and_floor(rm, small):
    R, p, paths, pp = small
    v = np.array([1.0, 0.8, 1.2])
    lo, hi = np.full(3, -0.5), np.full(3, 1.5)
    floor = 0.009
    res = optimize(R, p, v=v, rm=rm, alpha=ALPHA, rf=RF, paths=paths, path_p=pp, lowerret=floor,
                   bounds=(lo, hi))
    ref = _lp_reference(rm, R, p, paths, pp, v, lo, hi, floor)
    assert res.status == "optimal"
    assert res.risk == pytest.approx(ref, abs=1e-7)
    assert res.expected_return >= floor - 1e-8 and v @ res.exposures == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("rm", ["MSV", "SLPM"])
def test_semi_measures_match_scipy_slsqp(rm, small):
    R, p, _, _ = small
    keep = p > 0
    X, q = R[keep], p[keep]
    mu = X.T @ q
    v = np.array([1.0, 0.8, 1.2])
    floor = 0.009
    base = X - mu if rm == "MSV" else X - RF  # shortfall below the mean / below rf

    def f(e):
        d = np.minimum(base @ e if rm == "MSV" else X @ e - RF, 0.0)
        return q @ d**2

    def grad(e):
        d = np.minimum(base @ e if rm == "MSV" else X @ e - RF, 0.0)
        return 2.0 * (X - mu if rm == "MSV" else X).T @ (q * d)

    cons = [{"type": "eq", "fun": lambda e: v @ e - 1.0, "jac": lambda e: v},
            {"type": "ineq", "fun": lambda e: mu @ e - floor, "jac": lambda e: mu}]
    ref = minimize(f, np.full(3, 1 / v.sum()), jac=grad, constraints=cons, bounds=[(-0.5, 1.5)] * 3,
                   method="SLSQP", options={"ftol": 1e-15, "maxiter": 500})
    assert ref.success
    res = optimize(R, p, v=v, rm=rm, rf=RF, lowerret=floor, bounds=(np.full(3, -0.5), np.full(3, 1.5)))
    assert res.status == "optimal"
    assert res.risk == pytest.approx(np.sqrt(ref.fun), abs=1e-6)
    assert res.risk <= np.sqrt(ref.fun) + 1e-8


@pytest.mark.parametrize("rm", ["MV", "CVaR", "CDaR", "MAD"])
def test_sharpe_is_the_best_ratio_on_the_frontier(rm, small):
    R, p, paths, pp = small
    kw = dict(rm=rm, alpha=ALPHA, rf=RF, paths=paths, path_p=pp, bounds=(np.full(3, -0.3), np.full(3, 1.3)))
    fr = efficient_frontier(R, p, points=80, **kw)
    assert (fr["status"] == "optimal").all()
    scan = ((fr["expected_return"] - RF) / fr["risk"]).max()
    res = optimize(R, p, obj="Sharpe", **kw)
    assert res.status == "optimal"
    assert res.ratio(RF) >= scan - 1e-7
    assert res.ratio(RF) <= scan * (1 + 2e-3)
    # the Sharpe portfolio lies on the frontier: min risk at its return is its risk
    at = PortfolioProblem(R, p, **kw).min_risk(res.expected_return - 1e-10)
    assert at.risk == pytest.approx(res.risk, rel=1e-6)


@pytest.mark.parametrize("rm", ["CVaR", "MV", "MDD"])
def test_no_positive_excess_status(rm, small):
    R, p, paths, pp = small
    for method in ("lp", "cuts") if rm == "CVaR" else ("lp",):
        res = optimize(R, p, rm=rm, obj="Sharpe", rf=0.05, paths=paths, path_p=pp,
                       constraints=Constraints(sht=False), cvar_method=method)
        assert res.status == "no_positive_excess" and not res.ok
        assert np.isnan(res.exposures).all() and "rf" in res.message


def test_sharpe_with_a_riskless_instrument_is_unbounded():
    rng = np.random.default_rng(0)
    R = np.column_stack([rng.normal(0.01, 0.05, 200), np.full(200, 0.004)])
    res = optimize(R, rm="MV", obj="Sharpe", rf=0.0, constraints=Constraints(sht=False))
    assert res.status == "unbounded" and np.isnan(res.exposures).all()


def test_infeasible_and_unbounded_statuses(small):
    R, p, _, _ = small
    # bounds that cannot meet the budget
    res = optimize(R, p, rm="MV", constraints=Constraints(bounds=(0.0, 0.2)))
    assert res.status == "infeasible" and np.isnan(res.exposures).all()
    for obj in ("MaxRet", "Sharpe", "Utility"):
        assert optimize(R, p, rm="CVaR", obj=obj, constraints=Constraints(bounds=(0.0, 0.2))).status == "infeasible"
    # unlimited shorts: the maximum return is unbounded
    assert optimize(R, p, rm="CVaR", obj="MaxRet").status == "unbounded"
    # contradictory linear constraints
    cons = Constraints(linear=["A + B >= 0.9", "A + B <= 0.5"])
    assert optimize(R, p, rm="MAD", names=["A", "B", "C"], constraints=cons).status == "infeasible"


def test_drawdown_measures_need_paths(small):
    R, p, paths, pp = small
    for rm in ("MDD", "ADD", "CDaR"):
        with pytest.raises(ValueError, match="drawdown"):
            PortfolioProblem(R, p, rm=rm)
    with pytest.raises(ValueError, match="drawdown"):
        PortfolioProblem(R, p, rm="CVaR", constraints=Constraints(upperCDaR=0.1))
    with pytest.raises(ValueError):
        PortfolioProblem(R, p, rm="MDD", paths=paths[:, :, :2], path_p=pp)


def test_bad_codes_fail_fast(small):
    R, p, _, _ = small
    with pytest.raises(ValueError):
        optimize(R, p, obj="Shape")
    with pytest.raises(ValueError):
        PortfolioProblem(R, p, cvar_method="cut")
    with pytest.raises(ValueError):
        PortfolioProblem(R, p, solver="CLARABLE")
    with pytest.raises(ValueError, match="cuts"):
        PortfolioProblem(R, p, rm="MV", cvar_method="cuts")


@pytest.mark.parametrize("rm", MEASURES)
def test_frontier_for_every_measure(rm, small):
    R, p, paths, pp = small
    fr = efficient_frontier(R, p, points=5, rm=rm, alpha=ALPHA, rf=RF, paths=paths, path_p=pp,
                            constraints=Constraints(sht=False), names=["A", "B", "C"])
    assert (fr["status"] == "optimal").all() and list(fr.columns[-3:]) == ["A", "B", "C"]
    assert (np.diff(fr["expected_return"]) > 0).all()
    assert (np.diff(fr["risk"]) >= -1e-7).all()
    lo, hi = frontier_limits(R, p, rm=rm, alpha=ALPHA, rf=RF, paths=paths, path_p=pp,
                             constraints=Constraints(sht=False))
    assert lo.risk == pytest.approx(fr["risk"].iloc[0], abs=1e-12)
    assert hi.expected_return == pytest.approx(fr["expected_return"].iloc[-1], abs=1e-7)


# ---- CVaR cutting planes ---------------------------------------------------------------------
def _big(seed=21, s=3000, n=6):
    rng = np.random.default_rng(seed)
    R = rng.standard_t(4, size=(s, n)) * np.linspace(0.02, 0.08, n) + np.linspace(0.0, 0.012, n)
    R[:, 1] += 0.5 * R[:, 0]
    p = rng.uniform(0.2, 1.0, s)
    p[:10] = 0.0
    return R, p / p.sum()


CUT_CASES = {
    "long_only": dict(constraints=Constraints(sht=False)),
    "bounded_shorts_demean": dict(bounds=(-0.4, 0.8), demean=True, v=np.array([1, 1, 0.5, 1, 2, 1.0])),
    "families": dict(names=list("ABCDEF"), constraints=Constraints(
        bounds=(-0.3, 0.7), groups={"G1": ["A", "B"], "G2": ["E", "F"]}, group_bounds={"G2": (None, 0.5)},
        linear=["A - 2*C >= -0.4", "D + E == 0.3"], uppersht=0.2, upperlng=1.3, leverage=1.5,
        turnover=1.2, holdings=np.full(6, 1 / 6), margin_rates=np.linspace(0.1, 0.6, 6), margin=0.5)),
}


@pytest.mark.parametrize("case", list(CUT_CASES))
def test_cutting_planes_equal_full_lp(case):
    R, p = _big()
    kw = dict(CUT_CASES[case], rm="CVaR", alpha=0.05)
    cuts = PortfolioProblem(R, p, cvar_method="cuts", **kw)
    full = PortfolioProblem(R, p, cvar_method="lp", solver="HIGHS", **kw)
    lo, hi = cuts.min_risk(), full.max_return()
    assert lo.ok and hi.ok and lo.iterations >= 1
    for t in [None, *frontier_targets(lo.expected_return, hi.expected_return, 6)[1:]]:
        a, b = cuts.min_risk(t), full.min_risk(t)
        assert a.status == b.status == "optimal"
        assert a.risk == pytest.approx(b.risk, abs=1e-8)
        assert a.model_risk == pytest.approx(a.risk, abs=1e-9)
    for obj in ("Sharpe", "Utility"):
        a, b = cuts.solve(obj, l=3.0), full.solve(obj, l=3.0)
        assert a.status == b.status == "optimal"
        if obj == "Sharpe":
            assert a.ratio() == pytest.approx(b.ratio(), abs=1e-8 * abs(b.ratio()))
        else:
            assert a.expected_return - 3 * a.risk == pytest.approx(b.expected_return - 3 * b.risk, abs=1e-8)
    # every solve starts from its own cuts only: re-solving a point repeats it bit for bit
    mid = 0.5 * (lo.expected_return + hi.expected_return)
    first, again = cuts.min_risk(mid), cuts.min_risk(mid)
    assert np.array_equal(first.exposures, again.exposures) and again.iterations == first.iterations


def test_cut_frontier_equals_lp_frontier_and_auto_switches():
    R, p = _big(s=6000, n=5)
    kw = dict(rm="CVaR", alpha=0.05, constraints=Constraints(sht=False))
    auto = PortfolioProblem(R, p, cvar_method="auto", **kw)
    assert auto.cuts is not None  # >= AUTO_CUTS_MIN_SCENARIOS, linear, bounded
    assert PortfolioProblem(R[:1000], None, cvar_method="auto", **kw).cuts is None
    assert PortfolioProblem(R, p, cvar_method="auto", rm="CVaR").cuts is None  # unbounded shorts
    a = efficient_frontier(R, p, points=8, **kw)
    b = efficient_frontier(R, p, points=8, cvar_method="lp", solver="HIGHS", **kw)
    assert (a["status"] == "optimal").all()
    # the limits are optimal to the cuts' gap (1e-8 of the risk); near-flat directions of the risk
    # let their returns, hence the targets, differ by more: compare risks at the cut targets below
    assert np.abs(a["target"] - b["target"]).max() < 1e-6
    # equal targets up to 1e-9 of a return: compare at the cut frontier's own targets
    full = PortfolioProblem(R, p, cvar_method="lp", solver="HIGHS", **kw)
    ref = [full.min_risk(None if k == 0 else t).risk for k, t in enumerate(a["target"])]
    assert np.abs(a["risk"].to_numpy() - ref).max() < 1e-8


def test_cuts_on_an_unbounded_master_fall_back_to_the_lp():
    R, p = _big(s=1500, n=4)
    res = optimize(R, p, rm="CVaR", cvar_method="cuts")  # free shorts: the master is unbounded
    ref = optimize(R, p, rm="CVaR", cvar_method="lp", solver="HIGHS")
    assert res.status == "optimal" and res.risk == pytest.approx(ref.risk, abs=1e-8)
    assert "full LP" in res.message


def test_a_cut_solve_is_independent_of_history():
    """What a distributed frontier needs: a point's result depends on the problem only, not on
    which points the same compiled problem solved before."""
    R, p = _big(s=4000, n=5)
    kw = dict(rm="CVaR", alpha=0.05, constraints=Constraints(sht=False), cvar_method="cuts")
    A = PortfolioProblem(R, p, **kw)
    lo, hi = A.min_risk(), A.max_return()
    t = frontier_targets(lo.expected_return, hi.expected_return, 5)
    A.min_risk(t[3])
    A.solve("Sharpe")  # some history on A
    a = A.min_risk(t[2])
    b = PortfolioProblem(R, p, **kw).min_risk(t[2])
    assert np.array_equal(a.exposures, b.exposures) and a.risk == b.risk


def _concentrated(s: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fat-tailed P&L and a crash posterior: probabilities tilted towards the market's losses,
    effective number of scenarios well under 20 % of S."""
    rng = np.random.default_rng(seed)
    market = rng.standard_t(5, size=s) * 0.04
    beta = np.linspace(-0.6, 1.5, n)  # the first instruments hedge the market
    R = market[:, None] * beta + rng.normal(0, 0.02, size=(s, n)) + np.linspace(0.0, 0.01, n)
    w = np.exp(-40.0 * market)
    q = w / w.sum()
    return R, q


def test_cuts_solve_every_point_of_a_concentrated_posterior_exactly():
    """A crash posterior (ENS <= 0.2 S) at S = 20,000: every frontier point is optimal and its CVaR
    equals the exact Rockafellar-Uryasev LP (HiGHS) to 1e-7 relative."""
    from tasks.views import effective_number_of_scenarios

    R, q = _concentrated(20_000, 6, 11)
    assert effective_number_of_scenarios(q, np.full(q.size, 1 / q.size)) <= 0.2
    kw = dict(rm="CVaR", alpha=0.10, demean=True, bounds=(0.0, 0.5))
    cuts = PortfolioProblem(R, q, cvar_method="cuts", **kw)
    full = PortfolioProblem(R, q, cvar_method="lp", solver="HIGHS", **kw)
    lo, hi = cuts.min_risk(), cuts.max_return()
    assert lo.ok and hi.ok
    for t in frontier_targets(lo.expected_return, hi.expected_return, 6):
        a, b = cuts.min_risk(float(t)), full.min_risk(float(t))
        assert a.status == b.status == "optimal" and a.message == ""
        assert a.risk == pytest.approx(b.risk, rel=1e-7)
    for obj in ("Sharpe", "Utility"):
        a, b = cuts.solve(obj, l=2.0), full.solve(obj, l=2.0)
        assert a.status == b.status == "optimal" and a.message == ""
        if obj == "Sharpe":
            assert a.ratio() == pytest.approx(b.ratio(), rel=1e-7)
        else:
            assert a.expected_return - 2 * a.risk == pytest.approx(b.expected_return - 2 * b.risk, rel=1e-7)
