"""``scenarios.factor_model``: asset drivers derived from simulated factor drivers.

Cross-checks: the plan's loadings against ``numpy.linalg.lstsq`` on the files (read here with
pandas, independently of the loader) and against the generator's true loadings; every asset value
of every scenario against ``k alpha + B x + the sum of k residual rows`` recomputed here from the
seeded block streams; 1 and 3 chunks bit for bit; a view on a factor moves the assets' posterior
log-means by exactly ``B`` times the factors' moves (plus the residuals' reweighted mean, small);
shocks; config errors with key paths; the memory estimate of Black-Litterman sets; and an
end-to-end run of ``configs/black_litterman.yaml`` on a LocalCluster.
"""

import copy
import dataclasses
import importlib.util
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import pipeline
from pipeline.book_stages import reprice_shocks
from pipeline.config import ConfigError, parse_config, safe_load
from pipeline.memory import _views_bytes
from pipeline.plan import BlackLittermanPlan, ViewSetPlan
from pipeline.resolve import build_plan
from pipeline.stages import (
    assemble_scenarios,
    chunk_scenarios,
    chunk_statistics,
    load_scenarios,
    moment_transform,
    solve_views,
)
from tasks.scenarios import RESIDUAL_BLOCK
from tests.conftest import ROOT

CONFIG = ROOT / "configs" / "black_litterman.yaml"
DATA = CONFIG.parent / "data"
FACTORS = ["Mkt", "Rates", "Credit", "Value", "Momentum"]
ASSETS = ["US_Equity", "EU_Equity", "EM_Equity", "Treasury", "Corp_IG", "Tech", "Energy"]


def _generator():
    spec = importlib.util.spec_from_file_location("make_factor_histories", DATA / "make_factor_histories.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def fm_dict() -> dict:
    d = safe_load(CONFIG.read_text())
    d["scenarios"].update(count=900, block_size=300, chunks=3)
    return d


def _cfg(d: dict, base=CONFIG.parent):
    return parse_config(copy.deepcopy(d), base_dir=base)


@pytest.fixture(scope="module")
def plan(fm_dict):
    return build_plan(_cfg(fm_dict))


def _simulate(plan, chunks=None):
    """The graph's scenario stages, run in-process: (assembled set, driver values (S, D))."""
    sim = plan.scenarios
    groups = [list(g) for g in (chunks or sim.block_groups)]
    stats = [chunk_statistics(sim, g) for g in groups]
    transform = moment_transform(sim, *stats) if sim.moment_matching else None
    parts = [chunk_scenarios(sim, plan.book, g, transform) for g in groups]
    return assemble_scenarios(plan.book, *parts), np.concatenate([c.drivers for c in parts])


# ---- loadings and k -----------------------------------------------------------------------------

def test_loadings_match_lstsq_on_the_files(plan):
    fa = pd.read_csv(DATA / "factor_history.csv", index_col="date")
    xa = pd.read_csv(DATA / "asset_history.csv", index_col="date")
    common = fa.index.intersection(xa.index)
    f = fa.loc[common, FACTORS].to_numpy().copy()
    f[:, [0, 3, 4]] = np.log1p(f[:, [0, 3, 4]])  # Rates and Credit are changes, not returns
    x = np.log1p(xa.loc[common, ASSETS].to_numpy())
    z = np.column_stack([np.ones(len(common)), f])
    coef, *_ = np.linalg.lstsq(z, x, rcond=None)
    fm = plan.scenarios.factor_model
    assert fm.assets == tuple(ASSETS) and fm.loadings.factors == tuple(FACTORS)
    np.testing.assert_allclose(fm.loadings.alpha, coef[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fm.loadings.B, coef[1:].T, rtol=1e-9, atol=1e-10)
    assert fm.periods == 252 and fm.residuals == "rows" and fm.seed == 14
    # the estimate finds the generator's true loadings within 5 standard errors
    resid = x - z @ coef
    s2 = (resid ** 2).sum(axis=0) / (len(common) - z.shape[1])
    se = np.sqrt(np.outer(s2, np.diag(np.linalg.inv(z.T @ z))[1:]))
    assert (np.abs(fm.loadings.B - _generator().TRUE_B) < 5 * se).all()
    assert plan.book.drivers == tuple(FACTORS + ASSETS)
    assert plan.book.driver_kinds == ("spot", "rate", "rate", "spot", "spot") + ("spot",) * 7


# ---- scenarios ----------------------------------------------------------------------------------

def test_asset_values_are_k_alpha_plus_b_x_plus_residual_sums(plan):
    _, values = _simulate(plan)
    fm = plan.scenarios.factor_model
    lo, k = fm.loadings, fm.periods
    x, assets = values[:, :5], values[:, 5:]
    e = lo.residuals
    want = np.empty_like(assets)
    for i in range(x.shape[0]):  # scenario by scenario from the seeded block streams
        b, r = divmod(i, RESIDUAL_BLOCK)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(14, spawn_key=(b, 3))))
        rows = rng.integers(0, e.shape[0], (RESIDUAL_BLOCK, k))[r]
        want[i] = k * lo.alpha + lo.B @ x[i] + e[rows].sum(axis=0)
    np.testing.assert_allclose(assets, want, rtol=0, atol=1e-12)


