"""Analytic Greeks vs central finite differences of the repricing functions (tasks.instruments)."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from tasks.instruments import (
    Bond,
    Cash,
    EuropeanOption,
    Future,
    FxForward,
    VarianceSwap,
    ZeroCurve,
    bond_convexity,
    bond_duration,
    greeks_matrix,
    greeks_table,
    instrument_greeks,
    instrument_pnl,
    market_value,
    portfolio_greeks,
)
from tasks.scenarios import DriverScenarios

USD = ZeroCurve("USD", (0.5, 1, 2, 5, 10), (0.04, 0.043, 0.039, 0.036, 0.04), "USD_par", "USD_slope")
EUR = ZeroCurve("EUR", (0.5, 1, 2, 5, 10), (0.02, 0.021, 0.024, 0.026, 0.03), "EUR_par")
NAMES = ["S", "S_vol", "USD_par", "USD_slope", "EUR_par", "FX"]
RATE_DRIVER = {"USD": "USD_par", "EUR": "EUR_par"}

INSTRUMENTS = [
    EuropeanOption("call_bs", "S", "call", 1.1, 1.3, 0.22, dividend=0.015, skew=-0.15, vol_driver="S_vol",
                   curve=USD, fx_driver="FX"),
    EuropeanOption("put_bs", "S", "put", 95.0, 0.7, 0.25, dividend=0.01, skew=-0.2, vol_driver="S_vol",
                   curve=USD, spot=100.0),
    EuropeanOption("put_noskew", "S", "put", 0.9, 3.0, 0.18, dividend=0.02, curve=USD),
    EuropeanOption("call_76", "S", "call", 1.1, 1.3, 0.22, model="black76", skew=-0.15, curve=USD),
    EuropeanOption("put_76", "S", "put", 0.97, 0.6, 0.3, model="black76", skew=0.05, curve=USD, spot=1.02),
    Future("future", "S", 0.8, curve=USD, dividend=0.01, fx_driver="FX"),
    Future("forward", "S", 0.8, curve=USD, dividend=0.01, kind="forward", strike=0.98),
    VarianceSwap("varswap", "S", 1.3, 0.2, strike=0.18, vol_driver="S_vol", curve=USD, fx_driver="FX"),
    Bond("coupon_bond", 4.3, 0.05, 2, USD, spread=0.01, fx_driver="FX"),
    Bond("zero_bond", 7.2, curve=USD),
    FxForward("fx_fwd", "FX", 1.3, strike=1.1, spot=1.08, curve=USD, foreign_curve=EUR),
    Cash("equity", "S", fx_driver="FX"),
]


def _pnl(inst, h=0.0, **shock):
    v = np.zeros((1, len(NAMES)))
    for k, x in shock.items():
        v[0, NAMES.index(k)] = x
    return float(instrument_pnl(inst, DriverScenarios(NAMES, v, h))[0])


def _fd(inst, greek, underlying):
    if greek == "delta":  # d v / d(S/S0): log-return ln(1 +- e)
        e = 1e-5
        return (_pnl(inst, **{underlying: math.log1p(e)}) - _pnl(inst, **{underlying: math.log1p(-e)})) / (2 * e)
    if greek == "gamma":
        e = 1e-3
        up, dn = _pnl(inst, **{underlying: math.log1p(e)}), _pnl(inst, **{underlying: math.log1p(-e)})
        return (up - 2 * _pnl(inst) + dn) / e**2
    if greek == "vega":  # ATM level atm0 e^x: d/dx = atm0 * d/d atm
        if inst.vol_driver is None:  # same instrument, ATM level now driven
            inst = dataclasses.replace(inst, vol_driver="S_vol")
        base = inst.atm_vol0 if isinstance(inst, EuropeanOption) else inst.vol
        e = 1e-5
        return (_pnl(inst, S_vol=e) - _pnl(inst, S_vol=-e)) / (2 * e) / base
    if greek == "theta":  # horizons >= 0 only: Richardson-extrapolated forward differences
        e = 1e-5
        d1 = (_pnl(inst, e) - _pnl(inst)) / e
        d2 = (_pnl(inst, 2 * e) - _pnl(inst)) / (2 * e)
        return 2 * d1 - d2
    drv = RATE_DRIVER[underlying]
    if greek == "rho":
        e = 1e-5
        return (_pnl(inst, **{drv: e}) - _pnl(inst, **{drv: -e})) / (2 * e)
    if greek == "convexity":
        e = 1e-3
        return (_pnl(inst, **{drv: e}) - 2 * _pnl(inst) + _pnl(inst, **{drv: -e})) / e**2
    raise AssertionError(greek)


CASES = [(inst, g, u) for inst in INSTRUMENTS for (g, u) in instrument_greeks(inst)]


@pytest.mark.parametrize("inst,greek,underlying", CASES,
                         ids=[f"{i.name}-{g}-{u}" for i, g, u in CASES])
def test_greek_matches_finite_difference(inst, greek, underlying):
    analytic = instrument_greeks(inst)[(greek, underlying)]
    fd = _fd(inst, greek, underlying)
    if analytic == 0.0:
        assert abs(fd) < 1e-8
    else:
        assert abs(fd - analytic) <= 1e-5 * abs(analytic), (analytic, fd)


def test_known_closed_forms():
    g = instrument_greeks(Future("f", "S", 1.0))
    assert g[("delta", "S")] == 1.0  # no carry: futures delta 1
    vs = VarianceSwap("v", "S", 2.0, 0.25)
    g = instrument_greeks(vs)
    assert g[("gamma", "S")] == pytest.approx(1.0) and g[("vega", "S")] == pytest.approx(0.5)
    z = Bond("z", 7.2, curve=USD)
    assert bond_duration(z) == pytest.approx(7.2, abs=1e-14)
    assert bond_convexity(z) == pytest.approx(7.2**2, abs=1e-12)
    cb = Bond("c", 4.3, 0.05, 2, USD)
    assert 0 < bond_duration(cb) < 4.3
    assert instrument_greeks(cb)[("rho", "USD")] == pytest.approx(-bond_duration(cb) * market_value(cb))
    opt = EuropeanOption("c", "S", "call", 1.0, 1.0, 0.2, skew=-0.1)
    flat = EuropeanOption("c", "S", "call", 1.0, 1.0, 0.2)
    # sticky moneyness, negative skew: spot up lowers this strike's moneyness ln(K/F), raising its
    # vol -> delta above the fixed-vol delta by vega * skew / S
    g, gf = instrument_greeks(opt), instrument_greeks(flat)
    assert g[("delta", "S")] == pytest.approx(gf[("delta", "S")] + g[("vega", "S")] * 0.1, rel=1e-12)
    assert ("rho", "rate") in instrument_greeks(flat)


def test_table_matrix_and_portfolio_aggregation():
    book = INSTRUMENTS
    table = greeks_table(book)
    assert list(table.columns) == ["instrument", "kind", "greek", "underlying", "value"]
    mat, keys = greeks_matrix(book)
    assert mat.shape == (len(book), len(keys))
    rng = np.random.default_rng(0)
    e = rng.normal(size=(4, len(book)))
    pg = portfolio_greeks(table, e)
    assert pg.shape == (4, len(keys)) and list(pg.columns) == keys
    assert np.allclose(pg.to_numpy(), e @ mat, atol=1e-14)
    # by hand: delta on S of portfolio 0
    hand = sum(e[0, i] * instrument_greeks(inst).get(("delta", "S"), 0.0) for i, inst in enumerate(book))
    assert pg.loc[0, ("delta", "S")] == pytest.approx(hand, abs=1e-14)
    # aligned by name, missing instruments count 0
    df = pd.DataFrame({"equity": [2.0], "zero_bond": [1.0]}, index=["p"])
    pg2 = portfolio_greeks(table, df)
    assert pg2.loc["p", ("delta", "S")] == 2.0
    assert pg2.loc["p", ("rho", "USD")] == pytest.approx(instrument_greeks(book[9])[("rho", "USD")])
    one = portfolio_greeks(table, e[1])
    assert np.allclose(one.to_numpy(), pg.iloc[[1]].to_numpy())
    with pytest.raises(ValueError):
        portfolio_greeks(table, np.ones(3))
