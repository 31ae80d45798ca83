"""Tests for tasks.instruments (Black-76 / Black-Scholes prices, Greeks, implied vol).

Every analytic result is cross-checked against something computed independently:
numerical integration of the payoff against the lognormal density, put-call
parity, the Black-76 <-> Black-Scholes forward mapping, central finite
differences, textbook values and the implied-vol round trip.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from scipy import integrate

from tasks.instruments import (
    black76_greeks,
    black76_price,
    black_scholes_greeks,
    black_scholes_price,
    implied_vol_black76,
)


@contextmanager
def no_warnings() -> Iterator[None]:
    """Turn every warning (numpy RuntimeWarning included) into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def lognormal_quad_price(F: float, K: float, T: float, sigma: float, r: float, is_call: bool) -> float:
    """Discounted E[payoff] with F_T = F exp(-s^2/2 + s Z), Z ~ N(0, 1), by quadrature.

    Independent of the closed form: no normal CDF, only the density and scipy.quad,
    split at the exercise boundary z* where F_T = K.
    """
    s = sigma * math.sqrt(T)
    z_star = (math.log(K / F) + 0.5 * s * s) / s

    def integrand(z: float) -> float:
        f_t = F * math.exp(-0.5 * s * s + s * z)
        payoff = f_t - K if is_call else K - f_t
        return payoff * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)

    lo, hi = (z_star, 40.0) if is_call else (-40.0, z_star)
    value, abserr = integrate.quad(integrand, lo, hi, epsabs=1e-14, epsrel=1e-13, limit=200)
    assert abserr < 1e-12
    return math.exp(-r * T) * value


# --------------------------------------------------------------------------- case study
CASE_STUDY = [
    # (name, K, vol, is_call) with F = 1, r = 0, T = 1
    ("Put 90", 0.90, 0.16, False),
    ("Put 95", 0.95, 0.155, False),
    ("Call 105", 1.05, 0.145, True),
    ("Call 110", 1.10, 0.14, True),
]


def test_case_study_atmf_premium() -> None:
    call = float(black76_price(1.0, 1.0, 1.0, 0.15, 0.0, True))
    put = float(black76_price(1.0, 1.0, 1.0, 0.15, 0.0, False))
    # At the money forward: C = P = N(s/2) - N(-s/2) = erf(s / (2 sqrt 2)), s = 0.15.
    exact = math.erf(0.15 / (2.0 * math.sqrt(2.0)))
    assert abs(call - 0.059785) < 1e-6
    assert abs(put - 0.059785) < 1e-6
    assert abs(call - exact) < 1e-15
    assert abs(put - exact) < 1e-15
    assert call == put
    assert abs(lognormal_quad_price(1.0, 1.0, 1.0, 0.15, 0.0, True) - exact) < 1e-10


@pytest.mark.parametrize(("name", "K", "vol", "is_call"), CASE_STUDY)
def test_case_study_premia_vs_quadrature(name: str, K: float, vol: float, is_call: bool) -> None:
    analytic = float(black76_price(1.0, K, 1.0, vol, 0.0, is_call))
    reference = lognormal_quad_price(1.0, K, 1.0, vol, 0.0, is_call)
    assert abs(analytic - reference) < 1e-8, name


def test_case_study_premia_vectorised_and_regression() -> None:
    K = np.array([c[1] for c in CASE_STUDY])
    vol = np.array([c[2] for c in CASE_STUDY])
    is_call = np.array([c[3] for c in CASE_STUDY])
    prices = black76_price(1.0, K, 1.0, vol, 0.0, is_call)
    # Regression values (also reproduced by the quadrature test above to 1e-8).
    expected = np.array([0.0232116352, 0.0384905689, 0.0375566373, 0.0216408305])
    np.testing.assert_allclose(prices, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("F", "K", "T", "sigma", "r", "is_call"),
    [
        (1.0, 0.8, 0.5, 0.3, 0.04, True),
        (1.0, 1.3, 2.0, 0.25, -0.01, False),
        (100.0, 90.0, 0.25, 0.5, 0.02, True),
        (0.7, 0.75, 5.0, 0.6, 0.03, False),
    ],
)
def test_black76_vs_quadrature_with_rates(F: float, K: float, T: float, sigma: float, r: float, is_call: bool) -> None:
    analytic = float(black76_price(F, K, T, sigma, r, is_call))
    reference = lognormal_quad_price(F, K, T, sigma, r, is_call)
    assert abs(analytic - reference) < 1e-9 * max(F, K)


