"""The report's view-set figures: prior vs posterior of every view set (``views_<view set>.png``).

Per view set: prior vs posterior density of every viewed variable (needs ``scenarios.parquet``)
and the posterior/prior probability ratios sorted, with the relative entropy and effective number
of scenarios in the title. :func:`section_views` returns the
:class:`~pipeline.report_context.Section` of ``report.html`` that shows them, with the table of
view checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from pipeline.report_context import RC, Context, Section
from pipeline.report_tables import checks_html
from pipeline.show import pct

__all__ = ["section_views"]


def _viewed_series(ctx: Context, scen: pd.DataFrame, on: str) -> tuple[pd.Series | None, str]:
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


def section_views(ctx: Context) -> Section:
    """One ``views_<view set>.png`` per view set with a posterior, and the view-checks table."""
    sec = Section("View sets: prior vs posterior")
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
        pr, q = _prior_and_posterior(probs, scen, vs)
        dens, missing = _viewed_variables(ctx, scen, checks, vs)
        if missing:
            sec.notes.append(f"{vs}: no density for {', '.join(missing)} (neither an instrument nor "
                             "the driver of a cash instrument).")
        fname = _view_set_figure(ctx, vs, info, pr, q, dens, checks)
        what = ("prior (grey) vs posterior densities of the viewed variables, and " if dens else "")
        sec.figures.append((fname, f"{vs}: {what}the posterior/prior probability ratios q/p of "
                                   "the scenarios, sorted (1 = unchanged)."))
    if checks is not None and not checks.empty:
        sec.html_blocks.append(checks_html(checks))
    return sec


def _prior_and_posterior(probs: pd.DataFrame, scen: pd.DataFrame | None, vs: str) -> tuple[np.ndarray, np.ndarray]:
    """``(p, q)``, shape (S,) each, in scenario order: the prior probabilities (from
    ``scenarios.parquet`` when written; uniform when the lengths disagree) and those of ``vs``."""
    q = probs[probs["view_set"] == vs].sort_values("scenario")["probability"].to_numpy(float)
    pr = probs[probs["view_set"] == "prior"].sort_values("scenario")["probability"].to_numpy(float)
    if scen is not None and "probability" in scen:
        pr = scen.sort_values("scenario")["probability"].to_numpy(float)
    if len(pr) != len(q):
        pr = np.full(len(q), 1.0 / len(q))
    return pr, q


def _viewed_variables(ctx: Context, scen: pd.DataFrame | None, checks: pd.DataFrame | None,
                      vs: str) -> tuple[list[tuple[str, pd.Series, str]], list[str]]:
    """``(dens, missing)``: ``(on, scenario values, axis label)`` of every variable the views of
    ``vs`` are on, in view order; and the ones with no scenario values. Empty without scenarios."""
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
    return dens, missing


def _view_set_figure(ctx: Context, vs: str, info: pd.Series, pr: np.ndarray, q: np.ndarray,
                     dens: list[tuple[str, pd.Series, str]], checks: pd.DataFrame | None) -> str:
    """Draw and save ``views_<vs>.png`` (a density panel per viewed variable, then the ratio
    panel); return its file name."""
    n = len(dens) + 1
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    col = ctx.colors[vs]
    with rc_context(RC):
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
        return ctx.save(fig, f"views_{vs}")


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
