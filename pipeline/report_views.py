"""The report's view-set figures: prior vs posterior of every view set (``views_<view set>.png``).

Per view set: prior vs posterior density of every viewed variable, smoothed from the histograms
of ``marginals.parquet`` (computed on the workers over every scenario, so no tail is cut and the
(S, N) matrix is never needed), and the posterior/prior probability ratios sorted, with the
relative entropy and effective number of scenarios in the title. :func:`section_views` returns the
:class:`~pipeline.report_context.Section` of ``report.html`` that shows them, with the table of
view checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from pipeline.report_context import RC, Context, Section
from pipeline.report_tables import checks_html
from pipeline.show import pct

__all__ = ["section_views", "smooth_histogram", "Marginal"]


def _variable_label(ctx: Context, name: str) -> str:
    """Axis label of a view variable: a driver's simple return (a vol driver's relative change, a
    rate driver's change) or an instrument's P&L per unit exposure, in %."""
    drivers = {str(d.get("name")): str(d.get("kind", "spot"))
               for d in ((ctx.cfg.get("scenarios") or {}).get("drivers") or []) if isinstance(d, dict)}
    kind = drivers.get(name)
    if kind is None and name == "book":  # the user's book (``book:``), a view variable
        return "book P&L (% of portfolio value)"
    if kind is None and name in ctx.kinds:
        return f"{name} P&L per unit exposure (%)"
    what = {"rate": "change", "vol": "relative change of ATM vol"}.get(kind or "spot", "simple return")
    return f"{name} {what} (%)"


def section_views(ctx: Context) -> Section:
    """One ``views_<view set>.png`` per view set with a posterior, and the view-checks table."""
    sec = Section("View sets: prior vs posterior")
    views = ctx.run.get("views")
    probs = ctx.run.get("probabilities")
    checks = ctx.run.get("view_checks")
    marg = ctx.run.get("marginals")
    stressed = [v for v in ctx.view_sets if v != "prior"]
    if views is None or views.empty or not stressed:
        sec.notes.append("No view sets in this run: only the prior.")
        return sec
    if marg is None:
        sec.notes.append("Density panels skipped: marginals.parquet is not in this run folder "
                         "(written by every run of this version).")
    vrow = views.set_index("view_set")
    for vs in stressed:
        info = vrow.loc[vs] if vs in vrow.index else None
        if info is None or info["status"] != "ok" or probs is None:
            msg = "" if info is None else f": {info['message']}"
            sec.notes.append(f"{vs}: status {info['status'] if info is not None else 'missing'}"
                             f"{msg} — no posterior to plot.")
            continue
        pr, q = _prior_and_posterior(probs, vs)
        dens, missing = _viewed_variables(ctx, marg, checks, vs)
        if missing:
            sec.notes.append(f"{vs}: no density for {', '.join(missing)} (not in marginals.parquet).")
        fname = _view_set_figure(ctx, vs, info, pr, q, dens, checks)
        what = ("prior (grey) vs posterior densities of the viewed variables (every scenario, no tail "
                "cut), and " if dens else "")
        sec.figures.append((fname, f"{vs}: {what}the posterior/prior probability ratios q/p of "
                                   "the scenarios, sorted (1 = unchanged)."))
    if checks is not None and not checks.empty:
        sec.html_blocks.append(checks_html(checks))
    return sec


def _prior_and_posterior(probs: pd.DataFrame, vs: str) -> tuple[np.ndarray, np.ndarray]:
    """``(p, q)``, shape (S,) each, in scenario order: the prior probabilities (uniform when the
    lengths disagree) and those of ``vs``."""
    q = probs[probs["view_set"] == vs].sort_values("scenario")["probability"].to_numpy(float)
    pr = probs[probs["view_set"] == "prior"].sort_values("scenario")["probability"].to_numpy(float)
    if len(pr) != len(q):
        pr = np.full(len(q), 1.0 / len(q))
    return pr, q


@dataclass
class Marginal:
    """One variable's histogram under the prior and under a view set (``marginals.parquet``).

    Attributes
    ----------
    name, label : the variable and its axis label.
    edges : (B + 1,) bin edges in the variable's units (every scenario inside).
    prior, post : (B,) probability mass per bin.
    prior_moments, post_moments : exact (mean, std) of the variable.
    """

    name: str
    label: str
    edges: np.ndarray
    prior: np.ndarray
    post: np.ndarray
    prior_moments: tuple[float, float]
    post_moments: tuple[float, float]


def _viewed_variables(ctx: Context, marg: pd.DataFrame | None, checks: pd.DataFrame | None,
                      vs: str) -> tuple[list[Marginal], list[str]]:
    """``(dens, missing)``: the marginals of every variable the views of ``vs`` touch, in view
    order; and the touched variables without one. Empty without a marginals table."""
    if marg is None or checks is None or checks.empty:
        return [], []
    known = list(dict.fromkeys(marg["variable"].astype(str)))
    ons = checks.loc[checks["view_set"] == vs, "on"].astype(str)
    names = list(dict.fromkeys(t for on in ons for t in _names(on, known)))
    dens, missing = [], []
    for name in names:
        pm, qm = (marg[(marg["view_set"] == v) & (marg["variable"] == name)].sort_values("bin") for v in ("prior", vs))
        if pm.empty or qm.empty or len(pm) != len(qm):
            missing.append(name)
            continue
        edges = np.append(pm["lower"].to_numpy(float), pm["upper"].to_numpy(float)[-1])
        dens.append(Marginal(name, _variable_label(ctx, name), edges, pm["probability"].to_numpy(float),
                             qm["probability"].to_numpy(float), (float(pm["mean"].iloc[0]), float(pm["std"].iloc[0])),
                             (float(qm["mean"].iloc[0]), float(qm["std"].iloc[0]))))
    return dens, missing


def _names(on: str, known: list[str]) -> list[str]:
    """The variables a check's ``on`` names: itself, or the known names inside a pair or a linear
    combination (``"('EM_Equity', 'DM_Equity')"``)."""
    if on in known or not re.search(r"[(\[{,]", on):
        return [on]
    return [t for t in re.findall(r"[\w.\-]+", on) if t in known]


def _view_set_figure(ctx: Context, vs: str, info: pd.Series, pr: np.ndarray, q: np.ndarray,
                     dens: list[Marginal], checks: pd.DataFrame | None) -> str:
    """Draw and save ``views_<vs>.png`` (a density panel per viewed variable, then the ratio
    panel); return its file name."""
    n = len(dens) + 1
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    col = ctx.colors[vs]
    with rc_context(RC):
        fig = Figure(figsize=(max(4.3 * ncols, 7.0), 3.4 * nrows + 0.7), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, m in zip(axes, dens):
            own = checks[(checks["view_set"] == vs)
                         & checks["on"].astype(str).map(lambda on, n=m.name: n in _names(on, [n]))]
            _density(ax, m, _n_eff(pr), _n_eff(q), col, vs, own)
        _ratio_panel(axes[len(dens)], pr, q, col, vs)
        for ax in axes[n:]:
            ax.set_visible(False)
        re_ = float(info["relative_entropy"])
        ens = float(info["effective_scenarios"])
        fig.suptitle(f"View set {vs}\nrelative entropy {re_:.4f}, effective scenarios "
                     f"{pct(ens, 1)} ({ens * len(q):,.0f} of {len(q):,})")
        return ctx.save(fig, f"views_{vs}")


def _n_eff(w: np.ndarray) -> float:
    """Effective number of scenarios ``1 / Σw²`` of probabilities ``w`` (Kish)."""
    w = np.asarray(w, float)
    return float(np.sum(w) ** 2 / np.sum(w ** 2)) if w.size else 1.0


def _density(ax: Any, m: Marginal, n_p: float, n_q: float, col: Any, vs: str, checks: pd.DataFrame) -> None:
    """Prior (grey) and posterior densities of one variable over its whole range (no tail cut)."""
    edges = 100 * m.edges
    (mp, sp), (mq, sq) = [(100 * a, 100 * b) for a, b in (m.prior_moments, m.post_moments)]
    hp, hq = _bandwidth(sp, n_p), _bandwidth(sq, n_q)
    grid, fp = smooth_histogram(edges, m.prior, hp, 4 * max(hp, hq))
    _, fq = smooth_histogram(edges, m.post, hq, 4 * max(hp, hq))
    ax.fill_between(grid, fp, color="0.78", lw=0, label="prior")
    ax.plot(grid, fp, color="0.45", lw=1)
    ax.plot(grid, fq, color=col, lw=2, label=f"posterior ({vs})")
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(bottom=0)
    ax.axvline(mp, color="0.4", lw=1, ls="--")
    ax.axvline(mq, color=col, lw=1, ls=":")
    lines = [f"mean {mp:.2f} → {mq:.2f} %", f"vol {sp:.2f} → {sq:.2f} %"]
    for r in checks.itertuples():
        if r.stat in ("skew", "kurt", "corr"):
            lines.append(f"{r.stat} {r.prior_value:.2f} → {r.attained:.2f}")
        elif r.stat in ("CVaR", "VaR"):  # a loss, in % like the axis (the reverse stress test's view)
            lines.append(f"{r.stat} {100 * r.prior_value:.2f} → {100 * r.attained:.2f} %")
    ax.text(0.02, 0.97, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=7.5,
            bbox=dict(boxstyle="round", fc="white", ec="0.8", alpha=0.9))
    ax.set_xlabel(m.label)
    ax.set_ylabel("density (1/%)")
    ax.set_title(m.label.rsplit(" (", 1)[0])
    ax.legend(loc="upper right")


def _bandwidth(sd: float, n_eff: float) -> float:
    """Silverman's rule ``1.06 σ n^(-1/5)`` with the weighted std and the effective sample size."""
    return 1.06 * (sd or 1.0) * max(n_eff, 1.0) ** (-0.2)