def test_one_and_three_chunks_give_the_same_numbers(fm_dict, plan):
    one = build_plan(_cfg({**fm_dict, "scenarios": {**fm_dict["scenarios"], "chunks": 1}}))
    assert len(one.scenarios.block_groups) == 1 and len(plan.scenarios.block_groups) == 3
    s1, v1 = _simulate(one)
    s3, v3 = _simulate(plan)
    np.testing.assert_array_equal(v1, v3)
    np.testing.assert_array_equal(s1.X, s3.X)
    np.testing.assert_array_equal(s1.R, s3.R)


def test_a_view_on_a_factor_moves_the_assets_through_b(plan):
    scen, values = _simulate(plan)
    vs = next(v for v in plan.view_sets if v.name == "equity_selloff")
    out = solve_views(scen, vs)
    assert out.ok
    p, q = scen.p, out.q
    fm = plan.scenarios.factor_model
    d_factor = values[:, :5].T @ (q - p)  # moves of the factors' log-means
    d_asset = values[:, 5:].T @ (q - p)
    assert d_factor[0] < -0.1  # the market view bites
    # asset log-returns are exactly k alpha + B x + residual sums: the means move by B d_factor plus
    # the residual sums' reweighted mean, which is small next to it
    resid_move = d_asset - fm.loadings.B @ d_factor
    resid = values[:, 5:] - fm.periods * fm.loadings.alpha - values[:, :5] @ fm.loadings.B.T
    np.testing.assert_allclose(resid_move, resid.T @ (q - p), atol=1e-12)
    equity = [0, 1, 2, 5, 6]
    assert (np.abs(resid_move[equity]) < 0.25 * np.abs(fm.loadings.B[equity] @ d_factor)).all()


def test_shocks_move_the_assets_by_their_conditional_mean(fm_dict):
    d = copy.deepcopy(fm_dict)
    d["shocks"] = [{"name": "crash", "drivers": {"Mkt": -0.3, "Rates": -0.01}}]
    plan = build_plan(_cfg(d))
    out = reprice_shocks(plan.shocks, plan.book)
    fm = plan.scenarios.factor_model
    assert out.drivers == FACTORS + ASSETS
    x = out.values[0]
    np.testing.assert_allclose(x[5:], 252 * fm.loadings.alpha + fm.loadings.B @ x[:5], rtol=1e-13, atol=1e-15)
    assert x[0] == -0.3 and x[1] == -0.01 and x[2] == 0.0  # moves as given (log), propagate: none
    i = plan.book.names.index("US_Equity")
    assert np.isclose(out.pnl[0, i], np.expm1(x[5]))


def _source_dict(fm_dict: dict) -> dict:
    """The config with its factors read from ``scenarios.source`` (the factor history, weekly horizon)."""
    d = copy.deepcopy(fm_dict)
    sc = d["scenarios"]
    for k in ("drivers", "correlation", "count", "chunks", "block_size", "model", "moment_matching"):
        sc.pop(k, None)
    sc.update(source="data/factor_history.csv", date_column="date", returns="simple")
    sc["factor_model"].pop("factors")
    d["horizon"] = 5 / 252
    d["views"][1]["views"][1]["value"] = 0.03  # a weekly vol
    return d


