"""The report's sections on the user's own book, and what moves under each view set.

:func:`book_sections` returns the sections of ``report.html`` for a run with ``book:`` (none
without one):

"Your book"
    its P&L statistics under the prior and every view set (and the rebalanced book's), in money
    too with ``book.value``; Greeks per underlying;
"Your book: contributions per instrument"
    ``book_contributions.png`` (expected P&L and CVaR contributions of the instruments held, a bar
    per view set) and the biggest contributions under every view set;
"Shocks"
    ``shocks.png`` (the book's and the rebalanced book's P&L per shock, worst first), the table of
    shocks × (book, rebalanced, headline portfolios), the contributions of the book's worst shock
    and the driver moves of every shock (given vs propagated);
"Limits and the rebalancing trade"
    every limit on the book and after the trade (breaches and conflicts highlighted), the
    rebalance status and the trade.

:func:`section_moves` ("What moves under each view set", every run with ``moments.parquet``):
per view set, the book and the drivers that move most vs the prior (mean in prior standard
deviations, vol ratio) and the biggest correlation changes; with a book also ``moves.png``. The tables come from :mod:`pipeline.show_book`,
so the terminal and the report show the same numbers.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure

from pipeline.report_context import RC, Context, Section
from pipeline.report_tables import html_table
from pipeline.show_book import (
    BOOK_KINDS,
    QUIET_BOUND_HEADROOM,
    book_contributions,
    book_greeks,
    book_stats,
    book_value,
    correlation_moves,
    has_book,
    limits_table,
    money,
    moves_view_sets,
    rebalance_summary,
    shock_moves_table,
    shock_table,
    trades_table,
    what_moves,
    worst_shock_contributions,
)

__all__ = ["book_sections", "section_moves"]

_BOOK_COLORS = {"book": "#c0392b", "rebalanced": "#2e7d32"}


def _marked(df: pd.DataFrame) -> str:
    """``df`` as a scrolling HTML table with ``BREACHED`` / ``CONFLICT`` cells highlighted."""
    out = html_table(df)
    for word in ("BREACHED", "CONFLICT"):
        out = out.replace(f"<td>{word}</td>", f"<td class='breach'>{word}</td>")
    return out


def _p(text: str, cls: str = "meta") -> str:
    return f"<p class='{cls}'>{html.escape(text)}</p>"


def book_sections(ctx: Context) -> list[Section]:
    """The book's sections of ``report.html`` (empty list for a run without a book)."""
    if not has_book(ctx.run):
        return []
    return [_section_book(ctx), _section_contributions(ctx), _section_shocks(ctx), _section_limits(ctx)]


def _section_book(ctx: Context) -> Section:
    value = book_value(ctx.run)
    sec = Section("Your book")
    stats = book_stats(ctx.run)
    if stats.empty:
        sec.notes.append("No book rows in stress.parquet: the book's P&L statistics are missing.")
    else:
        what = "% of portfolio value" + (f"; currency columns for a book value of {money(value)}"
                                         if value is not None else "")
        sec.html_blocks.append(_p(f"P&L of the book (and of the book after the rebalancing trade) "
                                  f"under the prior and every view set ({what}). VaR and CVaR are "
                                  "losses of raw P&L.") + html_table(stats))
    gk = book_greeks(ctx.run)
    if not gk.empty:
        sec.html_blocks.append("<h3>Greeks per underlying</h3>" + html_table(gk))
    return sec


def _section_contributions(ctx: Context) -> Section:
    sec = Section("Your book: contributions per instrument")
    bk = ctx.run.get("book")
    if bk is None or bk.empty:
        sec.notes.append("book.parquet is not in this run folder: no contributions per instrument.")
        return sec
    names = [v for v in ctx.view_sets if v in set(bk["view_set"].astype(str))]
    fname = _contributions_figure(ctx, bk, names)
    if fname:
        sec.figures.append((fname, "Expected P&L and CVaR contribution of each instrument of the book "
                                   "under every view set (Euler: the CVaR contributions sum to the "
                                   "book's CVaR); the instruments with the largest contributions."))
    for vs in names:
        df = book_contributions(ctx.run, vs, top=10)
        if not df.empty:
            sec.html_blocks.append(f"<h3>Contributions under {html.escape(vs)}</h3>" + html_table(df))
    return sec


