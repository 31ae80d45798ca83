"""The run plan: built once from a validated config, picklable, and what the stages compute from."""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest

import pipeline
import tasks.expressions
import tasks.scenarios._files
from pipeline.config import parse_config
from pipeline.plan import HistoryPlan, SimulationPlan
from pipeline.resolve import build_plan
from tasks.instruments import greeks_matrix, market_value
from tasks.scenarios import prior_probabilities


def test_plan_resolves_the_case_study(case_dict):
    plan = build_plan(parse_config(case_dict))
    assert isinstance(plan.scenarios, SimulationPlan)
    assert plan.view_names == ["prior"] + [v["name"] for v in case_dict["views"]]
    book = plan.book
    assert list(book.names) == [i["name"] for i in case_dict["instruments"]]
    assert np.array_equal(book.v, [market_value(i) for i in book.instruments])
    G, keys = greeks_matrix(book.instruments)
    assert np.array_equal(book.greeks, G) and list(book.greek_keys) == keys
    assert [cs.name for cs in plan.constraint_sets] == ["base", *case_dict["optimization"]["constraint_sets"]]
    assert [cs.index for cs in plan.constraint_sets] == list(range(len(plan.constraint_sets)))


def test_plan_round_trips_through_pickle(case_dict):
    plan = build_plan(parse_config(case_dict))
    back = pickle.loads(pickle.dumps(plan))
    assert back.config_sha256 == plan.config_sha256
    assert np.array_equal(back.book.greeks, plan.book.greeks)
    assert back.view_sets[0].views == plan.view_sets[0].views
    assert np.array_equal(back.settings.lower, plan.settings.lower)


def test_each_view_value_is_parsed_once(case_dict, monkeypatch):
    d = copy.deepcopy(case_dict)
    d["views"][0]["views"][0]["value"] = "prior * 1.1 - 0.002"
    calls = []
    real = tasks.expressions.parse

    def counting(text, *args, **kwargs):
        calls.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(tasks.expressions, "parse", counting)
    monkeypatch.setattr("tasks.views._view.parse", counting)
    build_plan(parse_config(d))
    assert calls.count("prior * 1.1 - 0.002") == 1


def _history(tmp_path, rows=400):
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"SPX": rng.normal(0.005, 0.04, rows), "Bund": rng.normal(0.001, 0.01, rows)})
    df.to_csv(tmp_path / "hist.csv", index=False)
    return df


def _history_config(tmp_path) -> dict:
    return {
        "name": "hist", "seed": 1, "horizon": 1 / 12,
        "scenarios": {"source": "hist.csv", "returns": "simple", "prior": "exponential", "half_life": 120},
        "instruments": [
            {"name": "SPX", "kind": "cash", "driver": "SPX"},
            {"name": "Bund", "kind": "cash", "driver": "Bund"},
            {"name": "SPX_put", "kind": "option", "driver": "SPX", "option_type": "put", "strike": 0.95,
             "maturity": 0.25, "vol": 0.18},
        ],
        "views": [{"name": "calm", "method": "H1", "views": [{"stat": "vol", "on": "SPX", "op": "<=",
                                                             "value": "prior * 0.9"}]}],
        "optimization": {"risk_measures": ["CVaR"], "points": 3, "bounds": {"default": [-1, 1]}},
        "output": {"dir": str(tmp_path / "out")},
    }


def test_history_file_is_read_once_on_the_client(tmp_path, monkeypatch):
    df = _history(tmp_path)
    reads = []
    real = tasks.scenarios._files.read_scenario_file

    def counting(path):
        reads.append(path)
        return real(path)

    monkeypatch.setattr(tasks.scenarios._files, "read_scenario_file", counting)
    plan = build_plan(parse_config(_history_config(tmp_path), base_dir=tmp_path))
    assert len(reads) == 1
    assert isinstance(plan.scenarios, HistoryPlan)
    assert np.array_equal(plan.scenarios.scenarios.values, np.log1p(df.to_numpy()))
    assert np.array_equal(plan.scenarios.p, prior_probabilities(len(df), "exponential", 120))


@pytest.mark.cluster
def test_run_from_a_history_file(tmp_path):
    df = _history(tmp_path)
    out = pipeline.run(parse_config(_history_config(tmp_path), base_dir=tmp_path), workers=2, log=lambda m: None)
    run = pipeline.read_run(out)
    assert (run["views"]["status"] == "ok").all()
    assert (run["frontier"]["status"] == "optimal").all()
    prior = run["probabilities"].query("view_set == 'prior'")["probability"].to_numpy()
    assert np.array_equal(prior, prior_probabilities(len(df), "exponential", 120))
    inst = run["instruments"].set_index("name")
    assert inst.loc["SPX", "prior_mean"] == pytest.approx(float(prior @ df["SPX"].to_numpy()), rel=1e-12)
