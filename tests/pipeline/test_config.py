import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.config import ConfigError, load_config, parse_config
from pipeline.resolve import build_plan
from tests.conftest import ROOT


def test_shipped_configs_validate():
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        plan = build_plan(load_config(path))
        assert plan.book.names
    case = build_plan(load_config(ROOT / "configs" / "derivatives_case.yaml"))
    corr = case.scenarios.model.corr
    assert corr.shape == (10, 10) and np.allclose(corr, corr.T)
    assert corr[0, 1] == 0.6 and corr[4, 9] == 0.8 and corr[8, 9] == 0.5
    lo, hi = case.settings.lower, case.settings.upper
    assert lo[0] == 0.0 and hi[0] == 0.25 and lo[-1] == -0.5 and hi[-1] == 0.5


def _bad(case_dict, mutate):
    """The ConfigError of a mutated case config: schema, cross-field checks or plan resolution."""
    d = copy.deepcopy(case_dict)
    mutate(d)
    with pytest.raises(ConfigError) as info:
        build_plan(parse_config(d))
    return info.value


def test_unknown_key(case_dict):
    err = _bad(case_dict, lambda d: d["optimization"].update(pointz=3))
    assert err.path == "optimization.pointz" and "unknown key" in err.reason


def test_unknown_key_in_instrument(case_dict):
    err = _bad(case_dict, lambda d: d["instruments"][11].update(strik=1.0))
    assert err.path == "instruments[11].strik"


def test_view_on_missing_instrument(case_dict):
    err = _bad(case_dict, lambda d: d["views"][0]["views"][1].update(on="Put_85"))
    assert err.path == "views[0].views[1].on" and "Put_85" in err.reason


def test_instrument_on_unknown_driver(case_dict):
    err = _bad(case_dict, lambda d: d["instruments"][12].update(driver="US_Equity"))
    assert err.path == "instruments[12].driver"


def test_correlation_not_psd(case_dict):
    def mutate(d):
        d["scenarios"]["correlation"][0][0] = -0.9  # Gov-IG
        d["scenarios"]["correlation"][0][1] = 0.9   # Gov-HY while IG-HY = 0.5
        d["scenarios"]["correlation"][1][0] = 0.9
    err = _bad(case_dict, mutate)
    assert err.path == "scenarios.correlation" and "positive semi-definite" in err.reason


def test_correlation_wrong_shape(case_dict):
    err = _bad(case_dict, lambda d: d["scenarios"]["correlation"].pop())
    assert err.path == "scenarios.correlation"


def test_bounds_make_budget_infeasible(case_dict):
    err = _bad(case_dict, lambda d: d["optimization"]["bounds"].update(cash=[0.0, 0.05]))
    assert err.path == "optimization.bounds" and "budget" in err.reason


def test_bounds_unknown_instrument_and_inverted(case_dict):
    assert _bad(case_dict, lambda d: d["optimization"]["bounds"].update(Foo=[0, 1])).path == "optimization.bounds.Foo"
    assert "exceeds" in _bad(case_dict, lambda d: d["optimization"]["bounds"].update(Put_90=[1, 0])).reason


def test_wrong_types_and_ranges(case_dict):
    assert _bad(case_dict, lambda d: d["optimization"].update(alpha=1.5)).path == "optimization.alpha"
    assert _bad(case_dict, lambda d: d["optimization"].update(points=1)).path == "optimization.points"
    path = _bad(case_dict, lambda d: d["scenarios"]["drivers"][3].update(sigma=-0.1)).path
    assert path == "scenarios.drivers[3].sigma"
    path = _bad(case_dict, lambda d: d["optimization"].update(risk_measures=["CVAR"])).path
    assert path == "optimization.risk_measures[0]"  # the element, not just the list
    assert _bad(case_dict, lambda d: d["instruments"][10].update(maturity=0.5)).path == "instruments[10].maturity"
    assert _bad(case_dict, lambda d: d["views"][0]["views"][0].update(op="==")).path == "views[0].views[0].op"


def test_cli_bad_config_exits_2_and_creates_nothing(case_dict, tmp_path):
    d = copy.deepcopy(case_dict)
    d["scenarios"]["correlation"][0][0] = 1.5
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(d))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", str(cfg), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "scenarios.correlation" in proc.stderr
    assert not out.exists()


