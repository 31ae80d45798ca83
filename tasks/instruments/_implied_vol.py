"""Black-76 implied volatility: a vectorised, safeguarded Newton iteration.

Inverts :func:`tasks.instruments._black.black76_price`; the units and conventions (forward,
strike and price in one currency, ``T`` in years, volatility and rates as annual decimals,
broadcasting of all array arguments) are those of :mod:`tasks.instruments._black`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr, ndtri

from tasks.instruments._black import _ERRSTATE, _INV_SQRT_2PI, FloatArray, _f64

__all__ = ["implied_vol_black76"]


# --------------------------------------------------------------------------- implied vol
def _normalised_otm(
    x: FloatArray, s: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Normalised out-of-the-money Black price, its complement and its ``s``-derivative.

    For log-moneyness ``x <= 0`` and total standard deviation ``s > 0`` (1-d
    arrays) returns

    * ``b = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2)`` (an OTM price divided
      by ``sqrt(F K)``),
    * ``e^{x/2} - b = e^{x/2} N(-x/s - s/2) + e^{-x/2} N(x/s - s/2)`` computed
      without cancellation (``e^{x/2}`` is the ``s -> inf`` limit of ``b``),
    * ``db/ds = e^{x/2} n(x/s + s/2)``.
    """
    d1 = x / s
    d1 += 0.5 * s
    d2 = d1 - s
    half = np.exp(0.5 * x)
    vega = np.square(d1)
    vega *= -0.5
    np.exp(vega, out=vega)
    vega *= half * _INV_SQRT_2PI
    n_minus_d1 = ndtr(-d1)
    n_minus_d1 *= half
    ndtr(d1, out=d1)
    d1 *= half
    ndtr(d2, out=d2)
    d2 /= half
    complement = n_minus_d1
    complement += d2
    d1 -= d2
    return d1, complement, vega


#: Rounding allowance, in units of ``eps * max(F, K)``, of a price at its intrinsic value.
INTRINSIC_ULPS = 16.0


def _at_intrinsic(otm: FloatArray, intrinsic: FloatArray, F: FloatArray, K: FloatArray) -> FloatArray:
    """True where the undiscounted time value ``otm`` is rounding noise (the price is at intrinsic).

    An in-the-money price ``exp(-rT) (F N(d1) - K N(d2))`` carries absolute rounding errors of
    order ``eps * max(F, K)`` (its two terms, then the discounting and its inverse), and so does
    its time value ``undiscounted - intrinsic``: a price within :data:`INTRINSIC_ULPS` such errors
    of the discounted intrinsic value, above or below it, has no time value (volatility 0). An
    out-of-the-money price is its own time value (no cancellation): only a price of 0, or one
    below 0 by no more than that allowance, is at intrinsic. Prices further below intrinsic stay
    unattainable (NaN).
    """
    tol = INTRINSIC_ULPS * np.finfo(np.float64).eps * np.maximum(F, K)
    itm = intrinsic > 0.0
    return np.where(itm, np.abs(otm) <= tol, (otm <= 0.0) & (otm >= -tol))


def implied_vol_black76(
    price: ArrayLike,
    F: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike = 0.0,
    is_call: ArrayLike = True,
    *,
    max_iter: int = 100,
) -> FloatArray:
    """Black-76 implied volatility, vectorised safeguarded Newton iteration.

    The price is first mapped to the undiscounted out-of-the-money option by
    put-call parity and normalised by ``sqrt(F K)``.  The total standard deviation
    ``s = sigma sqrt(T)`` is then found by Newton's method on a branch-wise
    transformed objective: below the inflection point ``sqrt(2 |ln(F/K)|)`` of
    the price curve on ``1 / ln(price)``, above it on ``ln(limit - price)``
    (see :func:`_solve_total_stdev`), started from the leading asymptotics of
    each branch (the exact closed form at the money).  Every iterate is kept
    inside a bracket maintained from the signs of the residuals, with bisection
    whenever a Newton step would leave it, and only unconverged elements are
    iterated (typically 4-6 iterations, at most ~15 on wide random grids).
    Accuracy is limited by conditioning: the error in ``sigma`` is about
    ``eps * price / vega``, so deep in/out-of-the-money options at tiny
    volatility (vega ~ 0) cannot be inverted accurately by any method.

    Parameters
    ----------
    price : array_like
        Option present value (same currency units as ``F`` and ``K``).
    F : array_like
        Forward (> 0).
    K : array_like
        Strike (> 0).
    T : array_like
        Time to expiry in years.
    r : array_like, default 0.0
        Continuously compounded annual discount rate (decimal).
    is_call : bool or array_like of bool, default True
        ``True`` for calls, ``False`` for puts.
    max_iter : int, keyword-only, default 100
        Iteration cap; elements still unconverged then return their last iterate.

    Returns
    -------
    ndarray of float64
        Annualised lognormal volatility (decimal), broadcast shape of the inputs.
        ``0.0`` where the price equals the discounted intrinsic value to within
        rounding, a few ulps above or below it (``INTRINSIC_ULPS * eps * max(F, K)``
        of time value, see :func:`_at_intrinsic`).  NaN where no
        volatility reproduces the price: price below the discounted intrinsic
        value (by more than that rounding), price at or above the ``sigma -> inf`` limit
        (``exp(-rT) F`` for a call, ``exp(-rT) K`` for a put), ``T <= 0`` (the
        volatility is undetermined), ``F <= 0`` or ``K <= 0``, or NaN input.
    """
    with np.errstate(**_ERRSTATE):
        price_a, F_a, K_a, T_a, r_a, call_a = np.broadcast_arrays(
            _f64(price), _f64(F), _f64(K), _f64(T), _f64(r), np.asarray(is_call, dtype=bool)
        )
        shape = price_a.shape
        price_f = price_a.ravel()
        F_f = F_a.ravel()
        K_f = K_a.ravel()
        T_f = T_a.ravel()
        r_f = r_a.ravel()
        w = np.where(call_a.ravel(), 1.0, -1.0)

        undiscounted = price_f * np.exp(r_f * T_f)
        intrinsic = w * (F_f - K_f)  # signed; > 0 means in the money
        otm = np.where(intrinsic > 0.0, undiscounted - intrinsic, undiscounted)
        sqrt_fk = np.sqrt(F_f * K_f)
        beta = otm / sqrt_fk
        x = -np.abs(np.log(F_f / K_f))
        upper = np.exp(0.5 * x)
        beta = np.where(_at_intrinsic(otm, intrinsic, F_f, K_f), 0.0, beta)
        valid = (T_f > 0.0) & (F_f > 0.0) & (K_f > 0.0) & (beta >= 0.0) & (beta < upper)
        valid &= np.isfinite(beta) & np.isfinite(T_f)

        out = np.full(price_f.shape, np.nan)
        out[valid & (beta == 0.0)] = 0.0
        idx = np.flatnonzero(valid & (beta > 0.0))
        if idx.size:
            s = _solve_total_stdev(x[idx], beta[idx], max_iter)
            out[idx] = s / np.sqrt(T_f[idx])
    return out.reshape(shape)


