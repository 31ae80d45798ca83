"""The book's worker stages (pipeline.book_stages) and tables (pipeline.book_tables), called directly
on the index-options example at test size with a held book, shocks and limits added to its plan:
shock P&L against direct repricing and the Gaussian conditional mean, worst-row replays, Euler
contributions against tasks.measures and finite differences, limit breaches at the bounds, the
rebalancing trade against an independently solved LP, conflicting limits, view-infeasible caps."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from pipeline import stages
from pipeline.book_stages import (
    VIEW_INFEASIBLE,
    book_contributions,
    book_limits,
    book_stress,
    euler_contributions,
    reprice_shocks,
)
from pipeline.book_tables import (
    LIMIT_TABLE_COLUMNS,
    SHOCK_IDENTITY,
    SHOCK_MOVE_COLUMNS,
    TRADE_TABLE_COLUMNS,
    book_frame,
    book_table,
    limits_table,
    shock_moves_table,
    shock_table,
    trades_table,
)
from pipeline.plan import LimitsPlan, ShockEntry, ShockPlan, ViewSetPlan
from pipeline.resolve import build_plan
from pipeline.runner import resolve_config
from pipeline.stages import ViewOutcome
from pipeline.tables import IDENTITY, moment_tables
from tasks.instruments import scenario_pnl
from tasks.measures import conditional_value_at_risk, expected_return, standard_deviation
from tasks.optimization import Constraints, GreekLimits
from tasks.scenarios import DriverScenarios, DriverShock, ShockSpace, history_shocks
from tasks.views import View
from tasks.vocabulary import SEPMethod, ViewStatus

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "index_options_book.yaml"
SMALL = {"scenarios.count": 2000, "scenarios.chunks": 2, "scenarios.block_size": 500, "optimization.points": 3}
#: the held book (exposures per unit of portfolio value); SPX takes what the budget leaves
HOLD = {"SX5E": 0.2, "UST_10y": 0.3, "SPX_fut_Mar": 0.8, "SPX_P95_3m": 0.3, "SPX_C105_3m": -0.3,
        "SPX_varswap_6m": -0.1}


def small_plan():
    return build_plan(resolve_config(CONFIG, dict(SMALL)))


def holdings(book) -> np.ndarray:
    """HOLD as an (N,) vector meeting the budget v'e = 1."""
    e = np.zeros(len(book.names))
    for name, x in HOLD.items():
        e[book.names.index(name)] = x
    i = book.names.index("SPX")
    e[i] = (1.0 - book.v @ e) / book.v[i]
    return e


def history_frame() -> pd.DataFrame:
    """Five days of driver log-returns / changes, indexed by date."""
    rng = np.random.default_rng(3)
    cols = ["SPX", "SX5E", "SPX_vol", "SX5E_vol", "USD_parallel", "USD_slope"]
    scale = np.array([0.04, 0.04, 0.3, 0.3, 0.003, 0.002])
    return pd.DataFrame(rng.standard_normal((5, 6)) * scale, columns=cols,
                        index=pd.date_range("2020-03-09", periods=5, freq="D"))


def shock_plan(model) -> ShockPlan:
    frame = history_frame()
    replay = [DriverShock(f"replay:{s.name}", s.moves) for s in history_shocks(frame, [1, 3])]
    every = [DriverShock(f"worst:{s.name}", s.moves) for s in history_shocks(frame)]
    return ShockPlan((
        ShockEntry("equity_crash", (DriverShock("equity_crash", {"SPX": -0.30, "SPX_vol": 0.7,
                                                                 "USD_parallel": -0.01}, as_simple=True),),
                   "none", "config"),
        ShockEntry("spx_down", (DriverShock("spx_down", {"SPX": -0.2, "SPX_vol": 0.4}),), "conditional", "config"),
        ShockEntry("replay", tuple(replay), "none", "history"),
        ShockEntry("worst", tuple(every), "none", "history worst", worst=2),
    ), ShockSpace.from_model(model))


