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

from pipeline.report_context import RC, Context, Section
from pipeline.show import pct, risk_label, target_lookup
from tasks.vocabulary import OK_STATUSES

__all__ = ["section_frontiers", "section_exposures", "section_stress"]

_CASH_CMAP = "tab20"
_OPTION_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
                  "#666666")
_EPS = 1e-6  # exposures below this everywhere are treated as absent


def section_frontiers(ctx: Context) -> Section:
    """One ``frontier_<rm>.png`` per risk measure: every view set's frontier, headline stars."""
    sec = Section("Efficient frontiers")
    if ctx.frontier.empty:
        sec.notes.append("No frontier table: nothing to plot.")
        return sec
    for rm in ctx.risk_measures:
        with rc_context(RC):
            fig = Figure(figsize=(7.5, 4.8), layout="constrained")
            ax = fig.add_subplot()
            plotted = False
            for vs in ctx.view_sets:
                sub = ctx.ok_frontier(vs, rm)
                col = ctx.colors[vs]
                if not sub.empty:
                    ax.plot(100 * sub["risk"], 100 * sub["expected_return"], "-o", color=col, ms=4,
                            lw=1.8, label=vs, zorder=3)
                    plotted = True
                tg = ctx.ok_frontier(vs, rm, "target")
                for r in tg.itertuples():
                    ax.scatter(100 * r.risk, 100 * r.expected_return, marker="*", s=240, color=col,
                               edgecolor="black", linewidth=0.8, zorder=5,
                               label=f"{vs} headline: E {pct(r.expected_return, 1)}, "
                                     f"risk {pct(r.risk, 1)}")
                if sub.empty and tg.empty:
                    ax.plot([], [], "-o", color=col, label=f"{vs} (no solved portfolio)")
            ax.legend(loc="lower right", frameon=True, title="stars: headline (min risk at the "
                      "target return)", title_fontsize=7.5)
            ax.set_xlabel(f"risk: {risk_label(rm, ctx.cfg)} (%)")
            ax.set_ylabel("expected return (%)")
            ax.set_title(f"Efficient frontiers, {rm}: prior and every view set")
            if not plotted:
                ax.text(0.5, 0.5, "no solved frontier portfolio", ha="center", transform=ax.transAxes)
            fname = ctx.save(fig, f"frontier_{rm}")
        sec.figures.append((fname, f"{rm} frontier of every probability vector (risk evaluated "
                                   "on the optimal exposures under that vector). Stars: headline "
                                   "portfolios."))
    return sec


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


