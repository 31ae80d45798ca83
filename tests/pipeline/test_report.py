"""HTML report, terminal tables and closing summary of a small real run (built once per module)."""

import base64
import copy
import io
import re
import shutil

import numpy as np
import pytest
from matplotlib.image import imread

import pipeline
from pipeline.config import safe_load
from pipeline.progress import final_summary
from pipeline.report import write_report
from pipeline.report_views import _smooth_density
from pipeline.show import show_run
from tests.conftest import ROOT

pytestmark = pytest.mark.cluster

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPECTED_FIGURES = {"frontier_CVaR.png", "frontier_MV.png", "exposures_CVaR.png", "exposures_MV.png",
                    "stress_CVaR.png", "stress_MV.png", "views_dm_equity_turbulence.png",
                    "views_dm_equity_crash_sep.png", "greeks_CVaR.png", "greeks_MV.png"}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The laptop config at 1,000 scenarios and 4 frontier points, with scenarios.parquet."""
    d = safe_load((ROOT / "configs" / "laptop.yaml").read_text())
    d = copy.deepcopy(d)
    d["scenarios"].update(count=1000, block_size=250, write=True)
    d["optimization"]["points"] = 4
    out = tmp_path_factory.mktemp("report") / "run"
    path = pipeline.run(d, out=out, workers=1, log=lambda m: None)
    return path, pipeline.read_run(path)


@pytest.fixture(scope="module")
def report(small_run):
    path, _ = small_run
    return write_report(path)


def _copy_run(src, dst, drop=()):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".parts", "*.png", "report.html", *drop))
    return dst


def _assert_valid_png(data: bytes, name: str) -> None:
    assert len(data) > 1000 and data[:8] == PNG_SIGNATURE, name
    img = imread(io.BytesIO(data), format="png")
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300, name
    assert float(np.var(img[..., :3])) > 1e-4, f"{name} is blank"


def test_report_writes_non_blank_pngs_and_embeds_them(small_run, report):
    path, _ = small_run
    assert report == path / "report.html" and report.is_file()
    pngs = {p.name for p in path.glob("*.png")}
    assert pngs == EXPECTED_FIGURES
    for name in pngs:
        _assert_valid_png((path / name).read_bytes(), name)
    html = report.read_text(encoding="utf-8")
    embedded = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(embedded) == len(EXPECTED_FIGURES)
    assert {base64.b64decode(e) for e in embedded} == {(path / n).read_bytes() for n in pngs}
    assert "<img src='http" not in html and 'src="http' not in html  # self-contained


def test_report_html_has_sections_tables_and_skip_notes(small_run, report):
    _, run = small_run
    html = report.read_text(encoding="utf-8")
    for heading in ("Efficient frontiers", "Exposure composition", "Stress matrix",
                    "View sets: prior vs posterior", "Portfolio Greeks"):
        assert f"<h2>{heading}" in html
    assert "greeks.parquet is not in this run folder" not in html  # the pipeline writes Greeks
    assert "scenarios.parquet was not written" not in html    # scenarios written: densities drawn
    re_ = run["views"].set_index("view_set").loc["dm_equity_turbulence", "relative_entropy"]
    assert f"{re_:.4f}" in html


def test_report_skips_missing_tables_and_says_so(small_run, tmp_path):
    path, _ = small_run
    run_dir = _copy_run(path, tmp_path / "run", drop=("scenarios.parquet", "greeks.parquet"))
    html = write_report(run_dir).read_text(encoding="utf-8")
    assert "greeks.parquet is not in this run folder" in html
    assert "Density panels skipped: scenarios.parquet was not written" in html
    assert not list(run_dir.glob("greeks_*.png"))
    _assert_valid_png((run_dir / "views_dm_equity_turbulence.png").read_bytes(), "views")
    assert len(re.findall("data:image/png;base64,", html)) == len(EXPECTED_FIGURES) - 2


def test_smooth_density_integrates_to_one_and_follows_the_weights():
    x = np.linspace(-1, 1, 2001)
    w = np.where(x > 0, 3.0, 1.0)
    grid, f = _smooth_density(x, w)
    step = grid[1] - grid[0]
    assert f.sum() * step == pytest.approx(1.0, abs=1e-3)
    ratio = f[(grid > 0.3) & (grid < 0.9)].mean() / f[(grid < -0.3) & (grid > -0.9)].mean()
    assert ratio == pytest.approx(3.0, rel=0.05)  # weights 3 : 1 on the two halves


def test_show_run_prints_headings_and_numbers_from_the_parquet(small_run):
    path, run = small_run
    buf = io.StringIO()
    show_run(path, stream=buf, width=100)
    text = buf.getvalue()
    for heading in ("View sets (Entropy Pooling diagnostics)", "View checks",
                    "Frontier: prior / CVaR 90% of P&L minus its mean",
                    "Frontier: dm_equity_turbulence / volatility of P&L (MV)",
                    "Headline portfolios", "Main exposures",
                    "Stress matrix: prior-frontier portfolios under every view set"):
        assert heading in text, heading
    fr = run["frontier"].set_index("portfolio")
    head = fr.loc["prior/CVaR/target0"]
    row = next(ln for ln in text.splitlines() if ln.strip().startswith("prior/CVaR @5.0%"))
    assert f"{100 * head['expected_return']:.2f}%" in row and f"{100 * head['risk']:.2f}%" in row
    p2 = fr.loc["dm_equity_turbulence/MV/frontier2"]
    assert re.search(rf"\bp2\s+optimal\s+{100 * p2['expected_return']:.2f}%\s+{100 * p2['risk']:.2f}%",
                     text)
    st = run["stress"]
    cvar = st[(st["portfolio"] == "prior/CVaR/frontier3")
              & (st["eval_view_set"] == "dm_equity_turbulence")]["CVaR"].iloc[0]
    stress_block = text.split("prior / CVaR frontier:")[1]
    p3 = next(ln for ln in stress_block.splitlines() if ln.startswith("p3 "))
    assert f"{100 * cvar:.2f}%" in p3
    views = run["views"].set_index("view_set").loc["dm_equity_turbulence"]
    assert f"{views['relative_entropy']:.4f}" in text
    assert f"{100 * views['effective_scenarios']:.1f}%" in text
    assert all(len(ln) <= 100 for ln in text.splitlines() if not ln.startswith("folder:"))


def test_final_summary_of_the_run_folder(small_run):
    path, run = small_run
    text = final_summary(path)
    n = len(run["frontier"])
    assert f"portfolios: {n} of {n} optimal, 0 infeasible" in text
    assert "views: 3 of 3 solved, 0 infeasible" in text
    assert f"outputs: {path}" in text and "wall time:" in text