def test_factors_from_a_scenario_source(fm_dict):
    plan = build_plan(_cfg(_source_dict(fm_dict)))
    h = plan.scenarios
    fm = h.factor_model
    assert fm is not None and fm.periods == 5 and h.scenarios.values.shape == (150, 5)
    fa = pd.read_csv(DATA / "factor_history.csv", index_col="date")
    xa = pd.read_csv(DATA / "asset_history.csv", index_col="date")
    f = np.log1p(fa[FACTORS].to_numpy())  # every source column is a spot driver: all simple returns
    x = np.log1p(xa.loc[fa.index, ASSETS].to_numpy())
    z = np.column_stack([np.ones(len(f)), f])
    coef, *_ = np.linalg.lstsq(z, x, rcond=None)
    np.testing.assert_allclose(fm.loadings.B, coef[1:].T, rtol=1e-9, atol=1e-10)
    scen = load_scenarios(h, plan.book)
    assert scen.variables[:12] == FACTORS + ASSETS
    xs = h.scenarios.values
    e = fm.loadings.residuals
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(14, spawn_key=(0, 3))))
    rows = rng.integers(0, e.shape[0], (RESIDUAL_BLOCK, 5))[:150]
    want = 5 * fm.loadings.alpha + xs @ fm.loadings.B.T + e[rows].sum(axis=1)
    np.testing.assert_allclose(np.log1p(scen.X[:, 5:12]), want, rtol=0, atol=1e-12)
    # shocks on the file's drivers move the assets; the shock space is the file's drivers
    d = _source_dict(fm_dict)
    d["shocks"] = [{"name": "crash", "drivers": {"Mkt": -0.1}}]
    plan = build_plan(_cfg(d))
    out = reprice_shocks(plan.shocks, plan.book)
    np.testing.assert_allclose(out.values[0, 5:], 5 * fm.loadings.alpha + fm.loadings.B[:, 0] * -0.1, atol=1e-15)


# ---- config errors ------------------------------------------------------------------------------

def _write(path, frame):
    frame.to_csv(path, index=False)
    return str(path)


def _fm(d: dict) -> dict:
    return d["scenarios"]["factor_model"]


def _few_dates(d, tmp):
    fa = pd.read_csv(DATA / "factor_history.csv").iloc[:12]
    _fm(d)["factors"] = _write(tmp / "f.csv", fa)


def _bad_factor_column(d, tmp):
    fa = pd.read_csv(DATA / "factor_history.csv").assign(Gold=0.0)
    _fm(d)["factors"] = _write(tmp / "f.csv", fa)


def _clash(d, tmp):
    xa = pd.read_csv(DATA / "asset_history.csv").rename(columns={"Tech": "Value"})
    _fm(d)["file"] = _write(tmp / "a.csv", xa)


BAD = [
    (lambda d, t: _fm(d).update(file="data/missing.csv"), "scenarios.factor_model.file", "file not found"),
    (lambda d, t: _fm(d).update(factors="data/missing.csv"), "scenarios.factor_model.factors", "file not found"),
    (lambda d, t: _fm(d).pop("factors"), "scenarios.factor_model.factors", "need their history"),
    (_bad_factor_column, "scenarios.factor_model.factors", "'Gold'"),
    (lambda d, t: d["scenarios"]["drivers"].append({"name": "Gold", "sigma": 0.1}) or d["scenarios"].pop("correlation"),
     "scenarios.factor_model.factors", "'Gold' have no column"),
    (_clash, "scenarios.factor_model.file", "'Value'"),
    (_few_dates, "scenarios.factor_model.file", "share 12 dates"),
    (lambda d, t: d.update(horizon=0.1), "horizon", "not a whole number"),
    (lambda d, t: _fm(d).update(date_column="day"), "scenarios.factor_model.date_column", "'day' not in"),
    (lambda d, t: _fm(d).update(method="lasso"), "scenarios.factor_model.method", ""),
    (lambda d, t: d["scenarios"].update(steps=4), "scenarios.steps", "not available"),
    (lambda d, t: [d["scenarios"].pop(k) for k in ("drivers", "correlation")]
     and d["scenarios"].update(source="data/factor_history.csv", date_column="date"),
     "scenarios.factor_model.factors", "history is scenarios.source"),
    (lambda d, t: [d["scenarios"].pop(k) for k in ("drivers", "correlation")] and _fm(d).pop("factors")
     and d["scenarios"].update(source="data/factor_history.csv"), "scenarios.date_column", "on their dates"),
    (lambda d, t: d.update(shocks=[{"name": "s", "drivers": {"Tech": -0.2}}]), "shocks[0].drivers.Tech",
     "shock the factor drivers"),
]


