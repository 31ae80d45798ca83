"""Limits on a held book and the least-cost rebalancing trade.

Cross-checks: limit values against plain numpy formulas and a brute-force (sorted tail) CVaR;
breaches exactly at the bounds; the trade's cost against an independent ``scipy.optimize.linprog``
LP (|.| split into positive and negative parts, the CVaR cap written as the Rockafellar-Uryasev LP
by hand); an MV cap against the closed form on a budget line; infeasible limits named.
"""

import numpy as np
import pytest
from scipy.optimize import linprog

from tasks.optimization import (
    LIMIT_COLUMNS,
    TRADE_COLUMNS,
    Constraints,
    GreekLimits,
    Limits,
    RiskLimit,
    compile_constraints,
    compile_limits,
    evaluate_limits,
    find_conflicts,
    rebalance,
)

NAMES = ["fut", "call", "put", "bond"]
V = np.array([0.1, 0.3, 0.2, 1.0])
ALPHA = 0.1
# delta, gamma, vega on SPX; vega on SX5E (binary fractions: Greek values of E0 are exact)
G = np.array([[1.0, 0.5, -0.5, 0.0], [0.0, 0.125, 0.25, 0.0], [0.0, 0.25, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]])
G_ROWS = [("delta", "SPX"), ("gamma", "SPX"), ("vega", "SPX"), ("vega", "SX5E")]
MARGIN = np.array([0.5, 0.25, 0.25, 0.0])
E0 = np.array([0.5, 0.25, -0.25, 0.5])


def _scenarios(seed=3, s=300):
    rng = np.random.default_rng(seed)
    L = np.array([[1, 0, 0, 0], [0.6, 0.8, 0, 0], [-0.5, 0.1, 0.85, 0], [0.1, 0.0, 0.1, 0.9]])
    R = (rng.standard_t(5, size=(s, 4)) @ L.T) * np.array([0.05, 0.12, 0.15, 0.01]) + np.array([0.0, 0.004, 0.002, 0.001])
    p = rng.uniform(0.2, 1.0, s)
    q = rng.uniform(0.2, 1.0, s) * np.exp(-3.0 * R[:, 0])  # a "view set" posterior tilted to equity falls
    return R, p / p.sum(), q / q.sum()


R, P, Q = _scenarios()


def cvar_brute(pnl, p, alpha):
    """Probability-weighted mean of the worst ``alpha`` tail of the losses (sorted, fractional atom)."""
    loss = -np.asarray(pnl)
    order = np.argsort(-loss, kind="stable")
    left, total = alpha, 0.0
    for k in order:
        take = min(p[k], left)
        total += take * loss[k]
        left -= take
        if left <= 0:
            break
    return total / alpha


def _limits(d=0.0, **extra):
    """Limits on E0 with every upper bound at value - d and every lower bound at value + d."""
    cons = Constraints(
        bounds={"fut": (None, 0.5 - d), "put": (-0.25 + d, None)},
        groups={"options": ["call", "put"]},
        group_bounds={"options": (0.0 + d, None)},
        linear=[f"fut + call <= {0.75 - d!r}", f"2*bond - put >= {1.25 + d!r}"],
        ainequality=[[0.0, 1.0, 1.0, 0.0]], binequality=[0.0 + d],
        leverage=1.5 - d, margin_rates=MARGIN, margin=0.375 - d, uppersht=0.25 - d, upperlng=1.25 - d,
        greeks=GreekLimits(G, G_ROWS, limits={("vega", "SPX"): (None, -0.0625 - d), "delta": (0.75 + d, None)}),
        **extra,
    )
    return cons