@pytest.fixture(scope="module")
def case():
    """The plan with a book and shocks, the scenario set and the outcomes (prior, two view sets, a
    reverse stress test on the book)."""
    plan = small_plan()
    book = dataclasses.replace(plan.book, holdings=holdings(plan.book), value=2.5e6)
    reverse = ViewSetPlan(len(plan.view_sets) + 1, "book_loses", SEPMethod.H1,
                          (View("mean", "book", "<=", -0.05),), None)
    plan = dataclasses.replace(plan, book=book, shocks=shock_plan(plan.scenarios.model),
                               view_sets=(*plan.view_sets, reverse))
    sim = plan.scenarios
    transform = stages.moment_transform(sim, *[stages.chunk_statistics(sim, list(g)) for g in sim.block_groups])
    chunks = [stages.chunk_scenarios(sim, book, list(g), transform) for g in sim.block_groups]
    scen = stages.assemble_scenarios(book, *chunks)
    outcomes = {"prior": stages.prior_outcome(scen)}
    outcomes.update({vs.name: stages.solve_views(scen, vs) for vs in plan.view_sets})
    return plan, scen, outcomes


# ---- the book as a view variable --------------------------------------------------------------

def test_book_is_the_last_view_variable_with_its_own_kind(case):
    plan, scen, outcomes = case
    assert scen.variables[-1] == "book" and scen.X.shape[1] == len(scen.variables)
    np.testing.assert_allclose(scen.X[:, -1], scen.R @ plan.book.holdings, rtol=0, atol=1e-15)
    m = moment_tables(scen, outcomes["prior"])["moments"].set_index("variable")
    assert m.loc["book", "kind"] == "book" and m.loc["SPX", "kind"] == "driver"
    assert m.loc["book", "mean"] == pytest.approx(float(scen.p @ (scen.R @ plan.book.holdings)), rel=1e-12)


def test_without_a_book_the_scenario_set_is_unchanged(case):
    plan, scen, _ = case
    bare = dataclasses.replace(plan.book, holdings=None)
    sim = plan.scenarios
    transform = stages.moment_transform(sim, *[stages.chunk_statistics(sim, list(g)) for g in sim.block_groups])
    other = stages.assemble_scenarios(bare, *[stages.chunk_scenarios(sim, bare, list(g), transform)
                                              for g in sim.block_groups])
    assert other.variables == scen.variables[:-1]
    np.testing.assert_array_equal(other.X, scen.X[:, :-1])


def test_reverse_stress_view_on_the_book_is_attained_and_moves_its_drivers(case):
    plan, scen, outcomes = case
    rev = outcomes["book_loses"]
    assert rev.ok
    P = scen.R @ plan.book.holdings
    assert float(rev.q @ P) <= -0.05 + 1e-8  # the view is attained
    spx = scen.variables.index("SPX")
    # the book is long SPX delta (futures, SPX itself): its most plausible loss is an SPX fall
    assert float(rev.q @ scen.X[:, spx]) < float(scen.p @ scen.X[:, spx]) - 0.02
    m = moment_tables(scen, rev)["moments"].set_index("variable")
    assert m.loc["book", "mean"] <= -0.05 + 1e-8 and m.loc["book", "prior_mean"] > 0


def test_reverse_stress_cvar_form_is_attained(case):
    plan, scen, _ = case
    vs = ViewSetPlan(9, "book_tail", SEPMethod.H1, (View("CVaR", "book", ">=", 0.16, alpha=0.05),), None)
    out = stages.solve_views(scen, vs)
    assert out.ok
    assert conditional_value_at_risk(scen.R @ plan.book.holdings, out.q, 0.05) >= 0.16 - 1e-6


# ---- shocks -----------------------------------------------------------------------------------

def _direct_values(shock: DriverShock, space: ShockSpace, conditional: bool) -> np.ndarray:
    """Driver values of one shock computed here: moves (simple returns -> logs), zeros, or the
    Gaussian conditional mean mu_u + S_us S_ss^-1 (x_s - mu_s) by a linear solve."""
    x = np.zeros(len(space.names))
    s = [space.names.index(d) for d in shock.moves]
    for d, v in shock.moves.items():
        kind = space.kinds[space.names.index(d)]
        x[space.names.index(d)] = np.log1p(v) if shock.as_simple and kind in ("spot", "fx") else v
    if conditional:
        u = [j for j in range(len(x)) if j not in s]
        mu, C = space.mean, space.cov
        x[u] = mu[u] + C[np.ix_(u, s)] @ np.linalg.solve(C[np.ix_(s, s)], x[s] - mu[s])
    return x


