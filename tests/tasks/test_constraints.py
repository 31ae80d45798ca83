import cvxpy as cp
import numpy as np
import pytest
from scipy.optimize import linprog

from tasks import measures as rmod
from tasks.measures import DRAWDOWN_MEASURES, RiskMeasure
from tasks.optimization import (
    Constraints,
    GreekLimits,
    PortfolioProblem,
    Sense,
    compile_constraints,
    constraint_rows,
    optimize,
    parse_constraint,
)

NAMES = ["A", "B", "C", "D"]
ALPHA = 0.1


# ---- parser ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, coefs, sense, rhs", [
    ("Put_90 + Put_95 >= -0.3", {"Put_90": 1.0, "Put_95": 1.0}, Sense.GE, -0.3),
    ("Equities <= 0.6", {"Equities": 1.0}, Sense.LE, 0.6),
    ("2*A - B <= 0.1", {"A": 2.0, "B": -1.0}, Sense.LE, 0.1),
    ("0.5*(A - B) + 1 == 2*C - 3", {"A": 0.5, "B": -0.5, "C": -2.0}, Sense.EQ, -4.0),
    ("A/4 + B*3 ≥ 1e-2", {"A": 0.25, "B": 3.0}, Sense.GE, 0.01),
    ("-(A - B) = 0", {"A": -1.0, "B": 1.0}, Sense.EQ, 0.0),
    ("'SPX 4000 C' + `odd-name` >= .5", {"SPX 4000 C": 1.0, "odd-name": 1.0}, Sense.GE, 0.5),
    ("A + B - A >= 0", {"B": 1.0}, Sense.GE, 0.0),
])
def test_parse_constraint(text, coefs, sense, rhs):
    c = parse_constraint(text)
    assert dict(c.coefs) == pytest.approx(coefs) and c.sense is sense and c.rhs == pytest.approx(rhs)


@pytest.mark.parametrize("text", [
    "A*B <= 1", "A/B >= 0", "A >= ", ">= 1", "A >= 1 >= 0", "A + 2 B <= 1", "1 >= 0", "A - A >= 1",
    "__import__('os').system('x') >= 0", "A <= 1; B", "A >= 1/0", "(A + B >= 1", "A ** 2 <= 1", "A",
])
def test_parse_constraint_rejects(text):
    with pytest.raises(ValueError):
        parse_constraint(text)


def test_constraint_rows_groups_and_names():
    groups = {"Equities": ["A", "B"], "Bonds": ["C"]}
    A, B, Aeq, Beq = constraint_rows(["Equities <= 0.6", "A - 2*Bonds >= -0.1", "C + D == 0.2"], NAMES, groups)
    assert np.allclose(A, [[-1, -1, 0, 0], [1, 0, -2, 0]]) and np.allclose(B, [-0.6, -0.1])
    assert np.allclose(Aeq, [[0, 0, 1, 1]]) and np.allclose(Beq, [0.2])
    with pytest.raises(ValueError, match="did you mean 'Equities'"):
        constraint_rows(["Equitties <= 0.6"], NAMES, groups)
    with pytest.raises(ValueError, match="both"):
        constraint_rows(["A <= 0.6"], NAMES, {"A": ["B"]})


def test_constraints_validation():
    R = np.zeros((10, 4))
    p = np.full(10, 0.1)
    bad = [
        dict(turnover=-0.1), dict(TE=0.1), dict(TE=0.1, benchmark=np.ones(4), benchmark_pnl=np.ones(10)),
        dict(ainequality=np.ones((1, 4))), dict(ainequality=np.ones((1, 3)), binequality=[0.0]),
        dict(margin=0.3), dict(group_bounds={"G": (0, 1)}), dict(bounds=(0.5, 0.2)),
        dict(greeks=GreekLimits(np.ones((1, 4)), [("Delta", "SPX")])),
        dict(greeks=GreekLimits(np.ones((1, 4)), [("gamma", "SPX")], delta_neutral=True)),
        dict(greeks=GreekLimits(np.ones((1, 4)), [("delta", "SPX")], limits={("vega", "SPX"): (0, 1)})),
        dict(upperCVaR=float("nan")), dict(linear=["A >= 0.1"]),  # no names given below
    ]
    for kw in bad:
        with pytest.raises((ValueError, TypeError)):
            compile_constraints(Constraints(**kw), R=R, p=p, names=None)
    cc = compile_constraints(Constraints(sht=False, bounds={"B": (-1, 0.3)}), R=R, p=p, names=NAMES)
    assert np.array_equal(cc.bounds.lower, [0, 0, 0, 0]) and np.array_equal(cc.bounds.upper, [np.inf, 0.3, np.inf, np.inf])
    with pytest.raises(TypeError):
        compile_constraints({"sht": False}, R=R, p=p)


