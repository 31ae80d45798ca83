"""moments.parquet and correlations.parquet: every view variable's posterior moments beside the
prior ones, and the drivers' correlations, per view set; built on the workers, checked against a
direct numpy computation, the prior, and the view checks' attained values."""

import copy

import numpy as np
import pandas as pd
import pytest

import pipeline
from pipeline import stages
from pipeline.config import parse_config
from pipeline.resolve import build_plan
from pipeline.stages import ScenarioSet, ViewOutcome
from pipeline.tables import CORRELATION_COLUMNS, MOMENT_COLUMNS, moment_tables


def _small(case_dict, tmp_path):
    d = copy.deepcopy(case_dict)
    d["name"] = "moments"
    d["scenarios"].update(count=2000, chunks=2, block_size=500)
    d["optimization"]["points"] = 2
    d["output"] = {"dir": str(tmp_path / "out")}
    return d


def _in_process(d, tmp_path):
    """The run's scenario set and every view outcome, computed with the stage functions."""
    plan = build_plan(parse_config(copy.deepcopy(d), base_dir=str(tmp_path)))
    sim = plan.scenarios
    transform = None
    if sim.moment_matching:  # as pipeline.graph: per-chunk statistics, reduced in chunk order
        stats = [stages.chunk_statistics(sim, list(g)) for g in sim.block_groups]
        transform = stages.moment_transform(sim, *stats)
    chunks = [stages.chunk_scenarios(sim, plan.book, list(g), transform) for g in sim.block_groups]
    scen = stages.assemble_scenarios(plan.book, *chunks)
    outcomes = [stages.prior_outcome(scen)] + [stages.solve_views(scen, vs) for vs in plan.view_sets]
    return plan, scen, outcomes