def test_limit_names_values_and_columns():
    cl = compile_limits(Limits(_limits(), risk=[RiskLimit("CVaR", 1.0, p=Q, alpha=ALPHA, label="crash")]),
                        R=R, p=P, names=NAMES)
    table = evaluate_limits(cl, E0)
    assert tuple(table.columns) == LIMIT_COLUMNS
    expected = {
        "bound[fut] <=": E0[0], "bound[put] >=": E0[2], "fut + call <= 0.75": E0[0] + E0[1],
        "2*bond - put >= 1.25": 2 * E0[3] - E0[2], "group[options] >=": E0[1] + E0[2], "ainequality[0]": E0[1] + E0[2],
        "leverage": np.abs(E0).sum(), "margin": MARGIN @ np.abs(E0), "uppersht": 0.25, "upperlng": 1.25,
        "vega[SPX] <=": G[2] @ E0, "delta[SPX] >=": G[0] @ E0, "upperCVaR[crash]": cvar_brute(R @ E0, Q, ALPHA),
    }
    got = dict(zip(table["limit"], table["value"]))
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-13), name
    assert not table["breached"].any()


def test_breaches_exactly_at_the_bounds():
    def table(d):
        cl = compile_limits(_limits(d), R=R, p=P, names=NAMES)
        return evaluate_limits(cl, E0).set_index("limit")

    at = table(0.0)  # every value sits exactly on its bound (binary fractions)
    assert (at["value"] == at["bound"]).all() and (at["excess"] == 0.0).all() and not at["breached"].any()
    over = table(1e-9)  # each bound 1e-9 on the wrong side
    assert over["breached"].all(), over[~over["breached"]]
    assert np.allclose(over["excess"], 1e-9, rtol=0, atol=1e-15)
    inside = table(-1e-9)
    assert not inside["breached"].any() and np.allclose(inside["excess"], -1e-9, rtol=0, atol=1e-15)

    # a risk cap at exactly the measured value is met; 1e-9 below it is breached
    value = compile_limits(Constraints(upperCVaR=1.0), R=R, p=P, alpha=ALPHA).values(E0)[0]
    assert value == pytest.approx(cvar_brute(R @ E0, P, ALPHA), rel=1e-12)
    for cap, breached in ((value, False), (value - 1e-9, True), (value + 1e-9, False)):
        cl = compile_limits(Constraints(upperCVaR=cap), R=R, p=P, alpha=ALPHA)
        assert evaluate_limits(cl, E0)["breached"].tolist() == [breached]


def test_greek_entries_stay_separate_limits():
    # the optimiser rejects contradicting bands on one row; as limits they are two named limits
    g = GreekLimits(G, G_ROWS, limits={("vega", "SPX"): (0.5, None), "vega": (None, 0.2)})
    with pytest.raises(ValueError, match="contradict"):
        compile_constraints(Constraints(greeks=g), R=R, p=P)
    cl = compile_limits(Constraints(greeks=g), R=R, p=P)
    assert [r.name for r in cl.rows] == ["vega[SPX] >=", "vega[SPX] <=", "vega[SX5E] <="]
    band = compile_limits(Constraints(greeks=GreekLimits(G, G_ROWS, limits={("gamma", "SPX"): (0.1, 0.1)})), R=R, p=P)
    assert [(r.name, r.sense) for r in band.rows] == [("gamma[SPX] ==", "==")]


# ---- the least-cost trade on linear limits vs an independent LP ------------------------------
RATES = np.array([0.0005, 0.01, 0.012, 0.0002])
BOOK = np.array([1.3, 0.9, -0.3, 0.66])  # v^T BOOK = 1; breaches vega, delta, leverage, margin, ...
LINEAR = Constraints(
    bounds=(-2.0, 2.0), groups={"options": ["call", "put"]}, group_bounds={"options": (-0.5, 0.5)},
    linear=["call + put >= -0.2", "fut - bond == 0"], leverage=3.0, margin_rates=MARGIN, margin=0.8,
    uppersht=0.5, greeks=GreekLimits(G, G_ROWS, limits={("vega", "SPX"): (-0.05, 0.05), ("delta", "SPX"): (0.3, 0.9)}),
)