def test_cli_validate(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "pipeline", "validate", str(ROOT / "configs" / "laptop.yaml")],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = tmp_path / "x.yaml"
    bad.write_text("name: x\ninstruments: []\n")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "validate", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and "instruments" in proc.stderr


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "stressfrontier"
    proc = subprocess.run([str(exe), "validate", str(ROOT / "configs" / "derivatives_case.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "16 instruments" in proc.stdout


# ---- Greek limits: what validates must compile ---------------------------------------------------

INDEX_BOOK = ROOT / "configs" / "index_options_book.yaml"


def _index_book(**constraint_set) -> dict:
    from pipeline.config import safe_load

    d = safe_load(INDEX_BOOK.read_text())
    d["optimization"]["constraint_sets"] = {"limited": constraint_set}
    return d


def test_rho_limit_resolves_to_a_greek_row():
    plan = build_plan(parse_config(_index_book(greeks={"rho": {"USD": [-0.5, 0.5]}}), base_dir=INDEX_BOOK.parent))
    limited = plan.constraint_sets[1]
    assert limited.name == "limited"
    g = limited.constraints.greeks
    assert list(g.rows) == [("rho", "USD")]
    j = list(plan.book.greek_keys).index(("rho", "USD"))
    assert np.array_equal(np.asarray(g.matrix)[0], plan.book.greeks[:, j])


def test_rho_limit_binds_in_the_optimiser():
    """A rho limit that validates compiles and holds at the optimum (and binds when tight)."""
    from tasks.optimization import PortfolioProblem

    plan = build_plan(parse_config(_index_book(greeks={"rho": {"USD": [-0.05, 0.05]}}), base_dir=INDEX_BOOK.parent))
    book, cs = plan.book, plan.constraint_sets[1]
    rng = np.random.default_rng(3)
    R = rng.normal(0.002, 0.03, size=(400, len(book.names)))
    st = cs.settings
    free = PortfolioProblem(R, None, v=book.v, rm="MV", bounds=(st.lower, st.upper),
                            constraints=plan.constraint_sets[0].constraints, names=list(book.names)).max_return()
    prob = PortfolioProblem(R, None, v=book.v, rm="MV", bounds=(st.lower, st.upper), constraints=cs.constraints,
                            names=list(book.names))
    res = prob.max_return()
    j = list(book.greek_keys).index(("rho", "USD"))
    rho = float(res.exposures @ book.greeks[:, j])
    assert res.ok and -0.05 - 1e-7 <= rho <= 0.05 + 1e-7
    assert abs(float(free.exposures @ book.greeks[:, j])) > 0.05  # the limit is not slack
    assert res.expected_return < free.expected_return


def test_unknown_greek_and_missing_underlying_are_refused_with_key_paths():
    with pytest.raises(ConfigError) as info:
        parse_config(_index_book(greeks={"vanna": {"SPX": [-1, 1]}}), base_dir=INDEX_BOOK.parent)
    assert info.value.path == "optimization.constraint_sets.limited.greeks.vanna"
    assert "unknown Greek 'vanna'" in info.value.reason and "rho" in info.value.reason
    with pytest.raises(ConfigError) as info:
        build_plan(parse_config(_index_book(greeks={"gamma": {"USD": [-1, 1]}}), base_dir=INDEX_BOOK.parent))
    assert info.value.path == "optimization.constraint_sets.limited.greeks.gamma.USD"
    assert "no instrument has a gamma on 'USD'" in info.value.reason


# ---- misspelt keys: say what is unknown, what is missing, and the likely fix (issue 12, item 12) ---

def test_misspelt_required_key_names_both_keys(case_dict):
    def mutate(d):
        d["instruments"][11]["strke"] = d["instruments"][11].pop("strike")
    err = _bad(case_dict, mutate)
    assert err.path == "instruments[11].strike"
    assert err.reason == "required key is missing; instruments[11].strke is an unknown key: did you mean strike?"


def test_unknown_key_suggests_the_closest_known_key(case_dict):
    cases = [
        (lambda d: d["optimization"].update(pointz=3), "optimization.pointz", "points"),
        (lambda d: d.update(seeds=3), "seeds", "seed"),
        (lambda d: d["scenarios"]["drivers"][0].update(sigam=0.1), "scenarios.drivers[0].sigam", "sigma"),
        (lambda d: d["optimization"]["constraint_sets"]["delta_neutral_vega_capped"].update(capz={}),
         "optimization.constraint_sets.delta_neutral_vega_capped.capz", "caps"),
        (lambda d: d["instruments"][11].update(skwe=-0.1), "instruments[11].skwe", "skew"),
    ]
    for mutate, path, guess in cases:
        err = _bad(case_dict, mutate)
        assert err.path == path and err.reason == f"unknown key: did you mean {guess}?", err


def test_unknown_key_beside_a_missing_one(case_dict):
    def mutate(d):
        d["views"][0]["views"][0]["stats"] = d["views"][0]["views"][0].pop("stat")
    err = _bad(case_dict, mutate)
    assert err.path == "views[0].views[0].stat"
    assert "required key is missing; views[0].views[0].stats is an unknown key: did you mean stat?" == err.reason
    err = _bad(case_dict, lambda d: d["instruments"][11].update(colour="red"))
    assert err.path == "instruments[11].colour" and err.reason.startswith("unknown key (keys here: name, kind,")
    assert "strike" in err.reason and "did you mean" not in err.reason


def test_fraction_typed_in_percent_gets_the_decimal(case_dict):
    err = _bad(case_dict, lambda d: d["optimization"].update(alpha=5))
    assert err.path == "optimization.alpha" and "less than 1" in err.reason
    assert "tail probability: looks like percent: did you mean 0.05?" in err.reason
    err = _bad(case_dict, lambda d: d["optimization"].update(alpha=95))
    assert "confidence level in percent; tail probability: did you mean 0.05?" in err.reason
    err = _bad(case_dict, lambda d: d["views"][0]["views"][1].update(confidence=80))
    assert err.path == "views[0].views[1].confidence" and "did you mean 0.8?" in err.reason


def test_did_you_mean():
    from pipeline.errors import did_you_mean

    assert did_you_mean("strke", ["strike", "spot", "skew"]) == "strike"
    assert did_you_mean("colour", ["strike", "spot"]) is None