def _contributions_figure(ctx: Context, bk: pd.DataFrame, names: list[str], top: int = 10) -> str:
    """``book_contributions.png``: two panels (E[P&L], CVaR contribution), an instrument per row,
    a bar per view set; the ``top`` instruments by largest |CVaR contribution|."""
    rows = bk[(bk["portfolio"].astype(str) == "book") & bk["view_set"].isin(names)]
    rows = rows.dropna(subset=["cvar_contribution"])
    rows = rows[rows["exposure"].abs() > 0]  # instruments the book does not hold contribute nothing
    if rows.empty:
        return ""
    size = rows.groupby("instrument")["cvar_contribution"].apply(lambda c: c.abs().max())
    inst = list(size.sort_values(ascending=False).index[:top])[::-1]  # largest at the top
    names = [v for v in names if v in set(rows["view_set"])]
    h = 0.8 / max(1, len(names))
    with rc_context(RC):
        fig = Figure(figsize=(11.0, 0.3 * len(inst) * max(1, len(names)) ** 0.5 + 1.8), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        for ax, col, title in zip(axes, ("expected_pnl", "cvar_contribution"),
                                  ("expected P&L contribution (%)", "CVaR contribution (%, loss > 0)")):
            for j, vs in enumerate(names):
                vals = rows[rows["view_set"] == vs].set_index("instrument")[col].reindex(inst)
                ax.barh(np.arange(len(inst)) + ((len(names) - 1) / 2 - j) * h, 100 * vals.to_numpy(float),
                        height=h, color=ctx.colors.get(vs, "0.5"), label=vs)
            ax.axvline(0, color="0.3", lw=0.8)
            ax.set_xlabel(title)
        axes[0].set_yticks(np.arange(len(inst)), inst)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", title="view set", frameon=False)
        fig.suptitle("Your book: contributions per instrument under every view set")
        return ctx.save(fig, "book_contributions")


def _section_shocks(ctx: Context) -> Section:
    sec = Section("Shocks")
    table = shock_table(ctx.run)
    if table.empty:
        sec.notes.append("No shocks in this run (shocks: in the config writes shocks.parquet).")
        return sec
    fname = _shocks_figure(ctx)
    if fname:
        sec.figures.append((fname, "P&L of the book (and of the rebalanced book) in each deterministic "
                                   "shock, every instrument fully revalued at the shocked drivers; worst "
                                   "first."))
    sec.html_blocks.append(_p("P&L of each shock in % of portfolio value (currency columns with a book "
                              "value); source +cond: the unshocked drivers move by their conditional "
                              "mean given the shocked ones.") + html_table(table))
    name, contrib = worst_shock_contributions(ctx.run, top=8)
    if not contrib.empty:
        sec.html_blocks.append(f"<h3>Biggest contributions to the book's worst shock, {html.escape(name)}</h3>"
                               + html_table(contrib))
    moves = shock_moves_table(ctx.run)
    if not moves.empty:
        sec.html_blocks.append("<h3>Driver moves of each shock</h3>" + _p(
            "Rates in bp, the other drivers in % log-change; * = propagated (conditional mean given the "
            "shocked drivers), 0 = left unchanged.") + html_table(moves))
    return sec


def _shocks_figure(ctx: Context) -> str:
    """``shocks.png``: horizontal bars of the book's (and rebalanced book's) P&L per shock."""
    sh = ctx.run.get("shocks")
    book = sh[sh["kind"] == "book"].set_index("shock")["pnl"] if sh is not None else pd.Series(dtype=float)
    if book.empty:
        return ""
    order = list(book.sort_values(kind="stable").index)[::-1]  # worst at the top
    kinds = [k for k in BOOK_KINDS if (sh["kind"] == k).any()]
    h = 0.8 / len(kinds)
    value = book_value(ctx.run)
    with rc_context(RC):
        fig = Figure(figsize=(9.6, 0.45 * len(order) * len(kinds) + 1.6), layout="constrained")
        ax = fig.add_subplot()
        for j, k in enumerate(kinds):
            pnl = sh[sh["kind"] == k].set_index("shock")["pnl"].reindex(order).to_numpy(float)
            y = np.arange(len(order)) + ((len(kinds) - 1) / 2 - j) * h
            ax.barh(y, 100 * pnl, height=h, color=_BOOK_COLORS[k], label=k)
            for yi, x in zip(y, pnl):
                if np.isfinite(x):
                    txt = f"{100 * x:.2f}%" + (f" ({money(x * value)})" if value is not None else "")
                    ax.annotate(txt, (100 * x, yi), xytext=(3 if x >= 0 else -3, 0), textcoords="offset points",
                                ha="left" if x >= 0 else "right", va="center", fontsize=7)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_yticks(np.arange(len(order)), order)
        ax.set_xlabel("P&L (% of portfolio value)")
        lo, hi = ax.get_xlim()
        pad = 0.25 * (hi - lo)
        ax.set_xlim(lo - (pad if lo < 0 else 0), hi + (pad if hi > 0 else 0))
        fig.legend(loc="outside right upper", frameon=False)
        ax.set_title("Deterministic shocks: P&L of the book, worst first")
        return ctx.save(fig, "shocks")


def _section_limits(ctx: Context) -> Section:
    sec = Section("Limits and the rebalancing trade")
    lim, summary, tr = limits_table(ctx.run), rebalance_summary(ctx.run), trades_table(ctx.run)
    if lim.empty and not summary:
        sec.notes.append("No limits in this run (limits: in the config writes limits.parquet).")
        return sec
    if not lim.empty:
        every = limits_table(ctx.run, all_limits=True)
        n, hidden = int((every["flag"] == "BREACHED").sum()), len(every) - len(lim)
        quiet = (f" {hidden} exposure bounds with {QUIET_BOUND_HEADROOM:.0%} or more headroom before and after "
                 "the trade are not shown (limits.parquet has every limit).") if hidden else ""
        sec.html_blocks.append(_p(f"{n} of {len(every)} limits breached by the book. Excess > 0: the "
                                  "bound is exceeded by that much; <= 0: headroom. Greek limits in "
                                  "Greek units, the others in % of portfolio value." + quiet) + _marked(lim))
    if summary:
        ok = not tr.empty
        sec.html_blocks.append(_p(summary, "meta" if ok else "note"))
    if not tr.empty:
        sec.html_blocks.append("<h3>The trade</h3>" + _p(
            "Exposures and trades in % of portfolio value, cost and rate in bp; total row: sums, the "
            "trade's is the gross traded.") + html_table(tr))
    return sec


def section_moves(ctx: Context) -> Section:
    """What moves under each view set vs the prior: the book (when a variable) and the drivers
    whose mean moves most, in prior standard deviations, and the biggest correlation changes."""
    sec = Section("What moves under each view set")
    names = moves_view_sets(ctx.run)
    if not names:
        sec.notes.append("No view set with posterior moments (moments.parquet): nothing moves.")
        return sec
    sec.html_blocks.append(_p("Posterior vs prior moments of the drivers (and of the book's P&L): "
                              "the variables whose mean moves most in prior standard deviations "
                              "(move σ), with their volatility before and after."))
    if has_book(ctx.run):
        fname = _moves_figure(ctx, names)
        if fname:
            sec.figures.append((fname, "Mean move of every driver (and of the book's P&L) in prior standard "
                                       "deviations, and the relative change of its volatility, under each "
                                       "view set."))
    for vs in names:
        df = what_moves(ctx.run, vs)
        if df.empty:
            continue
        block = f"<h3>{html.escape(vs)}</h3>" + html_table(df)
        corr = correlation_moves(ctx.run, vs)
        if corr:
            block += _p("Correlations: " + "; ".join(corr))
        sec.html_blocks.append(block)
    return sec


def _moves_figure(ctx: Context, names: list[str]) -> str:
    """``moves.png``: per variable (the book first, then the drivers), a bar per view set of its
    mean move in prior standard deviations (left) and of its vol change in % (right)."""
    mo = ctx.run.get("moments")
    rows = mo[mo["view_set"].isin(names) & mo["kind"].isin(("book", "driver"))]
    if "status" in rows:
        rows = rows[rows["status"].astype(str) == "ok"]
    if rows.empty:
        return ""
    variables = list(dict.fromkeys(rows.sort_values("kind", key=lambda k: k != "book", kind="stable")["variable"]))
    y0 = np.arange(len(variables))[::-1]  # the first variable at the top
    h = 0.8 / len(names)
    with rc_context(RC):
        fig = Figure(figsize=(11.0, 0.28 * len(variables) * len(names) + 1.8), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        for j, vs in enumerate(names):
            sub = rows[rows["view_set"] == vs].set_index("variable").reindex(variables)
            z = (sub["mean"] - sub["prior_mean"]) / sub["prior_vol"].where(sub["prior_vol"] > 0)
            dv = 100 * (sub["vol"] / sub["prior_vol"] - 1)
            y = y0 + ((len(names) - 1) / 2 - j) * h
            for ax, x in zip(axes, (z, dv)):
                ax.barh(y, x.to_numpy(float), height=h, color=ctx.colors.get(vs, "0.5"), label=vs)
        for ax, title in zip(axes, ("mean move (prior standard deviations)", "vol change (%)")):
            ax.axvline(0, color="0.3", lw=0.8)
            ax.set_xlabel(title)
        axes[0].set_yticks(y0, variables)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", title="view set", frameon=False)
        fig.suptitle("What moves under each view set (posterior vs prior)")
        return ctx.save(fig, "moves")