def _linprog_cost(rates, extra_rows=None):
    """min c^T (tp + tn), e - tp + tn = BOOK, with the LINEAR limits by hand; x = [e, tp, tn, a, s]."""
    n = 4
    Z = np.zeros((1, n))

    def row(e=Z[0], tp=Z[0], tn=Z[0], a=Z[0], s=Z[0]):
        return np.concatenate([e, tp, tn, a, s])

    I = np.eye(n)
    A_ub, b_ub = [], []
    for i in range(n):  # a_i >= |e_i|, s_i >= -e_i
        A_ub += [row(e=I[i], a=-I[i]), row(e=-I[i], a=-I[i]), row(e=-I[i], s=-I[i])]
        b_ub += [0.0, 0.0, 0.0]
    opts = np.array([0, 1, 1, 0.0])
    A_ub += [row(a=np.ones(n)), row(a=MARGIN), row(s=np.ones(n)), row(e=opts), row(e=-opts), row(e=-opts),
             row(e=G[2]), row(e=-G[2]), row(e=G[0]), row(e=-G[0])]
    b_ub += [3.0, 0.8, 0.5, 0.5, 0.5, 0.2, 0.05, 0.05, 0.9, -0.3]
    A_eq = [row(e=I[i], tp=-I[i], tn=I[i]) for i in range(n)] + [row(e=V), row(e=np.array([1, 0, 0, -1.0]))]
    b_eq = list(BOOK) + [1.0, 0.0]
    c = np.concatenate([np.zeros(n), rates, rates, np.zeros(2 * n)])
    bounds = [(-2.0, 2.0)] * n + [(0, None)] * (4 * n)
    res = linprog(c, A_ub=np.array(A_ub), b_ub=b_ub, A_eq=np.array(A_eq), b_eq=b_eq, bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return res.fun


@pytest.mark.parametrize("rates", [RATES, np.array([0.01, 0.002, 0.002, 0.03]), np.ones(4)])
def test_trade_restores_every_limit_at_the_least_cost(rates):
    cl = compile_limits(LINEAR, R=R, p=P, names=NAMES)
    assert cl.is_lp
    res = rebalance(cl, dict(zip(NAMES, BOOK)), V, rates)
    assert res.status == "optimal", res.message
    breached = set(res.before.loc[res.before["breached"], "limit"])
    assert {"vega[SPX] <=", "leverage", "fut - bond == 0"} <= breached
    after = evaluate_limits(cl, res.target)
    ineq = after["sense"] != "=="
    assert not after.loc[ineq, "breached"].any(), after[after["breached"]]
    assert (after.loc[~ineq, "excess"] <= 1e-9).all()
    assert V @ res.target == pytest.approx(1.0, abs=1e-9)
    expected = _linprog_cost(rates)
    assert expected > 1e-4
    assert res.total_cost == pytest.approx(expected, rel=1e-7, abs=1e-10)
    table = res.table()
    assert tuple(table.columns) == TRADE_COLUMNS and list(table["instrument"]) == NAMES
    assert np.allclose(table["trade"], res.target - BOOK)
    assert np.allclose(table["cost"], rates * np.abs(res.target - BOOK))


def test_book_within_limits_is_not_traded():
    cl = compile_limits(LINEAR, R=R, p=P, names=NAMES)
    first = rebalance(cl, BOOK, V, RATES)
    again = rebalance(cl, first.target, V, RATES)
    assert again.status == "optimal" and again.total_cost == pytest.approx(0.0, abs=1e-9)
    assert np.allclose(again.target, first.target, atol=1e-8)


# ---- a CVaR cap: the exact Rockafellar-Uryasev LP by hand ---------------------------------------
def _ru_cost(caps, rates, box):
    """min c^T (tp + tn) s.t. e - tp + tn = BOOK, v^T e = 1, each (cap, p): z + (1/alpha) p^T u <= cap,
    u_s >= -R_s e - z, u >= 0; x = [e, tp, tn, (z, u) per cap]."""
    n, s = 4, R.shape[0]
    width = 3 * n + len(caps) * (1 + s)
    A_ub, b_ub = [], []
    for j, (cap, p) in enumerate(caps):
        base = 3 * n + j * (1 + s)
        head = np.zeros(width)
        head[base] = 1.0
        head[base + 1:base + 1 + s] = p / ALPHA
        A_ub.append(head)
        b_ub.append(cap)
        tail = np.zeros((s, width))
        tail[:, :n] = -R
        tail[:, base] = -1.0
        tail[np.arange(s), base + 1 + np.arange(s)] = -1.0
        A_ub += list(tail)
        b_ub += [0.0] * s
    A_eq = np.zeros((n + 1, width))
    A_eq[:n, :n] = np.eye(n)
    A_eq[:n, n:2 * n] = -np.eye(n)
    A_eq[:n, 2 * n:3 * n] = np.eye(n)
    A_eq[n, :n] = V
    c = np.zeros(width)
    c[n:2 * n] = c[2 * n:3 * n] = rates
    bounds = [box] * n + [(0, None)] * (2 * n) + [(None, None), *[(0, None)] * s] * len(caps)
    res = linprog(c, A_ub=np.array(A_ub), b_ub=b_ub, A_eq=A_eq, b_eq=np.r_[BOOK, 1.0], bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return res.fun


def test_cvar_caps_against_the_exact_ru_lp():
    prior_cap, view_cap = 0.7 * cvar_brute(R @ BOOK, P, ALPHA), 0.5 * cvar_brute(R @ BOOK, Q, ALPHA)
    limits = Limits(Constraints(bounds=(-2.0, 2.0), upperCVaR=prior_cap),
                    risk=[RiskLimit("CVaR", view_cap, p=Q, alpha=ALPHA, label="crash")])
    cl = compile_limits(limits, R=R, p=P, names=NAMES, alpha=ALPHA)
    assert cl.is_lp
    before = evaluate_limits(cl, BOOK).set_index("limit")
    assert before.loc["upperCVaR", "breached"] and before.loc["upperCVaR[crash]", "breached"]
    assert before.loc["upperCVaR[crash]", "value"] == pytest.approx(cvar_brute(R @ BOOK, Q, ALPHA), rel=1e-12)
    res = rebalance(cl, BOOK, V, RATES)
    assert res.status == "optimal", res.message
    assert cvar_brute(R @ res.target, P, ALPHA) <= prior_cap + 1e-12
    assert cvar_brute(R @ res.target, Q, ALPHA) <= view_cap + 1e-12
    assert not res.after["breached"].any()
    expected = _ru_cost([(prior_cap, P), (view_cap, Q)], RATES, (-2.0, 2.0))
    assert res.total_cost == pytest.approx(expected, rel=1e-7, abs=1e-10)
    # the view-set cap binds: without it the trade is cheaper
    assert _ru_cost([(prior_cap, P)], RATES, (-2.0, 2.0)) < expected - 1e-6


@pytest.mark.parametrize("prior_factor", [0.7, 0.45])
def test_cvar_caps_by_cutting_planes_cost_what_the_ru_lp_costs(prior_factor):
    cl, caps = _cvar_limits(prior_factor)
    lp = rebalance(cl, BOOK, V, RATES, cvar_method="lp")
    cuts = rebalance(cl, BOOK, V, RATES, cvar_method="cuts")
    assert cuts.status == lp.status == "optimal", cuts.message
    expected = _ru_cost(caps, RATES, (-2.0, 2.0))
    assert cuts.total_cost == pytest.approx(expected, rel=1e-7, abs=1e-10)
    assert lp.total_cost == pytest.approx(expected, rel=1e-7, abs=1e-10)
    # every cap met exactly by the brute-force CVaR of the target
    for cap, p in caps:
        assert cvar_brute(R @ cuts.target, p, ALPHA) <= cap * (1 + 1e-14)  # the evaluator: excess <= 0
    assert not cuts.after["breached"].any()


def test_cvar_method_is_checked():
    cl, _ = _cvar_limits()
    with pytest.raises(ValueError, match="cvar_method"):
        rebalance(cl, BOOK, V, RATES, cvar_method="simplex")


def test_mv_cap_against_the_closed_form_on_the_budget_line():
    # two instruments: v^T e = 1 leaves e(s) = e0 + s b (b = (v2, -v1)); cost |s| (c1|b1| + c2|b2|);
    # std(e(s)) <= cap is a quadratic inequality in s
    R2, v2, e0, rates = R[:, [1, 3]], np.array([0.3, 1.0]), np.array([1.0, 0.7]), np.array([0.01, 0.002])
    cov = np.cov(R2.T, aweights=P, bias=True)
    cap = 0.5 * float(np.sqrt(e0 @ cov @ e0))
    cl = compile_limits(Constraints(upperdev=cap), R=R2, p=P, names=["call", "bond"])
    assert not cl.is_lp
    assert cl.values(e0)[0] == pytest.approx(np.sqrt(e0 @ cov @ e0), rel=1e-12)
    res = rebalance(cl, e0, v2, rates)
    assert res.status == "optimal", res.message
    b = np.array([v2[1], -v2[0]])
    qa, qb, qc = b @ cov @ b, 2 * (e0 @ cov @ b), e0 @ cov @ e0 - cap ** 2
    roots = np.sort(np.roots([qa, qb, qc]).real)
    s_star = float(np.clip(0.0, roots[0], roots[1]))
    assert s_star != 0.0
    assert res.total_cost == pytest.approx(abs(s_star) * (rates @ np.abs(b)), rel=1e-6)
    assert np.allclose(res.target, e0 + s_star * b, atol=1e-6)
    assert float(np.sqrt(res.target @ cov @ res.target)) <= cap * (1 + 1e-12)
    assert not res.after["breached"].any()


def _cvar_limits(prior_factor=0.45):
    prior_cap, view_cap = prior_factor * cvar_brute(R @ BOOK, P, ALPHA), 0.5 * cvar_brute(R @ BOOK, Q, ALPHA)
    limits = Limits(Constraints(bounds=(-2.0, 2.0), upperCVaR=prior_cap),
                    risk=[RiskLimit("CVaR", view_cap, p=Q, alpha=ALPHA, label="crash")])
    return compile_limits(limits, R=R, p=P, names=NAMES, alpha=ALPHA), [(prior_cap, P), (view_cap, Q)]


def test_an_inexact_solver_still_restores_every_limit_exactly():
    # SCS (first order) leaves the active cap ~1e-6 over: the target is tightened until it is met
    cl, caps = _cvar_limits()
    res = rebalance(cl, BOOK, V, RATES, solver="SCS")
    assert res.status == "optimal", res.message
    assert not res.after["breached"].any() and (res.after["excess"] <= 0.0).all()
    assert res.total_cost == pytest.approx(_ru_cost(caps, RATES, (-2.0, 2.0)), rel=2e-3)


def test_restoration_rounds_tighten_a_limit_left_over_its_bound(monkeypatch):
    import tasks.optimization._rebalance as mod

    real, calls = mod._least_cost, []

    def first_over(limits, e0, v, c, margins, solver, *cutting_planes):
        status, e = real(limits, e0, v, c, margins, solver, *cutting_planes)
        calls.append(margins.copy())
        if len(calls) == 1:  # the first answer a hair over its active cap (as a solver may leave it)
            e = e + 1e-7 * (BOOK - e)
        return status, e

    monkeypatch.setattr(mod, "_least_cost", first_over)
    cl, caps = _cvar_limits()
    res = rebalance(cl, BOOK, V, RATES)
    assert res.status == "optimal" and res.rounds == 2, res.message
    assert np.count_nonzero(calls[1]) == 1 and calls[1][[r.name for r in cl.rows].index("upperCVaR")] > 0
    assert not res.after["breached"].any()
    assert res.total_cost == pytest.approx(_ru_cost(caps, RATES, (-2.0, 2.0)), rel=1e-6)
    # with a single round the breach is reported, not hidden
    calls.clear()
    one = rebalance(cl, BOOK, V, RATES, max_rounds=1)
    assert one.status == "optimal_inaccurate" and "upperCVaR" in one.message and one.after["breached"].any()


# ---- infeasible limits are named --------------------------------------------------------------
@pytest.mark.parametrize("greek_limits, conflict", [
    # vega <= 0.1 caps call + 2 put, gamma >= 0.4 needs call + 2 put >= 3.2
    ({("vega", "SPX"): (None, 0.1), ("gamma", "SPX"): (0.4, None)}, {"vega[SPX] <=", "gamma[SPX] >="}),
    # the same row bounded twice: >= 0.5 for SPX, <= 0.2 for every vega row
    ({("vega", "SPX"): (0.5, None), "vega": (None, 0.2)}, {"vega[SPX] >=", "vega[SPX] <="}),
])
def test_infeasible_limits_are_named(greek_limits, conflict):
    cons = Constraints(bounds=(-5.0, 5.0), leverage=20.0, linear=["fut + call <= 3"], uppersht=6.0,
                       greeks=GreekLimits(G, G_ROWS, limits={**greek_limits, ("delta", "SPX"): (-1.0, 1.0)}))
    cl = compile_limits(cons, R=R, p=P, names=NAMES)
    res = rebalance(cl, BOOK, V, RATES)
    assert res.status == "infeasible"
    assert set(res.conflicts) == conflict, res.conflicts
    assert np.isnan(res.target).all() and res.after is None
    assert set(res.violations) <= set(res.conflicts) and sum(res.violations.values()) > 0
    assert "cannot all be met" in res.message and all(name in res.message for name in conflict)
    # each conflict is needed: without it the rest is feasible
    for name in conflict:
        keep = tuple(r for r in cl.rows if r.name != name)
        rest = type(cl)(keep, cl.n, cl.names)
        assert find_conflicts(rest, V) == ((), {})
        assert rebalance(rest, BOOK, V, RATES).status == "optimal"


def test_conflict_with_a_risk_cap_and_the_budget():
    # a CVaR cap far below what any book of unit budget reaches (long-only or not)
    cons = Constraints(sht=False, upperCVaR=1e-4, leverage=10.0)
    cl = compile_limits(cons, R=R, p=P, names=NAMES, alpha=ALPHA)
    res = rebalance(cl, BOOK, V, RATES)
    assert res.status == "infeasible"
    assert "upperCVaR" in res.conflicts and "leverage" not in res.conflicts
    assert set(res.conflicts) - {"upperCVaR"} <= {f"bound[{n}] >=" for n in NAMES}


def test_bad_inputs():
    cl = compile_limits(LINEAR, R=R, p=P, names=NAMES)
    with pytest.raises(ValueError, match=">= 0"):
        rebalance(cl, BOOK, V, -RATES)
    with pytest.raises(ValueError, match="unknown instrument"):
        rebalance(cl, {"nope": 1.0}, V, RATES)
    with pytest.raises(ValueError, match="finite"):
        rebalance(cl, BOOK, V, np.array([np.nan, 0, 0, 0]))
    with pytest.raises(ValueError):
        RiskLimit("CVaR", 0.1, alpha=1.5)
    with pytest.raises(ValueError):
        compile_limits(Constraints(linear=["nope >= 1"]), R=R, p=P, names=NAMES)