def test_textbook_values() -> None:
    # Hull, Options Futures and Other Derivatives: S=42, K=40, r=10%, sigma=20%, T=0.5.
    assert abs(float(black_scholes_price(42, 40, 0.5, 0.2, 0.1)) - 4.76) < 5e-3
    assert abs(float(black_scholes_price(42, 40, 0.5, 0.2, 0.1, is_call=False)) - 0.81) < 5e-3
    # Hull: index call, S=930, K=900, r=8%, q=3%, sigma=20%, T=2 months -> 51.83.
    assert abs(float(black_scholes_price(930, 900, 2 / 12, 0.2, 0.08, 0.03)) - 51.83) < 5e-3
    # Hull: Black's model futures put, F=K=20, r=9%, sigma=25%, T=4 months -> 1.12.
    assert abs(float(black76_price(20, 20, 4 / 12, 0.25, 0.09, False)) - 1.12) < 5e-3


# --------------------------------------------------------------------------- parity & consistency
def _grid() -> dict[str, np.ndarray]:
    S, K, T, sigma, r, q = np.meshgrid(
        [0.6, 0.95, 1.0, 1.4],
        [0.8, 1.0, 1.2],
        [0.05, 0.5, 2.0, 10.0],
        [0.05, 0.2, 0.8],
        [-0.01, 0.0, 0.07],
        [0.0, 0.03, -0.02],
        indexing="ij",
    )
    return {"S": S.ravel(), "K": K.ravel(), "T": T.ravel(), "sigma": sigma.ravel(), "r": r.ravel(), "q": q.ravel()}


def test_put_call_parity_black76() -> None:
    g = _grid()
    F, K, T, sigma, r = g["S"], g["K"], g["T"], g["sigma"], g["r"]
    call = black76_price(F, K, T, sigma, r, True)
    put = black76_price(F, K, T, sigma, r, False)
    np.testing.assert_allclose(call - put, np.exp(-r * T) * (F - K), rtol=0, atol=1e-14)


def test_put_call_parity_black_scholes() -> None:
    g = _grid()
    S, K, T, sigma, r, q = g["S"], g["K"], g["T"], g["sigma"], g["r"], g["q"]
    call = black_scholes_price(S, K, T, sigma, r, q, True)
    put = black_scholes_price(S, K, T, sigma, r, q, False)
    np.testing.assert_allclose(call - put, S * np.exp(-q * T) - K * np.exp(-r * T), rtol=0, atol=1e-14)


