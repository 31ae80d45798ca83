"""Rate sensitivities keyed by curve or currency (issue 12, item 16): flat rates of different
currencies never share a rho key, so they neither add up nor share a rho limit."""

import dataclasses

import pytest

from tasks.instruments import (
    Bond,
    EuropeanOption,
    Future,
    FxForward,
    VarianceSwap,
    ZeroCurve,
    greeks_matrix,
    instrument_greeks,
    market_value,
    rate_key,
)

USD = ZeroCurve("USD", (1.0, 5.0), (0.04, 0.042))


def _rho_keys(inst):
    return sorted(u for g, u in instrument_greeks(inst) if g == "rho")


def test_rate_key_rules():
    assert rate_key(USD) == "USD"
    assert rate_key(USD, "EUR", "EURUSD") == "USD"  # a curve names its own currency
    assert rate_key(None, "EUR", "EURUSD") == "EUR"
    assert rate_key(None) == "rate"  # base-currency flat rate
    assert rate_key(None, None, "EURUSD") == "rate:EURUSD"


def test_flat_rates_of_two_currencies_keep_separate_rho_columns():
    spx = EuropeanOption("spx", "SPX", "put", 0.9, 0.25, 0.2, rate=0.05)
    sx5e = EuropeanOption("sx5e", "SX5E", "put", 0.9, 0.25, 0.2, rate=0.025, fx_driver="EURUSD")
    bund = Bond("bund", 5.0, 0.02, 1, rate=0.025, currency="EUR", fx_driver="EURUSD")
    fut = Future("fesx", "SX5E", 0.25, rate=0.025, currency="EUR")
    vs = VarianceSwap("vs", "SPX", 0.5, 0.2, rate=0.05, currency="USD")
    _, keys = greeks_matrix([spx, sx5e, bund, fut, vs])
    rho = sorted(u for g, u in keys if g == "rho")
    assert rho == ["EUR", "USD", "rate", "rate:EURUSD"]
    assert _rho_keys(vs) == ["USD"] and _rho_keys(bund) == ["EUR"]
    assert sorted(u for g, u in instrument_greeks(bund) if g == "convexity") == ["EUR"]


def test_fx_forward_legs_are_keyed_by_their_currencies():
    flat = FxForward("fx", "EURUSD", 1.0, spot=1.1, rate=0.04, foreign_rate=0.02)
    assert _rho_keys(flat) == ["rate", "rate:EURUSD"]
    named = dataclasses.replace(flat, currency="USD", foreign_currency="EUR")
    assert _rho_keys(named) == ["EUR", "USD"]
    g = instrument_greeks(named)
    # rho of each leg: the derivative of V_0 / X_0 in that flat rate (central difference)
    e = 1e-6
    for field, key in (("rate", "USD"), ("foreign_rate", "EUR")):
        up = market_value(dataclasses.replace(flat, strike=flat.delivery, **{field: getattr(flat, field) + e}))
        dn = market_value(dataclasses.replace(flat, strike=flat.delivery, **{field: getattr(flat, field) - e}))
        assert g[("rho", key)] == pytest.approx((up - dn) / (2 * e), rel=1e-7)