def test_shock_pnl_equals_direct_repricing(case):
    plan, _, _ = case
    out = reprice_shocks(plan.shocks, plan.book)
    space, insts = plan.shocks.space, list(plan.book.instruments)
    names = []
    for entry in plan.shocks.entries:
        cond = entry.propagate == "conditional"
        for shock in entry.shocks:
            if shock.name not in out.names:
                continue
            k = out.names.index(shock.name)
            x = _direct_values(shock, space, cond)
            np.testing.assert_allclose(out.values[k], x, rtol=1e-12, atol=1e-14, err_msg=shock.name)
            # every instrument repriced one at a time at the shocked drivers
            direct = [scenario_pnl([inst], DriverScenarios(list(space.names), x[None, :], space.horizon))[0, 0]
                      for inst in insts]
            np.testing.assert_allclose(out.pnl[k], direct, rtol=1e-12, atol=1e-15, err_msg=shock.name)
            assert out.given[k].tolist() == [d in shock.moves for d in space.names]
            names.append(shock.name)
    assert names[:4] == ["equity_crash", "spx_down", "replay:2020-03-10", "replay:2020-03-12"]
    crash = out.names.index("equity_crash")
    assert out.values[crash, space.names.index("SPX")] == pytest.approx(np.log(0.7), rel=1e-15)
    # conditional: an SPX fall drags SX5E down (correlation 0.8) and no-propagation leaves it at 0
    assert out.values[out.names.index("spx_down"), space.names.index("SX5E")] < -0.1
    assert out.values[crash, space.names.index("SX5E")] == 0.0


def test_worst_entry_keeps_the_k_lowest_book_pnls_worst_first(case):
    plan, _, _ = case
    out = reprice_shocks(plan.shocks, plan.book)
    entry = plan.shocks.entries[-1]
    space = plan.shocks.space
    x = np.array([_direct_values(s, space, False) for s in entry.shocks])
    R = scenario_pnl(list(plan.book.instruments), DriverScenarios(list(space.names), x, space.horizon))
    book_pnl = R @ plan.book.holdings
    expected = [entry.shocks[i].name for i in np.argsort(book_pnl)[:2]]
    kept = [n for n, s in zip(out.names, out.source) if s == "history worst"]
    assert kept == expected
    assert len(out.names) == 1 + 1 + 2 + 2