@pytest.mark.parametrize("is_call", [True, False])
def test_black76_black_scholes_consistency(is_call: bool) -> None:
    g = _grid()
    S, K, T, sigma, r, q = g["S"], g["K"], g["T"], g["sigma"], g["r"], g["q"]
    F = S * np.exp((r - q) * T)
    bs = black_scholes_price(S, K, T, sigma, r, q, is_call)
    b76 = black76_price(F, K, T, sigma, r, is_call)
    np.testing.assert_allclose(bs, b76, rtol=1e-13, atol=1e-16)
    # Greeks map through dF/dS = exp((r-q)T): delta_BS = G delta_76, gamma_BS = G^2 gamma_76, equal vega.
    gb = black_scholes_greeks(S, K, T, sigma, r, q, is_call)
    g7 = black76_greeks(F, K, T, sigma, r, is_call)
    G = np.exp((r - q) * T)
    np.testing.assert_allclose(gb["delta"], G * g7["delta"], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(gb["gamma"], G * G * g7["gamma"], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(gb["vega"], g7["vega"], rtol=1e-12, atol=1e-300)


def test_price_bounds_and_monotonicity() -> None:
    g = _grid()
    F, K, T, sigma, r = g["S"], g["K"], g["T"], g["sigma"], g["r"]
    D = np.exp(-r * T)
    call = black76_price(F, K, T, sigma, r, True)
    put = black76_price(F, K, T, sigma, r, False)
    assert np.all(call >= D * np.maximum(F - K, 0) - 1e-15)
    assert np.all(call <= D * F + 1e-15)
    assert np.all(put >= D * np.maximum(K - F, 0) - 1e-15)
    assert np.all(put <= D * K + 1e-15)
    higher = black76_price(F, K, T, sigma * 1.01, r, True)
    assert np.all(higher >= call)


# --------------------------------------------------------------------------- Greeks vs finite differences
def _fd_points() -> dict[str, np.ndarray]:
    """Points away from expiry and not so deep out of the money that FD truncation dominates."""
    S, K, T, sigma, r, q = np.meshgrid(
        [0.85, 1.0, 1.2],
        [0.9, 1.0, 1.1],
        [0.25, 1.0, 3.0],
        [0.15, 0.35],
        [-0.01, 0.05],
        [0.0, 0.03],
        indexing="ij",
    )
    return {"S": S.ravel(), "K": K.ravel(), "T": T.ravel(), "sigma": sigma.ravel(), "r": r.ravel(), "q": q.ravel()}


def _central(f: Callable[[float], np.ndarray], h: np.ndarray | float) -> np.ndarray:
    return (f(+1.0) - f(-1.0)) / (2.0 * h)


def _second_difference(f: Callable[[float], np.ndarray], h: np.ndarray) -> np.ndarray:
    """Central second difference with one Richardson step: (4 D(h/2) - D(h)) / 3, O(h^4).

    ``f(e)`` evaluates the price with the bumped variable shifted by ``e``.
    """

    def d(step: np.ndarray) -> np.ndarray:
        return (f(step) - 2.0 * f(0.0 * step) + f(-step)) / step**2

    return (4.0 * d(0.5 * h) - d(h)) / 3.0


def _assert_rel(analytic: np.ndarray, fd: np.ndarray, name: str, rtol: float = 1e-5) -> None:
    # Relative error, with a 1e-9 absolute floor for Greeks that happen to sit near zero.
    err = np.abs(analytic - fd) / np.maximum(np.abs(analytic), 1e-9)
    worst = int(np.argmax(err))
    assert err[worst] <= rtol, f"{name}: rel err {err[worst]:.2e} (analytic {analytic[worst]!r}, fd {fd[worst]!r})"


@pytest.mark.parametrize("is_call", [True, False])
def test_black76_greeks_vs_finite_differences(is_call: bool) -> None:
    p = _fd_points()
    F, K, T, sigma, r = p["S"], p["K"], p["T"], p["sigma"], p["r"]
    g = black76_greeks(F, K, T, sigma, r, is_call)
    assert set(g) == {"delta", "gamma", "vega", "theta", "rho"}

    def price(
        F: np.ndarray = F, T: np.ndarray = T, sigma: np.ndarray = sigma, r: np.ndarray | float = r
    ) -> np.ndarray:
        return black76_price(F, K, T, sigma, r, is_call)

    hF, hT, hs, hr = 1e-5 * F, 1e-5 * T, 1e-5 * sigma, 1e-5
    _assert_rel(g["delta"], _central(lambda e: price(F=F + e * hF), hF), "delta")
    _assert_rel(g["vega"], _central(lambda e: price(sigma=sigma + e * hs), hs), "vega")
    _assert_rel(g["theta"], -_central(lambda e: price(T=T + e * hT), hT), "theta")
    _assert_rel(g["rho"], _central(lambda e: price(r=r + e * hr), hr), "rho")
    # gamma: second difference of the price, and central difference of the analytic delta.
    second = _second_difference(lambda e: price(F=F + e), 1e-3 * F)
    _assert_rel(g["gamma"], second, "gamma (2nd diff of price)")
    d_delta = _central(lambda e: black76_greeks(F + e * hF, K, T, sigma, r, is_call)["delta"], hF)
    _assert_rel(g["gamma"], d_delta, "gamma (diff of delta)")


@pytest.mark.parametrize("is_call", [True, False])
def test_black_scholes_greeks_vs_finite_differences(is_call: bool) -> None:
    p = _fd_points()
    S, K, T, sigma, r, q = p["S"], p["K"], p["T"], p["sigma"], p["r"], p["q"]
    g = black_scholes_greeks(S, K, T, sigma, r, q, is_call)
    assert set(g) == {"delta", "gamma", "vega", "theta", "rho", "dividend_rho"}

    def price(
        S: np.ndarray = S,
        T: np.ndarray = T,
        sigma: np.ndarray = sigma,
        r: np.ndarray | float = r,
        q: np.ndarray | float = q,
    ) -> np.ndarray:
        return black_scholes_price(S, K, T, sigma, r, q, is_call)

    hS, hT, hs, hr = 1e-5 * S, 1e-5 * T, 1e-5 * sigma, 1e-5
    _assert_rel(g["delta"], _central(lambda e: price(S=S + e * hS), hS), "delta")
    _assert_rel(g["vega"], _central(lambda e: price(sigma=sigma + e * hs), hs), "vega")
    _assert_rel(g["theta"], -_central(lambda e: price(T=T + e * hT), hT), "theta")
    _assert_rel(g["rho"], _central(lambda e: price(r=r + e * hr), hr), "rho")
    _assert_rel(g["dividend_rho"], _central(lambda e: price(q=q + e * hr), hr), "dividend_rho")
    second = _second_difference(lambda e: price(S=S + e), 1e-3 * S)
    _assert_rel(g["gamma"], second, "gamma (2nd diff of price)")
    d_delta = _central(lambda e: black_scholes_greeks(S + e * hS, K, T, sigma, r, q, is_call)["delta"], hS)
    _assert_rel(g["gamma"], d_delta, "gamma (diff of delta)")


def test_black_scholes_greeks_textbook_closed_forms() -> None:
    # Hull's closed forms for a call with dividend yield, written out independently.
    S, K, T, sigma, r, q = 49.0, 50.0, 0.3846, 0.2, 0.05, 0.02
    s = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma**2) * T) / s
    d2 = d1 - s

    def N(x: float) -> float:
        return 0.5 * math.erfc(-x / math.sqrt(2.0))

    def n(x: float) -> float:
        return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)

    expected = {
        "delta": math.exp(-q * T) * N(d1),
        "gamma": math.exp(-q * T) * n(d1) / (S * s),
        "vega": S * math.exp(-q * T) * n(d1) * math.sqrt(T),
        "theta": -S * n(d1) * sigma * math.exp(-q * T) / (2 * math.sqrt(T))
        + q * S * N(d1) * math.exp(-q * T)
        - r * K * math.exp(-r * T) * N(d2),
        "rho": K * T * math.exp(-r * T) * N(d2),
        "dividend_rho": -T * S * math.exp(-q * T) * N(d1),
    }
    g = black_scholes_greeks(S, K, T, sigma, r, q, True)
    for key, value in expected.items():
        assert abs(float(g[key]) - value) <= 1e-12 * max(1.0, abs(value)), key


