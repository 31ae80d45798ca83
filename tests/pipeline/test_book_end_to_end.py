"""configs/book_risk.yaml end to end: the book's shocks, reverse stress, limits and rebalance, each
cross-checked against an independent computation (direct repricing, the Gaussian conditional mean,
the view's own statistic, a hand-built LP solved by scipy's HiGHS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

import pipeline
from pipeline.cli import main
from tasks.instruments import scenario_pnl
from tasks.measures import conditional_value_at_risk
from tasks.scenarios import DriverScenarios, shock_values
from tests.conftest import ROOT

pytestmark = pytest.mark.cluster

CONFIG = ROOT / "configs" / "book_risk.yaml"
SMALL = {"scenarios.count": 4000, "scenarios.block_size": 1000, "optimization.points": 3, "scenarios.write": True}


@pytest.fixture(scope="module")
def book_run(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    out = tmp_path_factory.mktemp("book") / "run"
    path = pipeline.run(CONFIG, out=out, workers=2, log=lambda m: None, overrides=SMALL)
    return path, pipeline.read_run(path)


@pytest.fixture(scope="module")
def plan():
    cfg = pipeline.runner.resolve_config(CONFIG, SMALL)
    return pipeline.build_plan(cfg)


def _book_rows(df: pd.DataFrame, portfolio: str = "book") -> pd.DataFrame:
    return df[df["portfolio"] == portfolio]


# ---- shocks -------------------------------------------------------------------------------------

def test_shock_pnl_is_the_direct_repricing_of_each_instrument(book_run, plan):
    _, run = book_run
    shocks = _book_rows(run["shocks"])
    insts, space, e = list(plan.book.instruments), plan.shocks.space, plan.book.holdings
    for entry in plan.shocks.entries[:3]:  # named and replayed shocks (the worst ones are checked below)
        x = shock_values(list(entry.shocks), space, entry.propagate)
        R = np.stack([scenario_pnl([inst], DriverScenarios(list(space.names), x, space.horizon))[:, 0]
                      for inst in insts], axis=1)  # one instrument at a time
        for k, shock in enumerate(entry.shocks):
            row = shocks[shocks["shock"] == shock.name].iloc[0]
            contrib = row[[f"c_{n}" for n in plan.book.names]].to_numpy(dtype=float)
            np.testing.assert_allclose(contrib, e * R[k], rtol=1e-12, atol=1e-15)
            assert row["pnl"] == pytest.approx(float(e @ R[k]), rel=1e-12, abs=1e-15)
            assert row["pnl_ccy"] == pytest.approx(row["pnl"] * plan.book.value, rel=1e-12)


def test_conditional_shock_moves_the_others_by_the_gaussian_conditional_mean(book_run, plan):
    _, run = book_run
    moves = run["shock_moves"].query("shock == 'spx_gap_down'").set_index("driver")
    model = plan.scenarios.model
    mu, cov = np.asarray(model.log_mean), np.asarray(model.log_cov)
    names = list(model.names)
    s = names.index("SPX")
    expected = mu + cov[:, s] / cov[s, s] * (-0.08 - mu[s])  # one conditioning driver: a regression
    for j, name in enumerate(names):
        assert moves.loc[name, "move"] == pytest.approx(expected[j], rel=1e-10, abs=1e-14)
        assert bool(moves.loc[name, "shocked"]) == (name == "SPX")


def test_worst_days_are_the_books_worst_rows_of_the_history(book_run, plan):
    _, run = book_run
    hist = pd.read_csv(CONFIG.parent / "data" / "index_daily_moves.csv", index_col="date")
    space = plan.shocks.space
    x = np.zeros((len(hist), len(space.names)))
    for c in hist.columns:
        x[:, space.index(c)] = hist[c].to_numpy()
    pnl = scenario_pnl(list(plan.book.instruments), DriverScenarios(list(space.names), x, space.horizon))
    book = pnl @ plan.book.holdings
    worst = [f"worst_days:{hist.index[i]}" for i in np.argsort(book, kind="stable")[:3]]
    got = _book_rows(run["shocks"]).query("source == 'history worst'")
    assert list(got["shock"]) == worst
    np.testing.assert_allclose(got["pnl"], np.sort(book)[:3], rtol=1e-12)


# ---- reverse stress -----------------------------------------------------------------------------

def test_reverse_stress_views_on_the_book_are_attained(book_run):
    _, run = book_run
    views = run["views"].set_index("view_set")
    checks = run["view_checks"].set_index("view_set")
    for name in ("reverse_stress", "book_loses_5pct"):
        assert views.loc[name, "status"] == "ok"
        assert checks.loc[name, "violation"] <= 1e-6
    assert checks.loc["reverse_stress", "attained"] >= 0.25 - 1e-6
    assert checks.loc["book_loses_5pct", "attained"] <= -0.05 + 1e-6
    # the view's statistic recomputed from the written scenarios and posterior
    scen = run["scenarios"]
    probs = run["probabilities"]
    q = probs[probs["view_set"] == "reverse_stress"]["probability"].to_numpy()
    names = [c for c in scen.columns if c not in ("scenario", "probability")]
    pnl = scen[names].to_numpy() @ _holdings(run, names)
    assert conditional_value_at_risk(pnl, q, alpha=0.05) >= 0.25 - 1e-6


def _holdings(run: dict[str, pd.DataFrame], names: list[str]) -> np.ndarray:
    trades = run["trades"].set_index("instrument")
    return trades.loc[names, "current"].to_numpy(dtype=float)


def test_reverse_stress_moves_the_drivers_the_book_is_exposed_to(book_run):
    _, run = book_run
    m = run["moments"].set_index(["view_set", "variable"])

    def move(name: str, var: str, stat: str) -> float:
        return float(m.loc[(name, var), stat] - m.loc[(name, var), f"prior_{stat}"])

    # the book is long SPX delta and short SPX vega: its losses come with SPX down and its vol up
    for name in ("reverse_stress", "book_loses_5pct"):
        assert m.loc[(name, "book"), "kind"] == "book"
        assert move(name, "book", "mean") < 0
        assert move(name, "SPX", "mean") < -0.005 and move(name, "SX5E", "mean") < -0.005
        assert move(name, "SPX_vol", "mean") > 0.04
    # a CVaR view fattens the book's loss tail: the drivers become more volatile ...
    assert move("reverse_stress", "book", "vol") > 0.01 and move("reverse_stress", "SPX", "vol") > 0.005
    # ... a mean view shifts them: SPX down by several percent, its ATM vol up by a fifth
    assert move("book_loses_5pct", "SPX", "mean") < -0.03 and move("book_loses_5pct", "SPX_vol", "mean") > 0.15


# ---- limits and the rebalancing trade -----------------------------------------------------------

def test_book_breaches_its_vega_and_cvar_limits_exactly_as_measured(book_run):
    _, run = book_run
    lim = _book_rows(run["limits"]).set_index("limit")
    greeks = _book_rows(run["greeks"]).set_index("underlying")
    stress = _book_rows(run["stress"]).set_index("eval_view_set")
    assert lim.loc["vega[SPX] >=", "value"] == pytest.approx(greeks.loc["SPX", "vega"], rel=1e-12)
    assert lim.loc["upperCVaR", "value"] == pytest.approx(stress.loc["prior", "CVaR"], rel=1e-10)
    assert lim.loc["upperCVaR[equity_selloff]", "value"] == pytest.approx(stress.loc["equity_selloff", "CVaR"],
                                                                          rel=1e-10)
    assert set(lim.index[lim["breached"]]) >= {"vega[SPX] >=", "upperCVaR"}
    np.testing.assert_allclose(lim["excess"], np.where(lim["sense"] == "<=", lim["value"] - lim["bound"],
                                                       lim["bound"] - lim["value"]), rtol=1e-12, atol=1e-15)
    assert (lim["breached"] == (lim["excess"] > 0)).all()


def test_rebalance_restores_every_limit_at_the_cost_of_an_independent_lp(book_run, plan):
    _, run = book_run
    trades = run["trades"]
    assert (trades["status"] == "optimal").all()
    after = _book_rows(run["limits"], "book/rebalanced")
    assert len(after) and not after["breached"].any() and (after["excess"] <= 0).all()
    total = float(trades["cost"].sum())
    assert total == pytest.approx(_independent_lp(run, plan), rel=1e-6, abs=1e-9)
    # the book after the trade is a portfolio like the book: stressed and with Greeks
    assert set(_book_rows(run["stress"], "book/rebalanced")["eval_view_set"]) == set(run["views"]["view_set"])
    assert len(_book_rows(run["greeks"], "book/rebalanced"))


def _independent_lp(run: dict[str, pd.DataFrame], plan) -> float:
    """min sum c|e - e0| s.t. the limits of book_risk.yaml, written out by hand as one LP: e = e0 + u - w
    (u, w >= 0), gross exposure via s >= |e|, each CVaR cap by Rockafellar-Uryasev (t, z >= 0)."""
    names = list(plan.book.names)
    n = len(names)
    scen = run["scenarios"]
    R = scen[names].to_numpy(dtype=float)
    S = R.shape[0]
    probs = run["probabilities"]
    p = probs[probs["view_set"] == "prior"]["probability"].to_numpy()
    q = probs[probs["view_set"] == "equity_selloff"]["probability"].to_numpy()
    e0, v, c = plan.book.holdings, plan.book.v, plan.limits.costs
    G = dict(zip(plan.book.greek_keys, plan.book.greeks.T))
    # variables: u (n), w (n), s (n), t1, z1 (S), t2, z2 (S)
    nv = 3 * n + 2 * (S + 1)
    iu, iw, is_ = 0, n, 2 * n
    it1, iz1, it2, iz2 = 3 * n, 3 * n + 1, 3 * n + 1 + S, 3 * n + 2 + S
    cost = np.zeros(nv)
    cost[iu:iu + n] = c
    cost[iw:iw + n] = c
    A, b = [], []

    def row() -> np.ndarray:
        return np.zeros(nv)

    def exposure(a: np.ndarray) -> tuple[np.ndarray, float]:
        """a'e as a row over (u, w) and its constant a'e0."""
        r = row()
        r[iu:iu + n], r[iw:iw + n] = a, -a
        return r, float(a @ e0)

    for a, lo, hi in ((G[("vega", "SPX")], -0.10, None), (G[("delta", "SPX")], 0.0, 1.2)):
        r, k = exposure(a)
        if lo is not None:
            A.append(-r)
            b.append(k - lo)
        if hi is not None:
            A.append(r)
            b.append(hi - k)
    for i in range(n):  # s_i >= +-e_i
        unit = np.zeros(n)
        unit[i] = 1.0
        for sign in (1.0, -1.0):
            r, k = exposure(sign * unit)
            r[is_ + i] = -1.0
            A.append(r)
            b.append(-k)
        if plan.book.info[i]["kind"] == "option":  # bounds [-1, 1]
            for sign in (1.0, -1.0):
                r, k = exposure(sign * unit)
                A.append(r)
                b.append(1.0 - k)
    r = row()
    r[is_:is_ + n] = 1.0
    A.append(r)
    b.append(4.0)  # leverage
    for prob, cap, t, z in ((p, 0.08, it1, iz1), (q, 0.20, it2, iz2)):
        # z_j >= -R_j e - t  ->  -R_j (u - w) - t - z_j <= R_j e0 ;  t + sum prob_j z_j / alpha <= cap
        for j in range(S):
            r, k = exposure(-R[j])
            r[t], r[z + j] = -1.0, -1.0
            A.append(r)
            b.append(-k)
        r = row()
        r[t] = 1.0
        r[z:z + S] = prob / 0.05
        A.append(r)
        b.append(cap)
    eq, _ = exposure(v)
    bounds = [(0, None)] * (3 * n) + [(None, None)] + [(0, None)] * S + [(None, None)] + [(0, None)] * S
    res = linprog(cost, A_ub=np.array(A), b_ub=np.array(b), A_eq=eq[None, :], b_eq=[1.0 - float(v @ e0)],
                  bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


def test_book_rows_come_first_and_show_prints_the_book(book_run, capsys):
    path, run = book_run
    for table in ("stress", "greeks"):
        df = run[table]
        kinds = list(df["kind"])
        first_other = next(i for i, k in enumerate(kinds) if k not in ("book", "rebalanced"))
        assert set(kinds[:first_other]) == {"book", "rebalanced"}
    assert main(["show", str(path), "--width", "100"]) == 0
    out = capsys.readouterr().out
    assert "book" in out.lower() and "equity_crash" in out


# ---- the book command ---------------------------------------------------------------------------

def _small_config(tmp_path: Path, **extra: str) -> Path:
    """book_risk.yaml at test size, as a file (for the CLI), its data file referenced absolutely."""
    text = CONFIG.read_text().replace("count: 20000", "count: 4000").replace("block_size: 2500", "block_size: 1000")
    text = text.replace("file: data/", f"file: {CONFIG.parent}/data/")
    for old, new in extra.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "book_risk.yaml"
    path.write_text(text)
    return path


def test_book_command_does_only_the_book_and_gets_the_same_numbers(book_run, tmp_path):
    _, run = book_run
    out = tmp_path / "daily"
    assert main(["book", str(_small_config(tmp_path)), "--out", str(out), "--quiet"]) == 0
    daily = pipeline.read_run(out)
    assert len(daily["frontier"]) == 0 and daily["manifest"]["mode"] == "book"
    for table in ("shocks", "limits", "trades", "book", "moments", "views"):
        theirs = run[table]
        if table == "shocks":
            theirs = theirs[theirs["kind"].isin(["book", "rebalanced"])]
        cols = [c for c in theirs.columns if c != "seconds"]
        pd.testing.assert_frame_equal(daily[table][cols].reset_index(drop=True), theirs[cols].reset_index(drop=True))


def test_conflicting_limits_are_named(tmp_path):
    path = _small_config(tmp_path, **{"  leverage: 4.0": '  leverage: 4.0\n  linear: ["SPX >= 0.5"]',
                                      "bounds: {option: [-1.0, 1.0]}": "bounds: {option: [-1.0, 1.0], SPX: [0.0, 0.45]}"})
    out = tmp_path / "conflict"
    assert main(["book", str(path), "--out", str(out), "--quiet"]) == 0
    run = pipeline.read_run(out)
    trades = run["trades"]
    assert (trades["status"] == "infeasible").all() and trades["target"].isna().all()
    conflict = set(run["limits"].query("conflict")["limit"])
    assert conflict == {"SPX >= 0.5", "bound[SPX] <="}, conflict
    assert "SPX >= 0.5" in trades["message"].iloc[0] and "bound[SPX] <=" in trades["message"].iloc[0]
    assert "book/rebalanced" not in set(run["stress"]["portfolio"])
