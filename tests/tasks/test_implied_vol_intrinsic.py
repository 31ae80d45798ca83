"""Implied vol at the intrinsic value (issue 12, item 17): a price a few ulps below (or above) the
discounted intrinsic value is at intrinsic (volatility 0); a price clearly below it has no
implied volatility (NaN)."""

import math

import numpy as np
import pytest

from tasks.instruments import black76_price, implied_vol_black76

CASES = [  # (F, K, T, r, call): in the money
    (100.0, 99.9, 1.0, 0.05, True),
    (100.0, 50.0, 2.0, 0.03, True),
    (1.0, 0.7, 0.25, -0.01, True),
    (99.9, 100.0, 1.0, 0.05, False),
    (1.0, 1.4, 5.0, 0.02, False),
    (3.7, 4.1, 0.5, 0.08, False),
]


def _below(x, k):
    for _ in range(k):
        x = np.nextafter(x, -np.inf)
    return x


@pytest.mark.parametrize("F,K,T,r,call", CASES)
def test_a_few_ulps_below_intrinsic_is_zero_vol(F, K, T, r, call):
    intrinsic = float(black76_price(F, K, T, 0.0, r, call))  # the pricer's discounted intrinsic
    assert intrinsic == pytest.approx(math.exp(-r * T) * abs(F - K), rel=1e-15)
    prices = np.array([_below(intrinsic, k) for k in range(0, 9)] + [np.nextafter(intrinsic, np.inf)])
    iv = implied_vol_black76(prices, F, K, T, r, call)
    assert np.all(iv == 0.0), iv


@pytest.mark.parametrize("F,K,T,r,call", CASES)
def test_clearly_below_intrinsic_is_nan(F, K, T, r, call):
    intrinsic = float(black76_price(F, K, T, 0.0, r, call))
    prices = np.array([intrinsic * (1 - 1e-10), intrinsic - 1e-9, intrinsic * 0.5])
    assert np.all(np.isnan(implied_vol_black76(prices, F, K, T, r, call)))


def test_out_of_the_money_at_zero():
    """Out of the money the intrinsic value is 0: a price a few denormal ulps below 0 is at it,
    a tiny positive price is a genuine (tiny) time value with a positive vol."""
    F, K, T, r = 1.0, 1.3, 0.5, 0.02
    neg = -np.arange(0, 5) * 5e-324
    assert np.all(implied_vol_black76(neg, F, K, T, r, True) == 0.0)
    assert np.isnan(implied_vol_black76(-1e-12, F, K, T, r, True))
    tiny = float(black76_price(F, K, T, 0.05, r, True))
    assert 0.0 < tiny < 1e-6
    assert implied_vol_black76(tiny, F, K, T, r, True) == pytest.approx(0.05, rel=1e-6)
