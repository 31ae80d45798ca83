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
from pipeline.report_context import Context
from pipeline.report_figures import _frontier_lines, exposure_panels
from pipeline.show import show_run
from tests.conftest import ROOT

pytestmark = pytest.mark.cluster

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SET = "delta_neutral_vega_capped"
EXPECTED_FIGURES = {"frontier_CVaR.png", "frontier_MV.png", "exposures_CVaR.png", "exposures_MV.png",
                    "stress_CVaR.png", "stress_MV.png", "views_dm_equity_turbulence.png",
                    "views_dm_equity_crash_sep.png", "greeks_CVaR.png", "greeks_MV.png",
                    f"exposures_CVaR_{SET}.png", f"stress_CVaR_{SET}.png", f"greeks_CVaR_{SET}.png"}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The laptop config at 1,000 scenarios and 4 frontier points, as ``make run`` runs it
    (no scenarios.parquet)."""
    d = safe_load((ROOT / "configs" / "laptop.yaml").read_text())
    d = copy.deepcopy(d)
    d["scenarios"].update(count=1000, block_size=250)
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
    assert "Density panels skipped" not in html  # the default run writes what the densities need
    assert "no density for" not in html
    re_ = run["views"].set_index("view_set").loc["dm_equity_turbulence", "relative_entropy"]
    assert f"{re_:.4f}" in html


def test_report_skips_missing_tables_and_says_so(small_run, tmp_path):
    path, _ = small_run
    run_dir = _copy_run(path, tmp_path / "run", drop=("marginals.parquet", "greeks.parquet"))
    html = write_report(run_dir).read_text(encoding="utf-8")
    assert "greeks.parquet is not in this run folder" in html
    assert "Density panels skipped: marginals.parquet is not in this run folder" in html
    assert not list(run_dir.glob("greeks_*.png"))
    _assert_valid_png((run_dir / "views_dm_equity_turbulence.png").read_bytes(), "views")
    n_greeks = len([f for f in EXPECTED_FIGURES if f.startswith("greeks_")])
    assert len(re.findall("data:image/png;base64,", html)) == len(EXPECTED_FIGURES) - n_greeks


def test_default_run_writes_marginals_not_scenarios(small_run):
    """The densities come from marginals.parquet (every viewed variable under every view set),
    cross-checked against the view checks and the instruments table."""
    path, run = small_run
    assert not (path / "scenarios.parquet").exists()
    m = run["marginals"]
    assert set(m["view_set"]) == {"prior", "dm_equity_turbulence", "dm_equity_crash_sep"}
    assert list(dict.fromkeys(m["variable"])) == ["DM_Equity", "EM_Equity"]
    per = m.groupby(["view_set", "variable"])
    assert np.allclose(per["probability"].sum(), 1.0, atol=1e-12)
    ck = run["view_checks"].set_index(["view_set", "view"])
    mean = m.drop_duplicates(["view_set", "variable"]).set_index(["view_set", "variable"])["mean"]
    assert mean["dm_equity_crash_sep", "DM_Equity"] == pytest.approx(
        ck.loc[("dm_equity_crash_sep", "mean(DM_Equity) = -0.1"), "attained"], abs=1e-9)
    inst = run["instruments"].set_index("name")  # the DM_Equity cash P&L is its driver's return
    assert mean["prior", "DM_Equity"] == pytest.approx(inst.loc["DM_Equity", "prior_mean"], abs=1e-12)


def test_frontier_chart_draws_each_constraint_set_as_its_own_monotone_line(small_run):
    from matplotlib.figure import Figure

    path, run = small_run
    ctx = Context(path, run, 80)
    assert ctx.constraint_sets == ["base", SET]
    ax = Figure().add_subplot()
    handles, kinds, plotted = _frontier_lines(ctx, ax, "CVaR")
    labels = [h.get_label() for h in handles]
    assert labels == ["prior", "dm_equity_turbulence", "dm_equity_crash_sep",
                      f"prior @ {SET}", f"dm_equity_turbulence @ {SET}", f"dm_equity_crash_sep @ {SET}"]
    assert plotted and {"target", "Sharpe"} <= kinds
    assert len(ax.lines) == 6
    for line in ax.lines:  # risk rises with the return floor along every line: no zig-zag
        x, y = line.get_xdata(), line.get_ydata()
        assert np.all(np.diff(y) >= -1e-9) and np.all(np.diff(x) >= -1e-6), line
    assert [ln.get_linestyle() for ln in ax.lines] == ["-"] * 3 + ["--"] * 3


def test_exposure_panels_are_named_by_kind():
    kinds = {"SPX": "equity", "UST": "bond", "F": "future", "VS": "variance_swap", "P": "option", "C": "cash"}
    assert exposure_panels(kinds, ["C", "P"]) == [("cash", ["C"]), ("options", ["P"])]
    assert exposure_panels(kinds, ["SPX", "F", "P"]) == [("equities", ["SPX"]), ("futures", ["F"]),
                                                         ("options", ["P"])]
    assert exposure_panels(kinds, ["SPX", "UST", "F", "VS", "P"]) == [
        ("equities, bonds, futures, variance swaps", ["SPX", "UST", "F", "VS"]), ("options", ["P"])]


def test_headline_html_lists_targets_and_sharpe_of_every_set_in_scrolling_tables(small_run, report):
    _, run = small_run
    html = report.read_text(encoding="utf-8")
    head = html.split("<h2>Headline portfolios</h2>")[1].split("<h2>")[0]
    for label in ("prior/CVaR @5.0%", "prior/CVaR Sharpe", f"prior/CVaR@{SET} @5.0%", f"prior/CVaR@{SET} Sharpe",
                  "dm_equity_crash_sep/MV Sharpe"):
        assert f"<td>{label}</td>" in head, label
    assert "headline -" not in html and "@-" not in head
    n_tables = html.count("<table")
    assert n_tables == html.count("<div class='scroll'><table")  # no table can push the page wider
    # the metrics table is narrow; exposures are a table of their own
    first = head.split("</table>")[0]
    assert first.count("<th>") <= 8


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
    assert not any(ln.rstrip().endswith("\\") for ln in text.splitlines())


def test_show_separates_constraint_sets_and_labels_sharpe(small_run):
    path, run = small_run
    buf = io.StringIO()
    show_run(path, stream=buf, width=100)
    text = buf.getvalue()
    assert "target0" not in text and "@-" not in text
    base = text.split("Frontier: prior / CVaR 90% of P&L minus its mean\n")[1].split("\nFrontier:")[0]
    other = text.split(f"Frontier: prior / CVaR 90% of P&L minus its mean @ {SET}\n")[1].split("\nFrontier:")[0]
    for block in (base, other):  # one p0 per table; the Sharpe portfolio is called Sharpe
        first_col = [ln.split()[0] for ln in block.splitlines()[1:] if ln.strip()]
        assert first_col.count("p0") == 1 and "Sharpe" in first_col
    fr = run["frontier"].set_index("portfolio")
    sharpe = fr.loc[f"prior/CVaR@{SET}/Sharpe0"]
    row = next(ln for ln in other.splitlines() if ln.split() and ln.split()[0] == "Sharpe")
    assert f"{100 * sharpe['expected_return']:.2f}%" in row
    assert f"prior / CVaR @ {SET} frontier:" in text
    head = text.split("Headline portfolios")[1]
    for label in ("prior/CVaR Sharpe", f"prior/CVaR@{SET} @5.0%", f"dm_equity_crash_sep/CVaR@{SET} Sharpe"):
        assert label in head, label


def test_extra_constraint_sets_get_their_targets(small_run):
    _, run = small_run
    fr = run["frontier"]
    tg = fr[(fr["kind"] == "target") & (fr["constraint_set"] == SET)]
    assert sorted(tg["view_set"]) == sorted(["prior", "dm_equity_turbulence", "dm_equity_crash_sep"])
    for r in tg.itertuples():
        assert r.target == 0.05
        if r.status == "optimal":
            assert r.expected_return >= 0.05 - 1e-7
        else:
            assert "not attainable" in r.message or "no portfolio" in r.message, r.message
    assert (tg["status"] == "optimal").any()  # 5 % is reachable there


def test_readme_outputs_snippets_work_on_the_default_run(small_run):
    """The README's Outputs snippets need no scenarios.parquet, and its DuckDB query gives one row
    per frontier point (checked with pandas: DuckDB is not a dependency)."""
    path, run = small_run
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Outputs"):text.index("## Python API")]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    ns: dict = {}
    exec(compile(code.replace("runs/laptop", str(path)), "README.md", "exec"), ns)  # noqa: S102
    crash = ns["crash"]
    assert crash["dm_equity_crash_sep"] > crash["prior"] > 0
    sql = re.findall(r"```sql\n(.*?)```", section, flags=re.S)[0]
    cols = [c.strip() for c in re.search(r"SELECT (.*?)\n", sql)[1].split(",")]
    n_order = len(re.search(r"ORDER BY ([\d, ]+);", sql)[1].split(","))
    fr = run["frontier"].query("kind == 'frontier'")
    keys = cols[:n_order]
    assert "constraint_set" in keys and not fr.duplicated(keys).any()


def test_final_summary_of_the_run_folder(small_run):
    path, run = small_run
    text = final_summary(path)
    n = len(run["frontier"])
    n_bad = int((run["frontier"]["status"] == "infeasible").sum())  # an unattainable target at most
    assert n_bad <= 1
    assert f"portfolios: {n - n_bad} of {n} optimal, {n_bad} infeasible" in text
    assert "views: 3 of 3 solved, 0 infeasible" in text
    assert f"outputs: {path}" in text and "wall time:" in text
