"""Unit slips are refused at validation with the key path and the likely meaning (issue 12, item 8).

``alpha: 0.95`` where a tail probability is meant, ``sigma: 15`` for 15 %, ``mu: 6``, a vol view
of ``20``: each is refused naming the value it probably means. A legal but unusual value may be
accepted by listing its key path under ``allow_unusual``; an impossible one may not.
"""

import copy

import numpy as np
import pytest

from pipeline.config import ConfigError, config_hash, load_config, parse_config, safe_load
from pipeline.resolve import build_plan
from pipeline.runner import resolve_config
from pipeline.validate import _prior_moments
from tasks.scenarios import simulate_drivers
from tests.conftest import ROOT

CONFIGS = ROOT / "configs"
INDEX = CONFIGS / "index_options_book.yaml"
CRYPTO = CONFIGS / "crypto_options.yaml"


def _dict(path):
    return safe_load(path.read_text())


def _parse(d, base=CONFIGS):
    return build_plan(parse_config(d, base_dir=base))


def _mutated(d, mutate, allow=None):
    d = copy.deepcopy(d)
    mutate(d)
    if allow is not None:
        d["allow_unusual"] = allow
    return d


def _refusal(d, mutate, allow=None):
    with pytest.raises(ConfigError) as info:
        _parse(_mutated(d, mutate, allow))
    return info.value


def _drv(i, **kw):
    return lambda d: d["scenarios"]["drivers"][i].update(**kw)


def _view(s, j, **kw):
    return lambda d: d["views"][s]["views"][j].update(**kw)


def _ins(i, **kw):
    return lambda d: d["instruments"][i].update(**kw)


def _opt(**kw):
    return lambda d: d["optimization"].update(**kw)


# Derivatives case: drivers[4] = DM_Equity (mu 0.062, sigma 0.139, 1 y horizon); views[0] =
# turbulence (mean, vol 0.20, skew, kurt), views[1] = crash (mean -0.10, vol, corr, CVaR alpha 0.10);
# instruments[15] = Call_110 (vol 0.14, strike 1.10, spot 1).
LEGAL = [  # (mutation, key path, the likely meaning in the message)
    (_opt(alpha=0.95), "optimization.alpha", "tail probability: did you mean 0.05?"),
    (_view(1, 3, alpha=0.9), "views[1].views[3].alpha", "tail probability: did you mean 0.1?"),
    (_drv(4, sigma=5), "scenarios.drivers[4].sigma", "looks like percent: did you mean 0.05?"),
    (_drv(4, mu=6), "scenarios.drivers[4].mu", "looks like percent: did you mean 0.06?"),
    (_view(0, 1, value=20), "views[0].views[1].value", "looks like percent: did you mean 0.2?"),
    (_view(0, 1, stat="var", value=400), "views[0].views[1].value", "did you mean 0.04?"),
    (_view(1, 0, value=6), "views[1].views[0].value", "looks like percent: did you mean 0.06?"),
    (_view(1, 3, on="Put_90", value=30), "views[1].views[3].value", "looks like percent: did you mean 0.3?"),
    (_ins(15, vol=5), "instruments[15].vol", "looks like percent: did you mean 0.05?"),
    (_ins(15, strike=110), "instruments[15].strike", "looks like percent of spot: did you mean 1.1?"),
    (_opt(targets=[5]), "optimization.targets[0]", "looks like percent: did you mean 0.05?"),
    (_opt(rf=2), "optimization.rf", "looks like percent: did you mean 0.02?"),
]

IMPOSSIBLE = [
    (_drv(4, sigma=15), "scenarios.drivers[4].sigma", "not a fraction", "looks like percent: did you mean 0.15?"),
    (_drv(4, mu=12), "scenarios.drivers[4].mu", "not a fraction", "did you mean 0.12?"),
    (_ins(15, vol=20), "instruments[15].vol", "not a fraction", "did you mean 0.2?"),
    (_view(1, 0, value=-10), "views[1].views[0].value", "above -100 %", "did you mean -0.1?"),
    (_view(1, 3, value=30), "views[1].views[3].value", "cannot lose more than 100 %", "did you mean 0.3?"),
    (_view(1, 2, value=90), "views[1].views[2].value", "correlation lies in [-1, 1]", "did you mean 0.9?"),
    (_view(1, 0, stat="prob", threshold=-0.1, value=5), "views[1].views[0].value", "probability lies in [0, 1]",
     "did you mean 0.05?"),
    (_view(1, 0, stat="prob", threshold=-20, value=0.05), "views[1].views[0].threshold", "P(X <= -20) is 0",
     "did you mean -0.2?"),
]


@pytest.mark.parametrize(("mutate", "path", "meaning"), LEGAL, ids=[c[1] + "-legal" for c in LEGAL])
def test_unusual_legal_value_refused_then_allowed(case_dict, mutate, path, meaning):
    err = _refusal(case_dict, mutate)
    assert err.path == path and meaning in err.reason, err
    assert f"list {path} under allow_unusual" in err.reason
    plan = _parse(_mutated(case_dict, mutate, allow=[path]))  # the explicit opt-out accepts it
    assert plan.book.names


