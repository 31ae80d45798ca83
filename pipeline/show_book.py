"""The user's own book in a finished run, formatted for ``show`` and ``report.html``.

A run with ``book:`` writes the book as the portfolios ``"book"`` (kind ``book``) and, after a
feasible rebalance, ``"book/rebalanced"`` (kind ``rebalanced``) in ``stress.parquet`` and
``greeks.parquet``, plus ``book.parquet`` (contributions per instrument and view set),
``shocks.parquet`` / ``shock_moves.parquet``, ``limits.parquet`` and ``trades.parquet``. Each
function turns one of them into a small table of formatted strings (empty when the table is
absent), so the terminal (:func:`write_book_sections`, called by :func:`pipeline.show.format_run`,
which this module does not import) and :mod:`pipeline.report_book` show the same numbers.

Units: returns, P&L, exposures and trades in % of portfolio value, costs in bp, ``... ccy`` in
currency (``book.value``); Greeks as in ``greeks.parquet``; driver moves in bp (rates) or %.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pipeline.show_format import config_of as _cfg
from pipeline.show_format import is_nan as _nan
from pipeline.show_format import money
from pipeline.show_format import num as _num
from pipeline.show_format import pct as _pct
from pipeline.show_format import table_of as _table
from pipeline.show_format import view_order as _view_order
from pipeline.show_moves import correlation_moves, moves_view_sets, what_moves, write_moves

__all__ = ["BOOK", "REBALANCED", "has_book", "book_value", "is_book_mode", "book_stats", "book_greeks",
           "book_contributions", "shock_table", "worst_shock_contributions", "shock_moves_table",
           "limits_table", "trades_table", "rebalance_summary", "what_moves", "correlation_moves",
           "money", "write_book_sections", "moves_view_sets", "Writer", "BOOK_KINDS", "OK"]

BOOK, REBALANCED = "book", "book/rebalanced"
#: the two book portfolio kinds, in display order
BOOK_KINDS = ("book", "rebalanced")
OK = ("optimal", "optimal_inaccurate")
_LABEL = {BOOK: "book", REBALANCED: "rebalanced"}


class Writer(Protocol):
    """What :func:`write_book_sections` writes to (``pipeline.show``'s text buffer)."""

    def section(self, title: str) -> None: ...
    def para(self, text: str) -> None: ...
    def add(self, line: str) -> None: ...
    def table(self, df: pd.DataFrame, index: bool = True) -> None: ...


def book_value(run: Mapping[str, Any]) -> float | None:
    """``book.value`` of the run's config (currency), or None."""
    v = (_cfg(run).get("book") or {}).get("value")
    return None if _nan(v) else float(v)


def has_book(run: Mapping[str, Any]) -> bool:
    """Whether the run has a user's book (book rows in ``stress.parquet`` or ``book.parquet``)."""
    st = _table(run, "stress")
    if st is not None and "kind" in st and (st["kind"] == "book").any():
        return True
    return _table(run, "book") is not None or bool(_cfg(run).get("book"))


def is_book_mode(run: Mapping[str, Any]) -> bool:
    """A ``stressfrontier book`` run: manifest mode ``book``, or a book and no frontier rows."""
    if (run.get("manifest") or {}).get("mode") == "book":
        return True
    fr = _table(run, "frontier")
    return has_book(run) and (fr is None or fr.empty)


# -- the book's P&L, Greeks and contributions ------------------------------------------------
def book_stats(run: Mapping[str, Any]) -> pd.DataFrame:
    """The book (and the rebalanced book) under the prior and every view set, from the stress rows.

    Returns
    -------
    One row per (view set, portfolio): view set, portfolio, status, E[return], vol, VaR, CVaR,
    P(loss) in % of portfolio value; with ``book.value`` also E[P&L] and CVaR in currency.
    """
    st = _table(run, "stress")
    if st is None or "kind" not in st:
        return pd.DataFrame()
    rows = st[st["kind"].isin(BOOK_KINDS)]
    if rows.empty:
        return pd.DataFrame()
    order = _view_order(run, list(rows["eval_view_set"].astype(str)))
    rows = rows.assign(_v=rows["eval_view_set"].map({v: i for i, v in enumerate(order)}),
                       _k=rows["kind"].map({k: i for i, k in enumerate(BOOK_KINDS)}))
    rows = rows.sort_values(["_v", "_k"])
    out = pd.DataFrame({"view set": rows["eval_view_set"].astype(str).values,
                        "portfolio": rows["portfolio"].map(lambda p: _LABEL.get(p, p)).values,
                        "status": rows["eval_status"].astype(str).values if "eval_status" in rows else "ok"})
    for col, name in (("expected_return", "E[return]"), ("volatility", "vol"), ("VaR", "VaR"), ("CVaR", "CVaR")):
        out[name] = rows[col].map(_pct).values
    out["P(loss)"] = rows["prob_loss"].map(lambda x: _pct(x, 1)).values
    value = book_value(run)
    if value is not None:
        out["E[P&L] ccy"] = (rows["expected_return"] * value).map(money).values
        out["CVaR ccy"] = (rows["CVaR"] * value).map(money).values
    return out


_GREEK_ORDER = ("delta", "gamma", "vega", "theta", "rho", "convexity")


def book_greeks(run: Mapping[str, Any]) -> pd.DataFrame:
    """Greeks of the book (and the rebalanced book) per underlying, underlyings with a non-zero
    Greek only: portfolio, underlying, then one column per Greek (4 decimals)."""
    gk = _table(run, "greeks")
    if gk is None or "kind" not in gk or "underlying" not in gk:
        return pd.DataFrame()
    rows = gk[gk["kind"].isin(BOOK_KINDS)]
    greeks = [g for g in _GREEK_ORDER if g in rows] + [c for c in rows.columns if c not in _GREEK_ORDER and c
                                                       not in ("portfolio", "underlying", *_IDENT)
                                                       and pd.api.types.is_numeric_dtype(rows[c])]
    if rows.empty or not greeks:
        return pd.DataFrame()
    live = rows.groupby("underlying")[greeks].apply(lambda d: d.abs().max().max()).fillna(0)
    rows = rows[rows["underlying"].map(live) > 0]
    greeks = [g for g in greeks if rows[g].abs().max() > 0]
    rows = rows.sort_values("kind", key=lambda k: k.map({b: i for i, b in enumerate(BOOK_KINDS)}), kind="stable")
    out = pd.DataFrame({"portfolio": rows["portfolio"].map(lambda p: _LABEL.get(p, p)).values,
                        "underlying": rows["underlying"].astype(str).values})
    for g in greeks:
        out[g] = rows[g].map(_num).values
    return out


def book_contributions(run: Mapping[str, Any], view_set: str, portfolio: str = BOOK,
                       top: int | None = 8) -> pd.DataFrame:
    """The biggest per-instrument contributions of ``portfolio`` under ``view_set`` (book.parquet).

    Returns
    -------
    One row per instrument, largest ``|CVaR contribution|`` first (the ``top`` of them, None: all,
    instruments with zero exposure left out), then a ``total`` row over every instrument:
    exposure, E[P&L] (``e_i E_q[r_i]``), vol contribution, CVaR contribution (Euler, summing to
    the book's CVaR) and its share of CVaR, in %; with ``book.value`` also E[P&L] and CVaR in
    currency.
    """
    bk = _table(run, "book")
    if bk is None or bk.empty:
        return pd.DataFrame()
    rows = bk[(bk["view_set"].astype(str) == view_set) & (bk["portfolio"].astype(str) == portfolio)]
    if rows.empty:
        return pd.DataFrame()
    live = rows[rows["exposure"].abs() > 0]
    live = live.reindex(live["cvar_contribution"].abs().sort_values(ascending=False, kind="stable").index)
    live = live if top is None else live.head(top)
    cvar = rows["cvar_contribution"].sum(min_count=1)

    def col(c: str, fmt: Any) -> list[str]:
        return list(live[c].map(fmt)) + [fmt(rows[c].sum(min_count=1))]

    out = pd.DataFrame({
        "instrument": list(live["instrument"].astype(str)) + ["total"], "exposure": col("exposure", _pct),
        "E[P&L]": col("expected_pnl", _pct3), "vol contr.": col("vol_contribution", _pct3),
        "CVaR contr.": col("cvar_contribution", _pct3),
        "share of CVaR": col("cvar_contribution", lambda x: _pct(x / cvar, 1) if cvar and not _nan(cvar) else "-"),
    })
    for c, name in (("expected_pnl_ccy", "E[P&L] ccy"), ("cvar_contribution_ccy", "CVaR ccy")):
        if c in rows:
            out[name] = col(c, money)
    return out


def _pct3(x: Any) -> str:
    return _pct(x, 3)


# -- shocks -----------------------------------------------------------------------------------
def _portfolio_label(row: Any, targets: Mapping[tuple[str, ...], float]) -> str:
    """``book``, ``rebalanced``, or ``prior/CVaR @1.0%`` / ``prior/CVaR Sharpe`` / ``... p3``."""
    if row.kind in BOOK_KINDS:
        return _LABEL.get(row.portfolio, str(row.kind))
    cs = getattr(row, "constraint_set", "base")
    base = f"{row.view_set}/{row.risk_measure}" + ("" if cs in ("base", None) or _nan(cs) else f"@{cs}")
    if row.kind == "target":
        t = targets.get((str(row.view_set), str(row.risk_measure), str(cs), int(row.point)))
        return f"{base} @{_pct(t, 1)}" if t is not None else f"{base} target{int(row.point)}"
    return f"{base} p{int(row.point)}" if row.kind == "frontier" else f"{base} {row.kind}"


def _targets(run: Mapping[str, Any]) -> dict[tuple[str, ...], float]:
    fr = _table(run, "frontier")
    if fr is None or fr.empty or "target" not in fr:
        return {}
    cs = fr["constraint_set"].astype(str) if "constraint_set" in fr else pd.Series("base", index=fr.index)
    t = fr[fr["kind"] == "target"]
    return dict(zip(zip(t["view_set"].astype(str), t["risk_measure"].astype(str), cs[t.index],
                        t["point"].astype(int)), t["target"]))


def _headline_shock_rows(sh: pd.DataFrame, n: int) -> pd.DataFrame:
    """Rows of up to ``n`` headline portfolios of the shocks table (prior ones first; targets,
    then Sharpe / Utility / MaxRet; frontier points never), keyed by ``_id`` (their identity)."""
    heads = sh[~sh["kind"].isin((*BOOK_KINDS, "frontier"))]
    heads = heads.assign(_id=list(zip(*(heads[c].astype(str) for c in _IDENT if c in heads))),
                         _p=(heads["view_set"].astype(str) != "prior").astype(int),
                         _k=heads["kind"].map({"target": 0, "Sharpe": 1, "Utility": 2, "MaxRet": 3}).fillna(4))
    keep = list(dict.fromkeys(heads.sort_values(["_p", "_k"], kind="stable")["_id"]))[:n]
    return heads[heads["_id"].isin(keep)]


_IDENT = ("view_set", "risk_measure", "constraint_set", "kind", "point")


def shock_table(run: Mapping[str, Any], headlines: int = 3) -> pd.DataFrame:
    """Every shock × (book, rebalanced, up to ``headlines`` headline portfolios): P&L in %.

    Returns
    -------
    One row per shock, the book's worst first: shock, source (``config``, ``history``, ``history
    worst``; ``+cond`` when unshocked drivers move by their conditional mean), then the P&L of each
    portfolio (with ``book.value``, the book's and the rebalanced book's also in currency).
    Without book rows the shocks stay in table order.
    """
    sh = _table(run, "shocks")
    if sh is None or sh.empty:
        return pd.DataFrame()
    shocks = list(dict.fromkeys(sh["shock"].astype(str)))
    book = sh[sh["kind"] == "book"].set_index("shock")["pnl"]
    if not book.empty:
        shocks = sorted(shocks, key=lambda s: (book.get(s, np.inf), shocks.index(s)))
    first = sh.drop_duplicates("shock").set_index("shock")
    out = pd.DataFrame({"shock": shocks, "source": [
        str(first.at[s, "source"]) + ("+cond" if str(first.at[s, "propagate"]) == "conditional" else "")
        for s in shocks]})
    targets = _targets(run)
    parts = [sh[sh["kind"] == k].assign(_id=k) for k in BOOK_KINDS] + [_headline_shock_rows(sh, headlines)]
    value_cols = "pnl_ccy" in sh
    for part in parts:
        for _, rows in part.groupby("_id", sort=False):
            label = _portfolio_label(next(rows.itertuples()), targets)
            pnl = rows.set_index("shock")["pnl"]
            out[label] = [_pct(pnl.get(s)) for s in shocks]
            if value_cols and rows["kind"].iloc[0] in BOOK_KINDS:
                ccy = rows.set_index("shock")["pnl_ccy"]
                out[f"{label} ccy"] = [money(ccy.get(s)) for s in shocks]
    return out


def worst_shock_contributions(run: Mapping[str, Any], top: int = 6) -> tuple[str, pd.DataFrame]:
    """``(shock, table)``: the book's worst shock and its ``top`` biggest instrument
    contributions (instrument, contribution in %, [currency]), largest |contribution| first,
    then the total. ``("", empty)`` without shocks or book rows."""
    sh = _table(run, "shocks")
    if sh is None or sh.empty or not (sh["kind"] == "book").any():
        return "", pd.DataFrame()
    book = sh[sh["kind"] == "book"]
    worst = book.loc[book["pnl"].idxmin()]
    cols = [c for c in sh.columns if c.startswith("c_")]
    contrib = pd.Series({c[2:]: float(worst[c]) for c in cols})
    big = contrib.reindex(contrib.abs().sort_values(ascending=False, kind="stable").index).head(top)
    big = big[big != 0]
    out = pd.DataFrame({"instrument": list(big.index) + ["total"],
                        "contribution": [_pct(x, 3) for x in big] + [_pct(worst["pnl"], 3)]})
    value = book_value(run)
    if value is not None:
        out["ccy"] = [money(x * value) for x in big] + [money(worst["pnl"] * value)]
    return str(worst["shock"]), out


def shock_moves_table(run: Mapping[str, Any]) -> pd.DataFrame:
    """Driver moves of every shock: one row per shock (table order), one column per driver
    (rate drivers in bp, the others in % log-change); a propagated move ends in ``*`` and a
    driver left at zero shows ``0``."""
    mv = _table(run, "shock_moves")
    if mv is None or mv.empty:
        return pd.DataFrame()
    shocks = list(dict.fromkeys(mv["shock"].astype(str)))
    drivers = list(dict.fromkeys(mv["driver"].astype(str)))
    kinds = dict(zip(mv["driver"].astype(str), mv["kind"].astype(str)))
    out = pd.DataFrame({"shock": shocks})
    for d in drivers:
        rows = mv[mv["driver"].astype(str) == d].set_index("shock")
        unit = "bp" if kinds.get(d) == "rate" else "%"
        cells = [_move_cell(rows, s, unit) for s in shocks]
        out[f"{d} ({unit})"] = cells
    return out


def _move_cell(rows: pd.DataFrame, shock: str, unit: str) -> str:
    if shock not in rows.index:
        return "-"
    m, given = float(rows.at[shock, "move"]), bool(rows.at[shock, "shocked"])
    if m == 0 and not given:
        return "0"
    return (f"{m * 1e4:+.0f}" if unit == "bp" else f"{100 * m:+.1f}") + ("" if given else "*")


# -- limits and the rebalancing trade ---------------------------------------------------------
def _limit_value(family: str, x: Any) -> str:
    """A limit's value in its unit: Greeks as numbers, everything else in % of portfolio value."""
    if _nan(x):
        return "-"
    return f"{float(x):.4f}" if family == "greek" else _pct(x, 2)


#: a bound limit with at least this much headroom (exposure units) before and after the trade is
#: left out of the displayed limits (``limits.parquet`` keeps every limit)
QUIET_BOUND_HEADROOM = 0.25


def _quiet(lim: pd.DataFrame) -> set[str]:
    """Exposure-bound limits far from binding on the book and after the trade (not shown)."""
    bound = lim[lim["family"].astype(str) == "bound"]
    far = bound["excess"] <= -QUIET_BOUND_HEADROOM
    if "conflict" in bound:
        far &= ~bound["conflict"].fillna(False).astype(bool)
    keep = bound.loc[~far, "limit"].astype(str)
    return set(bound["limit"].astype(str)) - set(keep)


def limits_table(run: Mapping[str, Any], all_limits: bool = False) -> pd.DataFrame:
    """Every limit (the book's breaches first): its bound, then the book's value, excess (> 0: by how much the bound is
    exceeded; <= 0: headroom) and flag (``BREACHED``, ``ok``, ``n/a`` for a cap under a view set
    without posterior), and the same after the trade (``after trade``, ``after excess``, ``after
    flag``) when the rebalanced book exists; a ``conflict`` column when an infeasible rebalance
    named conflicting limits. Without ``all_limits``, exposure bounds with at least
    :data:`QUIET_BOUND_HEADROOM` of headroom before and after the trade are left out."""
    lim = _table(run, "limits")
    if lim is None or lim.empty:
        return pd.DataFrame()
    quiet = set() if all_limits else _quiet(lim)
    names = [n for n in dict.fromkeys(lim["limit"].astype(str)) if n not in quiet]
    hit = set(lim.loc[(lim["portfolio"].astype(str) == BOOK) & lim["breached"].astype(bool), "limit"].astype(str))
    names = [n for n in names if n in hit] + [n for n in names if n not in hit]  # breaches first
    first = lim.drop_duplicates("limit").set_index("limit")
    fam = first["family"]
    out = pd.DataFrame({"limit": names,
                        "bound": [f"{first.at[n, 'sense']} {_limit_value(fam[n], first.at[n, 'bound'])}"
                                  for n in names]})
    for pid, (val, exc, flag) in ((BOOK, ("book", "excess", "flag")),
                                  (REBALANCED, ("after trade", "after excess", "after flag"))):
        rows = lim[lim["portfolio"].astype(str) == pid].set_index("limit")
        if rows.empty:
            continue
        out[val] = [_limit_value(fam[n], rows["value"].get(n)) for n in names]
        out[exc] = [_limit_value(fam[n], rows["excess"].get(n)) for n in names]
        out[flag] = [_flag(rows, n) for n in names]
    if "conflict" in lim and lim["conflict"].fillna(False).astype(bool).any():
        conf = set(lim.loc[lim["conflict"].fillna(False).astype(bool), "limit"].astype(str))
        out["conflict"] = ["CONFLICT" if n in conf else "" for n in names]
    return out


def _flag(rows: pd.DataFrame, name: str) -> str:
    if name not in rows.index:
        return "-"
    if "status" in rows and str(rows.at[name, "status"]) != "ok":
        return "n/a"
    return "BREACHED" if bool(rows.at[name, "breached"]) else "ok"


def trades_table(run: Mapping[str, Any]) -> pd.DataFrame:
    """The rebalancing trade: instruments held now or after the trade (instrument, current,
    target, trade in % of portfolio value; cost and rate in bp of portfolio value), then a
    ``total`` row (sums; the trade's is the gross Σ|trade|); with ``book.value`` also the cost in
    currency. Empty without ``trades.parquet`` or when the rebalance found no trade."""
    tr = _table(run, "trades")
    if tr is None or tr.empty or tr["target"].isna().all():
        return pd.DataFrame()
    live = tr[(tr["current"].abs() > 0) | (tr["target"].abs() > 0) | (tr["trade"].abs() > 0)]
    cost = tr["cost"].sum()
    out = pd.DataFrame({
        "instrument": list(live["instrument"].astype(str)) + ["total"],
        "current": list(live["current"].map(_pct)) + [_pct(tr["current"].sum())],
        "target": list(live["target"].map(_pct)) + [_pct(tr["target"].sum())],
        "trade": list(live["trade"].map(_pct)) + [_pct(tr["trade"].abs().sum())],
        "cost (bp)": list(live["cost"].map(_bp)) + [_bp(cost)],
    })
    if "rate" in tr:
        out["rate (bp)"] = list(live["rate"].map(lambda x: _bp(x, 1))) + [""]
    value = book_value(run)
    if value is not None:
        out["cost ccy"] = list((live["cost"] * value).map(money)) + [money(cost * value)]
    return out


def _bp(x: Any, digits: int = 2) -> str:
    return "-" if _nan(x) else f"{1e4 * float(x):.{digits}f}"


def rebalance_summary(run: Mapping[str, Any]) -> str:
    """One sentence: the rebalance status, its total cost and, when infeasible, the conflicting
    limits. Empty without ``trades.parquet``."""
    tr = _table(run, "trades")
    if tr is None or tr.empty:
        return ""
    status = str(tr["status"].iloc[0]) if "status" in tr else "?"
    msg = str(tr["message"].iloc[0]) if "message" in tr and not _nan(tr["message"].iloc[0]) else ""
    lim = _table(run, "limits")
    if status in OK:
        cost = tr["cost"].sum()
        value = book_value(run)
        ccy = f" ({money(cost * value)} in currency)" if value is not None else ""
        n = int((tr["trade"].abs() > 1e-9).sum())
        text = (f"Rebalance {status}: {n} instruments traded, total cost {_bp(cost)} bp of portfolio "
                f"value{ccy}; every limit restored.")
        after = lim[(lim["portfolio"].astype(str) == REBALANCED) & lim["breached"].astype(bool)] \
            if lim is not None and "portfolio" in lim else []
        if len(after):
            text = text.replace("every limit restored", f"still breached: {', '.join(after['limit'].astype(str))}")
        return text + (f" {msg}" if msg else "")
    text = f"Rebalance {status}: no trade restores every limit."
    if lim is not None and "conflict" in lim:
        conf = list(dict.fromkeys(lim.loc[lim["conflict"].fillna(False).astype(bool), "limit"].astype(str)))
        if conf:
            text += f" Conflicting limits: {', '.join(conf)}."
    return text + (f" ({msg})" if msg else "")


# -- the terminal sections --------------------------------------------------------------------
def write_book_sections(out: Writer, run: Mapping[str, Any]) -> None:
    """Write the book's sections (your book, shocks, limits and trade, what moves) to ``out``.

    Writes nothing for a run without a book, so runs without one print as before.
    """
    if not has_book(run):
        return
    value = book_value(run)
    out.section("Your book: P&L under the prior and every view set (% of portfolio value)"
                + (f"; value {money(value)}" if value is not None else ""))
    out.table(book_stats(run), index=False)
    gk = book_greeks(run)
    if not gk.empty:
        out.add("")
        out.add("Greeks per underlying:")
        out.table(gk, index=False)
    bk = _table(run, "book")
    if bk is not None and not bk.empty:
        for vs in _view_order(run, list(bk["view_set"].astype(str))):
            df = book_contributions(run, vs, top=6)
            if df.empty:
                continue
            out.add("")
            out.para(f"Top contributions under {vs} (Euler; CVaR contributions sum to the book's CVaR):")
            out.table(df, index=False)
    _write_shocks(out, run)
    _write_limits(out, run)
    write_moves(out, run)


def _write_shocks(out: Writer, run: Mapping[str, Any]) -> None:
    table = shock_table(run)
    if table.empty:
        return
    out.section("Shocks: P&L of each deterministic shock (full revaluation, % of portfolio value), "
                "worst first for the book")
    out.table(table, index=False)
    name, contrib = worst_shock_contributions(run)
    if not contrib.empty:
        out.add("")
        out.para(f"Biggest contributions to the book's worst shock, {name}:")
        out.table(contrib, index=False)
    moves = shock_moves_table(run)
    if not moves.empty:
        out.add("")
        out.para("Driver moves (rates in bp, others in % log-change; * = propagated by the "
                 "conditional mean, 0 = left unchanged):")
        out.table(moves, index=False)


def _write_limits(out: Writer, run: Mapping[str, Any]) -> None:
    lim, tr, summary = limits_table(run), trades_table(run), rebalance_summary(run)
    every = limits_table(run, all_limits=True)
    if lim.empty and not summary:
        return
    out.section("Limits on the book and after the rebalancing trade (excess > 0: breached by; "
                "<= 0: headroom)")
    if not lim.empty:
        out.table(lim, index=False)
        hidden = len(every) - len(lim)
        out.para(f"{(every['flag'] == 'BREACHED').sum()} of {len(every)} limits breached by the book"
                 + (f"; {hidden} exposure bounds with {QUIET_BOUND_HEADROOM:.0%} or more headroom not shown "
                    f"(limits.parquet has every limit)." if hidden else "."))
    if summary:
        out.add("")
        out.para(summary)
    if not tr.empty:
        out.table(tr, index=False)