def _solve_total_stdev(x: FloatArray, beta: FloatArray, max_iter: int) -> FloatArray:
    """Solve ``_normalised_otm(x, s)[0] == beta`` for ``s > 0`` (1-d arrays, ``x <= 0``).

    The price curve ``b(s)`` is convex below its inflection point
    ``s_c = sqrt(2|x|)`` and concave above it.  Newton's method is applied to an
    objective that is close to linear/quadratic on each branch (after Jaeckel,
    "By implication", 2006):

    * lower branch (``beta < b(s_c)``): ``1 / ln b(s) - 1 / ln beta``
      (``ln b ~ -x^2 / (2 s^2)`` for small ``s``),
    * upper branch: ``ln(e^{x/2} - b(s)) - ln(e^{x/2} - beta)`` (the complement
      decays like ``exp(-s^2 / 8)``),

    starting from ``s_c`` (exact closed form at ``x == 0``), with every iterate
    kept inside a bracket built from the residual signs (bisection otherwise).
    """
    n = x.size
    result = np.empty(n)
    s_c = np.sqrt(-2.0 * x)
    atm = x == 0.0
    b_c = _normalised_otm(x, np.where(atm, 1.0, s_c))[0]
    lower = (~atm) & (beta < b_c)
    log_beta = np.log(beta)
    inv_log_beta = 1.0 / log_beta
    half = np.exp(0.5 * x)
    gap = half - beta
    log_gap = np.log(gap)  # ln(e^{x/2} - beta), upper-branch target
    # Starting points from the leading asymptotics of each branch:
    # lower: ln b ~ -x^2 / (2 s^2); upper: e^{x/2} - b ~ 2 cosh(x/2) N(-s/2).
    s_low = np.minimum(-x / np.sqrt(-2.0 * log_beta), s_c)
    s_up = np.maximum(-2.0 * ndtri(gap / (half + 1.0 / half)), s_c)
    s = np.where(lower, s_low, s_up)
    s = np.where(atm, 2.0 * ndtri(0.5 + 0.5 * beta), s)
    lo = np.where(lower, 0.0, s_c)
    hi = np.where(lower, s_c, np.inf)
    active = np.arange(n)
    prev_step = np.full(n, np.inf)
    tol = 1e-14  # relative step at which an iterate counts as converged
    noise = 1e-9  # relative step below which a non-shrinking step means noise floor

    for _ in range(max_iter):
        b, complement, vega = _normalised_otm(x, s)
        f = b - beta
        below = f < 0.0
        lo = np.where(below, np.maximum(lo, s), lo)
        hi = np.where(below, hi, np.minimum(hi, s))
        log_b = np.log(b)
        step_lower = (1.0 / log_b - inv_log_beta) * (b * log_b * log_b / vega)
        step_upper = (np.log(complement) - log_gap) * (complement / vega)
        step = np.where(f == 0.0, 0.0, np.where(lower, step_lower, step_upper))
        abs_step = np.abs(step)
        s_new = s + step
        # Converged: negligible step, or a small step that stopped shrinking (the
        # residual is at rounding-noise level), or a collapsed bracket.
        done = (abs_step <= tol * s) | ((abs_step <= noise * s) & (abs_step >= prev_step))
        done |= hi - lo <= tol * s
        outside = ~((s_new >= lo) & (s_new <= hi))
        # A tiny step pointing out of the bracket is rounding noise: s is converged.
        done |= outside & (abs_step <= noise * s)
        out_of_bracket = outside & ~done
        if np.any(out_of_bracket):
            fallback = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * s)
            s_new = np.where(out_of_bracket, fallback, s_new)
            abs_step = np.where(out_of_bracket, np.inf, abs_step)
        if np.any(done):
            result[active[done]] = np.clip(s_new[done], lo[done], hi[done])
            keep = ~done
            active = active[keep]
            if active.size == 0:
                return result
            x, beta, lower = x[keep], beta[keep], lower[keep]
            inv_log_beta, log_gap = inv_log_beta[keep], log_gap[keep]
            lo, hi, s_new, abs_step = lo[keep], hi[keep], s_new[keep], abs_step[keep]
        s = s_new
        prev_step = abs_step
    result[active] = s
    return result