# ---- data ------------------------------------------------------------------------------------
def _data(seed=5, s=400):
    rng = np.random.default_rng(seed)
    L = np.array([[1, 0, 0, 0], [0.5, 0.8, 0, 0], [0.3, 0.2, 0.9, 0], [-0.2, 0.1, 0.3, 0.9]])
    R = (rng.standard_t(6, size=(s, 4)) @ L.T) * np.array([0.02, 0.05, 0.08, 0.06]) + np.array([0.0, 0.006, 0.012, 0.009])
    p = rng.uniform(0.3, 1.0, s)
    paths = (rng.normal(0, 0.02, size=(30, 10, 4)) @ L.T) * np.array([0.3, 0.7, 1.1, 0.9]) + 0.001
    return R, p / p.sum(), paths, np.full(30, 1 / 30)


R, P, PATHS, PATH_P = _data()
BOX = (-0.8, 1.5)
E0 = np.full(4, 0.25)
RATES = np.array([0.05, 0.3, 0.5, 0.2])
BENCH = np.array([0.4, 0.3, 0.0, 0.3])
INDEX = R @ BENCH + np.random.default_rng(1).normal(0, 0.004, len(P))
GREEKS = np.array([[0.2, 1.0, -0.5, 0.8], [0.0, 0.3, 0.9, -0.4], [0.01, 0.05, 0.02, 0.0], [0.1, 0.4, 0.2, 0.3]])
GREEK_ROWS = [("delta", "SPX"), ("delta", "NDX"), ("gamma", "SPX"), ("vega", "SPX")]


def _std(x):
    return float(rmod.standard_deviation(x, P))


# family -> (value of a portfolio, Constraints with limit L such that value <= L)
FAMILIES = {
    "bounds": (lambda e: e.max(), lambda L: dict(bounds=(BOX[0], L))),
    "group": (lambda e: e[2] + e[3], lambda L: dict(groups={"Risky": ["C", "D"]}, group_bounds={"Risky": (None, L)})),
    "linear_text": (lambda e: 2 * e[2] - e[0], lambda L: dict(linear=[f"2*C - A <= {float(L)!r}"])),
    "raw_A_ge_B": (lambda e: e[1] + e[2], lambda L: dict(ainequality=[[0, -1, -1, 0]], binequality=[-L])),
    "uppersht": (lambda e: np.maximum(-e, 0).sum(), lambda L: dict(uppersht=L)),
    "upperlng": (lambda e: np.maximum(e, 0).sum(), lambda L: dict(upperlng=L)),
    "leverage": (lambda e: np.abs(e).sum(), lambda L: dict(leverage=L)),
    "margin": (lambda e: RATES @ np.abs(e), lambda L: dict(margin_rates=RATES, margin=L)),
    "turnover": (lambda e: np.abs(e - E0).sum(), lambda L: dict(turnover=L, holdings=E0)),
    "TE_exposures": (lambda e: _std(R @ (e - BENCH)), lambda L: dict(TE=L, benchmark=BENCH)),
    "TE_index": (lambda e: _std(R @ e - INDEX), lambda L: dict(TE=L, benchmark_pnl=INDEX)),
    "greek_limit": (lambda e: GREEKS[0] @ e, lambda L: dict(greeks=GreekLimits(GREEKS, GREEK_ROWS, limits={("delta", "SPX"): (None, L)}))),
}


def _solve(rm="CVaR", obj="MinRisk", method="lp", **cons):
    kw = dict(bounds=BOX)
    kw.update(cons)
    return optimize(R, P, rm=rm, obj=obj, alpha=ALPHA, names=NAMES, paths=PATHS, path_p=PATH_P,
                    constraints=Constraints(**kw), cvar_method=method)


