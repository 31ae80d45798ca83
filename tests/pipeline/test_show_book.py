"""``stressfrontier show`` of a run with the user's own book: P&L under every view set, Greeks,
contributions, shocks, limits and the rebalancing trade, what moves; and a ``book`` mode run.

The run folder is a real small run of ``configs/index_options_book.yaml`` to which
:func:`add_book_tables` adds the book's tables in the layout of the issue-13 spec, built from the
run's own numbers: the book is the prior CVaR frontier point 1 and the rebalanced book point 0 (so
their stress and Greeks rows are the run's), contributions use the posterior instrument means of
``moments.parquet``, shocks are exact sums of per-instrument contributions.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pipeline
from pipeline.config import safe_load
from pipeline.report import write_report
from pipeline.show import show_run
from pipeline.show_book import (
    book_contributions,
    book_stats,
    limits_table,
    shock_table,
    trades_table,
    what_moves,
    worst_shock_contributions,
)
from tests.conftest import ROOT

pytestmark = pytest.mark.cluster

VALUE = 2_000_000.0
BOOK_POINT, REB_POINT = 1, 0
IDENT = {"view_set": None, "risk_measure": None, "constraint_set": None, "point": 0}


def small_book_run(out: Path) -> Path:
    """The index options book config at 2,000 scenarios, 4 frontier points, one target."""
    d = copy.deepcopy(safe_load((ROOT / "configs" / "index_options_book.yaml").read_text()))
    d["scenarios"].update(count=2000, block_size=500, chunks=2)
    d["optimization"].update(points=4, targets=[0.01])
    return pipeline.run(d, out=out, workers=1, log=lambda m: None)


def _frontier_row(fr: pd.DataFrame, point: int) -> pd.Series:
    sel = fr[(fr["view_set"] == "prior") & (fr["risk_measure"] == "CVaR") & (fr["kind"] == "frontier")
             & (fr["point"] == point)]
    return sel.iloc[0]


def _book_identity(df: pd.DataFrame, pid: str, kind: str, view_col: str = "view_set") -> pd.DataFrame:
    ident = {**IDENT}
    ident[view_col] = ident.pop("view_set")
    return df.assign(portfolio="book" if kind == "book" else "book/rebalanced", kind=kind, **ident)


def _relabel(table: pd.DataFrame, fr_id: str, kind: str, view_col: str) -> pd.DataFrame:
    """The rows of frontier portfolio ``fr_id`` relabelled as a book portfolio."""
    rows = table[(table["portfolio"] == fr_id) & (table[view_col] == "prior") & (table["risk_measure"] == "CVaR")]
    return _book_identity(rows, fr_id, kind, view_col)


# long function: builds every book table of the spec in one place, in spec order
def add_book_tables(root: Path, *, value: float | None = VALUE, infeasible: bool = False,
                    book_mode: bool = False) -> Path:
    """Add the issue-13 book tables to the run folder ``root`` (in place); returns ``root``."""
    run = pipeline.read_run(root)
    fr, inst, mo = run["frontier"], run["instruments"], run["moments"]
    names = list(inst["name"])
    ecols = [f"e_{n}" for n in names]
    book_row, reb_row = _frontier_row(fr, BOOK_POINT), _frontier_row(fr, REB_POINT)
    e_book = book_row[ecols].to_numpy(float)
    e_reb = reb_row[ecols].to_numpy(float)
    reb_ok = not infeasible
    kinds = [("book", book_row["portfolio"])] + ([("rebalanced", reb_row["portfolio"])] if reb_ok else [])

    st = run["stress"]
    book_st = pd.concat([_relabel(st, pid, k, "portfolio_view_set") for k, pid in kinds])
    book_st = book_st.assign(_o=book_st["eval_view_set"].map({v: i for i, v in enumerate(run["views"]["view_set"])}))
    book_st = book_st.sort_values(["_o"], kind="stable").drop(columns="_o")
    st_new = book_st if book_mode else pd.concat([book_st, st])
    gk = run["greeks"]
    gk_new = pd.concat([_relabel(gk, pid, k, "view_set") for k, pid in kinds] + ([] if book_mode else [gk]))

    # book.parquet: exact expected P&L from the posterior instrument means; vol and CVaR split
    # in proportion to e_i * sd_i so that they sum to the stress table's vol and CVaR
    rows = []
    for vs in run["views"]["view_set"]:
        m = mo[mo["view_set"] == vs]  # an equity named like its driver has only the driver row
        m = m.sort_values("kind", key=lambda k: k != "instrument", kind="stable").drop_duplicates("variable")
        m = m.set_index("variable")
        for kind, _ in kinds:
            e = e_book if kind == "book" else e_reb
            srow = book_st[(book_st["eval_view_set"] == vs) & (book_st["kind"] == kind)].iloc[0]
            w = e * m.loc[names, "vol"].to_numpy(float)
            for i, n in enumerate(names):
                rows.append({"view_set": vs, "status": "ok", "portfolio": srow["portfolio"], "instrument": n,
                             "exposure": e[i], "expected_pnl": e[i] * m.at[n, "mean"],
                             "vol_contribution": srow["volatility"] * w[i] / w.sum(),
                             "cvar_contribution": srow["CVaR"] * w[i] / w.sum()})
    bk = pd.DataFrame(rows)
    if value is not None:
        bk["expected_pnl_ccy"] = bk["expected_pnl"] * value
        bk["cvar_contribution_ccy"] = bk["cvar_contribution"] * value

    # shocks: per-instrument returns of three shocks; contributions e_i r_i sum to the P&L
    rng = np.random.default_rng(3)
    shocks = [("equity_crash", "config", "conditional"), ("gfc:2008-10-15", "history", "none"),
              ("worst:2020-03-16", "history worst", "none")]
    r = {s: rng.normal(-0.05, 0.1, len(names)) for s, _, _ in shocks}
    ports = [("book", "book", e_book, IDENT)] + ([("book/rebalanced", "rebalanced", e_reb, IDENT)] if reb_ok else [])
    if not book_mode:
        for row in fr[fr["status"].isin(("optimal", "optimal_inaccurate"))].itertuples():
            ports.append((row.portfolio, row.kind, fr.loc[row.Index, ecols].to_numpy(float),
                          {"view_set": row.view_set, "risk_measure": row.risk_measure,
                           "constraint_set": row.constraint_set, "point": row.point}))
    srows = []
    for pid, kind, e, ident in ports:
        for s, source, prop in shocks:
            c = e * r[s]
            d = {"portfolio": pid, "kind": kind, **ident, "shock": s, "source": source, "propagate": prop,
                 "pnl": c.sum()}
            if value is not None:
                d["pnl_ccy"] = c.sum() * value
            d.update({f"c_{n}": c[i] for i, n in enumerate(names)})
            srows.append(d)
    sh = pd.DataFrame(srows)
    drivers = [(dr["name"], dr["kind"]) for dr in run["manifest"]["config"]["scenarios"]["drivers"]]
    mv = pd.DataFrame([{"shock": s, "source": source, "propagate": prop, "driver": d, "kind": k,
                        "move": (-0.3 if d == "SPX" else 0.7 if d == "SPX_vol" else
                                 (0.01 * (j - 3) if prop == "conditional" or source != "config" else 0.0)),
                        "shocked": source != "config" or d in ("SPX", "SPX_vol")}
                       for s, source, prop in shocks for j, (d, k) in enumerate(drivers)])

    # limits: a vega band, a CVaR cap under the prior, a cap under a view set, a bound, leverage
    g_book = gk_new[(gk_new["kind"] == "book") & (gk_new["underlying"] == "SPX")].iloc[0]
    lim_defs = [("vega[SPX] <=", "greek", "<=", round(float(g_book["vega"]) * 0.5, 4), "vega"),
                ("upperCVaR", "risk", "<=", 0.02, "CVaR"),
                ("upperCVaR[equity_selloff]", "risk", "<=", 0.5, "sel"),
                ("bound[SPX_fut_Mar] >=", "bound", ">=", -0.5, "fut"),
                ("leverage", "leverage", "<=", 10.0, "gross")]
    lrows = []
    for kind, e in [("book", e_book)] + ([("rebalanced", e_reb)] if reb_ok else []):
        pid = "book" if kind == "book" else "book/rebalanced"
        g = gk_new[(gk_new["kind"] == kind) & (gk_new["underlying"] == "SPX")].iloc[0]
        srow = book_st[(book_st["kind"] == kind)].set_index("eval_view_set")
        vals = {"vega": g["vega"], "CVaR": srow.at["prior", "CVaR"], "sel": srow.at["equity_selloff", "CVaR"],
                "fut": e[names.index("SPX_fut_Mar")], "gross": np.abs(e).sum()}
        for name, fam, sense, bound, key in lim_defs:
            v = float(vals[key])
            exc = v - bound if sense == "<=" else bound - v
            lrows.append({"portfolio": pid, "limit": name, "family": fam, "sense": sense, "value": v,
                          "bound": bound, "excess": exc, "breached": exc > 0,
                          "conflict": infeasible and name in ("vega[SPX] <=", "upperCVaR"), "status": "ok"})
    lim = pd.DataFrame(lrows)

    rate = np.where(inst["kind"] == "option", 0.001, 0.0002)
    target = e_reb if reb_ok else np.full(len(names), np.nan)
    tr = pd.DataFrame({"instrument": names, "current": e_book, "target": target, "trade": target - e_book,
                       "cost": rate * np.abs(target - e_book), "rate": rate,
                       "status": "optimal" if reb_ok else "infeasible",
                       "message": "" if reb_ok else "the limits cannot all be met"})

    book_mo = []
    for kind in ("book",):
        srow = book_st[book_st["kind"] == kind]
        for r_ in srow.itertuples():
            prior = srow[srow["eval_view_set"] == "prior"].iloc[0]
            book_mo.append({"view_set": r_.eval_view_set, "status": "ok", "variable": "book", "kind": "book",
                            "mean": r_.expected_return, "vol": r_.volatility, "skew": 0.0, "kurt": 3.0,
                            "prior_mean": prior["expected_return"], "prior_vol": prior["volatility"],
                            "prior_skew": 0.0, "prior_kurt": 3.0})
    mo_new = pd.concat([mo, pd.DataFrame(book_mo)], ignore_index=True)

    tables = {"stress": st_new, "greeks": gk_new, "book": bk, "shocks": sh, "shock_moves": mv,
              "limits": lim, "trades": tr, "moments": mo_new}
    if book_mode:
        tables["frontier"] = fr.iloc[:0]
    for name, df in tables.items():
        df.reset_index(drop=True).to_parquet(root / f"{name}.parquet", index=False)
    man = run["manifest"]
    man["config"]["book"] = {"holdings": dict(zip(names, map(float, e_book))),
                             **({"value": value} if value is not None else {})}
    man["status_counts"]["rebalance"] = {tr["status"].iloc[0]: 1}
    man["status_counts"]["limits_breached"] = int(lim[lim["portfolio"] == "book"]["breached"].sum())
    if book_mode:
        man["mode"] = "book"
    (root / "manifest.json").write_text(json.dumps(man, indent=2, default=str))
    return root


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    return small_book_run(tmp_path_factory.mktemp("book") / "base")


def _variant(base: Path, dst: Path, **kw) -> Path:
    shutil.copytree(base, dst, ignore=shutil.ignore_patterns(".parts", "*.png", "report.html"))
    return add_book_tables(dst, **kw)


@pytest.fixture(scope="module")
def book_run(base_run, tmp_path_factory):
    return _variant(base_run, tmp_path_factory.mktemp("book") / "run")


@pytest.fixture(scope="module")
def book_mode_run(base_run, tmp_path_factory):
    return _variant(base_run, tmp_path_factory.mktemp("book") / "mode", book_mode=True)


@pytest.fixture(scope="module")
def infeasible_run(base_run, tmp_path_factory):
    return _variant(base_run, tmp_path_factory.mktemp("book") / "inf", infeasible=True, value=None)


def _show(path: Path, width: int = 100) -> str:
    buf = io.StringIO()
    show_run(path, stream=buf, width=width)
    return buf.getvalue()


def _pct(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f}%"


def test_show_prints_every_book_section_within_100_columns(book_run):
    text = _show(book_run)
    run = pipeline.read_run(book_run)
    heads = ["Your book: P&L under the prior and every view set", "Greeks per underlying:",
             "Top contributions under prior", "Shocks: P&L of each deterministic shock",
             "Biggest contributions to the book's worst shock", "Driver moves",
             "Limits on the book and after the rebalancing trade", "Rebalance optimal",
             "What moves under each view set", "Frontier: prior / CVaR", "Stress matrix"]
    pos = [text.find(h) for h in heads]
    assert all(p >= 0 for p in pos), [h for h, p in zip(heads, pos) if p < 0]
    assert pos == sorted(pos)  # the book comes before the frontiers
    assert max(len(ln) for ln in text.splitlines()) <= 100
    st = run["stress"]
    prior_book = st[(st["kind"] == "book") & (st["eval_view_set"] == "prior")].iloc[0]
    assert _pct(prior_book["CVaR"]) in text and f"{prior_book['CVaR'] * VALUE:,.0f}" in text
    n = run["manifest"]["status_counts"]["limits_breached"]
    assert f"{n} of 5 limits breached by the book." in text
    # the book's rows never leak into the headline-portfolio stress matrix
    matrix = text.split("Headline portfolios of every view set:")[1]
    assert "book" not in matrix


def test_book_stats_are_the_stress_rows_of_the_book_in_run_order(book_run):
    run = pipeline.read_run(book_run)
    df = book_stats(run)
    assert list(df["view set"]) == ["prior", "prior", "equity_selloff", "equity_selloff", "vol_crush", "vol_crush"]
    assert list(df["portfolio"]) == ["book", "rebalanced"] * 3
    st = run["stress"].set_index(["eval_view_set", "portfolio"])
    for r in df.itertuples():
        s = st.loc[(r[1], "book" if r.portfolio == "book" else "book/rebalanced")]
        assert r._4 == _pct(s["expected_return"]) and r.CVaR == _pct(s["CVaR"]) and r.VaR == _pct(s["VaR"])
        assert r._9 == f"{s['expected_return'] * VALUE:,.0f}"


def test_contributions_are_sorted_by_cvar_and_total_the_book(book_run):
    run = pipeline.read_run(book_run)
    bk = run["book"]
    for vs in ("prior", "equity_selloff"):
        rows = bk[(bk["view_set"] == vs) & (bk["portfolio"] == "book")]
        df = book_contributions(run, vs, top=4)
        expect = rows[rows["exposure"] != 0].reindex(
            rows["cvar_contribution"].abs().sort_values(ascending=False).index).dropna(subset=["instrument"])
        expect = expect[expect["exposure"] != 0].head(4)
        assert list(df["instrument"]) == list(expect["instrument"]) + ["total"]
        total = df.iloc[-1]
        assert total["CVaR contr."] == _pct(rows["cvar_contribution"].sum(), 3)
        assert total["E[P&L]"] == _pct(rows["expected_pnl"].sum(), 3)
        st = run["stress"]
        cvar = st[(st["kind"] == "book") & (st["eval_view_set"] == vs)]["CVaR"].iloc[0]
        assert total["CVaR contr."] == _pct(cvar, 3)  # the Euler contributions add up to the book's CVaR


def test_shocks_worst_first_and_worst_shock_contributions_add_up(book_run):
    run = pipeline.read_run(book_run)
    sh = run["shocks"]
    book = sh[sh["kind"] == "book"].set_index("shock")["pnl"]
    df = shock_table(run)
    assert list(df["shock"]) == list(book.sort_values().index)
    assert list(df["book"]) == [_pct(book[s]) for s in df["shock"]]
    assert "rebalanced" in df and "prior/CVaR @1.0%" in df  # the target, labelled by its return
    assert list(df["source"]) == [
        {"equity_crash": "config+cond", "gfc:2008-10-15": "history", "worst:2020-03-16": "history worst"}[s]
        for s in df["shock"]]
    name, contrib = worst_shock_contributions(run, top=3)
    assert name == book.idxmin()
    row = sh[(sh["kind"] == "book") & (sh["shock"] == name)].iloc[0]
    c = row[[k for k in sh.columns if k.startswith("c_")]].astype(float)
    assert c.sum() == pytest.approx(row["pnl"], abs=1e-12)  # independent: the contributions add up
    top = c.abs().sort_values(ascending=False).index[:3]
    assert list(contrib["instrument"]) == [k[2:] for k in top] + ["total"]
    assert contrib["contribution"].iloc[-1] == _pct(row["pnl"], 3)


def test_limits_flags_are_the_breaches_and_the_trade_adds_up(book_run):
    run = pipeline.read_run(book_run)
    lim = run["limits"]
    df = limits_table(run)
    book = lim[lim["portfolio"] == "book"].set_index("limit")
    assert list(df["flag"]) == ["BREACHED" if book.at[n, "breached"] else "ok" for n in df["limit"]]
    hit = list(book.index[book["breached"]])
    assert list(df["limit"]) == hit + [n for n in book.index if n not in hit]  # breaches first
    after = lim[lim["portfolio"] == "book/rebalanced"].set_index("limit")
    assert list(df["after flag"]) == ["BREACHED" if after.at[n, "breached"] else "ok" for n in df["limit"]]
    assert "conflict" not in df
    tr = run["trades"]
    t = trades_table(run)
    assert t["instrument"].iloc[-1] == "total"
    assert t["cost (bp)"].iloc[-1] == f"{1e4 * tr['cost'].sum():.2f}"
    assert t["trade"].iloc[-1] == _pct(np.abs(tr["target"] - tr["current"]).sum())
    assert t["cost ccy"].iloc[-1] == f"{tr['cost'].sum() * VALUE:,.0f}"


def test_infeasible_rebalance_names_the_conflicting_limits(infeasible_run):
    text = _show(infeasible_run)
    assert "Rebalance infeasible: no trade restores every limit. Conflicting limits: vega[SPX] <=, upperCVaR." in text
    assert "CONFLICT" in text and "after trade" not in text
    assert trades_table(pipeline.read_run(infeasible_run)).empty  # no trade to show
    assert " ccy" not in text.split("Shocks:")[0]  # no book value: no currency columns
    assert "rebalanced" not in text.split("Your book")[1].split("Shocks")[0]


def test_book_mode_shows_the_book_without_frontier_sections(book_mode_run):
    text = _show(book_mode_run)
    assert "book run (no frontiers)" in text
    for h in ("Your book", "Shocks", "Limits on the book", "What moves"):
        assert h in text
    for h in ("Frontier:", "Headline portfolios", "Stress matrix", "(no frontier table)"):
        assert h not in text
    # no headline portfolio to compare with in the shocks table
    assert list(shock_table(pipeline.read_run(book_mode_run)).columns) == [
        "shock", "source", "book", "book ccy", "rebalanced", "rebalanced ccy"]


def test_run_without_a_book_prints_as_before(base_run):
    text = _show(base_run)
    for h in ("Your book", "Shocks", "Limits on the book", "What moves", "book run"):
        assert h not in text
    assert "Frontier: prior / CVaR" in text


def test_what_moves_ranks_drivers_by_mean_move_in_prior_sigmas_or_vol_change(book_run):
    run = pipeline.read_run(book_run)
    df = what_moves(run, "equity_selloff", top=3)
    mo = run["moments"]
    rows = mo[(mo["view_set"] == "equity_selloff") & (mo["kind"] == "driver")]
    z = ((rows["mean"] - rows["prior_mean"]) / rows["prior_vol"]).to_numpy()
    score = np.maximum(np.abs(z), np.abs(rows["vol"] / rows["prior_vol"] - 1).to_numpy())
    order = np.argsort(-score, kind="stable")[:3]
    assert list(df["variable"]) == ["book"] + list(rows["variable"].to_numpy()[order])
    assert list(df["move (σ)"])[1:] == [f"{z[i]:+.2f}" for i in order]
    spx = df[df["variable"] == "SPX"].iloc[0]  # SPX is viewed at -8 %: it moves down
    assert spx["mean prior → post"].endswith("-8.00%") and spx["move (σ)"].startswith("-")


def test_book_sections_fit_narrow_terminals_and_ascii_streams(book_run):
    assert max(len(ln) for ln in _show(book_run, width=60).splitlines()) <= 60
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    show_run(book_run, stream=stream, width=100)  # would raise UnicodeEncodeError on an arrow or sigma
    stream.flush()
    text = raw.getvalue().decode("ascii")
    assert "What moves under each view set" in text and "move (sd)" in text and " -> " in text


def test_missing_book_tables_degrade_cleanly(book_run, tmp_path):
    run_dir = tmp_path / "partial"
    shutil.copytree(book_run, run_dir, ignore=shutil.ignore_patterns("*.png", "report.html"))
    for name in ("book", "shocks", "shock_moves", "trades"):
        (run_dir / f"{name}.parquet").unlink()
    lim = pd.read_parquet(run_dir / "limits.parquet")
    lim = lim[lim["portfolio"] == "book"].copy()  # limits evaluated, no rebalance
    cap = lim["limit"] == "upperCVaR[equity_selloff]"
    lim.loc[cap, ["value", "excess"]] = np.nan
    lim.loc[cap, "breached"] = False
    lim.loc[cap, "status"] = "view_infeasible"
    lim.to_parquet(run_dir / "limits.parquet", index=False)
    text = _show(run_dir)
    assert "Your book" in text and "Limits on the book" in text and "What moves" in text
    assert "Shocks:" not in text and "Top contributions" not in text and "Rebalance" not in text
    row = next(ln for ln in text.splitlines() if ln.strip().startswith("upperCVaR[equity_selloff]"))
    assert row.split()[-1] == "n/a" and "after trade" not in text
    html = write_report(run_dir).read_text(encoding="utf-8")
    assert "book.parquet is not in this run folder" in html and "No shocks in this run" in html
    assert not (run_dir / "shocks.png").exists() and not (run_dir / "book_contributions.png").exists()
