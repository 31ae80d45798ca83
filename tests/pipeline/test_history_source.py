"""A scenario file in a config: prices with dates, the horizon they are aggregated to, key paths,
and counts written as ``1e8``."""

import re

import numpy as np
import pandas as pd
import pytest

from pipeline import stages
from pipeline.config import ConfigError, config_hash, load_config, parse_config, safe_load
from pipeline.plan import HistoryPlan
from pipeline.resolve import build_plan
from tests.conftest import ROOT


def _daily_prices(tmp_path, days=2521, seed=3):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2014-01-01", periods=days)
    levels = np.exp(np.cumsum(rng.normal(0.0003, 0.012, (days, 2)), axis=0)) * [4500.0, 100.0]
    df = pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "SPX": levels[:, 0], "AGG": levels[:, 1]})
    df.to_csv(tmp_path / "prices.csv", index=False)
    return df


def _config(**scenarios) -> dict:
    return {
        "name": "prices", "horizon": 1.0,
        "scenarios": {"source": "prices.csv", **scenarios},
        "instruments": [
            {"name": "SPX", "kind": "cash", "driver": "SPX"},
            {"name": "AGG", "kind": "cash", "driver": "AGG"},
            {"name": "SPX_put", "kind": "option", "driver": "SPX", "option_type": "put", "strike": 1.0,
             "maturity": 2.0, "vol": 0.19},
        ],
        "optimization": {"risk_measures": ["CVaR"], "points": 3, "bounds": {"default": [-1, 1]}},
    }


def _config_error(data, tmp_path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        build_plan(parse_config(data, base_dir=tmp_path))
    return info.value


def test_daily_prices_reprice_the_book_on_yearly_moves(tmp_path):
    """Issue 12 items 6-7: Date,SPX,AGG prices with a one-year horizon. Today: 'Date is not numeric'
    (or, without dates, one-day moves repricing a one-year option: a near-constant put P&L)."""
    df = _daily_prices(tmp_path)
    plan = build_plan(parse_config(_config(returns="prices", date_column="Date"), base_dir=tmp_path))
    assert isinstance(plan.scenarios, HistoryPlan)
    assert plan.book.drivers == ("SPX", "AGG")
    values = plan.scenarios.scenarios.values
    levels = df[["SPX", "AGG"]].to_numpy()
    ends = len(df) - 1 - 252 * np.arange(9, -1, -1)
    assert np.allclose(np.expm1(values), levels[ends] / levels[ends - 252] - 1.0, rtol=1e-12, atol=1e-13)
    assert "252 periods" in plan.scenarios.summary and "10 scenarios" in plan.scenarios.summary
    scen = stages.load_scenarios(plan.scenarios, plan.book)
    put = scen.R[:, plan.book.names.index("SPX_put")]
    spx = np.expm1(values[:, 0])
    # a put's P&L falls as the index rises: repriced on yearly moves, not a constant theta loss
    assert np.ptp(put) > 0.05 and np.corrcoef(put, spx)[0, 1] < -0.8


def test_defaults_keep_the_config_hash(tmp_path):
    """A config without the new keys hashes as before: they are left out of the canonical form."""
    pd.DataFrame({"SPX": [0.01, -0.02, 0.03], "AGG": [0.0, 0.01, -0.01]}).to_csv(tmp_path / "prices.csv", index=False)
    cfg = parse_config(_config(), base_dir=tmp_path)
    assert "date_column" not in cfg.canonical()["scenarios"] and "frequency" not in cfg.canonical()["scenarios"]
    again = parse_config(_config(date_column=None), base_dir=tmp_path)
    assert config_hash(again) == config_hash(cfg)
    plan = build_plan(cfg)
    assert np.allclose(np.expm1(plan.scenarios.scenarios.values[:, 0]), [0.01, -0.02, 0.03], rtol=1e-15)


@pytest.mark.parametrize(("scenarios", "horizon", "path", "fragment"), [
    ({"returns": "simple"}, 1.0, "scenarios.source", "date_column: Date"),
    ({"returns": "prices", "date_column": "Date"}, 0.1, "horizon", "not a whole number"),
    ({"returns": "prices", "date_column": "Date", "frequency": "weekly"}, 1.0, "scenarios.frequency",
     "does not match the dates"),
    ({"returns": "prices", "date_column": "Date", "frequency": "fortnightly"}, 1.0, "scenarios.frequency",
     "unknown frequency"),
])
def test_key_paths_of_file_problems(tmp_path, scenarios, horizon, path, fragment):
    _daily_prices(tmp_path, days=600)
    err = _config_error({**_config(**scenarios), "horizon": horizon}, tmp_path)
    assert err.path == path and fragment in err.reason


def test_prices_without_date_column_read_as_returns_say_so(tmp_path):
    _daily_prices(tmp_path, days=600).drop(columns="Date").to_csv(tmp_path / "prices.csv", index=False)
    err = _config_error(_config(), tmp_path)
    assert err.path == "scenarios.returns" and "returns: prices" in err.reason


@pytest.mark.parametrize("key", ["date_column", "frequency", "returns"])
def test_file_keys_without_a_file_are_refused(tmp_path, key):
    value = {"date_column": "Date", "frequency": "daily", "returns": "prices"}[key]
    data = _config()
    data["scenarios"] = {"drivers": [{"name": "SPX", "mu": 0.05, "sigma": 0.2},
                                     {"name": "AGG", "mu": 0.02, "sigma": 0.05}], "count": 100, key: value}
    err = _config_error(data, tmp_path)
    assert err.path == f"scenarios.{key}" and "scenarios.source" in err.reason


def _simulated(count_text: str, tmp_path):
    text = (f"name: c\nscenarios:\n  count: {count_text}\n  drivers:\n  - {{name: SPX, mu: 0.05, sigma: 0.2}}\n"
            "instruments:\n- {name: SPX, kind: cash, driver: SPX}\noptimization:\n  points: 1e1\n")
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_config(path)


@pytest.mark.parametrize(("text", "value"), [("1e8", 100_000_000), ("1.0e+8", 100_000_000), ("2.5e3", 2500),
                                             ("1_000_000", 1_000_000), ("20000", 20_000)])
def test_count_written_as_a_power_of_ten_is_the_integer_it_is(tmp_path, text, value):
    """YAML 1.1 reads ``1e8`` as a string: today 'Input should be a valid integer'."""
    cfg = _simulated(text, tmp_path)
    assert cfg.scenarios.count == value and type(cfg.scenarios.count) is int
    assert cfg.optimization.points == 10


@pytest.mark.parametrize("text", ["1e-3", "2.5", "1.25e1", "ten"])
def test_count_that_is_not_a_whole_number_is_refused(tmp_path, text):
    with pytest.raises(ConfigError) as info:
        _simulated(text, tmp_path)
    assert info.value.path == "scenarios.count"


def test_readme_price_file_example_runs(tmp_path):
    """The README's scenarios.source example (daily Date,SPX,AGG prices, a quarter's horizon)."""
    text = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if "returns: prices" in b)
    data = safe_load(block)
    _daily_prices(tmp_path, days=1000)
    data.update({k: v for k, v in _config().items() if k not in data})
    plan = build_plan(parse_config(data, base_dir=tmp_path))
    assert plan.scenarios.scenarios.values.shape == (999 // 63, 2) and plan.scenarios.scenarios.horizon == 0.25