# --------------------------------------------------------------------------- expiry & degenerate inputs
@pytest.mark.parametrize("T", [0.0, -0.5])
def test_value_at_expiry_is_payoff(T: float) -> None:
    F = np.array([0.8, 1.0, 1.25, 0.0, 2.0])
    K = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    with no_warnings():
        for r in (0.0, 0.05):
            call = black76_price(F, K, T, 0.2, r, True)
            put = black76_price(F, K, T, 0.2, r, False)
            np.testing.assert_array_equal(call, np.maximum(F - K, 0.0))
            np.testing.assert_array_equal(put, np.maximum(K - F, 0.0))
            bs_call = black_scholes_price(F, K, T, 0.2, r, 0.03, True)
            bs_put = black_scholes_price(F, K, T, 0.2, r, 0.03, False)
            np.testing.assert_array_equal(bs_call, np.maximum(F - K, 0.0))
            np.testing.assert_array_equal(bs_put, np.maximum(K - F, 0.0))
    assert np.all(np.isfinite(call)) and np.all(np.isfinite(put))


def test_zero_vol_is_discounted_intrinsic() -> None:
    F = np.array([0.8, 1.0, 1.25])
    T, r = 2.0, 0.05
    with no_warnings():
        call = black76_price(F, 1.0, T, 0.0, r, True)
        put = black76_price(F, 1.0, T, 0.0, r, False)
        np.testing.assert_array_equal(call, math.exp(-r * T) * np.maximum(F - 1.0, 0.0))
        np.testing.assert_array_equal(put, math.exp(-r * T) * np.maximum(1.0 - F, 0.0))
        g = black76_greeks(F, 1.0, T, 0.0, r, True)
    D = math.exp(-r * T)
    np.testing.assert_array_equal(g["delta"], D * np.array([0.0, 0.5, 1.0]))
    np.testing.assert_array_equal(g["gamma"], 0.0)
    np.testing.assert_allclose(g["vega"], [0.0, D * math.sqrt(T) / math.sqrt(2 * math.pi), 0.0], rtol=1e-15)
    np.testing.assert_allclose(g["theta"], r * call, rtol=1e-15)
    np.testing.assert_allclose(g["rho"], -T * call, rtol=1e-15)


