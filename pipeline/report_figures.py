"""The report's frontier, exposure and stress-matrix figures (PNG files, one per risk measure).

``frontier_<rm>.png``, ``exposures_<rm>.png`` and ``stress_<rm>.png``; :mod:`pipeline.report` lists
what each shows.

Each ``section_*`` function draws its figures with matplotlib's Agg canvas and returns the
:class:`~pipeline.report_context.Section` of ``report.html`` that shows them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.colors import TwoSlopeNorm, to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pipeline.report_context import RC, SINGLE_MARKERS, Context, Section
from pipeline.show import pct, risk_label, target_lookup
from tasks.vocabulary import OK_STATUSES

__all__ = ["section_frontiers", "section_exposures", "section_stress", "exposure_panels"]

_CASH_CMAP = "tab20"
_OPTION_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
                  "#666666")
_EPS = 1e-6  # exposures below this everywhere are treated as absent


def _fname(kind: str, rm: str, cset: str) -> str:
    """``exposures_CVaR`` for the base constraint set, ``exposures_CVaR_<set>`` for an extra one."""
    return f"{kind}_{rm}" if cset == "base" else f"{kind}_{rm}_{cset}"


def section_frontiers(ctx: Context) -> Section:
    """One ``frontier_<rm>.png`` per risk measure: a line per (view set, constraint set), headline
    targets as stars and single portfolios (Sharpe, ...) as their own markers."""
    sec = Section("Efficient frontiers")
    if ctx.frontier.empty:
        sec.notes.append("No frontier table: nothing to plot.")
        return sec
    for rm in ctx.risk_measures:
        with rc_context(RC):
            fig = Figure(figsize=(9.6, 5.0), layout="constrained")
            ax = fig.add_subplot()
            handles, kinds_drawn, plotted = _frontier_lines(ctx, ax, rm)
            handles += [Line2D([], [], marker="*" if k == "target" else SINGLE_MARKERS[k], ls="",
                               ms=11 if k == "target" else 7, mfc="white", mec="black",
                               label="target (min risk at the target return)" if k == "target" else k)
                        for k in ("target", *SINGLE_MARKERS) if k in kinds_drawn]
            fig.legend(handles=handles, loc="outside right upper", frameon=False, handlelength=3.2)
            ax.set_xlabel(f"risk: {risk_label(rm, ctx.cfg)} (%)")
            ax.set_ylabel("expected return (%)")
            extra = [cs for cs in ctx.constraint_sets[1:] if any(ctx.has_problem(v, rm, cs) for v in ctx.view_sets)]
            ax.set_title(f"Efficient frontiers, {rm}: every view set" + (" and constraint set" if extra else ""))
            if not plotted:
                ax.text(0.5, 0.5, "no solved frontier portfolio", ha="center", transform=ax.transAxes)
            fname = ctx.save(fig, f"frontier_{rm}")
        sets = f"; solid: base constraints, dashed/dotted: constraint set {', '.join(extra)}" if extra else ""
        sec.figures.append((fname, f"{rm} frontier of every probability vector (risk evaluated on the "
                                   f"optimal exposures under that vector){sets}. Stars: headline targets; "
                                   "other markers: single portfolios."))
    return sec


def _frontier_lines(ctx: Context, ax: Any, rm: str) -> tuple[list[Any], set[str], bool]:
    """Draw every (view set, constraint set) frontier of ``rm`` and its headline portfolios;
    return the legend handles of the lines, the headline kinds drawn and whether any line was."""
    handles: list[Any] = []
    kinds: set[str] = set()
    plotted = False
    for cs in ctx.constraint_sets:
        for vs in ctx.view_sets:
            col, ls, label = ctx.colors[vs], ctx.cset_style(cs), ctx.label(vs, cs)
            sub = ctx.ok_frontier(vs, rm, cset=cs)
            heads = [(k, ctx.ok_frontier(vs, rm, k, cs)) for k in ("target", *SINGLE_MARKERS)]
            if sub.empty and all(h.empty for _, h in heads):
                if ctx.has_problem(vs, rm, cs):
                    handles.append(Line2D([], [], color=col, ls=ls, label=f"{label} (no solved portfolio)"))
                continue
            if not sub.empty:
                ax.plot(100 * sub["risk"], 100 * sub["expected_return"], color=col, ls=ls, marker="o",
                        ms=3.5, lw=1.8, zorder=3)
                plotted = True
            handles.append(Line2D([], [], color=col, ls=ls, marker="o", ms=3.5, lw=1.8, label=label))
            for k, h in heads:
                if not h.empty:
                    kinds.add(k)
                    ax.scatter(100 * h["risk"], 100 * h["expected_return"], color=col, edgecolor="black",
                               marker="*" if k == "target" else SINGLE_MARKERS[k],
                               s=220 if k == "target" else 60, linewidth=0.8, zorder=5)
    return handles, kinds, plotted


def _stack(ax: Any, x: np.ndarray, data: pd.DataFrame, colors: dict[str, Any],
           hatch: str | None) -> None:
    """Stacked areas: positive parts upwards from 0, negative parts downwards from 0."""
    pos_base = np.zeros(len(x))
    neg_base = np.zeros(len(x))
    for name in data.columns:
        y = data[name].to_numpy(float) * 100
        pos, neg = np.clip(y, 0, None), np.clip(y, None, 0)
        kw = dict(color=to_rgba(colors[name], 0.85), edgecolor="white" if hatch is None else "black",
                  linewidth=0.3, hatch=hatch)
        if pos.max() > _EPS * 100:
            ax.fill_between(x, pos_base, pos_base + pos, **kw)
        if neg.min() < -_EPS * 100:
            ax.fill_between(x, neg_base, neg_base + neg, **kw)
        pos_base, neg_base = pos_base + pos, neg_base + neg
    ax.plot(x, data.sum(axis=1).to_numpy(float) * 100, color="black", lw=1.3, ls="--")
    ax.axhline(0, color="black", lw=0.6)


#: panel titles of the instrument kinds in the exposure charts
_KIND_TITLES = {"cash": "cash", "equity": "equities", "future": "futures", "forward": "forwards",
                "bond": "bonds", "variance_swap": "variance swaps", "fx_forward": "FX forwards", "option": "options"}


def exposure_panels(kinds: dict[str, str], names: list[str], max_panels: int = 3) -> list[tuple[str, list[str]]]:
    """Panels of the exposure chart, named by the kinds they hold: ``(title, instruments)``.

    One panel per instrument kind (options last) while there are at most ``max_panels``;
    otherwise options keep their own panel and the other kinds share one, titled by all of them.
    """
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(kinds.get(n, "other"), []).append(n)
    options = groups.pop("option", [])
    panels = [(_KIND_TITLES.get(k, k), ns) for k, ns in groups.items()]
    if len(panels) + bool(options) > max_panels:
        panels = [(", ".join(t for t, _ in panels), [n for _, ns in panels for n in ns])]
    return panels + ([("options", options)] if options else [])


def section_exposures(ctx: Context) -> Section:
    """One ``exposures_<rm>[_<set>].png`` per (risk measure, constraint set): a row per view set,
    a panel per instrument kind (options hatched)."""
    sec = Section("Exposure composition along the frontiers")
    if ctx.frontier.empty or not ctx.ecols:
        sec.notes.append("No exposure columns in frontier.parquet: nothing to plot.")
        return sec
    active = ctx.frontier[ctx.frontier["status"].isin(OK_STATUSES)][ctx.ecols].abs().max()
    names = [c[2:] for c in ctx.ecols if active.get(c, 0) > _EPS]
    panels = exposure_panels(ctx.kinds, names)
    colors = _instrument_colors(ctx, panels)
    for rm in ctx.risk_measures:
        for cs in ctx.constraint_sets:
            rows = [vs for vs in ctx.view_sets if not ctx.ok_frontier(vs, rm, cset=cs).empty]
            what = f"{rm}{'' if cs == 'base' else ' @ ' + cs}"
            if not rows:
                if any(ctx.has_problem(vs, rm, cs) for vs in ctx.view_sets):
                    sec.notes.append(f"{what}: no solved frontier portfolio, no exposure chart.")
                continue
            missing = [vs for vs in ctx.view_sets if vs not in rows]
            if missing:
                sec.notes.append(f"{what}: no solved frontier portfolio for {', '.join(missing)} "
                                 "(left out of the exposure chart).")
            fname = _exposure_figure(ctx, rm, cs, rows, panels, colors)
            sec.figures.append((fname, f"Exposure composition along each {what} frontier, by expected "
                                       "return (each row its own return axis). Options (hatched) in units "
                                       "of underlying notional per unit of portfolio value; the budget is "
                                       "vᵀe = 100 %."))
    return sec


def _instrument_colors(ctx: Context, panels: list[tuple[str, list[str]]]) -> dict[str, Any]:
    cmap_colors = [to_rgba(c) for c in _tab20()]
    others = [n for t, ns in panels if t != "options" for n in ns]
    colors = {n: cmap_colors[i % len(cmap_colors)] for i, n in enumerate(others)}
    opts = [n for t, ns in panels if t == "options" for n in ns]
    colors.update({n: _OPTION_COLORS[i % len(_OPTION_COLORS)] for i, n in enumerate(opts)})
    return colors


def _exposure_figure(ctx: Context, rm: str, cs: str, rows: list[str], panels: list[tuple[str, list[str]]],
                     colors: dict[str, Any]) -> str:
    """Draw and save one exposure chart (a row per view set in ``rows``); return its file name."""
    with rc_context(RC):
        fig = Figure(figsize=(4.4 * len(panels) + 2.8, 2.7 * len(rows) + 0.7), layout="constrained")
        axes = fig.subplots(len(rows), len(panels), squeeze=False, sharey="col")
        for i, vs in enumerate(rows):
            sub = ctx.ok_frontier(vs, rm, cset=cs)
            x = 100 * sub["expected_return"].to_numpy(float)
            for j, (title, cols) in enumerate(panels):
                ax = axes[i, j]
                hatch = "///" if title == "options" else None
                _stack(ax, x, sub[[f"e_{n}" for n in cols]].set_axis(cols, axis=1), colors, hatch)
                for t in ctx.ok_frontier(vs, rm, "target", cs).itertuples():
                    ax.axvline(100 * t.expected_return, color=ctx.colors[vs], lw=1.2, ls=":")
                ax.set_title(f"{ctx.label(vs, cs)}: {title}", color=ctx.colors[vs] if vs != "prior" else "black")
                ax.set_ylabel(("notional" if title == "options" else "exposure") + " (% of portfolio value)")
                ax.set_xlabel("expected return of the frontier portfolio (%)")
                ax.margins(x=0.02)
        handles = [Patch(facecolor=colors[n], edgecolor="black" if t == "options" else "white",
                         hatch="///" if t == "options" else None, label=f"{n} ({ctx.kinds.get(n, '?')})")
                   for t, ns in panels for n in ns]
        handles += [Line2D([], [], color="black", ls="--", label="net (sum of the panel)"),
                    Line2D([], [], color="grey", ls=":", label="headline target return")]
        fig.legend(handles=handles, loc="outside right center", frameon=False)
        sets = "" if cs == "base" else f", constraint set {cs}"
        fig.suptitle(f"Exposures along the {rm} frontiers{sets} (positive and negative parts stacked separately)")
        return ctx.save(fig, _fname("exposures", rm, cs))


def _heatmap(ax: Any, mat: pd.DataFrame, cmap: str, title: str, center: float | None = None) -> None:
    """Annotated heat map of ``mat`` (fractions, shown in %), colours centred at ``center``."""
    vals = 100 * mat.to_numpy(float)
    finite = vals[np.isfinite(vals)]
    norm = None
    if finite.size and center is not None and finite.min() < center < finite.max():
        norm = TwoSlopeNorm(vcenter=center, vmin=finite.min(), vmax=finite.max())
    im = ax.imshow(np.ma.masked_invalid(vals), cmap=cmap, norm=norm, aspect="auto")
    ax.set_xticks(range(mat.shape[1]), [str(c) for c in mat.columns], rotation=20, ha="right")
    ax.set_yticks(range(mat.shape[0]), [str(i) for i in mat.index])
    ax.grid(False)
    for (r, c), v in np.ndenumerate(vals):
        if np.isfinite(v):
            red, green, blue, _ = im.cmap(im.norm(v))
            luminance = 0.299 * red + 0.587 * green + 0.114 * blue
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7.5,
                    color="white" if luminance < 0.5 else "black")
    ax.set_title(title)
    cb = ax.figure.colorbar(im, ax=ax, fraction=0.08, pad=0.03)
    cb.set_label("%")


def section_stress(ctx: Context) -> Section:
    """One ``stress_<rm>[_<set>].png`` per (risk measure, constraint set): the prior frontier and
    its headline portfolios under every view set."""
    sec = Section("Stress matrix: the prior frontier under every view set")
    st = ctx.run.get("stress")
    if st is None or st.empty:
        sec.notes.append("No stress table (no solved portfolio): stress matrix skipped.")
        return sec
    evs = [v for v in ctx.view_sets if v in set(st["eval_view_set"])]
    sets = st["constraint_set"] if "constraint_set" in st else pd.Series("base", index=st.index)
    for rm in ctx.risk_measures:
        for cs in ctx.constraint_sets:
            sub = st[(st["portfolio_view_set"] == "prior") & (st["risk_measure"] == rm) & (sets == cs)].copy()
            what = f"{rm}{'' if cs == 'base' else ' @ ' + cs}"
            if sub.empty:
                if ctx.has_problem("prior", rm, cs):
                    sec.notes.append(f"{what}: no solved prior-frontier portfolio, stress matrix skipped.")
                continue
            fname = _stress_figure(ctx, rm, cs, sub, evs)
            sec.figures.append((fname, f"Prior {what} frontier portfolios and headline portfolios (rows) "
                                       "evaluated under each probability vector (columns). CVaR is the "
                                       "loss of raw P&L."))
    return sec


def _stress_figure(ctx: Context, rm: str, cs: str, sub: pd.DataFrame, evs: list[str]) -> str:
    """Draw and save one stress heat map pair (expected return, CVaR); return its file name."""
    targets = target_lookup(ctx.frontier)
    alpha = (ctx.cfg.get("optimization") or {}).get("alpha")
    sub = sub.sort_values(["kind", "point"], key=lambda c: c.map(_KIND_ORDER).fillna(9) if c.name == "kind" else c)
    sub["label"] = [f"p{p}" if k == "frontier" else
                    f"target {pct(targets.get((v, r, cs, k, p)), 1)}" if k == "target" else str(k)
                    for v, r, k, p in zip(sub["portfolio_view_set"], sub["risk_measure"], sub["kind"], sub["point"])]
    order = list(dict.fromkeys(sub["label"]))
    er, cv = (sub.pivot_table(index="label", columns="eval_view_set", values=m, aggfunc="first")
              .reindex(index=order, columns=evs) for m in ("expected_return", "CVaR"))
    with rc_context(RC):
        w = 1.2 * len(evs) + 2.4
        fig = Figure(figsize=(2 * w + 0.8, 0.32 * len(order) + 2.0), layout="constrained")
        a1, a2 = fig.subplots(1, 2)
        _heatmap(a1, er, "RdYlGn", "expected return (%)", center=0.0)
        conf = f"{pct(1 - alpha, 0)} " if alpha is not None else ""
        _heatmap(a2, cv, "YlOrRd", f"{conf}CVaR loss of P&L (%)")
        a1.set_ylabel(f"prior {rm} portfolio (low → high return)")
        sets = "" if cs == "base" else f" (constraint set {cs})"
        fig.suptitle(f"Stress matrix: prior {rm} frontier{sets} evaluated under every view set")
        return ctx.save(fig, _fname("stress", rm, cs))


#: row order of the portfolio kinds in the stress heat map
_KIND_ORDER = {"frontier": 0, "target": 1, "Sharpe": 2, "Utility": 3, "MaxRet": 4}


def _tab20() -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps[_CASH_CMAP]
    # even entries first (the saturated shades), then the light ones
    return [cmap(i) for i in range(0, 20, 2)] + [cmap(i) for i in range(1, 20, 2)]