@pytest.mark.parametrize(("mutate", "path", "why", "meaning"), IMPOSSIBLE, ids=[c[1] for c in IMPOSSIBLE])
def test_impossible_value_refused_even_when_allowed(case_dict, mutate, path, why, meaning):
    err = _refusal(case_dict, mutate)
    assert err.path == path and why in err.reason and meaning in err.reason, err
    assert "allow_unusual" not in err.reason
    err = _refusal(case_dict, mutate, allow=[path])
    assert err.path == path and "allow_unusual cannot accept an impossible value" in err.reason


def test_rate_units_percent_and_basis_points():
    d = _dict(INDEX)  # drivers[4] = USD_parallel (rate, sigma 0.010); curves[0] = USD; instruments[2] = UST_10y
    err = _refusal(d, _drv(4, sigma=0.5))
    assert err.path == "scenarios.drivers[4].sigma" and "5000 bp" in err.reason
    assert "looks like percent: did you mean 0.005?" in err.reason
    err = _refusal(d, _drv(4, sigma=100))
    assert "not a fraction" in err.reason and "looks like basis points: did you mean 0.01?" in err.reason
    err = _refusal(d, _drv(4, sigma=1))
    assert "not a fraction" in err.reason and "looks like percent: did you mean 0.01?" in err.reason
    err = _refusal(d, lambda x: x["curves"][0]["rates"].__setitem__(2, 4.1))
    assert err.path == "curves[0].rates[2]" and "did you mean 0.041?" in err.reason
    err = _refusal(d, _ins(2, coupon=4))
    assert err.path == "instruments[2].coupon" and "did you mean 0.04?" in err.reason


def test_real_books_pass_at_the_edges():
    """Thresholds leave real markets alone: crypto vols 0.8-1.5 (vol of vol 2), a VIX-like spike of
    the ATM vol (+400 % in a month), 50 % tail probability, 80 % rates, a 6x-prior vol stress."""
    crypto = _dict(CRYPTO)  # drivers: BTC, ETH, BTC_vol, ETH_vol; views[0].views[0] = BTC mean
    edges = _mutated(crypto, lambda d: (
        d["scenarios"]["drivers"][0].update(sigma=1.5, mu=0.9),
        d["scenarios"]["drivers"][1].update(sigma=0.8),
        d["scenarios"]["drivers"][2].update(sigma=2.0),
        d["optimization"].update(alpha=0.5),
        d["instruments"][4].update(vol=1.5, rate=0.8),
        d["views"][0]["views"][0].update(stat="vol", value=1.2)))
    assert _parse(edges).book.names
    index = _dict(INDEX)  # views[0].views[1] = mean of SPX_vol
    assert _parse(_mutated(index, _view(0, 1, value=4.0)), base=INDEX.parent).book.names


def test_example_configs_need_no_opt_out():
    for path in sorted(CONFIGS.glob("*.yaml")):
        cfg = load_config(path)
        assert cfg.allow_unusual == [] and "allow_unusual" not in cfg.canonical()
        assert build_plan(cfg).book.names


def test_opt_out_is_recorded_and_survives_revalidation(case_dict):
    allowed = _mutated(case_dict, _opt(alpha=0.95), allow=["optimization.alpha"])
    cfg = parse_config(allowed, base_dir=CONFIGS)
    assert cfg.canonical()["allow_unusual"] == ["optimization.alpha"]
    plain = parse_config(copy.deepcopy(case_dict), base_dir=CONFIGS)
    assert config_hash(cfg) != config_hash(plain)
    again = resolve_config(cfg, {"seed": 3})  # overrides re-validate the canonical config
    assert again.optimization.alpha == 0.95 and again.seed == 3


def test_stale_or_misspelt_opt_out_is_refused(case_dict):
    err = _refusal(case_dict, _opt(alpha=0.95), allow=["optimization.alpha", "optimization.alpah"])
    assert err.path == "allow_unusual[1]" and "'optimization.alpah' names no value" in err.reason
    err = _refusal(case_dict, lambda d: None, allow=["optimization.alpha"])
    assert err.path == "allow_unusual[0]"


def test_prior_moments_match_the_simulated_scenarios():
    """The prior mean and vol the view checks compare with are those of the run's own scenarios:
    the closed form against the simulator (2e5 moment-matched scenarios) and a plain normal sample."""
    cfg = load_config(INDEX)
    moments = _prior_moments(cfg)
    model = build_plan(cfg).scenarios.model
    sims = simulate_drivers(model, 200_000, seed=11)
    rng = np.random.default_rng(5)
    h = cfg.horizon
    for d in cfg.scenarios.drivers:
        kind, mean, sd = moments[d.name]
        x = np.asarray(sims.values)[:, sims.names.index(d.name)]
        z = rng.standard_normal(200_000)
        if d.kind == "rate":
            assert kind == "rate"
            sample, brute = x, d.mu * h + d.sigma * np.sqrt(h) * z
        else:
            assert kind == "return"
            sample = np.expm1(x)
            brute = np.expm1((d.mu - d.sigma**2 / 2) * h + d.sigma * np.sqrt(h) * z)
        for s in (sample, brute):
            assert s.mean() == pytest.approx(mean, abs=0.02 * sd)
            assert s.std() == pytest.approx(sd, rel=0.02)
    assert moments["SPX_P90_3m"] == ("pnl", None, None)
