"""End-to-end runs on a real multi-process LocalCluster."""

import copy

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import pipeline
from pipeline.store import parquet_metadata

pytestmark = pytest.mark.cluster

TIMING_COLUMNS = {"seconds"}


@pytest.fixture(scope="module")
def two_worker_run(tmp_path_factory, case_dict):
    d = copy.deepcopy(case_dict)
    d["name"] = "e2e"
    d["scenarios"].update(count=2000, chunks=3, block_size=250)
    d["optimization"]["points"] = 6
    out = tmp_path_factory.mktemp("e2e") / "run"
    path = pipeline.run(d, out=out, workers=2, log=lambda m: None)
    return d, path, pipeline.read_run(path)


def test_every_table_is_written_and_readable(two_worker_run):
    _, path, run = two_worker_run
    for table in ("instruments", "views", "view_checks", "probabilities", "frontier", "stress", "moments",
                  "correlations"):
        df = pd.read_parquet(path / f"{table}.parquet")
        assert len(df) > 0, table
        meta = parquet_metadata(path / f"{table}.parquet")
        assert meta["config"]["name"] == "e2e" and "numpy" in meta["versions"]
    m = run["manifest"]
    assert m["workers"] == 2 and m["rows"]["frontier"] == len(run["frontier"])
    assert m["rows"]["probabilities"] == len(run["probabilities"]) == 2000 * len(run["views"])
    assert not list(path.glob(".tmp-*"))
    assert not (path / ".parts").exists()  # a finished run keeps no parts
    # probabilities: one row group per view set (a filtered read touches one)
    meta = pq.ParquetFile(path / "probabilities.parquet").metadata
    assert meta.num_row_groups == len(run["views"])
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [2000] * len(run["views"])


def test_case_premia_in_outputs(two_worker_run):
    inst = two_worker_run[2]["instruments"].set_index("name")
    assert inst.loc["Put_ATMF", "v"] == pytest.approx(0.059785, abs=1e-6)
    assert inst.loc["Put_ATMF", "v"] == pytest.approx(inst.loc["Call_ATMF", "v"], abs=1e-15)
    assert inst.loc["DM_Equity", "v"] == 1.0


def test_stress_view_attained(two_worker_run):
    run = two_worker_run[2]
    views = run["views"].set_index("view_set")
    assert views.loc["dm_equity_turbulence", "status"] == "ok"
    assert 0 < views.loc["dm_equity_turbulence", "effective_scenarios"] < 1
    checks = run["view_checks"].query("view_set == 'dm_equity_turbulence'").set_index("stat")
    assert checks.loc["vol", "attained"] == pytest.approx(0.20, abs=1e-8)
    assert checks.loc["skew", "attained"] == pytest.approx(-0.1, abs=1e-8)
    assert checks.loc["kurt", "attained"] == pytest.approx(2.75, abs=1e-8)
    assert checks.loc["mean", "attained"] == pytest.approx(checks.loc["mean", "prior_value"], abs=1e-10)
    probs = run["probabilities"]
    for _, g in probs.groupby("view_set"):
        assert g["probability"].sum() == pytest.approx(1.0, abs=1e-12) and (g["probability"] >= 0).all()


def test_sequential_view_set_attained(two_worker_run):
    run = two_worker_run[2]
    views = run["views"].set_index("view_set")
    assert views.loc["dm_equity_crash_sep", "method"] == "H1" and views.loc["dm_equity_crash_sep", "n_stages"] == 3
    checks = run["view_checks"].query("view_set == 'dm_equity_crash_sep'").set_index("stat")
    assert checks.loc["mean", "attained"] == pytest.approx(-0.10, abs=1e-8)
    assert checks.loc["vol", "attained"] == pytest.approx(0.25, abs=1e-8)
    assert checks.loc["corr", "attained"] == pytest.approx(0.9, abs=1e-8)
    assert checks.loc["CVaR", "attained"] >= 0.30 - 1e-6
    # the posterior as written to Parquet is a probability vector
    q = run["probabilities"].query("view_set == 'dm_equity_crash_sep'")["probability"].to_numpy()
    assert q.min() >= 0 and q.sum() == pytest.approx(1.0, abs=1e-12)


def test_frontiers_budget_and_monotone(two_worker_run):
    d, _, run = two_worker_run
    fr = run["frontier"]
    fr = fr[fr["kind"] == "frontier"]
    assert (fr["status"] == "optimal").all()
    assert np.allclose(fr["budget"], 1.0, atol=1e-8)
    for _, g in fr.groupby(["view_set", "risk_measure", "constraint_set"]):
        assert len(g) == d["optimization"]["points"]
        assert (np.diff(g["expected_return"]) > 0).all()
        assert (np.diff(g["risk"]) >= -1e-9).all()