@pytest.fixture(scope="module")
def base():
    return {rm: _solve(rm) for rm in ("CVaR", "MV")}


@pytest.mark.parametrize("rm", ["CVaR", "MV"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_constraint_family_binding_and_not(family, rm, base):
    value, make = FAMILIES[family]
    b = base[rm]
    v0 = value(b.exposures)
    loose = _solve(rm, **make(v0 + 0.05 + 0.1 * abs(v0)))
    assert loose.status == "optimal"
    assert np.allclose(loose.exposures, b.exposures, atol=2e-5) and loose.risk == pytest.approx(b.risk, abs=1e-7)
    floor = {"upperlng": 1.0, "leverage": 1.0, "TE_index": 0.004}.get(family, 0.0)
    L = floor + 0.5 * (v0 - floor) if floor < v0 else v0 - 0.2
    tight = _solve(rm, **make(L))
    assert tight.status == "optimal"
    assert value(tight.exposures) == pytest.approx(L, abs=1e-6)  # active
    assert tight.risk >= b.risk - 1e-9 and tight.risk > b.risk + 1e-7 * (1 + b.risk)
    assert tight.exposures.sum() == pytest.approx(1.0, abs=1e-8)
    assert (tight.exposures >= BOX[0] - 1e-8).all()
    if rm == "CVaR" and not family.startswith("TE"):
        # second, independent backend: the HiGHS master of the cutting planes
        cuts = _solve(rm, method="cuts", **make(L))
        assert cuts.status == "optimal" and cuts.risk == pytest.approx(tight.risk, abs=1e-8)


def _ru_linprog(lo, hi, A_ub=None, b_ub=None, abs_rows=()):
    """RU CVaR LP with scipy: x = [e (4), z, u (S), t (4 per abs constraint)]; sum e = 1."""
    s, n = R.shape
    k = len(abs_rows)
    nv = n + 1 + s + n * k
    c = np.zeros(nv)
    c[n] = 1.0
    c[n + 1:n + 1 + s] = P / ALPHA
    rows, rhs = [np.hstack([-R, -np.ones((s, 1)), -np.eye(s), np.zeros((s, n * k))])], [np.zeros(s)]
    if A_ub is not None:
        rows.append(np.hstack([np.asarray(A_ub, float), np.zeros((len(b_ub), nv - n))]))
        rhs.append(np.asarray(b_ub, float))
    for j, (w, center, cap) in enumerate(abs_rows):  # t >= |e - center|, w @ t <= cap
        off = n + 1 + s + n * j
        for sign in (1.0, -1.0):
            blk = np.zeros((n, nv))
            blk[:, :n] = sign * np.eye(n)
            blk[:, off:off + n] = -np.eye(n)
            rows.append(blk)
            rhs.append(sign * center)
        row = np.zeros((1, nv))
        row[0, off:off + n] = w
        rows.append(row)
        rhs.append([cap])
    bounds = [(lo, hi)] * n + [(None, None)] + [(0, None)] * (s + n * k)
    res = linprog(c, A_ub=np.vstack(rows), b_ub=np.concatenate(rhs), A_eq=np.r_[np.ones(n), np.zeros(nv - n)][None],
                  b_eq=[1.0], bounds=bounds, method="highs")
    assert res.status == 0
    return res.fun


def test_linear_families_against_independent_linprog():
    res = _solve(linear=["2*C - A <= 0.1"], leverage=1.6, turnover=1.0, holdings=E0,
                 greeks=GreekLimits(GREEKS, GREEK_ROWS, limits={"delta": (-0.2, 0.3)}))
    A_ub = np.vstack([[-1, 0, 2, 0], GREEKS[:2], -GREEKS[:2]])
    b_ub = np.r_[0.1, 0.3, 0.3, 0.2, 0.2]
    ref = _ru_linprog(*BOX, A_ub, b_ub, abs_rows=[(np.ones(4), np.zeros(4), 1.6), (np.ones(4), E0, 1.0)])
    assert res.status == "optimal" and res.risk == pytest.approx(ref, abs=1e-7)


def test_tracking_error_against_direct_scenario_socp():
    L = 0.01
    res = _solve(TE=L, benchmark_pnl=INDEX)
    e, z, u = cp.Variable(4), cp.Variable(), cp.Variable(len(P), nonneg=True)
    d = R @ e - INDEX
    cons = [u >= -(R @ e) - z, cp.sum(e) == 1, e >= BOX[0], e <= BOX[1],
            cp.sum_squares(cp.multiply(np.sqrt(P), d - P @ d)) <= L**2]
    ref = cp.Problem(cp.Minimize(z + (P / ALPHA) @ u), cons)
    ref.solve(solver="SCS", eps_abs=1e-9, eps_rel=1e-9, max_iters=200000)
    assert res.status == "optimal" and res.risk == pytest.approx(ref.value, abs=2e-6)
    assert _std(R @ res.exposures - INDEX) <= L + 1e-7


def test_delta_neutral_and_per_greek_limits():
    g = GreekLimits(GREEKS, GREEK_ROWS, limits={"vega": (0.2, None), ("gamma", "SPX"): (None, 0.02)},
                    delta_neutral=True, neutral_tol=1e-6)
    free = _solve()
    assert np.abs(GREEKS[:2] @ free.exposures).max() > 1e-3  # would not be neutral by itself
    res = _solve(greeks=g)
    assert res.status == "optimal"
    assert np.abs(GREEKS[:2] @ res.exposures).max() <= 1e-6 + 1e-9
    assert GREEKS[3] @ res.exposures >= 0.2 - 1e-8 and GREEKS[2] @ res.exposures <= 0.02 + 1e-8


# ---- risk caps -------------------------------------------------------------------------------
MEASURES = [m.value for m in RiskMeasure]
CAP_FIELD = {"MV": "upperdev", "MAD": "uppermad", "MSV": "uppersdev", "FLPM": "upperflpm", "SLPM": "upperslpm",
             "CVaR": "upperCVaR", "WR": "upperwr", "MDD": "uppermdd", "ADD": "upperadd", "CDaR": "upperCDaR"}


def _eval(rm, e):
    if RiskMeasure(rm) in DRAWDOWN_MEASURES:
        return float(rmod.risk(rm, paths=PATHS @ e, p=PATH_P, alpha=ALPHA))
    return float(rmod.risk(rm, R @ e, P, alpha=ALPHA))


@pytest.mark.parametrize("rm", MEASURES)
def test_each_risk_cap_binding_and_not(rm):
    box = dict(bounds=(0.0, 1.0))
    lo = _solve(rm, **box)
    hi = _solve(rm, obj="MaxRet", **box)
    r_lo, r_hi = _eval(rm, lo.exposures), _eval(rm, hi.exposures)
    assert r_hi > r_lo + 1e-4
    loose = _solve("CVaR", obj="MaxRet", **box, **{CAP_FIELD[rm]: 1.5 * r_hi + 0.01})
    assert np.allclose(loose.exposures, hi.exposures, atol=1e-6)
    cap = 0.5 * (r_lo + r_hi)
    tight = _solve("CVaR", obj="MaxRet", **box, **{CAP_FIELD[rm]: cap})
    assert tight.status == "optimal"
    assert _eval(rm, tight.exposures) <= cap + 1e-7
    assert _eval(rm, tight.exposures) == pytest.approx(cap, abs=1e-6)
    assert lo.expected_return < tight.expected_return < hi.expected_return
    # duality with the frontier: the least risk at that return is the cap
    at = PortfolioProblem(R, P, rm=rm, alpha=ALPHA, paths=PATHS, path_p=PATH_P,
                          constraints=Constraints(**box)).min_risk(tight.expected_return - 1e-9)
    assert at.risk == pytest.approx(cap, abs=2e-6)


@pytest.mark.parametrize("obj", ["MinRisk", "MaxRet", "Sharpe", "Utility"])
def test_all_caps_at_once_are_honoured(obj):
    e_ref = np.array([0.4, 0.3, 0.1, 0.2])
    caps = {CAP_FIELD[rm]: _eval(rm, e_ref) for rm in MEASURES}
    res = _solve("MV", obj=obj, bounds=(0.0, 1.0), **caps)
    assert res.status == "optimal"
    slack = {rm: caps[CAP_FIELD[rm]] - _eval(rm, res.exposures) for rm in MEASURES}
    assert min(slack.values()) >= -1e-7
    if obj != "MinRisk":
        assert min(slack.values()) <= 1e-6  # something binds when chasing return


# ---- Charnes-Cooper homogenisation of every family ------------------------------------------
SHARPE_CONS = dict(bounds=(-0.3, 0.9), groups={"Risky": ["C", "D"]}, group_bounds={"Risky": (None, 0.7)},
                   linear=["2*C - A <= 0.5"], ainequality=[[0, 1, 1, 0]], binequality=[0.2], uppersht=0.3,
                   upperlng=1.25, leverage=1.55, margin_rates=RATES, margin=0.4, turnover=1.3, holdings=E0,
                   TE=0.03, benchmark=BENCH, greeks=GreekLimits(GREEKS, GREEK_ROWS, limits={"delta": (-0.4, 0.6)}))


@pytest.mark.parametrize("rm", ["CVaR", "MV", "CDaR"])
def test_sharpe_under_every_family_matches_the_frontier_scan(rm):
    cons = dict(SHARPE_CONS, **({"upperCVaR": 0.045} if rm != "CVaR" else {"upperdev": 0.03}))
    prob = PortfolioProblem(R, P, rm=rm, alpha=ALPHA, rf=0.002, names=NAMES, paths=PATHS, path_p=PATH_P,
                            constraints=Constraints(**cons))
    fr = prob.efficient_frontier(40)
    assert (fr["status"] == "optimal").all()
    scan = ((fr["expected_return"] - 0.002) / fr["risk"]).max()
    res = prob.max_ratio()
    assert res.status == "optimal"
    assert res.ratio(0.002) >= scan - 1e-7 and res.ratio(0.002) <= scan * (1 + 3e-3)
    # the Charnes-Cooper solution is feasible for the original constraints
    e = res.exposures
    for family, key in [("uppersht", "uppersht"), ("upperlng", "upperlng"), ("leverage", "leverage"),
                        ("margin", "margin"), ("turnover", "turnover"), ("TE_exposures", "TE")]:
        assert FAMILIES[family][0](e) <= cons[key] + 1e-7, family
    assert e[2] + e[3] <= 0.7 + 1e-7 and 2 * e[2] - e[0] <= 0.5 + 1e-7 and e[1] + e[2] >= 0.2 - 1e-7
    assert (e >= -0.3 - 1e-7).all() and (e <= 0.9 + 1e-7).all()
    assert (GREEKS[:2] @ e >= -0.4 - 1e-7).all() and (GREEKS[:2] @ e <= 0.6 + 1e-7).all()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_sharpe_with_each_family_binding(family, base):
    """Each homogenised family, binding at the ratio optimum: feasible and on top of the frontier."""
    value, make = FAMILIES[family]
    rf = 0.002
    free = PortfolioProblem(R, P, rm="CVaR", alpha=ALPHA, rf=rf, names=NAMES,
                            constraints=Constraints(bounds=BOX)).max_ratio()
    v0 = value(free.exposures)
    floor = {"upperlng": 1.0, "leverage": 1.0, "TE_index": 0.004, "uppersht": 0.0, "margin": 0.05,
             "turnover": 0.0, "TE_exposures": 0.0}.get(family, -np.inf)
    L = 0.5 * (floor + v0) if np.isfinite(floor) else v0 - 0.1 * (1 + abs(v0))
    kw = dict(bounds=BOX)
    kw.update(make(L))
    prob = PortfolioProblem(R, P, rm="CVaR", alpha=ALPHA, rf=rf, names=NAMES, constraints=Constraints(**kw))
    res = prob.max_ratio()
    assert res.status == "optimal"
    assert value(res.exposures) <= L + 1e-7 and value(res.exposures) == pytest.approx(L, abs=1e-5)
    fr = prob.efficient_frontier(30)
    scan = ((fr["expected_return"] - rf) / fr["risk"]).max()
    assert scan - 1e-7 <= res.ratio(rf) <= scan * (1 + 3e-3)
    assert res.ratio(rf) < free.ratio(rf)