def smooth_histogram(edges: np.ndarray, mass: np.ndarray, h: float,
                     extend: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian kernel density from binned probability mass.

    Parameters
    ----------
    edges : (B + 1,) equal-width bin edges.
    mass : (B,) probability mass per bin (sums to 1).
    h : kernel bandwidth, in the units of ``edges`` (at most one bin width: the histogram itself).
    extend : how far the grid reaches beyond the outer bin centres on each side (default 4h), so
        the tails are drawn to where the kernel fades; equal ``extend`` gives equal grids.

    Returns
    -------
    ``(grid, density)``: (G,) each, the bin centres and the extension; the density integrates to
    ``mass.sum()`` over the grid (sum times the bin width).
    """
    edges, mass = np.asarray(edges, float), np.asarray(mass, float)
    step = float(edges[1] - edges[0])
    centres = 0.5 * (edges[:-1] + edges[1:])
    pad = int(np.ceil((4 * h if extend is None else extend) / step))
    grid = np.concatenate([centres[0] - step * np.arange(pad, 0, -1), centres,
                           centres[-1] + step * np.arange(1, pad + 1)])
    padded = np.concatenate([np.zeros(pad), mass, np.zeros(pad)])
    if h <= step:
        return grid, padded / step
    half = int(np.ceil(4 * h / step))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) * step / h) ** 2)
    dens = np.convolve(padded, k / k.sum(), mode="full")[half:half + padded.size] / step
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