def test_delta_neutral_vega_capped_frontier_and_sharpe(two_worker_run):
    run = two_worker_run[2]
    fr, g = run["frontier"], run["greeks"]
    capped = fr[fr["constraint_set"] == "delta_neutral_vega_capped"]
    assert set(capped["risk_measure"]) == {"CVaR"}
    assert (capped[capped["kind"] != "target"]["status"] == "optimal").all()
    targets = capped[capped["kind"] == "target"]  # every set gets the targets; an unreachable one says why
    assert len(targets) == len(run["views"])  # one 5 % target per view set (prior included)
    for _, t in targets.iterrows():
        assert t["status"] == "optimal" or "not attainable" in t["message"], t["message"]
    solved = capped[capped["status"] == "optimal"]
    dm = g[(g["constraint_set"] == "delta_neutral_vega_capped") & (g["underlying"] == "DM_Equity")]
    dm = dm[dm["portfolio"].isin(solved["portfolio"])]
    assert len(dm) == len(solved)
    # Greek limits hold to the solver's feasibility tolerance (Clarabel: 1e-8)
    assert (dm["delta"].abs() <= 1e-6 + 1e-8).all() and (dm["vega"].abs() <= 0.10 + 1e-8).all()
    sharpe = fr[fr["kind"] == "Sharpe"]
    assert set(sharpe["view_set"]) == {"prior", "dm_equity_turbulence", "dm_equity_crash_sep"}
    # the Sharpe portfolio beats every frontier point of its (view, measure, set) on (E - rf) / risk
    for _, row in sharpe.iterrows():
        same = fr[(fr["view_set"] == row["view_set"]) & (fr["risk_measure"] == row["risk_measure"])
                  & (fr["constraint_set"] == row["constraint_set"]) & (fr["kind"] == "frontier")]
        ratio = row["expected_return"] / row["risk"]
        assert ratio >= (same["expected_return"] / same["risk"]).max() - 1e-7


def test_headline_portfolios_and_stress(two_worker_run):
    run = two_worker_run[2]
    fr = run["frontier"]
    heads = fr[fr["kind"] == "target"]
    assert set(heads["view_set"]) == {"prior", "dm_equity_turbulence", "dm_equity_crash_sep"}
    assert set(heads["risk_measure"]) == {"CVaR", "MV"}
    ok = heads[heads["status"] == "optimal"]
    assert (ok["expected_return"] >= 0.05 - 1e-8).all()
    st = run["stress"]
    n_ok = (fr["status"] == "optimal").sum()
    assert len(st) == 3 * n_ok  # every portfolio under the prior and under each view set
    prior_rows = st[(st["eval_view_set"] == "prior") & (st["portfolio_view_set"] == "prior")]
    merged = prior_rows.merge(fr, on="portfolio")
    assert np.allclose(merged["expected_return_x"], merged["expected_return_y"], atol=1e-12)


def test_same_numbers_with_one_worker_and_other_chunks(two_worker_run, tmp_path):
    d, _, run = two_worker_run
    d2 = copy.deepcopy(d)
    d2["scenarios"]["chunks"] = 5
    path = pipeline.run(d2, out=tmp_path / "one", workers=1, log=lambda m: None)
    other = pipeline.read_run(path)
    for table in ("instruments", "views", "view_checks", "probabilities", "frontier", "stress", "moments",
                  "correlations"):
        a, b = run[table], other[table]
        cols = [c for c in a.columns if c not in TIMING_COLUMNS]
        pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True, obj=table)


def test_cutting_plane_frontiers_identical_for_any_worker_count(case_dict, tmp_path):
    """The CVaR cutting-plane solver keeps state between solves; results must not depend on it."""
    d = copy.deepcopy(case_dict)
    d["scenarios"].update(count=3000, chunks=3, block_size=500)
    d["optimization"].update(points=8, risk_measures=["CVaR"], cvar_method="cuts", portfolios=["Sharpe"])
    d["views"] = d["views"][:1]
    a = pipeline.read_run(pipeline.run(d, out=tmp_path / "a", workers=2, log=lambda m: None))
    d["scenarios"]["chunks"] = 2
    b = pipeline.read_run(pipeline.run(d, out=tmp_path / "b", workers=1, log=lambda m: None))
    for table in ("frontier", "stress", "greeks"):
        cols = [c for c in a[table].columns if c not in TIMING_COLUMNS]
        pd.testing.assert_frame_equal(a[table][cols], b[table][cols], check_exact=True, obj=table)
