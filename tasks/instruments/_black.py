"""Vectorised closed-form pricing of European options (Black-76 and Black-Scholes): prices and Greeks.

Pure numpy/scipy.  Every function broadcasts all of its array arguments against
each other (numpy broadcasting rules; scalars, lists and arrays are accepted) and
returns ``float64`` arrays of the broadcast shape (0-d arrays for all-scalar input).

Units and conventions used throughout
-------------------------------------
* ``F``, ``S``, ``K`` and prices are in the same currency units (or all in units
  of a notional; only ratios matter for the volatility).
* ``T`` is the time to expiry in years.  ``T <= 0`` means *at or after expiry*.
* ``sigma`` is the annualised lognormal (Black) volatility as a decimal
  (``0.15`` is 15 %).
* ``r`` and ``q`` are continuously compounded annual rates as decimals; ``r``
  discounts the payoff, ``q`` is the continuous dividend (or foreign-rate /
  convenience) yield of the spot.
* ``is_call`` is a bool or a bool array (``True`` = call, ``False`` = put).

Degenerate points
-----------------
Where ``T <= 0`` or ``sigma * sqrt(T) == 0`` the value is *exactly* the
discounted intrinsic value ``exp(-r * max(T, 0)) * max(w * (F - K), 0)`` with
``w = +1`` for a call and ``-1`` for a put (no NaN, no floating-point warning).
For Black-Scholes the forward used there is ``S * exp((r - q) * max(T, 0))``,
so at and after expiry the value is ``max(w * (S - K), 0)``.

The Greeks at those points are the limits ``sigma * sqrt(T) -> 0+``:

* ``delta`` is the (discounted) in-the-money indicator ``w * 1{w (F - K) > 0}``;
  exactly at the money (``F == K``) it is ``0.5 * w`` (``+0.5`` call, ``-0.5``
  put), the value of ``w N(w d1)`` in the limit.  At ``T <= 0`` the discount and
  forward-growth factors are 1.
* ``gamma`` is 0 (the Dirac mass at ``F == K`` is dropped).
* ``vega`` is 0 at ``T <= 0``.  For ``T > 0, sigma == 0`` it is the right
  derivative, which is 0 away from the money and ``exp(-rT) F sqrt(T) / sqrt(2 pi)``
  at ``F == K``.
* ``theta`` is 0 at ``T <= 0``; for ``T > 0, sigma == 0`` it is the exact
  derivative of the discounted intrinsic value (``r V`` for Black-76).
* ``rho`` and ``dividend_rho`` are 0 at ``T <= 0``.

Inputs are validated only with cheap checks: negative ``F``/``S``, ``K`` or
``sigma`` raise ``ValueError``; NaN inputs propagate to NaN outputs.

The inverse, the Black-76 implied volatility, is in :mod:`tasks.instruments._implied_vol`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

__all__ = [
    "black76_price",
    "black_scholes_price",
    "black76_greeks",
    "black_scholes_greeks",
]

FloatArray = NDArray[np.float64]

_INV_SQRT_2PI: float = 1.0 / math.sqrt(2.0 * math.pi)
# Dividing (F - K) by the smallest normal float turns any non-zero difference into
# +-huge / +-inf, which is the limit of d1 for sigma * sqrt(T) -> 0+; 0 stays 0.
_TINY: float = float(np.finfo(np.float64).tiny)
_ERRSTATE = {"divide": "ignore", "invalid": "ignore", "over": "ignore", "under": "ignore"}


# --------------------------------------------------------------------------- helpers
def _f64(x: ArrayLike) -> FloatArray:
    """``x`` as a float64 ndarray (no copy if it already is one)."""
    return np.asarray(x, dtype=np.float64)


def _check_non_negative(**arrays: FloatArray) -> None:
    """Raise ``ValueError`` if any named array has a negative element (NaN passes)."""
    for name, arr in arrays.items():
        if np.any(arr < 0.0):
            raise ValueError(f"{name} must be non-negative")


class _Black76State:
    """Shared intermediate quantities of the Black-76 formulas.

    Attributes hold arrays that broadcast to ``shape``; only ``d1`` has the full
    broadcast shape (it is a fresh buffer the caller may overwrite).
    """

    __slots__ = (
        "F", "K", "T", "sigma", "r", "shape", "w", "all_calls", "t_pos", "sqrt_t",
        "stdev", "safe_stdev", "expired", "degenerate", "any_expired",
        "any_degenerate", "disc", "d1",
    )

    def __init__(
        self, F: ArrayLike, K: ArrayLike, T: ArrayLike, sigma: ArrayLike,
        r: ArrayLike, is_call: ArrayLike,
    ) -> None:
        self.F = F = _f64(F)
        self.K = K = _f64(K)
        self.T = T = _f64(T)
        self.sigma = sigma = _f64(sigma)
        self.r = r = _f64(r)
        is_call = np.asarray(is_call, dtype=bool)
        _check_non_negative(F=F, K=K, sigma=sigma)
        self.shape = np.broadcast_shapes(
            F.shape, K.shape, T.shape, sigma.shape, r.shape, is_call.shape
        )
        # w = +1 for calls, -1 for puts; skip the multiplications when all are calls.
        self.all_calls = bool(np.all(is_call))
        self.w = np.where(is_call, 1.0, -1.0)
        self.t_pos = np.maximum(T, 0.0)
        self.sqrt_t = np.sqrt(self.t_pos)
        self.stdev = sigma * self.sqrt_t
        self.expired = T <= 0.0
        self.degenerate = self.expired | (self.stdev == 0.0)
        self.any_expired = bool(np.any(self.expired))
        self.any_degenerate = bool(np.any(self.degenerate))
        self.safe_stdev = (
            np.where(self.degenerate, 1.0, self.stdev) if self.any_degenerate else self.stdev
        )
        self.disc = np.exp(-r * self.t_pos)

        # d1 = ln(F/K)/s + s/2 with s = sigma sqrt(T), computed in one full-size buffer.
        d1 = np.empty(self.shape, dtype=np.float64)
        np.divide(F, K, out=d1)
        np.log(d1, out=d1)
        d1 /= self.safe_stdev
        d1 += 0.5 * self.stdev
        if self.any_degenerate:
            limit = np.subtract(F, K)
            limit = np.divide(limit, _TINY)
            np.copyto(d1, limit, where=self.degenerate)
        self.d1 = d1

    def times_w(self, x: FloatArray) -> None:
        """In place ``x *= w`` (no-op when every option is a call)."""
        if not self.all_calls:
            x *= self.w


def _price_from_state(st: _Black76State) -> FloatArray:
    """Black-76 value ``exp(-rT) w [F N(w d1) - K N(w d2)]``; consumes ``st.d1``."""
    d1 = st.d1
    d2 = np.subtract(d1, st.stdev, out=np.empty_like(d1))
    st.times_w(d1)
    ndtr(d1, out=d1)
    d1 *= st.F
    st.times_w(d2)
    ndtr(d2, out=d2)
    d2 *= st.K
    d1 -= d2
    if st.all_calls:
        d1 *= st.disc
    else:
        d1 *= st.disc * st.w
        d1 += 0.0  # turns the -0.0 of worthless puts into +0.0
    return d1


# --------------------------------------------------------------------------- prices
def black76_price(
    F: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    is_call: ArrayLike = True,
) -> FloatArray:
    """Black-76 price of a European option on a forward.

    ``V = exp(-rT) [F N(d1) - K N(d2)]`` (call) and
    ``V = exp(-rT) [K N(-d2) - F N(-d1)]`` (put), with
    ``d1 = ln(F/K) / (sigma sqrt T) + sigma sqrt(T) / 2`` and
    ``d2 = d1 - sigma sqrt T``.

    Parameters
    ----------
    F : array_like
        Forward price of the underlying for delivery at expiry (currency units, >= 0).
    K : array_like
        Strike (same units as ``F``, >= 0).
    T : array_like
        Time to expiry in years.  ``T <= 0`` means at/after expiry.
    sigma : array_like
        Annualised lognormal implied volatility as a decimal (>= 0).
    r : array_like, default 0.0
        Continuously compounded annual discount rate (decimal).
    is_call : bool or array_like of bool, default True
        ``True`` for calls, ``False`` for puts.

    Returns
    -------
    ndarray of float64
        Present value per unit of underlying, shape = broadcast of all inputs.
        Where ``T <= 0`` or ``sigma * sqrt(T) == 0`` this is exactly the discounted
        intrinsic value ``exp(-r max(T, 0)) max(w (F - K), 0)`` (``w = +-1``).

    Raises
    ------
    ValueError
        If any of ``F``, ``K`` or ``sigma`` is negative.
    """
    with np.errstate(**_ERRSTATE):
        return _price_from_state(_Black76State(F, K, T, sigma, r, is_call))


def black_scholes_price(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    q: ArrayLike = 0.0,
    is_call: ArrayLike = True,
) -> FloatArray:
    """Black-Scholes(-Merton) price of a European option on a spot with yield ``q``.

    Identical to ``black76_price(S * exp((r - q) T), K, T, sigma, r, is_call)``;
    for ``T <= 0`` the forward is taken as ``S`` (growth factor
    ``exp((r - q) max(T, 0))``), so the value is the payoff ``max(w (S - K), 0)``.

    Parameters
    ----------
    S : array_like
        Spot price (currency units, >= 0).
    K : array_like
        Strike (same units, >= 0).
    T : array_like
        Time to expiry in years (``T <= 0``: at/after expiry).
    sigma : array_like
        Annualised lognormal volatility as a decimal (>= 0).
    r : array_like, default 0.0
        Continuously compounded annual risk-free rate (decimal).
    q : array_like, default 0.0
        Continuously compounded annual dividend yield (decimal).
    is_call : bool or array_like of bool, default True
        ``True`` for calls, ``False`` for puts.

    Returns
    -------
    ndarray of float64
        Present value, shape = broadcast of all inputs.

    Raises
    ------
    ValueError
        If any of ``S``, ``K`` or ``sigma`` is negative.
    """
    S = _f64(S)
    T = _f64(T)
    growth = np.exp((_f64(r) - _f64(q)) * np.maximum(T, 0.0))
    return black76_price(S * growth, K, T, sigma, r, is_call)


# --------------------------------------------------------------------------- Greeks
def black76_greeks(
    F: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    is_call: ArrayLike = True,
) -> dict[str, FloatArray]:
    """Analytic Black-76 Greeks.

    Parameters
    ----------
    F, K, T, sigma, r, is_call
        As in :func:`black76_price` (forward, strike, years to expiry, decimal
        annual vol, continuously compounded rate, call flag); all broadcast.

    Returns
    -------
    dict[str, ndarray of float64]
        Each value has the broadcast shape of the inputs.

        ``"delta"``
            ``dV/dF = exp(-rT) w N(w d1)`` (per unit of forward).
        ``"gamma"``
            ``d2V/dF2 = exp(-rT) n(d1) / (F sigma sqrt T)``.
        ``"vega"``
            ``dV/dsigma = exp(-rT) F n(d1) sqrt(T)``, per 1.00 (100 vol points)
            of volatility; divide by 100 for "per vol point".
        ``"theta"``
            ``dV/dt = -dV/dT`` with ``F`` held fixed, per year:
            ``r V - exp(-rT) F n(d1) sigma / (2 sqrt T)``.
        ``"rho"``
            ``dV/dr`` with ``F`` held fixed, per 1.00 of rate: ``-T V``.

        ``n`` is the standard normal density, ``w = +1`` (call) / ``-1`` (put).
        At ``T <= 0``: delta is the in-the-money indicator (``0.5 w`` exactly at
        ``F == K``), gamma = vega = theta = rho = 0.  For ``T > 0`` and
        ``sigma == 0`` the limits ``sigma -> 0+`` are returned (see module
        docstring); gamma is 0 there.

    Raises
    ------
    ValueError
        If any of ``F``, ``K`` or ``sigma`` is negative.
    """
    with np.errstate(**_ERRSTATE):
        st = _Black76State(F, K, T, sigma, r, is_call)
        F, K, r = st.F, st.K, st.r
        d1 = st.d1

        # pdf = n(d1)
        pdf = np.square(d1, out=np.empty_like(d1))
        pdf *= -0.5
        np.exp(pdf, out=pdf)
        pdf *= _INV_SQRT_2PI

        # N(w d2) then N(w d1) (the latter reuses the d1 buffer).
        nd2 = np.subtract(d1, st.stdev, out=np.empty_like(d1))
        st.times_w(nd2)
        ndtr(nd2, out=nd2)
        st.times_w(d1)
        ndtr(d1, out=d1)
        nd1 = d1

        disc_w = st.disc if st.all_calls else st.disc * st.w
        value = np.multiply(nd1, F, out=np.empty_like(d1))
        nd2 *= K
        value -= nd2
        value *= disc_w

        delta = nd1
        delta *= disc_w

        gamma = np.divide(pdf, F, out=np.empty_like(d1))
        gamma *= st.disc / st.safe_stdev
        if st.any_degenerate:
            np.copyto(gamma, 0.0, where=st.degenerate)

        vega = nd2  # buffer reuse
        np.multiply(pdf, F, out=vega)
        vega *= st.disc * st.sqrt_t

        # theta = r V - vega * sigma / (2 T)   (vega already carries sqrt(T)).
        t_safe = np.where(st.expired, 1.0, st.t_pos) if st.any_expired else st.t_pos
        theta = pdf  # buffer reuse
        np.multiply(vega, -0.5 * st.sigma / t_safe, out=theta)
        if np.any(r != 0.0):
            theta += value * r
        if st.any_expired:
            np.copyto(theta, 0.0, where=st.expired)

        rho = value  # buffer reuse: rho = -T V (0 at T <= 0 through max(T, 0))
        rho *= -st.t_pos

    return {"delta": delta, "gamma": gamma, "vega": vega, "theta": theta, "rho": rho}


def black_scholes_greeks(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    q: ArrayLike = 0.0,
    is_call: ArrayLike = True,
) -> dict[str, FloatArray]:
    """Analytic Black-Scholes(-Merton) Greeks with continuous dividend yield ``q``.

    Parameters
    ----------
    S, K, T, sigma, r, q, is_call
        As in :func:`black_scholes_price` (spot, strike, years to expiry, decimal
        annual vol, rate, dividend yield, call flag); all broadcast.

    Returns
    -------
    dict[str, ndarray of float64]
        Each value has the broadcast shape of the inputs.  With
        ``F = S exp((r - q) T)``:

        ``"delta"``
            ``dV/dS = exp(-qT) w N(w d1)``.
        ``"gamma"``
            ``d2V/dS2 = exp(-qT) n(d1) / (S sigma sqrt T)``.
        ``"vega"``
            ``dV/dsigma = S exp(-qT) n(d1) sqrt T``, per 1.00 of volatility.
        ``"theta"``
            ``dV/dt = -dV/dT`` with ``S`` held fixed (the forward rolls down),
            per year: ``theta_76 - (r - q) S delta``.
        ``"rho"``
            ``dV/dr`` with ``S`` held fixed (the forward moves with ``r``), per
            1.00 of rate: ``-T V + T S delta``.
        ``"dividend_rho"``
            ``dV/dq`` per 1.00 of yield: ``-T S delta``.

        At ``T <= 0``: delta is the in-the-money indicator on ``S`` vs ``K``
        (``0.5 w`` at ``S == K``); gamma, vega, theta, rho and dividend_rho are 0.
        For ``T > 0`` and ``sigma == 0`` the ``sigma -> 0+`` limits are returned.

    Raises
    ------
    ValueError
        If any of ``S``, ``K`` or ``sigma`` is negative.
    """
    S = _f64(S)
    T = _f64(T)
    r = _f64(r)
    q = _f64(q)
    t_pos = np.maximum(T, 0.0)
    carry = r - q
    growth = np.exp(carry * t_pos)
    g = black76_greeks(S * growth, K, T, sigma, r, is_call)

    with np.errstate(**_ERRSTATE):
        delta = g["delta"]
        delta *= growth  # dV/dS = dV/dF * dF/dS
        gamma = g["gamma"]
        gamma *= np.square(growth)

        # s_delta = S * delta = F * delta_76
        dividend_rho = np.multiply(delta, S, out=np.empty_like(delta))
        theta = g["theta"]
        if np.any(carry != 0.0):
            # dF/dT = (r - q) F for T > 0, 0 at/after expiry.
            c = -np.where(T > 0.0, carry, 0.0)
            theta += dividend_rho * c
        dividend_rho *= -t_pos  # dV/dq = dV/dF * dF/dq = -T F delta_76
        rho = g["rho"]
        rho -= dividend_rho  # dV/dr = -T V + T F delta_76

    return {
        "delta": delta,
        "gamma": gamma,
        "vega": g["vega"],
        "theta": theta,
        "rho": rho,
        "dividend_rho": dividend_rho,
    }