@pytest.fixture(scope="module")
def case(case_dict, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("moments")
    d = _small(case_dict, tmp)
    plan, scen, outcomes = _in_process(d, tmp)
    tables = [moment_tables(scen, o) for o in outcomes]
    return d, plan, scen, outcomes, tables


def _direct(x, w):
    """Mean, std, skew, non-excess kurtosis of x under weights w, with numpy's weighted average."""
    m = np.average(x, weights=w)
    var = np.average((x - m) ** 2, weights=w)
    return (m, np.sqrt(var), np.average((x - m) ** 3, weights=w) / var**1.5,
            np.average((x - m) ** 4, weights=w) / var**2)


def test_moments_equal_a_direct_numpy_computation(case):
    _, _, scen, outcomes, tables = case
    for o, t in zip(outcomes, tables):
        m = t["moments"]
        assert list(m.columns) == MOMENT_COLUMNS
        assert m["variable"].tolist() == scen.variables  # X's column order
        assert (m["view_set"] == o.name).all() and (m["status"] == "ok").all()
        D = len(scen.drivers)
        assert m["kind"].tolist() == ["driver"] * D + ["instrument"] * (len(scen.variables) - D)
        for j, name in enumerate(scen.variables):
            row = m.iloc[j]
            got = row[["mean", "vol", "skew", "kurt"]].to_numpy(dtype=float)
            np.testing.assert_allclose(got, _direct(scen.X[:, j], o.q), rtol=1e-9, atol=1e-14, err_msg=name)
            prior = row[["prior_mean", "prior_vol", "prior_skew", "prior_kurt"]].to_numpy(dtype=float)
            np.testing.assert_allclose(prior, _direct(scen.X[:, j], scen.p), rtol=1e-9, atol=1e-14, err_msg=name)


def test_driver_returns_are_the_simple_returns_of_the_drivers(case):
    """The driver variables are simple returns (rates: changes): their prior mean is that of
    expm1 of the log-return draws, not of the draws themselves."""
    _, plan, scen, _, tables = case
    m = tables[0]["moments"].set_index("variable")
    kinds = dict(zip(plan.book.drivers, plan.book.driver_kinds))
    log = [d for d in scen.drivers if kinds[d] != "rate"]
    assert log
    for d in log:
        x = scen.X[:, scen.variables.index(d)]
        assert (x > -1).all()
        assert m.loc[d, "prior_mean"] == pytest.approx(float(scen.p @ x), rel=1e-12, abs=1e-15)


def test_correlations_equal_numpy_weighted_correlations(case):
    _, _, scen, outcomes, tables = case
    D = len(scen.drivers)
    pairs = [(scen.drivers[i], scen.drivers[k]) for i in range(D) for k in range(i + 1, D)]
    prior_c = np.cov(scen.X[:, :D].T, aweights=scen.p, bias=True)
    prior_c = prior_c / np.sqrt(np.outer(np.diag(prior_c), np.diag(prior_c)))
    for o, t in zip(outcomes, tables):
        c = t["correlations"]
        assert list(c.columns) == CORRELATION_COLUMNS
        assert list(zip(c["variable"], c["other"])) == pairs
        cov = np.cov(scen.X[:, :D].T, aweights=o.q, bias=True)
        corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
        iu = np.triu_indices(D, 1)
        np.testing.assert_allclose(c["corr"].to_numpy(), corr[iu], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(c["prior_corr"].to_numpy(), prior_c[iu], rtol=1e-9, atol=1e-12)


def test_prior_rows_are_the_prior(case):
    _, _, _, outcomes, tables = case
    assert outcomes[0].name == "prior"
    m, c = tables[0]["moments"], tables[0]["correlations"]
    for s in ("mean", "vol", "skew", "kurt"):
        assert (m[s] == m[f"prior_{s}"]).all()
    assert (c["corr"] == c["prior_corr"]).all()
    for t in tables[1:]:  # every view set carries the same prior beside its posterior
        pd.testing.assert_frame_equal(t["moments"].filter(like="prior_"), m.filter(like="prior_"))
        pd.testing.assert_series_equal(t["correlations"]["prior_corr"], c["prior_corr"])


def test_moments_match_the_view_checks(case):
    """A view set's moments are what its views asked for (the attained values of view_checks)."""
    _, _, _, outcomes, tables = case
    by_name = {o.name: (o, t) for o, t in zip(outcomes, tables)}
    o, t = by_name["dm_equity_turbulence"]
    row = t["moments"].set_index("variable").loc["DM_Equity"]
    checks = {c["stat"]: c for c in o.checks}
    for s, want in (("vol", 0.20), ("skew", -0.1), ("kurt", 2.75)):
        assert row[s] == pytest.approx(checks[s]["attained"], rel=1e-12, abs=1e-14)
        assert row[s] == pytest.approx(want, abs=1e-8)
        assert row[f"prior_{s}"] == pytest.approx(checks[s]["prior_value"], rel=1e-12, abs=1e-14)
    assert row["mean"] == pytest.approx(row["prior_mean"], abs=1e-10)  # mean pinned at the prior
    o, t = by_name["dm_equity_crash_sep"]
    row = t["moments"].set_index("variable").loc["DM_Equity"]
    checks = {c["stat"]: c for c in o.checks}
    for s, want in (("mean", -0.10), ("vol", 0.25)):
        assert row[s] == pytest.approx(checks[s]["attained"], rel=1e-12)
        assert row[s] == pytest.approx(want, abs=1e-8)
    c = t["correlations"]
    pair = c[((c["variable"] == "EM_Equity") & (c["other"] == "DM_Equity"))
             | ((c["variable"] == "DM_Equity") & (c["other"] == "EM_Equity"))]
    assert len(pair) == 1
    assert pair["corr"].iloc[0] == pytest.approx(checks["corr"]["attained"], abs=1e-12)
    assert pair["corr"].iloc[0] == pytest.approx(0.9, abs=1e-8)
    assert pair["prior_corr"].iloc[0] == pytest.approx(checks["corr"]["prior_value"], abs=1e-12)


def test_infeasible_view_set_gives_nan_moments_with_its_status(case):
    _, _, scen, _, tables = case
    t = moment_tables(scen, ViewOutcome("bad", "H1", "infeasible", None))
    m, c = t["moments"], t["correlations"]
    assert len(m) == len(scen.variables) and (m["status"] == "infeasible").all() and (m["view_set"] == "bad").all()
    assert m[["mean", "vol", "skew", "kurt"]].isna().all().all()
    pd.testing.assert_frame_equal(m.filter(like="prior_"), tables[0]["moments"].filter(like="prior_"))
    assert c["corr"].isna().all() and (c["status"] == "infeasible").all()
    pd.testing.assert_series_equal(c["prior_corr"], tables[0]["correlations"]["prior_corr"])


def test_constant_variable_has_no_skew_and_no_correlation():
    S = 1000
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(0, 0.1, S), np.full(S, 0.01), rng.normal(0, 0.2, S)])
    p = np.full(S, 1.0 / S)
    scen = ScenarioSet(X[:, 2:], X, ["A", "Cash", "Opt"], ["Opt"], ["A", "Cash"], p, np.ones(1))
    t = moment_tables(scen, ViewOutcome("prior", "prior", "ok", p))
    m = t["moments"].set_index("variable")
    assert m["kind"].tolist() == ["driver", "driver", "instrument"]
    assert m.loc["Cash", "mean"] == pytest.approx(0.01) and m.loc["Cash", "vol"] == pytest.approx(0.0, abs=1e-15)
    assert np.isnan(m.loc["Cash", "skew"]) and np.isnan(m.loc["Cash", "kurt"])
    assert np.isfinite(m.loc["A", ["skew", "kurt"]].to_numpy(dtype=float)).all()
    c = t["correlations"]
    assert list(zip(c["variable"], c["other"])) == [("A", "Cash")] and c["corr"].isna().all()
    # no driver pair: a typed table without rows
    one = ScenarioSet(X[:, 2:], X[:, [0, 2]], ["A", "Opt"], ["Opt"], ["A"], p, np.ones(1))
    c1 = moment_tables(one, ViewOutcome("prior", "prior", "ok", p))["correlations"]
    assert c1.empty and list(c1.columns) == CORRELATION_COLUMNS and c1["corr"].dtype == float


@pytest.mark.cluster
def test_a_run_writes_the_tables_computed_on_the_workers(case, tmp_path):
    """The run's moments.parquet and correlations.parquet are the in-process tables, concatenated
    in view-set order (two workers: the order does not depend on which finishes first)."""
    d, plan, _, _, tables = case
    path = pipeline.run(copy.deepcopy(d), out=tmp_path / "run", workers=2, log=lambda m: None)
    run = pipeline.read_run(path)
    for name in ("moments", "correlations"):
        want = pd.concat([t[name] for t in tables], ignore_index=True)
        assert run[name]["view_set"].unique().tolist() == ["prior", *[vs.name for vs in plan.view_sets]]
        pd.testing.assert_frame_equal(run[name], want, check_exact=True, check_dtype=False)  # strings read back as str
        assert run["manifest"]["rows"][name] == len(want)
