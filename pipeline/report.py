"""HTML report of a run folder: PNG charts next to the Parquet and a self-contained ``report.html``.

``write_report(run_dir)`` renders, with matplotlib's Agg canvas (headless; the global backend and
pyplot state are not touched):

``frontier_<rm>.png``
    the efficient frontier of every probability vector (prior and each view set) for one risk
    measure, with the headline (``kind == "target"``) portfolios marked;
``exposures_<rm>.png``
    exposure composition along each frontier (one row per view set): cash assets and options in
    separate panels (options hatched), positive and negative parts stacked separately;
``stress_<rm>.png``
    the stress matrix of the prior frontier: expected return and CVaR of every prior-frontier
    portfolio under every view set (annotated heat maps);
``views_<view set>.png``
    per view set: prior vs posterior density of every viewed variable (needs
    ``scenarios.parquet``) and the posterior/prior probability ratios sorted, with the relative
    entropy and effective number of scenarios in the title;
``greeks_<rm>.png``
    portfolio Greeks per underlying along each frontier (needs ``greeks.parquet``).

Figures whose inputs are missing are skipped and the HTML says why. ``report.html`` embeds every
PNG as base64, so it can be mailed or archived on its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm, to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from pipeline.show import (
    OK_STATUSES,
    exposure_columns,
    headline_label,
    instrument_kinds,
    pct,
    risk_label,
    risk_measure_order,
    scenario_count,
    target_lookup,
    view_set_order,
)

__all__ = ["write_report", "view_set_colors"]

GREEKS = ("delta", "gamma", "vega", "theta", "rho")
_PRIOR_COLOR = "#222222"
_VIEW_COLORS = ("tab:red", "tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown",
                "tab:pink", "tab:olive", "tab:cyan")
_CASH_CMAP = "tab20"
_OPTION_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
                  "#666666")
_RC = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "figure.facecolor": "white",
    "savefig.facecolor": "white", "hatch.linewidth": 0.6,
}
_EPS = 1e-6  # exposures below this everywhere are treated as absent


@dataclass
class _Section:
    """One block of the HTML: a title, figures (file name, caption) and notes."""

    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    html_blocks: list[str] = field(default_factory=list)


def view_set_colors(view_sets: list[str]) -> dict[str, Any]:
    """Consistent colours: ``prior`` near-black, the view sets in a fixed qualitative order."""
    out: dict[str, Any] = {}
    i = 0
    for v in view_sets:
        if v == "prior":
            out[v] = _PRIOR_COLOR
        else:
            out[v] = _VIEW_COLORS[i % len(_VIEW_COLORS)]
            i += 1
    return out


def write_report(run_dir: Path | str, *, dpi: int = 110) -> Path:
    """Render the run's charts as PNG files next to the Parquet and write ``report.html``.

    Parameters
    ----------
    run_dir : a finished run folder (with ``manifest.json``).
    dpi : resolution of the PNG files.

    Returns
    -------
    Path of ``report.html`` (inside ``run_dir``).

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` is not a finished run folder (no ``manifest.json``).
    """
    from pipeline.store import read_run

    root = Path(run_dir)
    run = read_run(root)
    ctx = _Context(root, run, dpi)
    sections = [
        _section_frontiers(ctx),
        _section_exposures(ctx),
        _section_stress(ctx),
        _section_views(ctx),
        _section_greeks(ctx),
    ]
    path = root / "report.html"
    from pipeline.store import atomic_write_bytes

    atomic_write_bytes(path, _html(ctx, sections).encode("utf-8"))
    return path


class _Context:
    """What every figure needs: the tables, orders, colours, labels and the output folder."""

    def __init__(self, root: Path, run: Mapping[str, Any], dpi: int) -> None:
        self.root = root
        self.run = run
        self.dpi = dpi
        self.manifest = run.get("manifest", {}) or {}
        self.cfg = self.manifest.get("config", {}) or {}
        self.view_sets = view_set_order(run)
        self.risk_measures = risk_measure_order(run)
        self.colors = view_set_colors(self.view_sets)
        fr = run.get("frontier")
        self.frontier = fr if fr is not None else pd.DataFrame()
        self.ecols = exposure_columns(self.frontier) if not self.frontier.empty else []
        self.kinds = instrument_kinds(run)
        self.n_scenarios = scenario_count(run)

    def ok_frontier(self, vs: str, rm: str, kind: str = "frontier") -> pd.DataFrame:
        """Solved rows of one (view set, risk measure) and kind, sorted by expected return."""
        fr = self.frontier
        if fr.empty:
            return fr
        sub = fr[(fr["view_set"] == vs) & (fr["risk_measure"] == rm) & (fr["kind"] == kind)
                 & fr["status"].isin(OK_STATUSES)]
        return sub.sort_values(["expected_return", "point"])

    def save(self, fig: Figure, name: str) -> str:
        """Save ``fig`` as ``<root>/<name>.png`` and return the file name."""
        fname = f"{_safe(name)}.png"
        FigureCanvasAgg(fig)
        fig.savefig(self.root / fname, dpi=self.dpi)
        return fname


# -- figures ---------------------------------------------------------------------------------
def _section_frontiers(ctx: _Context) -> _Section:
    sec = _Section("Efficient frontiers")
    if ctx.frontier.empty:
        sec.notes.append("No frontier table: nothing to plot.")
        return sec
    for rm in ctx.risk_measures:
        with rc_context(_RC):
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


def _section_exposures(ctx: _Context) -> _Section:
    sec = _Section("Exposure composition along the frontiers")
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
        with rc_context(_RC):
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


def _section_stress(ctx: _Context) -> _Section:
    sec = _Section("Stress matrix: the prior frontier under every view set")
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
        with rc_context(_RC):
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


def _viewed_series(ctx: _Context, scen: pd.DataFrame, on: str) -> tuple[pd.Series | None, str]:
    """The scenario values of a viewed variable: an instrument's P&L or a driver's simple return."""
    if on in scen.columns and on not in ("scenario", "probability"):
        kind = ctx.kinds.get(on, "")
        return scen[on], f"{on} {'P&L per unit' if kind == 'option' else 'return'} (%)"
    inst = ctx.run.get("instruments")
    if inst is not None and not inst.empty:
        cash = inst[(inst["driver"] == on) & (inst["kind"] == "cash")]
        for name in cash["name"]:
            if name in scen.columns:
                return scen[name], f"{on} simple return (%)"
    return None, ""


def _section_views(ctx: _Context) -> _Section:
    sec = _Section("View sets: prior vs posterior")
    views = ctx.run.get("views")
    probs = ctx.run.get("probabilities")
    checks = ctx.run.get("view_checks")
    scen = ctx.run.get("scenarios")
    stressed = [v for v in ctx.view_sets if v != "prior"]
    if views is None or views.empty or not stressed:
        sec.notes.append("No view sets in this run: only the prior.")
        return sec
    if scen is None:
        sec.notes.append("Density panels skipped: scenarios.parquet was not written "
                         "(set scenarios.write: true to get them).")
    vrow = views.set_index("view_set")
    for vs in stressed:
        info = vrow.loc[vs] if vs in vrow.index else None
        if info is None or info["status"] != "ok" or probs is None:
            msg = "" if info is None else f": {info['message']}"
            sec.notes.append(f"{vs}: status {info['status'] if info is not None else 'missing'}"
                             f"{msg} — no posterior to plot.")
            continue
        q = probs[probs["view_set"] == vs].sort_values("scenario")["probability"].to_numpy(float)
        pr = probs[probs["view_set"] == "prior"].sort_values("scenario")["probability"].to_numpy(float)
        if scen is not None and "probability" in scen:
            pr = scen.sort_values("scenario")["probability"].to_numpy(float)
        if len(pr) != len(q):
            pr = np.full(len(q), 1.0 / len(q))
        ons: list[str] = []
        if checks is not None and not checks.empty:
            ons = list(dict.fromkeys(checks.loc[checks["view_set"] == vs, "on"].astype(str)))
        dens: list[tuple[str, pd.Series, str]] = []
        missing: list[str] = []
        if scen is not None:
            s_sorted = scen.sort_values("scenario").reset_index(drop=True)
            for on in ons:
                series, label = _viewed_series(ctx, s_sorted, on)
                if series is None:
                    missing.append(on)
                else:
                    dens.append((on, series, label))
        if missing:
            sec.notes.append(f"{vs}: no density for {', '.join(missing)} (neither an instrument nor "
                             "the driver of a cash instrument).")
        n = len(dens) + 1
        ncols = min(n, 3)
        nrows = int(np.ceil(n / ncols))
        col = ctx.colors[vs]
        with rc_context(_RC):
            fig = Figure(figsize=(max(4.3 * ncols, 7.0), 3.4 * nrows + 0.7), layout="constrained")
            axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
            for ax, (on, series, label) in zip(axes, dens):
                _density(ax, series.to_numpy(float), pr, q, col, vs, label,
                         checks[(checks["view_set"] == vs) & (checks["on"] == on)])
            _ratio_panel(axes[len(dens)], pr, q, col, vs)
            for ax in axes[n:]:
                ax.set_visible(False)
            re_ = float(info["relative_entropy"])
            ens = float(info["effective_scenarios"])
            fig.suptitle(f"View set {vs}\nrelative entropy {re_:.4f}, effective scenarios "
                         f"{pct(ens, 1)} ({ens * len(q):,.0f} of {len(q):,})")
            fname = ctx.save(fig, f"views_{vs}")
        what = ("prior (grey) vs posterior densities of the viewed variables, and " if dens else "")
        sec.figures.append((fname, f"{vs}: {what}the posterior/prior probability ratios q/p of "
                                   "the scenarios, sorted (1 = unchanged)."))
    if checks is not None and not checks.empty:
        sec.html_blocks.append(_checks_html(checks))
    return sec


def _density(ax: Any, x: np.ndarray, p: np.ndarray, q: np.ndarray, col: Any, vs: str,
             label: str, checks: pd.DataFrame) -> None:
    x = 100 * x
    grid, fp = _smooth_density(x, p)
    _, fq = _smooth_density(x, q, grid)
    ax.fill_between(grid, fp, color="0.78", lw=0, label="prior")
    ax.plot(grid, fp, color="0.45", lw=1)
    ax.plot(grid, fq, color=col, lw=2, label=f"posterior ({vs})")
    lo, hi = np.quantile(x, [0.0005, 0.9995])
    pad = 0.05 * (hi - lo)
    ax.set_xlim(lo - pad, hi + pad)
    mp, mq = float(p @ x), float(q @ x)
    ax.axvline(mp, color="0.4", lw=1, ls="--")
    ax.axvline(mq, color=col, lw=1, ls=":")
    sp = float(np.sqrt(p @ (x - mp) ** 2))
    sq = float(np.sqrt(q @ (x - mq) ** 2))
    lines = [f"mean {mp:.2f} → {mq:.2f} %", f"vol {sp:.2f} → {sq:.2f} %"]
    for r in checks.itertuples():
        if r.stat in ("skew", "kurt"):
            lines.append(f"{r.stat} {r.prior_value:.2f} → {r.attained:.2f}")
    ax.text(0.02, 0.97, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=7.5,
            bbox=dict(boxstyle="round", fc="white", ec="0.8", alpha=0.9))
    ax.set_xlabel(label)
    ax.set_ylabel("density (1/%)")
    ax.set_title(label.rsplit(" (", 1)[0])
    ax.legend(loc="upper right")


def _smooth_density(x: np.ndarray, w: np.ndarray, grid: np.ndarray | None = None,
                    n_grid: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Gaussian kernel density on a grid (binned, so linear in the number of scenarios).

    The bandwidth is Silverman's rule with the weighted standard deviation and the effective
    number of scenarios ``1 / Σw²``.
    """
    w = np.asarray(w, float) / np.sum(w)
    mean = float(w @ x)
    sd = float(np.sqrt(w @ (x - mean) ** 2)) or 1.0
    n_eff = 1.0 / float(np.sum(w ** 2))
    h = 1.06 * sd * n_eff ** (-0.2)
    if grid is None:
        grid = np.linspace(x.min() - 3 * h, x.max() + 3 * h, n_grid)
    step = grid[1] - grid[0]
    edges = np.concatenate([grid - step / 2, [grid[-1] + step / 2]])
    mass, _ = np.histogram(x, bins=edges, weights=w)
    half = int(np.ceil(4 * h / step))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) * step / h) ** 2)
    k /= k.sum()
    dens = np.convolve(mass, k, mode="same") / step
    return grid, dens


def _ratio_panel(ax: Any, p: np.ndarray, q: np.ndarray, col: Any, vs: str) -> None:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(p > 0, q / p, np.nan)
    ratio = np.sort(ratio[np.isfinite(ratio)])[::-1]
    rank = 100 * (np.arange(len(ratio)) + 0.5) / max(1, len(ratio))
    ax.plot(rank, ratio, color=col, lw=1.8, label=f"posterior q/p ({vs})")
    ax.axhline(1.0, color="0.4", ls="--", lw=1, label="prior (q = p)")
    pos = ratio[ratio > 0]
    if pos.size and pos.max() / pos.min() > 20:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.set_xlabel("scenarios sorted by q/p (% of scenarios)")
    ax.set_ylabel("probability ratio q/p")
    ax.set_title("scenario probabilities vs prior")
    ax.legend(loc="upper right")


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
    ident = ("portfolio", "underlying", "view_set", "risk_measure", "kind", "point")
    extra = [c for c in gk.columns if c not in (*ident, *GREEKS)
             and pd.api.types.is_numeric_dtype(gk[c])]
    return [g for g in GREEKS if g in gk.columns] + extra


def _section_greeks(ctx: _Context, max_underlyings: int = 6) -> _Section:
    sec = _Section("Portfolio Greeks along the frontiers")
    gk = ctx.run.get("greeks")
    if gk is None:
        sec.notes.append("Greeks chart skipped: greeks.parquet is not in this run folder.")
        return sec
    gk = _greeks_wide(gk)
    greeks = _greek_columns(gk)
    if gk.empty or not greeks or "underlying" not in gk or ctx.frontier.empty:
        sec.notes.append("Greeks chart skipped: greeks.parquet has no rows or no Greek columns.")
        return sec
    ident = ["view_set", "risk_measure", "kind", "point"]
    if set(ident) <= set(gk.columns):  # row identity: unambiguous
        right = ctx.frontier[ident + ["expected_return", "status"]]
        merged = gk.drop(columns=["portfolio"], errors="ignore").merge(right, on=ident, how="inner")
    else:  # portfolio ids repeat when there are several targets: first row per id
        right = ctx.frontier[["portfolio"] + ident + ["expected_return", "status"]]
        merged = gk.merge(right.drop_duplicates("portfolio"), on="portfolio", how="inner")
    merged = merged[merged["status"].isin(OK_STATUSES)]
    merged = merged.assign(underlying=merged["underlying"].astype(str))
    styles = ["-", "--", "-.", ":"]
    markers = ["o", "s", "^", "D", "v", "P"]
    for rm in ctx.risk_measures:
        sub = merged[merged["risk_measure"] == rm]
        if sub.empty:
            sec.notes.append(f"{rm}: no Greeks for solved portfolios.")
            continue
        # underlyings that matter, largest |greek| first; a fixed style per underlying
        size = sub.groupby("underlying")[greeks].apply(lambda d: d.abs().max()).max(axis=1)
        ranked = [u for u in size.sort_values(ascending=False).index if size[u] > 0]
        # underlyings with a non-delta Greek (options, rates): their delta is the interesting one;
        # a delta-only underlying's delta is just its cash exposure (see the exposure chart)
        others = [g for g in greeks if g != "delta"]
        nonlinear = [u for u in ranked
                     if others and sub.loc[sub["underlying"] == u, others].abs().max().max() > 0]
        ranked = nonlinear + [u for u in ranked if u not in nonlinear]
        style = {u: (styles[i % len(styles)], markers[i % len(markers)]) for i, u in enumerate(ranked)}
        used: set[str] = set()
        dropped: set[str] = set()
        delta_note = ""
        with rc_context(_RC):
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
                        delta_note = (f"{rm}: delta panel shows the underlyings with options or "
                                      "rate sensitivity; the delta of "
                                      f"{', '.join(delta_only)} is its cash exposure (exposure "
                                      "chart).")
                dropped.update(present[max_underlyings:])
                for u in present[:max_underlyings]:
                    used.add(u)
                    ls, mk = style[u]
                    for vs in ctx.view_sets:
                        d = sub[(sub["view_set"] == vs) & (sub["underlying"] == u)]
                        fr = d[d["kind"] == "frontier"].sort_values("expected_return")
                        if not fr.empty:
                            ax.plot(100 * fr["expected_return"], fr[g], color=ctx.colors[vs], ls=ls,
                                    marker=mk, ms=3, lw=1.5)
                        tg = d[d["kind"] == "target"]
                        if not tg.empty:
                            ax.scatter(100 * tg["expected_return"], tg[g], marker="*", s=140,
                                       color=ctx.colors[vs], edgecolor="black", linewidth=0.7,
                                       zorder=5)
                if not present:
                    ax.text(0.5, 0.5, f"no {g} exposure", ha="center", va="center",
                            transform=ax.transAxes, color="0.4")
                ax.axhline(0, color="black", lw=0.6)
                ax.set_title(g)
                ax.set_xlabel("expected return of the frontier portfolio (%)")
                ax.set_ylabel(f"{g} per unit of portfolio value")
            leg_ax = axes[len(greeks)]
            leg_ax.set_axis_off()
            handles = [Line2D([], [], color=ctx.colors[v], lw=2, label=v) for v in ctx.view_sets]
            handles += [Line2D([], [], color="black", ls=style[u][0], marker=style[u][1],
                               label=f"underlying {u}") for u in ranked if u in used]
            handles.append(Line2D([], [], marker="*", ls="", ms=12, mfc="white", mec="black",
                                  label="headline portfolio"))
            leg_ax.legend(handles=handles, loc="center", frameon=False)
            for ax in axes[len(greeks) + 1:]:
                ax.set_visible(False)
            fig.suptitle(f"Portfolio Greeks per underlying along the {rm} frontiers")
            fname = ctx.save(fig, f"greeks_{rm}")
        if delta_note:
            sec.notes.append(delta_note)
        if dropped - used:
            sec.notes.append(f"{rm}: Greeks chart shows the {max_underlyings} largest underlyings per "
                             f"Greek; smaller ones left out: {', '.join(sorted(dropped - used))}.")
        sec.figures.append((fname, f"Greeks of the {rm} frontier portfolios by underlying "
                                   "(from greeks.parquet)."))
    return sec


# -- HTML ------------------------------------------------------------------------------------
_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}.note{color:#8a5a00;background:#fff6e0;padding:.4em .7em;
border-left:3px solid #e0a800;margin:.5em 0;font-size:.9em}
pre{background:#f7f7f7;padding:.6em;font-size:.85em}
.meta{color:#555;font-size:.9em}
"""


def _html(ctx: _Context, sections: list[_Section]) -> str:
    from pipeline.progress import final_summary

    man = ctx.manifest
    name = man.get("name", ctx.cfg.get("name", "run"))
    meta = [f"seed {man.get('seed', '?')}", f"{ctx.n_scenarios:,} scenarios",
            f"{len(ctx.kinds)} instruments", f"view sets: {', '.join(ctx.view_sets)}",
            f"risk measures: {', '.join(ctx.risk_measures)}"]
    if man.get("finished_utc"):
        meta.append(f"finished {man['finished_utc']}")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>stressfrontier report: {html.escape(str(name))}</title><style>{_CSS}</style></head><body>",
        f"<h1>stressfrontier report: {html.escape(str(name))}</h1>",
        f"<p class='meta'>{html.escape(' · '.join(meta))}<br>run folder: "
        f"<code>{html.escape(str(ctx.root.resolve()))}</code></p>",
        f"<pre>{html.escape(final_summary(ctx.run, out_dir=ctx.root.resolve()))}</pre>",
        "<h2>View sets</h2>", _views_html(ctx), "<h2>Headline portfolios</h2>", _headline_html(ctx),
    ]
    for sec in sections:
        parts.append(f"<h2>{html.escape(sec.title)}</h2>")
        for note in sec.notes:
            parts.append(f"<p class='note'>{html.escape(note)}</p>")
        for fname, caption in sec.figures:
            data = base64.b64encode((ctx.root / fname).read_bytes()).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(fname)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(fname)}: {html.escape(caption)}</figcaption></figure>")
        parts.extend(sec.html_blocks)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<p class='meta'>Report generated {stamp}.</p></body></html>")
    return "\n".join(parts)


def _views_html(ctx: _Context) -> str:
    views = ctx.run.get("views")
    if views is None or views.empty:
        return "<p class='note'>No views table.</p>"
    n = ctx.n_scenarios
    df = pd.DataFrame({
        "view set": views["view_set"].astype(str), "status": views["status"].astype(str),
        "views": views["n_views"],
        "relative entropy": views["relative_entropy"].map(lambda x: f"{x:.4f}" if pd.notna(x) else "-"),
        "ENS": views["effective_scenarios"].map(
            lambda x: f"{pct(x, 1)} ({x * n:,.0f})" if pd.notna(x) else "-"),
        "max residual": views["max_residual"].map(lambda x: f"{x:.1e}" if pd.notna(x) else "-"),
        "message": views["message"].fillna("").astype(str),
    })
    return df.to_html(index=False, escape=True, border=0)


def _headline_html(ctx: _Context) -> str:
    fr = ctx.frontier
    if fr.empty or (fr["kind"] == "target").sum() == 0:
        return "<p class='note'>No headline portfolios (optimization.targets is empty).</p>"
    tg = fr[fr["kind"] == "target"]
    df = pd.DataFrame({
        "portfolio": [headline_label(r) for r in tg.itertuples()],
        "status": tg["status"].astype(str),
        "E[return]": tg["expected_return"].map(pct), "risk": tg["risk"].map(pct),
        "vᵀe": tg["budget"].map(pct), "gross Σ|e|": tg["gross_exposure"].map(pct),
    })
    ex = tg[ctx.ecols]
    for c in ctx.ecols:
        if ex[c].abs().max() >= 0.005:
            df[c[2:]] = ex[c].map(lambda x: pct(x, 1))
    return df.to_html(index=False, escape=True, border=0)


def _checks_html(checks: pd.DataFrame) -> str:
    df = checks[["view_set", "view", "target", "prior_value", "attained", "violation"]].copy()
    for c in ("target", "prior_value", "attained"):
        df[c] = df[c].map(lambda x: f"{x:.4f}")
    df["violation"] = df["violation"].map(lambda x: f"{x:.1e}")
    return "<h3>View checks</h3>" + df.to_html(index=False, escape=True, border=0)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _tab20() -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps[_CASH_CMAP]
    # even entries first (the saturated shades), then the light ones
    return [cmap(i) for i in range(0, 20, 2)] + [cmap(i) for i in range(1, 20, 2)]