def section_exposures(ctx: Context) -> Section:
    """One ``exposures_<rm>.png`` per risk measure: a row per view set, cash and option panels."""
    sec = Section("Exposure composition along the frontiers")
    if ctx.frontier.empty or not ctx.ecols:
        sec.notes.append("No exposure columns in frontier.parquet: nothing to plot.")
        return sec
    names = [c[2:] for c in ctx.ecols]
    opt_names = [n for n in names if ctx.kinds.get(n) == "option"]
    cash_names = [n for n in names if n not in opt_names]
    active = ctx.frontier[ctx.frontier["status"].isin(OK_STATUSES)][ctx.ecols].abs().max()
    cash_names = [n for n in cash_names if active.get(f"e_{n}", 0) > _EPS]
    opt_names = [n for n in opt_names if active.get(f"e_{n}", 0) > _EPS]
    cmap_colors = [to_rgba(c) for c in _tab20()]
    colors = {n: cmap_colors[i % len(cmap_colors)] for i, n in enumerate(cash_names)}
    colors.update({n: _OPTION_COLORS[i % len(_OPTION_COLORS)] for i, n in enumerate(opt_names)})
    panels = [("cash assets", cash_names, None)] + ([("options", opt_names, "///")] if opt_names else [])
    for rm in ctx.risk_measures:
        rows = [vs for vs in ctx.view_sets if not ctx.ok_frontier(vs, rm).empty]
        if not rows:
            sec.notes.append(f"{rm}: no solved frontier portfolio, no exposure chart.")
            continue
        missing = [vs for vs in ctx.view_sets if vs not in rows]
        if missing:
            sec.notes.append(f"{rm}: no solved frontier portfolio for {', '.join(missing)} "
                             "(left out of the exposure chart).")
        with rc_context(RC):
            fig = Figure(figsize=(4.6 * len(panels) + 2.6, 3.0 * len(rows) + 0.6), layout="constrained")
            axes = fig.subplots(len(rows), len(panels), squeeze=False, sharex=True, sharey="col")
            for i, vs in enumerate(rows):
                sub = ctx.ok_frontier(vs, rm)
                x = 100 * sub["expected_return"].to_numpy(float)
                for j, (title, cols, hatch) in enumerate(panels):
                    ax = axes[i, j]
                    data = sub[[f"e_{n}" for n in cols]].set_axis(cols, axis=1)
                    if cols:
                        _stack(ax, x, data, colors, hatch)
                    for t in ctx.ok_frontier(vs, rm, "target").itertuples():
                        ax.axvline(100 * t.expected_return, color=ctx.colors[vs], lw=1.2, ls=":")
                    ax.set_title(f"{vs}: {title}", color=ctx.colors[vs] if vs != "prior" else "black")
                    if j == 0:
                        ax.set_ylabel("exposure (% of portfolio value)")
                    else:
                        ax.set_ylabel("notional (% of portfolio value)")
                    if i == len(rows) - 1:
                        ax.set_xlabel("expected return of the frontier portfolio (%)")
                    ax.margins(x=0)
            handles = [Patch(facecolor=colors[n], edgecolor="white", label=n) for n in cash_names]
            handles += [Patch(facecolor=colors[n], edgecolor="black", hatch="///", label=f"{n} (option)")
                        for n in opt_names]
            handles += [Line2D([], [], color="black", ls="--", label="net (sum of the panel)"),
                        Line2D([], [], color="grey", ls=":", label="headline target return")]
            fig.legend(handles=handles, loc="outside right center", frameon=False)
            fig.suptitle(f"Exposures along the {rm} frontiers (positive and negative parts stacked "
                         "separately)")
            fname = ctx.save(fig, f"exposures_{rm}")
        sec.figures.append((fname, f"Exposure composition along each {rm} frontier, by expected "
                                   "return. Options (hatched) in units of underlying notional per "
                                   "unit of portfolio value; the budget is vᵀe = 100 %."))
    return sec


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
    """One ``stress_<rm>.png`` per risk measure: the prior frontier under every view set."""
    sec = Section("Stress matrix: the prior frontier under every view set")
    st = ctx.run.get("stress")
    if st is None or st.empty:
        sec.notes.append("No stress table (no solved portfolio): stress matrix skipped.")
        return sec
    evs = [v for v in ctx.view_sets if v in set(st["eval_view_set"])]
    targets = target_lookup(ctx.frontier)
    alpha = (ctx.cfg.get("optimization") or {}).get("alpha")
    for rm in ctx.risk_measures:
        sub = st[(st["portfolio_view_set"] == "prior") & (st["risk_measure"] == rm)].copy()
        if sub.empty:
            sec.notes.append(f"{rm}: no solved prior-frontier portfolio, stress matrix skipped.")
            continue
        sub["_k"] = (sub["kind"] != "frontier").astype(int)
        sub = sub.sort_values(["_k", "point"])
        sub["label"] = [f"p{p}" if k == "frontier" else
                        f"headline {pct(targets.get((v, r, k, p)), 1)}"
                        for v, r, k, p in zip(sub["portfolio_view_set"], sub["risk_measure"],
                                              sub["kind"], sub["point"])]
        order = list(dict.fromkeys(sub["label"]))
        er = sub.pivot_table(index="label", columns="eval_view_set", values="expected_return",
                             aggfunc="first").reindex(index=order, columns=evs)
        cv = sub.pivot_table(index="label", columns="eval_view_set", values="CVaR",
                             aggfunc="first").reindex(index=order, columns=evs)
        with rc_context(RC):
            w = 1.2 * len(evs) + 2.4
            fig = Figure(figsize=(2 * w + 0.8, 0.32 * len(order) + 2.0), layout="constrained")
            a1, a2 = fig.subplots(1, 2)
            _heatmap(a1, er, "RdYlGn", "expected return (%)", center=0.0)
            conf = f"{pct(1 - alpha, 0)} " if alpha is not None else ""
            _heatmap(a2, cv, "YlOrRd", f"{conf}CVaR loss of P&L (%)")
            a1.set_ylabel(f"prior {rm} frontier portfolio (low → high return)")
            fig.suptitle(f"Stress matrix: prior {rm} frontier evaluated under every view set")
            fname = ctx.save(fig, f"stress_{rm}")
        sec.figures.append((fname, f"Prior {rm} frontier portfolios (rows) evaluated under each "
                                   "probability vector (columns). CVaR is the loss of raw P&L."))
    return sec


def _tab20() -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps[_CASH_CMAP]
    # even entries first (the saturated shades), then the light ones
    return [cmap(i) for i in range(0, 20, 2)] + [cmap(i) for i in range(1, 20, 2)]
