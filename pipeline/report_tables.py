"""The report's HTML tables: view-set diagnostics, headline portfolios and view checks.

Each function returns an HTML fragment (``<table>`` from pandas ``to_html``, or a note when the
table is missing) for :mod:`pipeline.report`.
"""

from __future__ import annotations

import pandas as pd

from pipeline.report_context import Context
from pipeline.show import headline_label, pct

__all__ = ["views_html", "headline_html", "checks_html"]


def views_html(ctx: Context) -> str:
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


def headline_html(ctx: Context) -> str:
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


def checks_html(checks: pd.DataFrame) -> str:
    df = checks[["view_set", "view", "target", "prior_value", "attained", "violation"]].copy()
    for c in ("target", "prior_value", "attained"):
        df[c] = df[c].map(lambda x: f"{x:.4f}")
    df["violation"] = df["violation"].map(lambda x: f"{x:.1e}")
    return "<h3>View checks</h3>" + df.to_html(index=False, escape=True, border=0)
