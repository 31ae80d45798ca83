"""Theta at a curve tenor (issue 12, item 15): when a maturity or a cash flow sits exactly on a
tenor of a linearly interpolated curve, theta is still the derivative of the horizon repricing,
which discounts at ``z(T - H)`` for ``H >= 0`` (the curve's slope to the *left* of the tenor)."""

import math

import numpy as np
import pytest

from tasks.instruments import (
    Bond,
    EuropeanOption,
    Future,
    FxForward,
    VarianceSwap,
    ZeroCurve,
    instrument_greeks,
    instrument_pnl,
)
from tasks.scenarios import DriverScenarios

# kinks at every tenor: the slopes left and right of each differ
USD = ZeroCurve("USD", (0.25, 0.5, 1.0, 2.0, 5.0), (0.030, 0.045, 0.040, 0.050, 0.038), "USD_par")
EUR = ZeroCurve("EUR", (0.25, 1.0, 3.0), (0.010, 0.025, 0.018), "EUR_par")
NAMES = ["S", "S_vol", "USD_par", "EUR_par", "FX"]

ON_TENOR = [
    Future("future_3m", "S", 0.25, curve=USD, dividend=0.01),
    Future("forward_3m", "S", 0.25, curve=USD, dividend=0.01, kind="forward", strike=0.98),
    EuropeanOption("call_6m", "S", "call", 1.05, 0.5, 0.2, dividend=0.01, skew=-0.2, vol_driver="S_vol",
                   curve=USD),
    EuropeanOption("put_1y_76", "S", "put", 0.95, 1.0, 0.25, model="black76", curve=USD),
    VarianceSwap("varswap_1y", "S", 1.0, 0.2, strike=0.18, curve=USD),
    Bond("bond_2y", 2.0, 0.05, 1, USD),  # cash flows at 1y and 2y, both tenors
    Bond("zero_5y", 5.0, curve=USD),  # on the last tenor
    Bond("zero_3m", 0.25, curve=USD),  # on the first tenor (flat to its left)
    FxForward("fx_1y", "FX", 1.0, strike=1.1, spot=1.08, curve=USD, foreign_curve=EUR),
]


def _pnl(inst, h):
    return float(instrument_pnl(inst, DriverScenarios(NAMES, np.zeros((1, len(NAMES))), h))[0])


def _theta_fd(inst, e=1e-5):
    """One-sided (horizons >= 0) derivative of the repricing, Richardson-extrapolated."""
    d1 = _pnl(inst, e) / e
    d2 = _pnl(inst, 2 * e) / (2 * e)
    return 2 * d1 - d2


def _theta_key(inst):
    return next(k for k in instrument_greeks(inst) if k[0] == "theta")


@pytest.mark.parametrize("inst", ON_TENOR, ids=[i.name for i in ON_TENOR])
def test_theta_on_a_tenor_is_the_derivative_of_the_repricing(inst):
    theta = instrument_greeks(inst)[_theta_key(inst)]
    fd = _theta_fd(inst)
    assert abs(theta - fd) <= 1e-6 * max(abs(fd), 1e-4), (theta, fd)


def test_the_issue_future_on_the_3m_tenor():
    """A future on a 0.25y tenor: theta is the left-slope roll-down, not the right one."""
    curve = ZeroCurve("USD", (0.25, 0.5), (0.03, 0.05))
    fut = Future("f", "S", 0.25, curve=curve)
    theta = instrument_greeks(fut)[("theta", "S")]
    # z(T - H) = 0.03 for H >= 0 (flat to the left of the first tenor): F_H = e^{0.03 (T - H)}
    assert theta == pytest.approx(-0.03 * math.exp(0.03 * 0.25), rel=1e-14)
    fd = (_pnl_one(fut, 1e-5) * 2 - _pnl_one(fut, 2e-5) / 2) / 1e-5
    assert theta == pytest.approx(fd, rel=1e-6)


def _pnl_one(inst, h):
    return float(instrument_pnl(inst, DriverScenarios(["S"], np.zeros((1, 1)), h))[0])


def test_one_sided_slopes_at_the_nodes():
    t = np.array([0.25, 0.5, 1.0, 2.0, 5.0, 0.75, 7.0, 0.1])
    right = USD.zero_slope(t)
    left = USD.zero_slope(t, "left")
    seg = np.diff(USD.rates) / np.diff(USD.tenors)
    assert np.allclose(right[:5], [*seg, 0.0], rtol=0, atol=1e-15)
    assert np.allclose(left[:5], [0.0, *seg], rtol=0, atol=1e-15)
    assert right[5] == left[5] == seg[1]  # between nodes both sides agree
    assert right[6] == left[6] == 0.0 and right[7] == left[7] == 0.0  # flat outside
    assert USD.forward(1.0, "left") == pytest.approx(0.04 + 1.0 * seg[1], abs=1e-15)
    with pytest.raises(ValueError, match="side"):
        USD.zero_slope(1.0, "up")
