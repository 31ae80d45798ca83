"""The shipped example books run end to end (at test size) and report portfolio Greeks."""

import numpy as np
import pytest

import pipeline
from pipeline.config import load_config
from tests.conftest import ROOT

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("name", ["index_options_book", "crypto_options"])
def test_example_book_runs_with_greeks(name, tmp_path):
    cfg = load_config(ROOT / "configs" / f"{name}.yaml")
    out = pipeline.run(cfg, out=tmp_path / name, workers=2, log=lambda m: None,
                       overrides={"scenarios.count": 3000, "scenarios.block_size": 1000,
                                  "optimization.points": 4})
    run = pipeline.read_run(out)
    views = run["views"]
    assert (views["status"] == "ok").all(), views
    fr = run["frontier"]
    assert (fr["status"] == "optimal").all()
    assert np.allclose(fr["budget"], 1.0, atol=1e-7)
    g = run["greeks"]
    assert set(g["portfolio"]) == set(fr["portfolio"])
    spot_drivers = [d.name for d in cfg.scenarios.drivers if d.kind == "spot"]
    assert set(spot_drivers) <= set(g["underlying"])
    # option books carry gamma and vega on their underlyings, by construction of the exposures
    first = fr.iloc[0]
    e = first[[f"e_{n}" for n in cfg.instrument_names]].to_numpy(dtype=float)
    book = pipeline.build_plan(cfg).book
    expected = dict(zip(book.greek_keys, e @ book.greeks))
    rows = g[g["portfolio"] == first["portfolio"]].set_index("underlying")
    for (greek, und), val in expected.items():
        assert rows.loc[und, greek] == pytest.approx(val, abs=1e-12)
    checks = run["view_checks"]
    assert (checks["violation"] <= 1e-6).all(), checks