@pytest.mark.parametrize("T", [0.0, -1.0])
def test_greeks_at_expiry_conventions(T: float) -> None:
    F = np.array([0.9, 1.0, 1.1])
    with no_warnings():
        gc = black76_greeks(F, 1.0, T, 0.2, 0.05, True)
        gp = black76_greeks(F, 1.0, T, 0.2, 0.05, False)
        bc = black_scholes_greeks(F, 1.0, T, 0.2, 0.05, 0.02, True)
        bp = black_scholes_greeks(F, 1.0, T, 0.2, 0.05, 0.02, False)
    np.testing.assert_array_equal(gc["delta"], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(gp["delta"], [-1.0, -0.5, 0.0])
    np.testing.assert_array_equal(bc["delta"], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(bp["delta"], [-1.0, -0.5, 0.0])
    for g in (gc, gp):
        for key in ("gamma", "vega", "theta", "rho"):
            np.testing.assert_array_equal(g[key], 0.0, err_msg=key)
    for g in (bc, bp):
        for key in ("gamma", "vega", "theta", "rho", "dividend_rho"):
            np.testing.assert_array_equal(g[key], 0.0, err_msg=key)


def test_no_warnings_on_mixed_degenerate_inputs() -> None:
    F = np.array([[0.0], [0.5], [1.0], [2.0]])
    K = np.array([[0.0, 0.5, 1.0, 2.0]])
    T = np.array([-1.0, 0.0, 1.0, 2.0])[:, None, None]
    sigma = np.array([0.0, 0.3])[:, None, None, None]
    with no_warnings():
        for is_call in (True, False):
            price = black76_price(F, K, T, sigma, 0.03, is_call)
            greeks = black76_greeks(F, K, T, sigma, 0.03, is_call)
            black_scholes_price(F, K, T, sigma, 0.03, 0.01, is_call)
            black_scholes_greeks(F, K, T, sigma, 0.03, 0.01, is_call)
    assert price.shape == (2, 4, 4, 4)
    # Only F = K = 0 is genuinely undefined (0/0 moneyness) for sigma sqrt(T) > 0.
    undefined = np.broadcast_to((F == 0) & (K == 0), price.shape)
    assert np.all(np.isfinite(price[~undefined]))
    assert np.all(np.isfinite(greeks["delta"][~undefined]))


def test_negative_inputs_raise() -> None:
    with pytest.raises(ValueError):
        black76_price(1.0, 1.0, 1.0, -0.1)
    with pytest.raises(ValueError):
        black76_price(1.0, -1.0, 1.0, 0.1)
    with pytest.raises(ValueError):
        black_scholes_greeks(-1.0, 1.0, 1.0, 0.1)


# --------------------------------------------------------------------------- implied volatility
def test_implied_vol_round_trip_grid() -> None:
    F, K, T, sigma, r, is_call = np.meshgrid(
        [1.0, 50.0],
        [0.7, 0.9, 1.0, 1.1, 1.4],
        [0.02, 0.25, 1.0, 5.0],
        [0.03, 0.1, 0.2, 0.5, 1.0, 2.0],
        [-0.01, 0.05],
        [True, False],
        indexing="ij",
    )
    K = K * F  # strikes as fractions of the forward
    price = black76_price(F, K, T, sigma, r, is_call)
    vega = black76_greeks(F, K, T, sigma, r, is_call)["vega"]
    # Keep points where the price still determines the vol (at least 1e-6 of vega per unit
    # forward: deep ITM/OTM points at tiny vol are numerically flat, any vol solver fails there).
    ok = vega >= 1e-6 * F
    assert ok.mean() > 0.75
    with no_warnings():
        iv = implied_vol_black76(price, F, K, T, r, is_call)
    assert iv.shape == price.shape
    np.testing.assert_allclose(iv[ok], sigma[ok], rtol=0, atol=1e-10)
    assert np.all(np.isfinite(iv[ok]))


def test_implied_vol_random_round_trip() -> None:
    rng = np.random.default_rng(1234)
    n = 20_000
    F = np.exp(rng.uniform(-0.5, 0.5, n))
    K = F * np.exp(rng.uniform(-0.6, 0.6, n))
    T = np.exp(rng.uniform(math.log(0.02), math.log(10.0), n))
    sigma = np.exp(rng.uniform(math.log(0.02), math.log(2.0), n))
    r = rng.uniform(-0.02, 0.08, n)
    is_call = rng.random(n) < 0.5
    price = black76_price(F, K, T, sigma, r, is_call)
    vega = black76_greeks(F, K, T, sigma, r, is_call)["vega"]
    ok = vega >= 1e-6 * np.maximum(F, K)
    iv = implied_vol_black76(price, F, K, T, r, is_call)
    np.testing.assert_allclose(iv[ok], sigma[ok], rtol=0, atol=1e-10)
    # Wherever a vol is returned, it reproduces the price.
    finite = np.isfinite(iv)
    assert finite.mean() > 0.97
    back = black76_price(F[finite], K[finite], T[finite], iv[finite], r[finite], is_call[finite])
    np.testing.assert_allclose(back, price[finite], rtol=1e-9, atol=1e-13)


def test_implied_vol_invalid_prices() -> None:
    F, K, T, r = 1.0, 0.9, 1.0, 0.02
    D = math.exp(-r * T)
    intrinsic_call = D * 0.1
    with no_warnings():
        iv = implied_vol_black76(
            np.array([intrinsic_call - 1e-6, intrinsic_call, D * 1.0, D * 1.5, -0.01]),
            F, K, T, r, True,
        )
        put = implied_vol_black76(np.array([-1e-9, 0.0, D * 0.9, 0.05]), F, K, T, r, False)
        expired = implied_vol_black76(0.1, F, K, np.array([0.0, -1.0]), r, True)
    assert np.isnan(iv[0])  # below intrinsic
    assert iv[1] == 0.0  # exactly the intrinsic value: zero vol
    assert np.isnan(iv[2]) and np.isnan(iv[3])  # at/above the sigma -> inf limit D F
    assert np.isnan(iv[4])
    assert np.isnan(put[0]) and put[1] == 0.0 and np.isnan(put[2])
    assert abs(float(black76_price(F, K, T, put[3], r, False)) - 0.05) < 1e-14
    assert np.all(np.isnan(expired))


def test_implied_vol_case_study() -> None:
    K = np.array([0.90, 0.95, 1.00, 1.05, 1.10])
    vol = np.array([0.16, 0.155, 0.15, 0.145, 0.14])
    is_call = np.array([False, False, True, True, True])
    price = black76_price(1.0, K, 1.0, vol, 0.0, is_call)
    np.testing.assert_allclose(implied_vol_black76(price, 1.0, K, 1.0, 0.0, is_call), vol, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- broadcasting
def test_broadcasting_shapes_and_elementwise_agreement() -> None:
    S = np.array([0.8, 1.0, 1.3])[:, None]  # (S, 1) scenarios
    K = np.array([0.9, 1.0, 1.1, 1.2])[None, :]  # (1, N) instruments
    T = np.array([0.5, 1.0, 2.0, 0.0])[None, :]
    sigma = 0.25
    is_call = np.array([True, False, True, False])[None, :]
    shape = (3, 4)

    price76 = black76_price(S, K, T, sigma, 0.02, is_call)
    price_bs = black_scholes_price(S, K, T, sigma, 0.02, 0.01, is_call)
    greeks76 = black76_greeks(S, K, T, sigma, 0.02, is_call)
    greeks_bs = black_scholes_greeks(S, K, T, sigma, 0.02, 0.01, is_call)
    iv = implied_vol_black76(price76, S, K, T, 0.02, is_call)

    assert price76.shape == shape and price_bs.shape == shape and iv.shape == shape
    assert all(v.shape == shape for v in greeks76.values())
    assert all(v.shape == shape for v in greeks_bs.values())
    for i in range(3):
        for j in range(4):
            args = (float(S[i, 0]), float(K[0, j]), float(T[0, j]), sigma)
            c = bool(is_call[0, j])
            assert price76[i, j] == float(black76_price(*args, 0.02, c))
            assert price_bs[i, j] == float(black_scholes_price(*args, 0.02, 0.01, c))
            g = black76_greeks(*args, 0.02, c)
            for key in g:
                assert greeks76[key][i, j] == float(g[key]), key
    # implied vol recovers 25% where T > 0 and is NaN at expiry.
    np.testing.assert_allclose(iv[:, :3], sigma, atol=1e-10)
    assert np.all(np.isnan(iv[:, 3]))


def test_scalar_inputs_give_0d_arrays() -> None:
    out = black76_price(1.0, 1.0, 1.0, 0.2)
    assert isinstance(out, np.ndarray) and out.shape == ()
    g = black_scholes_greeks(1.0, 1.0, 1.0, 0.2)
    assert all(isinstance(v, np.ndarray) and v.shape == () for v in g.values())
    assert implied_vol_black76(0.05, 1.0, 1.0, 1.0).shape == ()
