"""``report.html`` of a run with the user's own book: the book's sections come first, with their
figures (contributions per instrument, shocks), highlighted breaches, and "what moves" under every
view set; a ``book`` mode run has no frontier sections; a run without a book gains only "what
moves" (no new figure). Run folders as in :mod:`tests.pipeline.test_show_book`."""

from __future__ import annotations

import base64
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

import pipeline
from pipeline.report import write_report
from pipeline.report_context import Context
from pipeline.report_views import _variable_label
from pipeline.show import show_run
from pipeline.show_book import book_contributions, limits_table, shock_table
from tests.conftest import ROOT
from tests.pipeline.test_show_book import VALUE, add_book_tables, small_book_run

pytestmark = pytest.mark.cluster

BOOK_FIGURES = {"book_contributions.png", "shocks.png", "moves.png"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``{"base", "book", "mode", "inf"}`` -> run folders (one real run, three book variants)."""
    root = tmp_path_factory.mktemp("report_book")
    base = small_book_run(root / "base")
    out = {"base": base}
    for name, kw in (("book", {}), ("mode", {"book_mode": True}), ("inf", {"infeasible": True, "value": None})):
        shutil.copytree(base, root / name, ignore=shutil.ignore_patterns(".parts"))
        out[name] = add_book_tables(root / name, **kw)
    return out


def _h2(html: str) -> list[str]:
    return re.findall(r"<h2>([^<]*)</h2>", html)


def _section(html: str, title: str) -> str:
    return html.split(f"<h2>{title}</h2>")[1].split("<h2>")[0]


def _png_ok(path: Path) -> None:
    img = imread(io.BytesIO(path.read_bytes()), format="png")
    assert img.shape[0] > 200 and img.shape[1] > 300 and float(np.var(img[..., :3])) > 1e-4, path.name


def test_book_sections_come_first_with_their_figures_and_numbers(runs):
    path = runs["book"]
    html = write_report(path).read_text(encoding="utf-8")
    heads = _h2(html)
    assert heads[:6] == ["View sets", "Your book", "Your book: contributions per instrument", "Shocks",
                         "Limits and the rebalancing trade", "Headline portfolios"]
    assert "What moves under each view set" in heads and "Efficient frontiers" in heads
    for name in BOOK_FIGURES:
        _png_ok(path / name)
        data = base64.b64encode((path / name).read_bytes()).decode("ascii")
        assert data in html  # embedded
    run = pipeline.read_run(path)
    st = run["stress"]
    b = st[(st["kind"] == "book") & (st["eval_view_set"] == "equity_selloff")].iloc[0]
    book = _section(html, "Your book")
    assert f"<td>{100 * b['CVaR']:.2f}%</td>" in book and f"<td>{b['CVaR'] * VALUE:,.0f}</td>" in book
    assert html.count("<table") == html.count("<div class='scroll'><table")  # every table scrolls
    lim = _section(html, "Limits and the rebalancing trade")
    n_breached = int(run["limits"]["breached"].sum())  # book and rebalanced rows
    assert lim.count("<td class='breach'>BREACHED</td>") == n_breached
    assert "Rebalance optimal" in lim and "<h3>The trade</h3>" in lim


def test_book_mode_report_has_no_frontier_sections(runs):
    path = runs["mode"]
    html = write_report(path).read_text(encoding="utf-8")
    heads = _h2(html)
    for h in ("Your book", "Shocks", "Limits and the rebalancing trade", "View sets: prior vs posterior",
              "What moves under each view set"):
        assert h in heads
    for h in ("Headline portfolios", "Efficient frontiers", "Exposure composition", "Portfolio Greeks"):
        assert not any(x.startswith(h) for x in heads), h
    assert not any(x.startswith("Stress matrix") for x in heads)
    pngs = {p.name for p in path.glob("*.png")}
    assert BOOK_FIGURES <= pngs and not any(p.startswith(("frontier_", "exposures_", "stress_", "greeks_"))
                                            for p in pngs)
    assert "book run (no frontiers)" in html


def test_infeasible_rebalance_is_a_note_naming_the_conflicts(runs):
    html = write_report(runs["inf"]).read_text(encoding="utf-8")
    lim = _section(html, "Limits and the rebalancing trade")
    assert "<p class='note'>Rebalance infeasible" in lim and "Conflicting limits: vega[SPX] &lt;=, upperCVaR." in lim
    assert lim.count("<td class='breach'>CONFLICT</td>") == 2
    assert "<h3>The trade</h3>" not in lim


def test_run_without_a_book_gains_only_what_moves(runs):
    path = runs["base"]
    html = write_report(path).read_text(encoding="utf-8")
    heads = _h2(html)
    assert not {"Your book", "Shocks", "Limits and the rebalancing trade"} & set(heads)
    assert not BOOK_FIGURES & {p.name for p in path.glob("*.png")}
    moves = _section(html, "What moves under each view set")
    assert "<h3>equity_selloff</h3>" in moves and "<h3>vol_crush</h3>" in moves
    mo = pipeline.read_run(path)["moments"]
    spx = mo[(mo["view_set"] == "equity_selloff") & (mo["variable"] == "SPX")].iloc[0]
    z = (spx["mean"] - spx["prior_mean"]) / spx["prior_vol"]
    assert f"<td>{z:+.2f}</td>" in moves


@pytest.fixture(scope="module")
def real_book_run(tmp_path_factory):
    """``stressfrontier book configs/book_risk.yaml`` at 2,000 scenarios: the engine's own tables."""
    out = tmp_path_factory.mktemp("real_book") / "run"
    return pipeline.run(ROOT / "configs" / "book_risk.yaml", out=out, workers=1, log=lambda m: None,
                        overrides={"scenarios.count": 2000, "scenarios.block_size": 1000}, book_only=True)


def test_book_mode_run_of_the_example_config_shows_and_reports_its_numbers(real_book_run):
    run = pipeline.read_run(real_book_run)
    buf = io.StringIO()
    show_run(real_book_run, stream=buf, width=100)
    text = buf.getvalue()
    for h in ("book run (no frontiers)", "Your book", "Shocks:", "Limits on the book", "Rebalance optimal",
              "What moves under each view set", "reverse_stress:"):
        assert h in text, h
    assert "Frontier:" not in text and "Headline portfolios" not in text
    st = run["stress"]
    for vs in ("prior", "reverse_stress"):  # the engine's Euler contributions add up to the book's CVaR
        cvar = st[(st["portfolio"] == "book") & (st["eval_view_set"] == vs)]["CVaR"].iloc[0]
        assert book_contributions(run, vs)["CVaR contr."].iloc[-1] == f"{100 * cvar:.3f}%"
    sh = run["shocks"]
    book = sh[sh["portfolio"] == "book"].set_index("shock")["pnl"]
    assert list(shock_table(run)["shock"]) == list(book.sort_values(kind="stable").index)
    flags = limits_table(run)["flag"]
    assert (flags == "BREACHED").sum() == run["manifest"]["status_counts"]["limits_breached"] > 0
    assert (limits_table(run)["after flag"] == "ok").all()  # the trade restores every limit
    html = write_report(real_book_run).read_text(encoding="utf-8")
    heads = _h2(html)
    assert "Efficient frontiers" not in heads and "Headline portfolios" not in heads
    assert {"Your book", "Shocks", "Limits and the rebalancing trade", "What moves under each view set"} <= set(heads)
    for name in BOOK_FIGURES | {"views_reverse_stress.png"}:  # the reverse stress: a view on the book
        _png_ok(real_book_run / name)
    ctx = Context(real_book_run, run, 50)
    assert _variable_label(ctx, "book") == "book P&L (% of portfolio value)"
    assert _variable_label(ctx, "SPX_vol").endswith("relative change of ATM vol (%)")
