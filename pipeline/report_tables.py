"""The report's HTML tables: view-set diagnostics, headline portfolios and view checks.

Each function returns an HTML fragment (``<table>`` from pandas ``to_html`` inside a
``<div class='scroll'>`` that scrolls sideways instead of overflowing the page, or a note when
the table is missing) for :mod:`pipeline.report`.
"""

from __future__ import annotations

import re

import pandas as pd

from pipeline.report_context import Context
from pipeline.show import MIN_EXPOSURE, headline_label, headline_order, pct
from tasks.vocabulary import OK_STATUSES

__all__ = ["views_html", "headline_html", "checks_html", "html_table"]


def html_table(df: pd.DataFrame, cls: str = "") -> str:
    """``df`` as an HTML table inside a horizontally scrolling box (never wider than the page)."""
    html = df.to_html(index=False, escape=True, border=0, classes=cls or None)
    if cls == "exposures":  # long instrument names break after an underscore, not anywhere
        html = re.sub(r"<th>([^<]*)</th>", lambda m: "<th>" + m[1].replace("_", "_<wbr>") + "</th>", html)
    return f"<div class='scroll'>{html}</div>"


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
    return html_table(df)


def headline_html(ctx: Context) -> str:
    """Two tables of the headline portfolios (targets and single portfolios of every view set,
    measure and constraint set): their return, risk and status, then their exposures with one
    column per instrument that has |e| >= 0.5 % in one of them."""
    fr = ctx.frontier
    if fr.empty or (fr["kind"] != "frontier").sum() == 0:
        return ("<p class='note'>No headline portfolios (optimization.targets and "
                "optimization.portfolios are empty).</p>")
    tg = headline_order(ctx.run, fr[fr["kind"] != "frontier"])
    labels = [headline_label(r) for r in tg.itertuples()]
    df = pd.DataFrame({
        "portfolio": labels, "status": tg["status"].astype(str).values,
        "E[return]": tg["expected_return"].map(pct).values, "risk": tg["risk"].map(pct).values,
        "vᵀe": tg["budget"].map(pct).values, "gross Σ|e|": tg["gross_exposure"].map(pct).values,
        "message": tg["message"].fillna("").astype(str).values if "message" in tg else "",
    })
    out = html_table(df, "headline")
    ok = tg["status"].isin(OK_STATUSES).to_numpy()
    ex = tg.loc[ok, ctx.ecols]
    keep = [c for c in ctx.ecols if len(ex) and ex[c].abs().max() >= MIN_EXPOSURE]
    if keep:
        exp = pd.DataFrame({"portfolio": [lb for lb, k in zip(labels, ok) if k]})
        for c in keep:
            exp[c[2:]] = ex[c].map(lambda x: pct(x, 1)).values
        out += ("<p class='meta'>Exposures of the solved headline portfolios (% of portfolio value; "
                "options in underlying notional; instruments with |e| &ge; 0.5 % in one of them):</p>"
                + html_table(exp, "exposures"))
    return out


def checks_html(checks: pd.DataFrame) -> str:
    df = checks[["view_set", "view", "target", "prior_value", "attained", "violation"]].copy()
    for c in ("target", "prior_value", "attained"):
        df[c] = df[c].map(lambda x: f"{x:.4f}")
    df["violation"] = df["violation"].map(lambda x: f"{x:.1e}")
    return "<h3>View checks</h3>" + html_table(df)