def test_shock_tables_contributions_sum_to_pnl(case):
    plan, _, _ = case
    out = reprice_shocks(plan.shocks, plan.book)
    frame = book_frame(plan.book)
    names = list(plan.book.names)
    frontier = frame.assign(portfolio="prior/CVaR/frontier0", view_set="prior", risk_measure="CVaR",
                            constraint_set="base", kind="frontier", status="optimal")
    t = shock_table(out, frame, frontier, names, plan.book.value)
    assert list(t.columns) == SHOCK_IDENTITY + ["pnl", "pnl_ccy"] + [f"c_{n}" for n in names]
    assert len(t) == 2 * len(out.names) and t["portfolio"].tolist()[:len(out.names)] == ["book"] * len(out.names)
    c = t[[f"c_{n}" for n in names]].to_numpy()
    np.testing.assert_allclose(c.sum(axis=1), t["pnl"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(t["pnl"][:len(out.names)], out.pnl @ plan.book.holdings, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(t["pnl_ccy"], t["pnl"] * 2.5e6, rtol=1e-15)
    moves = shock_moves_table(out)
    assert list(moves.columns) == SHOCK_MOVE_COLUMNS and len(moves) == len(out.names) * len(out.drivers)
    row = moves.query("shock == 'equity_crash' and driver == 'SPX'").iloc[0]
    assert bool(row["shocked"]) and row["move"] == pytest.approx(np.log(0.7))
    assert not moves.query("shock == 'spx_down' and driver == 'SX5E'").iloc[0]["shocked"]


# ---- contributions and stress -----------------------------------------------------------------

def test_euler_contributions_sum_to_mean_vol_and_cvar(case):
    plan, scen, outcomes = case
    e = plan.book.holdings
    for name in ("prior", "equity_selloff", "book_loses"):
        q = outcomes[name].q
        mean, vol, cvar = euler_contributions(scen.R, q, e, 0.05)
        P = scen.R @ e
        assert mean.sum() == pytest.approx(expected_return(P, q), rel=1e-12, abs=1e-15)
        assert vol.sum() == pytest.approx(standard_deviation(P, q), rel=1e-12)
        assert cvar.sum() == pytest.approx(conditional_value_at_risk(P, q, 0.05), rel=1e-12)


def test_cvar_contributions_are_the_gradient_times_exposure(case):
    """Euler: each contribution is e_i dCVaR/de_i, checked by central finite differences (the
    posterior has no ties, so CVaR is differentiable at the book)."""
    plan, scen, outcomes = case
    e, q = plan.book.holdings, outcomes["equity_selloff"].q
    _, _, cvar = euler_contributions(scen.R, q, e, 0.05)
    h = 1e-7
    for i in np.flatnonzero(e):
        up, dn = e.copy(), e.copy()
        up[i] += h
        dn[i] -= h
        grad = (conditional_value_at_risk(scen.R @ up, q, 0.05) - conditional_value_at_risk(scen.R @ dn, q, 0.05)) / (2 * h)
        assert cvar[i] == pytest.approx(e[i] * grad, rel=1e-4, abs=1e-9)


def test_cvar_contributions_take_the_fractional_var_atom():
    """Uniform weights with alpha*S not an integer: the scenario at VaR enters fractionally and
    the contributions still sum to CVaR exactly."""
    rng = np.random.default_rng(0)
    R = rng.standard_normal((101, 3))
    e = np.array([0.5, 0.3, 0.2])
    q = np.full(101, 1 / 101)
    for alpha in (0.05, 0.1, 0.0396):
        _, _, cvar = euler_contributions(R, q, e, alpha)
        assert cvar.sum() == pytest.approx(conditional_value_at_risk(R @ e, q, alpha), rel=1e-13)


def test_book_contributions_and_stress_frames(case):
    plan, scen, outcomes = case
    frame = book_frame(plan.book)
    row = frame[IDENTITY].iloc[0]
    assert row[["portfolio", "kind", "point"]].tolist() == ["book", "book", 0]
    assert row[["view_set", "risk_measure", "constraint_set"]].isna().all()
    parts = [book_contributions(0.05, scen, outcomes[n], frame, plan.book.value) for n in ("prior", "vol_crush")]
    t = book_table(parts, plan.book.value)
    assert t.columns.tolist()[:8] == ["view_set", "status", "portfolio", "instrument", "exposure", "expected_pnl",
                                      "vol_contribution", "cvar_contribution"]
    prior = t[t["view_set"] == "prior"]
    assert prior["instrument"].tolist() == list(plan.book.names)
    assert prior["expected_pnl"].sum() == pytest.approx(float(scen.p @ (scen.R @ plan.book.holdings)))
    np.testing.assert_allclose(t["cvar_contribution_ccy"], t["cvar_contribution"] * 2.5e6)
    bad = ViewOutcome("broken", "H1", ViewStatus.infeasible.value, None)
    nan = book_contributions(0.05, scen, bad, frame)
    assert nan["expected_pnl"].isna().all() and (nan["status"] == "infeasible").all()
    st = book_stress(0.05, scen, outcomes["prior"], frame)
    assert st["portfolio"].tolist() == ["book"] and st["eval_view_set"].tolist() == ["prior"]
    assert st["expected_return"].iloc[0] == pytest.approx(float(scen.p @ (scen.R @ plan.book.holdings)))


# ---- limits and rebalance ---------------------------------------------------------------------

def _limits(plan, **kw) -> LimitsPlan:
    """Bounds of the optimisation, a vega band on SPX (the book is short vega: -0.041), a gross
    leverage cap, a prior CVaR cap (the book's is 0.12) and caps under view sets."""
    b = plan.book
    greeks = GreekLimits(b.greeks.T, b.greek_keys, {("vega", "SPX"): (-0.02, None)})
    cons = Constraints(bounds=(plan.settings.lower, plan.settings.upper), greeks=greeks, leverage=3.0,
                       upperCVaR=0.09)
    args = {"constraints": cons, "view_caps": (("equity_selloff", "CVaR", 0.2), ("broken", "CVaR", 0.1)),
            "alpha": 0.05, "rf": 0.0, "demean": False, "costs": np.full(len(b.names), 0.001)}
    args.update(kw)
    return LimitsPlan(**args)


def test_limits_are_evaluated_and_breached_exactly_beyond_the_bounds(case):
    plan, scen, outcomes = case
    bad = ViewOutcome("broken", "H1", ViewStatus.infeasible.value, None)
    lim = _limits(plan, costs=None)
    out = book_limits(lim, plan.book, scen, outcomes["equity_selloff"], bad)
    t = out.book.set_index("limit")
    e = plan.book.holdings
    vega = float(plan.book.greeks[:, plan.book.greek_keys.index(("vega", "SPX"))] @ e)
    assert t.loc["vega[SPX] >=", "value"] == pytest.approx(vega, rel=1e-12)
    assert bool(t.loc["vega[SPX] >=", "breached"]) and t.loc["vega[SPX] >=", "excess"] == pytest.approx(-0.02 - vega)
    assert t.loc["upperCVaR", "value"] == pytest.approx(conditional_value_at_risk(scen.R @ e, scen.p, 0.05))
    sel = conditional_value_at_risk(scen.R @ e, outcomes["equity_selloff"].q, 0.05)
    assert t.loc["upperCVaR[equity_selloff]", "value"] == pytest.approx(sel, rel=1e-12)
    assert t.loc["upperCVaR[equity_selloff]", "breached"] == (sel > 0.2)
    assert t.loc["upperCVaR[broken]", "status"] == VIEW_INFEASIBLE
    assert np.isnan(t.loc["upperCVaR[broken]", "value"]) and not t.loc["upperCVaR[broken]", "breached"]
    assert not t.loc["leverage", "breached"]
    assert out.status is None and out.rebalanced is None
    # a bound exactly at the value is not breached; one ulp inside it is
    gross = float(t.loc["leverage", "value"])
    at = book_limits(dataclasses.replace(lim, constraints=Constraints(leverage=gross), view_caps=()), plan.book, scen)
    assert not at.book.set_index("limit").loc["leverage", "breached"]
    below = book_limits(dataclasses.replace(lim, constraints=Constraints(leverage=np.nextafter(gross, 0)),
                                            view_caps=()), plan.book, scen)
    assert below.book.set_index("limit").loc["leverage", "breached"]


def _lp_cost(plan, scen, lower, upper, vega_lo, costs) -> float:
    """min c'|e - e0| s.t. bounds, vega[SPX] >= vega_lo, v'e = 1, by scipy's linprog on
    variables (e, t) with t >= |e - e0|."""
    e0, v = plan.book.holdings, plan.book.v
    n = e0.size
    g = plan.book.greeks[:, plan.book.greek_keys.index(("vega", "SPX"))]
    eye = np.eye(n)
    A_ub = np.vstack([np.hstack([eye, -eye]), np.hstack([-eye, -eye]), np.hstack([-g, np.zeros(n)])[None, :]])
    b_ub = np.concatenate([e0, -e0, [-vega_lo]])
    res = linprog(np.concatenate([np.zeros(n), costs]), A_ub=A_ub, b_ub=b_ub,
                  A_eq=np.concatenate([v, np.zeros(n)])[None, :], b_eq=[1.0],
                  bounds=[(lo, hi) for lo, hi in zip(lower, upper)] + [(0, None)] * n, method="highs")
    assert res.status == 0
    return float(res.fun)


def test_rebalance_restores_every_limit_at_the_lp_cost(case):
    plan, scen, outcomes = case
    lower, upper = plan.settings.lower, plan.settings.upper
    costs = np.linspace(0.0005, 0.003, len(plan.book.names))
    greeks = GreekLimits(plan.book.greeks.T, plan.book.greek_keys, {("vega", "SPX"): (-0.02, None)})
    lim = LimitsPlan(Constraints(bounds=(lower, upper), greeks=greeks), (), 0.05, 0.0, False, costs)
    out = book_limits(lim, plan.book, scen)
    assert out.ok and out.book["breached"].any()
    assert not out.rebalanced["breached"].any()
    trades = trades_table(out, list(plan.book.names))
    assert list(trades.columns) == TRADE_TABLE_COLUMNS
    assert trades["cost"].sum() == pytest.approx(_lp_cost(plan, scen, lower, upper, -0.02, costs), rel=1e-6, abs=1e-9)
    assert float(plan.book.v @ out.target) == pytest.approx(1.0, abs=1e-9)


def test_rebalance_with_risk_caps_and_the_rebalanced_portfolio(case):
    plan, scen, outcomes = case
    bad = ViewOutcome("broken", "H1", ViewStatus.infeasible.value, None)
    out = book_limits(_limits(plan), plan.book, scen, outcomes["equity_selloff"], bad)
    assert out.ok, out.message
    after = out.rebalanced.set_index("limit")
    assert not after["breached"].any()
    assert after.loc["upperCVaR", "value"] <= 0.09
    assert conditional_value_at_risk(scen.R @ out.target, scen.p, 0.05) <= 0.09
    assert after.loc["upperCVaR[broken]", "status"] == VIEW_INFEASIBLE
    frame = book_frame(plan.book, out)
    assert frame["portfolio"].tolist() == ["book", "book/rebalanced"]
    assert frame["kind"].tolist() == ["book", "rebalanced"]
    np.testing.assert_allclose(frame[[f"e_{n}" for n in plan.book.names]].iloc[1], out.target)
    t = limits_table(out)
    assert list(t.columns) == LIMIT_TABLE_COLUMNS
    assert t["portfolio"].unique().tolist() == ["book", "book/rebalanced"]
    assert not t["conflict"].any()


def test_infeasible_limits_are_named(case):
    plan, scen, _ = case
    cons = Constraints(bounds={"SPX": (0.9, 2.0)}, linear=("SPX <= 0.5",), leverage=10.0)
    lim = LimitsPlan(cons, (), 0.05, 0.0, False, np.full(len(plan.book.names), 0.001))
    out = book_limits(lim, plan.book, scen)
    assert out.status == "infeasible" and not out.ok
    assert set(out.conflicts) == {"bound[SPX] >=", "SPX <= 0.5"}
    t = limits_table(out)
    assert set(t.loc[t["conflict"], "limit"]) == {"bound[SPX] >=", "SPX <= 0.5"}
    assert t["portfolio"].unique().tolist() == ["book"]
    trades = trades_table(out, list(plan.book.names))
    assert trades["target"].isna().all() and (trades["status"] == "infeasible").all()
    assert "SPX <= 0.5" in trades["message"].iloc[0]
    assert book_frame(plan.book, out)["portfolio"].tolist() == ["book"]


def test_shocks_of_frontier_portfolios_without_a_book(case):
    """No holdings: the shocks table holds the ok frontier portfolios only."""
    plan, _, _ = case
    bare = dataclasses.replace(plan.book, holdings=None)
    out = reprice_shocks(dataclasses.replace(plan.shocks, entries=plan.shocks.entries[:2]), bare)
    names = list(bare.names)
    e = holdings(plan.book)
    frontier = pd.DataFrame([{"portfolio": "prior/CVaR/frontier0", "view_set": "prior", "risk_measure": "CVaR",
                              "constraint_set": "base", "kind": "frontier", "point": 0, "status": "optimal",
                              **{f"e_{n}": x for n, x in zip(names, e)}},
                             {"portfolio": "prior/CVaR/frontier1", "view_set": "prior", "risk_measure": "CVaR",
                              "constraint_set": "base", "kind": "frontier", "point": 1, "status": "infeasible",
                              **{f"e_{n}": np.nan for n in names}}])
    t = shock_table(out, book_frame(bare), frontier, names)
    assert t["portfolio"].tolist() == ["prior/CVaR/frontier0"] * 2 and "pnl_ccy" not in t.columns
    np.testing.assert_allclose(t["pnl"], out.pnl @ e, rtol=1e-12)


def test_memory_estimate_of_a_book_only_run_has_no_problems():
    from pipeline.memory import estimate_memory
    plan = small_plan()
    plan = dataclasses.replace(plan, scenarios=dataclasses.replace(plan.scenarios, count=200_000))  # problems dominate
    book = dataclasses.replace(plan.book, holdings=holdings(plan.book))
    full = estimate_memory(dataclasses.replace(plan, book=book))
    only = estimate_memory(dataclasses.replace(plan, book=book, book_only=True))
    assert only.worker < full.worker and "compiled problems" in full.parts
    assert only.parts["scenario set"] == full.parts["scenario set"] > estimate_memory(plan).parts["scenario set"]


def test_final_summary_reads_the_book_counts():
    from pipeline.progress import final_summary
    text = final_summary({"views": {"ok": 3}, "portfolios": {}, "limits_breached": 2,
                          "rebalance": {"optimal": 1}})
    assert "views: 3 of 3 solved" in text and "book: 2 limit(s) breached; rebalance optimal" in text
    assert "book:" not in final_summary({"views": {"ok": 3}, "portfolios": {"optimal": 4}})
