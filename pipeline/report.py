"""HTML report of a run folder: PNG charts next to the Parquet and a self-contained ``report.html``.

``write_report(run_dir)`` renders, with matplotlib's Agg canvas (headless; the global backend and
pyplot state are not touched):

``frontier_<rm>.png``
    the efficient frontiers of one risk measure: a line per (view set, constraint set) (colour:
    view set; solid: base constraints, dashed/dotted: each extra constraint set), headline targets
    as stars and single portfolios (Sharpe, Utility, MaxRet) as their own markers;
``exposures_<rm>.png`` (``exposures_<rm>_<set>.png`` per extra constraint set)
    exposure composition along each frontier (one row per view set, each with its own return
    axis), a panel per instrument kind (options hatched), positive and negative parts stacked
    separately;
``stress_<rm>.png`` (``stress_<rm>_<set>.png``)
    the stress matrix of the prior frontier: expected return and CVaR of every prior-frontier and
    headline portfolio under every view set (annotated heat maps);
``views_<view set>.png``
    per view set: prior vs posterior density of every viewed variable (from
    ``marginals.parquet``, over every scenario) and the posterior/prior probability ratios sorted,
    with the relative entropy and effective number of scenarios in the title;
``greeks_<rm>.png`` (``greeks_<rm>_<set>.png``)
    portfolio Greeks per underlying along each frontier (needs ``greeks.parquet``);
``book_contributions.png``, ``shocks.png``, ``moves.png`` (runs with ``book:``)
    the user's book: contributions per instrument under every view set, P&L of every shock, and
    what moves (drivers' mean and vol) under every view set.

With a book, its sections (:mod:`pipeline.report_book`: P&L, Greeks, contributions, shocks,
limits and the rebalancing trade) come right after the view sets; "What moves under each view
set" follows the view-set figures in every run. A ``stressfrontier book`` run (no frontiers)
leaves out the headline portfolios and the frontier, exposure, stress-matrix and Greeks sections.

Figures whose inputs are missing are skipped and the HTML says why. ``report.html`` embeds every
PNG as base64, so it can be mailed or archived on its own.

The figures are drawn by :mod:`pipeline.report_figures` (frontiers, exposures, stress),
:mod:`pipeline.report_views` and :mod:`pipeline.report_greeks`; the HTML tables come from
:mod:`pipeline.report_tables`.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from pathlib import Path

from pipeline.report_book import book_sections, section_moves
from pipeline.report_context import Context, Section, view_set_colors
from pipeline.report_figures import section_exposures, section_frontiers, section_stress
from pipeline.report_greeks import section_greeks
from pipeline.report_tables import headline_html, views_html
from pipeline.report_views import section_views
from pipeline.show_book import is_book_mode

__all__ = ["write_report", "view_set_colors"]


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
    ctx = Context(root, run, dpi)
    book = book_sections(ctx)
    if is_book_mode(run):  # `stressfrontier book`: no frontiers, so no frontier sections
        sections = [section_views(ctx), section_moves(ctx)]
    else:
        sections = [section_frontiers(ctx), section_exposures(ctx), section_stress(ctx),
                    section_views(ctx), section_moves(ctx), section_greeks(ctx)]
    path = root / "report.html"
    from pipeline.store import atomic_write_bytes

    atomic_write_bytes(path, _html(ctx, sections, book, book_mode=is_book_mode(run)).encode("utf-8"))
    return path


# -- HTML ------------------------------------------------------------------------------------
_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:2em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
table.exposures{font-size:.78em}table.exposures th{overflow-wrap:anywhere;min-width:3.2em}
table.headline td:last-child{text-align:left;font-size:.92em}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}.note{color:#8a5a00;background:#fff6e0;padding:.4em .7em;
border-left:3px solid #e0a800;margin:.5em 0;font-size:.9em}
pre{background:#f7f7f7;padding:.6em;font-size:.85em;white-space:pre-wrap}
.meta{color:#555;font-size:.9em}
td.breach{background:#fde0dc;color:#a40000;font-weight:600}
"""


def _html(ctx: Context, sections: list[Section], book: list[Section] | None = None, book_mode: bool = False) -> str:
    """The page: header, view sets, the book's sections, the headline portfolios (not in a
    ``book`` run), then ``sections``."""
    from pipeline.progress import final_summary

    man = ctx.manifest
    name = man.get("name", ctx.cfg.get("name", "run"))
    meta = [f"seed {man.get('seed', '?')}", f"{ctx.n_scenarios:,} scenarios",
            f"{len(ctx.kinds)} instruments", f"view sets: {', '.join(ctx.view_sets)}",
            f"risk measures: {', '.join(ctx.risk_measures)}",
            f"constraint sets: {', '.join(ctx.constraint_sets)}"]
    if book_mode:
        meta[-2:] = ["book run (no frontiers)"]
    if man.get("finished_utc"):
        meta.append(f"finished {man['finished_utc']}")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>stressfrontier report: {html.escape(str(name))}</title><style>{_CSS}</style></head><body>",
        f"<h1>stressfrontier report: {html.escape(str(name))}</h1>",
        f"<p class='meta'>{html.escape(' · '.join(meta))}<br>run folder: "
        f"<code>{html.escape(str(ctx.root.resolve()))}</code></p>",
        f"<pre>{html.escape(final_summary(ctx.run, out_dir=ctx.root.resolve()))}</pre>",
        "<h2>View sets</h2>", views_html(ctx),
    ]
    for sec in book or []:
        parts.extend(_section_html(ctx, sec))
    if not book_mode:
        parts += ["<h2>Headline portfolios</h2>", headline_html(ctx)]
    for sec in sections:
        parts.extend(_section_html(ctx, sec))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<p class='meta'>Report generated {stamp}.</p></body></html>")
    return "\n".join(parts)


def _section_html(ctx: Context, sec: Section) -> list[str]:
    """One section: its heading, notes, embedded figures (base64 PNG) and HTML blocks."""
    parts = [f"<h2>{html.escape(sec.title)}</h2>"]
    for note in sec.notes:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    for fname, caption in sec.figures:
        data = base64.b64encode((ctx.root / fname).read_bytes()).decode("ascii")
        parts.append(f"<figure><img alt='{html.escape(fname)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{html.escape(fname)}: {html.escape(caption)}</figcaption></figure>")
    parts.extend(sec.html_blocks)
    return parts
