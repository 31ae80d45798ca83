"""The report's Greeks figures: portfolio Greeks per underlying along each frontier
(``greeks_<rm>.png`` for the base constraint set, ``greeks_<rm>_<set>.png`` for each extra one;
needs ``greeks.parquet``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from pipeline.report_context import RC, SINGLE_MARKERS, Context, Section
from tasks.vocabulary import GREEKS, OK_STATUSES, Greek

__all__ = ["section_greeks", "PANEL_GREEKS"]

#: Greeks drawn first, in this order; the other numeric columns of ``greeks.parquet`` (convexity
#: included) follow in table order.
PANEL_GREEKS: tuple[str, ...] = tuple(g for g in GREEKS if g != Greek.convexity)
_LINE_STYLES = ("-", "--", "-.", ":")  # one line style and marker per underlying, in rank order
_MARKERS = ("o", "s", "^", "D", "v", "P")


def _greeks_wide(gk: pd.DataFrame) -> pd.DataFrame:
    """``greeks.parquet`` as one row per (portfolio, underlying) and one column per Greek.

    Accepts the wide layout (``portfolio, underlying, delta, gamma, ...``) and a long one
    (``portfolio, greek, underlying, value``).
    """
    if {"greek", "value"} <= set(gk.columns):
        gk = gk.pivot_table(index=["portfolio", "underlying"], columns="greek", values="value",
                            aggfunc="sum").reset_index()
        gk.columns.name = None
    return gk


def _greek_columns(gk: pd.DataFrame) -> list[str]:
    ident = ("portfolio", "underlying", "view_set", "risk_measure", "constraint_set", "kind", "point")
    extra = [c for c in gk.columns if c not in (*ident, *PANEL_GREEKS)
             and pd.api.types.is_numeric_dtype(gk[c])]
    return [g for g in PANEL_GREEKS if g in gk.columns] + extra


def section_greeks(ctx: Context, max_underlyings: int = 6) -> Section:
    """One ``greeks_<rm>[_<set>].png`` per (risk measure, constraint set): a panel per Greek, a line
    per (view set, underlying).

    Parameters
    ----------
    ctx : the report's context.
    max_underlyings : the most underlyings drawn in one panel (largest ``|greek|`` first).
    """
    sec = Section("Portfolio Greeks along the frontiers")
    gk = ctx.run.get("greeks")
    if gk is None:
        sec.notes.append("Greeks chart skipped: greeks.parquet is not in this run folder.")
        return sec
    gk = _greeks_wide(gk)
    greeks = _greek_columns(gk)
    if gk.empty or not greeks or "underlying" not in gk or ctx.frontier.empty:
        sec.notes.append("Greeks chart skipped: greeks.parquet has no rows or no Greek columns.")
        return sec
    merged = _solved_greeks(ctx, gk)
    for rm in ctx.risk_measures:
        for cs in ctx.constraint_sets:
            sub = merged[(merged["risk_measure"] == rm) & (merged["constraint_set"] == cs)]
            if sub.empty:
                if any(ctx.has_problem(vs, rm, cs) for vs in ctx.view_sets):
                    sec.notes.append(f"{rm}{'' if cs == 'base' else ' @ ' + cs}: no Greeks for solved portfolios.")
                continue
            _greeks_figure(ctx, sec, rm, cs, sub, greeks, max_underlyings)
    return sec


def _solved_greeks(ctx: Context, gk: pd.DataFrame) -> pd.DataFrame:
    """The Greeks rows of solved portfolios, with their frontier identity and expected return."""
    ident = ["view_set", "risk_measure", "constraint_set", "kind", "point"]
    if "constraint_set" not in ctx.frontier:
        ident.remove("constraint_set")
    if set(ident) <= set(gk.columns):  # row identity: unambiguous
        right = ctx.frontier[ident + ["expected_return", "status"]]
        merged = gk.drop(columns=["portfolio"], errors="ignore").merge(right, on=ident, how="inner")
    else:  # portfolio ids repeat when there are several targets: first row per id
        right = ctx.frontier[["portfolio"] + ident + ["expected_return", "status"]]
        merged = gk.merge(right.drop_duplicates("portfolio"), on="portfolio", how="inner")
    merged = merged[merged["status"].isin(OK_STATUSES)]
    if "constraint_set" not in merged:
        merged = merged.assign(constraint_set="base")
    return merged.assign(underlying=merged["underlying"].astype(str))


def _rank_underlyings(sub: pd.DataFrame, greeks: list[str]) -> tuple[list[str], list[str]]:
    """``(ranked, nonlinear)``: the underlyings with a non-zero Greek, those with a non-delta
    Greek first, each group by largest ``|greek|``; and the ones with a non-delta Greek."""
    # underlyings that matter, largest |greek| first; a fixed style per underlying
    size = sub.groupby("underlying")[greeks].apply(lambda d: d.abs().max()).max(axis=1)
    ranked = [u for u in size.sort_values(ascending=False).index if size[u] > 0]
    # underlyings with a non-delta Greek (options, rates): their delta is the interesting one;
    # a delta-only underlying's delta is just its cash exposure (see the exposure chart)
    others = [g for g in greeks if g != "delta"]
    nonlinear = [u for u in ranked
                 if others and sub.loc[sub["underlying"] == u, others].abs().max().max() > 0]
    return nonlinear + [u for u in ranked if u not in nonlinear], nonlinear


def _greeks_figure(ctx: Context, sec: Section, rm: str, cs: str, sub: pd.DataFrame, greeks: list[str],
                   max_underlyings: int) -> None:
    """Draw and save ``greeks_<rm>[_<cs>].png``; add it and its notes to ``sec``."""
    what = rm if cs == "base" else f"{rm} @ {cs}"
    ranked, nonlinear = _rank_underlyings(sub, greeks)
    style = {u: (_LINE_STYLES[i % len(_LINE_STYLES)], _MARKERS[i % len(_MARKERS)])
             for i, u in enumerate(ranked)}
    used: set[str] = set()
    dropped: set[str] = set()
    delta_note = ""
    with rc_context(RC):
        ncols = 3
        nrows = int(np.ceil((len(greeks) + 1) / ncols))
        fig = Figure(figsize=(4.2 * ncols, 3.1 * nrows + 0.5), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, g in zip(axes, greeks):
            mag = sub.groupby("underlying")[g].apply(lambda c: c.abs().max()).fillna(0)
            present = [u for u in ranked if mag.get(u, 0) > 0]
            if g == "delta" and any(u in nonlinear for u in present):
                delta_only = [u for u in present if u not in nonlinear]
                present = [u for u in present if u in nonlinear]
                if delta_only:
                    delta_note = (f"{what}: delta panel shows the underlyings with options or "
                                  "rate sensitivity; the delta of "
                                  f"{', '.join(delta_only)} is its cash exposure (exposure "
                                  "chart).")
            dropped.update(present[max_underlyings:])
            used.update(present[:max_underlyings])
            _greek_panel(ctx, ax, sub, g, present, present[:max_underlyings], style)
        _greeks_legend(ctx, axes, len(greeks), [u for u in ranked if u in used], style)
        sets = "" if cs == "base" else f", constraint set {cs}"
        fig.suptitle(f"Portfolio Greeks per underlying along the {rm} frontiers{sets}")
        fname = ctx.save(fig, f"greeks_{rm}" if cs == "base" else f"greeks_{rm}_{cs}")
    if delta_note:
        sec.notes.append(delta_note)
    if dropped - used:
        sec.notes.append(f"{what}: Greeks chart shows the {max_underlyings} largest underlyings per "
                         f"Greek; smaller ones left out: {', '.join(sorted(dropped - used))}.")
    sec.figures.append((fname, f"Greeks of the {what} frontier portfolios by underlying "
                               "(from greeks.parquet); stars: headline targets, other markers: single "
                               "portfolios."))


def _greek_panel(ctx: Context, ax: Any, sub: pd.DataFrame, g: str, present: list[str], shown: list[str],
                 style: dict[str, tuple[str, str]]) -> None:
    """One Greek's panel: frontier lines and headline stars of every view set for the ``shown``
    underlyings (``present``: all underlyings with this Greek, for the "no exposure" text)."""
    for u in shown:
        ls, mk = style[u]
        for vs in ctx.view_sets:
            d = sub[(sub["view_set"] == vs) & (sub["underlying"] == u)]
            fr = d[d["kind"] == "frontier"].sort_values("expected_return")
            if not fr.empty:
                ax.plot(100 * fr["expected_return"], fr[g], color=ctx.colors[vs], ls=ls,
                        marker=mk, ms=3, lw=1.5)
            for k, mk in (("target", "*"), *SINGLE_MARKERS.items()):
                tg = d[d["kind"] == k]
                if not tg.empty:
                    ax.scatter(100 * tg["expected_return"], tg[g], marker=mk, s=140 if k == "target" else 40,
                               color=ctx.colors[vs], edgecolor="black", linewidth=0.7, zorder=5)
    if not present:
        ax.text(0.5, 0.5, f"no {g} exposure", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_title(g)
    ax.set_xlabel("expected return of the frontier portfolio (%)")
    ax.set_ylabel(f"{g} per unit of portfolio value")


def _greeks_legend(ctx: Context, axes: np.ndarray, n_greeks: int, drawn: list[str],
                   style: dict[str, tuple[str, str]]) -> None:
    """The legend in the panel after the last Greek (view sets, ``drawn`` underlyings, headline
    star); the panels after it are hidden."""
    leg_ax = axes[n_greeks]
    leg_ax.set_axis_off()
    handles = [Line2D([], [], color=ctx.colors[v], lw=2, label=v) for v in ctx.view_sets]
    handles += [Line2D([], [], color="black", ls=style[u][0], marker=style[u][1],
                       label=f"underlying {u}") for u in drawn]
    handles.append(Line2D([], [], marker="*", ls="", ms=12, mfc="white", mec="black",
                          label="headline target"))
    kinds = set(ctx.frontier["kind"]) if "kind" in ctx.frontier else set()
    handles += [Line2D([], [], marker=mk, ls="", ms=7, mfc="white", mec="black", label=k)
                for k, mk in SINGLE_MARKERS.items() if k in kinds]
    leg_ax.legend(handles=handles, loc="center", frameon=False)
    for ax in axes[n_greeks + 1:]:
        ax.set_visible(False)