@pytest.mark.parametrize("mutate, path, fragment", BAD)
def test_bad_factor_models_name_the_key(fm_dict, tmp_path, mutate, path, fragment):
    d = copy.deepcopy(fm_dict)
    mutate(d, tmp_path)
    with pytest.raises(ConfigError) as info:
        build_plan(_cfg(d))
    assert info.value.path == path and fragment in info.value.reason, (info.value.path, info.value.reason)


# ---- memory -------------------------------------------------------------------------------------

def test_memory_counts_the_rows_of_black_litterman_sets():
    def bl_set(n, match_cov):
        bl = BlackLittermanPlan(tuple(f"v{i}" for i in range(n)), np.ones((1, n)), np.zeros(1), None, 0.05,
                                False, None, None, match_cov)
        return ViewSetPlan(0, "bl", "black_litterman", (object(),), None, bl)

    S = 1000
    rows = lambda vs: _views_bytes(SimpleNamespace(view_sets=(vs,)), S) // (8 * S)  # noqa: E731
    assert rows(bl_set(6, False)) == 3 * 6 + 12
    assert rows(bl_set(6, True)) == 3 * (6 + 21) + 12
    plain = dataclasses.replace(bl_set(6, False), black_litterman=None, views=(object(),) * 2)
    assert rows(plain) == 3 * 2 + 12


def test_memory_counts_the_asset_columns(fm_dict, plan):
    from pipeline.memory import _shape, estimate_memory

    S, N, D, n_var, _ = _shape(plan)
    assert D == 12 and n_var == 12 + 1  # 5 factors + 7 assets, and the put (not a driver)
    # per-asset residual draws: RESIDUAL_BLOCK x 252 periods x 7 assets int64 dominate the chunk
    d = copy.deepcopy(fm_dict)
    d["scenarios"]["factor_model"]["residuals"] = "assets"
    est = estimate_memory(build_plan(_cfg(d)))
    assert est.parts["factor model"] >= RESIDUAL_BLOCK * 252 * 7 * 8


# ---- end to end ---------------------------------------------------------------------------------

@pytest.mark.cluster
def test_factor_model_config_end_to_end(fm_dict, tmp_path):
    d = copy.deepcopy(fm_dict)
    d["scenarios"].update(count=1200, block_size=400, chunks=2, write=True)
    d["optimization"]["points"] = 4
    cfg = _cfg(d)
    out = pipeline.run(cfg, out=tmp_path / "run", workers=2, log=lambda m: None)
    run = pipeline.read_run(out)
    views = run["views"].set_index("view_set")
    assert (views["status"] == "ok").all(), views
    plan = build_plan(cfg)
    scen, values = _simulate(plan, [[0], [1], [2]])  # in-process, 3 chunks: the cluster run saw the same numbers
    written = pd.read_parquet(out / "scenarios.parquet")
    np.testing.assert_array_equal(written[list(plan.book.names)].to_numpy(), scen.R)
    probs = run["probabilities"]
    q = probs.query("view_set == 'equity_selloff'")["probability"].to_numpy()
    p = probs.query("view_set == 'prior'")["probability"].to_numpy()
    mom = run["moments"].query("view_set == 'equity_selloff'").set_index("variable")
    np.testing.assert_allclose(mom.loc[ASSETS, "mean"], scen.X[:, 5:12].T @ q, atol=1e-12)
    np.testing.assert_allclose(mom.loc[ASSETS, "prior_mean"], scen.X[:, 5:12].T @ p, atol=1e-12)
    # the market view moves the assets' means by their loadings: to first order the simple-return
    # mean moves by (1 + mean) x B d(log factors), within the residuals' reweighted mean
    fm = plan.scenarios.factor_model
    d_factor = values[:, :5].T @ (q - p)
    assert mom.loc["Mkt", "mean"] < mom.loc["Mkt", "prior_mean"] - 0.1
    move = (mom.loc[ASSETS, "mean"] - mom.loc[ASSETS, "prior_mean"]).to_numpy()
    approx = (1 + mom.loc[ASSETS, "prior_mean"].to_numpy()) * (fm.loadings.B @ d_factor)
    equity = [0, 1, 2, 5, 6]
    assert np.all(np.sign(move[equity]) == np.sign(approx[equity]))
    assert np.all(np.abs(move[equity] - approx[equity]) < 0.3 * np.abs(approx[equity])), (move, approx)
    fr = run["frontier"]
    assert (fr["status"] == "optimal").all() and np.allclose(fr["budget"], 1.0, atol=1e-7)
    assert set(fr["view_set"]) == {"prior", "bl_equity_rotation", "equity_selloff"}
