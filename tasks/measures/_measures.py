"""Probability-weighted risk measures of portfolio P&L (pure numpy evaluation).

This module *evaluates* risk measures of scenario P&L; the optimiser elsewhere minimises the same
quantities through their LP / SOCP formulations, and every function here equals the optimum of the
corresponding standard formulation (for a fixed portfolio) up to floating-point rounding.

Conventions
-----------
x : array_like, shape (S,) or (S, M)
    P&L (returns) of one portfolio in ``S`` scenarios, or of ``M`` portfolios at once (one column
    per portfolio). Units are those of ``x`` (e.g. fraction of market value: 0.05 = 5 %).
    A 1-D ``x`` gives a Python ``float``; a 2-D ``x`` gives a float array of shape (M,).
p : array_like, shape (S,), optional
    Scenario probabilities, nonnegative and summing to 1 (checked to 1e-8, not renormalised).
    ``None`` means uniform ``1/S``. Scenarios with ``p == 0`` are removed before anything is
    computed, so they have no influence at all -- not on the mean, the quantiles, the worst
    realization or the drawdowns -- even if they hold ``inf`` or ``nan``.
alpha : float
    TAIL probability as in Riskfolio-Lib: ``alpha = 0.05`` is the 95 % VaR / CVaR / CDaR.
Losses are reported as positive numbers (loss = ``-x``).

Drawdown measures (MDD, ADD, CDaR) work on *paths*: ``paths`` of shape (P, T) or (P, T, M) holds
the per-step P&L of ``P`` paths of ``T`` steps (for ``M`` portfolios), with path probabilities
``p`` of shape (P,). Cumulative P&L is uncompounded (a running sum, as Riskfolio-Lib's ``*_Abs``
functions), starting from ``c_0 = 0``.

Relation to Riskfolio-Lib (``riskfolio.src.RiskFunctions``)
-----------------------------------------------------------
With uniform ``p`` our functions are the population (divisor ``T``) versions. Riskfolio differs in:

* ``SemiDeviation`` and ``LPM(..., p=2)`` (MSV, SLPM) divide the sum of squares by ``T - 1``;
  ours by ``T`` (weights ``p``): Riskfolio's value = ours * sqrt(T / (T - 1)).
* MV: Riskfolio uses the sample covariance (``np.cov``, divisor ``T - 1``); ours is the
  probability-weighted population standard deviation (divisor ``T``).
* ``VaR_Hist`` returns ``-sorted(x)[ceil(alpha*T) - 1]``, which equals ours except when
  ``alpha*T`` is an integer: there Riskfolio reports the larger loss ``-x_(alpha*T)`` while ours
  (``min{z : P(-x <= z) >= 1 - alpha}``) reports ``-x_(alpha*T + 1)``. CVaR is unaffected (both
  points minimise the Rockafellar-Uryasev objective).
* MAD, FLPM, WR, CVaR (``CVaR_Hist``), MDD_Abs, ADD_Abs and CDaR_Abs coincide with ours for
  uniform ``p``. Riskfolio's ``*_Abs`` functions prepend a starting point to the cumulative sum
  (so the running peak includes the start, exactly like our ``c_0 = 0``); ADD_Abs sums the
  ``T + 1`` drawdowns including the zero one at the start and divides by ``T``, which equals our
  mean over the ``T`` steps; CDaR_Abs drops the starting point, leaving ``T`` drawdowns as ours.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tasks.vocabulary import DRAWDOWN_MEASURES, RiskMeasure

__all__ = [
    "RiskMeasure",
    "DRAWDOWN_MEASURES",
    "expected_return",
    "standard_deviation",
    "mean_absolute_deviation",
    "semi_deviation",
    "first_lower_partial_moment",
    "second_lower_partial_moment",
    "value_at_risk",
    "conditional_value_at_risk",
    "worst_realization",
    "drawdown_paths",
    "max_drawdown",
    "average_drawdown",
    "conditional_drawdown_at_risk",
    "risk",
]

FloatOrArray = float | NDArray[np.float64]

#: Absolute tolerance on the check ``sum(p) == 1``.
_P_SUM_TOL: Final[float] = 1e-8


# ---------------------------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------------------------
def _probabilities(p: ArrayLike | None, n: int, what: str) -> NDArray[np.float64]:
    """Validated probability vector of length ``n`` (uniform when ``p`` is None)."""
    if n < 1:
        raise ValueError(f"need at least one {what}, got 0")
    if p is None:
        return np.full(n, 1.0 / n)
    q = np.asarray(p, dtype=float)
    if q.ndim != 1 or q.shape[0] != n:
        raise ValueError(f"p must have shape ({n},) (one probability per {what}), got {q.shape}")
    if not np.all(np.isfinite(q)) or np.any(q < 0.0):
        raise ValueError("p must be finite and nonnegative")
    total = float(q.sum())
    if abs(total - 1.0) > _P_SUM_TOL:
        raise ValueError(f"p must sum to 1, sums to {total!r}")
    return q


def _scenarios(
    x: ArrayLike, p: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Return (X (S', M), p (S',), was_1d) with the zero-probability scenarios removed."""
    X = np.asarray(x, dtype=float)
    if X.ndim not in (1, 2):
        raise ValueError(f"x must have shape (S,) or (S, M), got {X.shape}")
    was_1d = X.ndim == 1
    if was_1d:
        X = X[:, None]
    q = _probabilities(p, X.shape[0], "scenario")
    keep = q > 0.0
    if not keep.all():
        X, q = X[keep], q[keep]
    return X, q, was_1d


def _paths(
    paths: ArrayLike, p: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Return (paths (P', T, M), p (P',), was_2d) with the zero-probability paths removed."""
    A = np.asarray(paths, dtype=float)
    if A.ndim not in (2, 3):
        raise ValueError(f"paths must have shape (P, T) or (P, T, M), got {A.shape}")
    if A.shape[1] < 1:
        raise ValueError("paths need at least one step (T >= 1)")
    was_2d = A.ndim == 2
    if was_2d:
        A = A[:, :, None]
    q = _probabilities(p, A.shape[0], "path")
    keep = q > 0.0
    if not keep.all():
        A, q = A[keep], q[keep]
    return A, q, was_2d


def _out(v: NDArray[np.float64], scalar: bool) -> FloatOrArray:
    return float(v[0]) if scalar else v


def _check_alpha(alpha: float, allow_one: bool) -> float:
    a = float(alpha)
    ok = 0.0 < a <= 1.0 if allow_one else 0.0 < a < 1.0
    if not ok:
        raise ValueError(f"alpha (tail probability) must be in (0, {'1]' if allow_one else '1)'}, got {alpha}")
    return a


def _cum_tol(n: int) -> float:
    """Tolerance when comparing a running sum of ``n`` probabilities with ``alpha``.

    Cumulative probabilities within this of ``alpha`` count as equal to ``alpha`` (covers the
    rounding of ``cumsum``; e.g. 50 x 0.001 vs 0.05).
    """
    return max(1e-12, 4.0 * n * np.finfo(float).eps)


def _tail(
    L: NDArray[np.float64], q: NDArray[np.float64], alpha: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """VaR and CVaR of losses ``L`` (n, M) with weights ``q`` (n,), all ``q > 0``.

    VaR is the lower (1 - alpha)-quantile of the loss, ``min{z : P(L <= z) >= 1 - alpha}``:
    sort losses in decreasing order, VaR is the first loss at which the cumulative probability
    *exceeds* ``alpha``. CVaR is the Rockafellar-Uryasev objective at that minimiser,
    ``VaR + (1/alpha) sum q max(L - VaR, 0)``, which equals the tail average of the worst
    ``alpha`` probability mass with the atom at VaR taken fractionally.
    """
    n, M = L.shape
    LT = np.ascontiguousarray(L.T)  # (M, n): one contiguous row per portfolio
    threshold = alpha + _cum_tol(n)
    var = np.empty(M)
    todo = np.arange(M)
    # Only the largest losses can hold the VaR: sort just the k largest of each column (found by
    # an O(n) partition) and widen k for the columns whose top-k mass does not exceed alpha.
    k = min(n, max(256, 2 * int(np.ceil(alpha * n)) + 1))
    while todo.size:
        sub = LT[todo]
        if k < n:
            idx = np.argpartition(sub, n - k, axis=1)[:, n - k:]  # the k largest (any tie order)
        else:
            idx = np.broadcast_to(np.arange(n), sub.shape)
        vals = np.take_along_axis(sub, idx, axis=1)
        order = np.argsort(-vals, axis=1)  # decreasing losses
        vals = np.take_along_axis(vals, order, axis=1)
        cum = np.cumsum(q[np.take_along_axis(idx, order, axis=1)], axis=1)
        beyond = cum > threshold
        found = beyond.any(axis=1)
        pos = np.argmax(beyond, axis=1)
        if k == n:  # alpha = 1 (or rounding): the smallest loss
            pos = np.where(found, pos, n - 1)
            found[:] = True
        var[todo[found]] = vals[found, pos[found]]
        todo = todo[~found]
        k = min(n, 4 * k)
    cvar = var + (q @ np.maximum(L - var, 0.0)) / alpha
    return var, cvar


# ---------------------------------------------------------------------------------------------
# moments / deviations
# ---------------------------------------------------------------------------------------------
def expected_return(x: ArrayLike, p: ArrayLike | None = None) -> FloatOrArray:
    """Probability-weighted mean P&L ``mu = sum_s p_s x_s`` (a gain, not a loss).

    Parameters
    ----------
    x : array_like, shape (S,) or (S, M)
        Scenario P&L (units of ``x``).
    p : array_like, shape (S,), optional
        Scenario probabilities; ``None`` = uniform.

    Returns
    -------
    float or ndarray, shape (M,)
        Expected P&L, units of ``x``.
    """
    X, q, s = _scenarios(x, p)
    return _out(q @ X, s)


def standard_deviation(x: ArrayLike, p: ArrayLike | None = None) -> FloatOrArray:
    """MV: probability-weighted standard deviation ``sqrt(sum_s p_s (x_s - mu)^2)``.

    Population normalisation (no ``S - 1`` correction): with uniform ``p`` this is
    ``np.std(x, ddof=0)``. Riskfolio-Lib's MV uses the sample covariance (divisor ``T - 1``).
    Equals the SOCP ``min t s.t. ||diag(sqrt p) (x - mu)||_2 <= t``.

    Parameters
    ----------
    x : array_like, shape (S,) or (S, M)
        Scenario P&L.
    p : array_like, shape (S,), optional
        Scenario probabilities; ``None`` = uniform.

    Returns
    -------
    float or ndarray, shape (M,)
        Standard deviation, units of ``x``.
    """
    X, q, s = _scenarios(x, p)
    D = X - q @ X
    return _out(np.sqrt(q @ (D * D)), s)


def mean_absolute_deviation(x: ArrayLike, p: ArrayLike | None = None) -> FloatOrArray:
    """MAD: ``sum_s p_s |x_s - mu|`` with ``mu = sum_s p_s x_s``.

    Same as Riskfolio-Lib's ``MAD`` (divisor ``T``) for uniform ``p``. Equals the LP
    ``min sum p u s.t. u >= x - mu, u >= mu - x``.

    Parameters
    ----------
    x : array_like, shape (S,) or (S, M)
        Scenario P&L.
    p : array_like, shape (S,), optional
        Scenario probabilities; ``None`` = uniform.

    Returns
    -------
    float or ndarray, shape (M,)
        Mean absolute deviation, units of ``x``.
    """
    X, q, s = _scenarios(x, p)
    return _out(q @ np.abs(X - q @ X), s)


def semi_deviation(x: ArrayLike, p: ArrayLike | None = None) -> FloatOrArray:
    """MSV: semi standard deviation ``sqrt(sum_s p_s min(x_s - mu, 0)^2)``.

    Riskfolio-Lib's ``SemiDeviation`` divides by ``T - 1``; ours is the probability-weighted
    (population, divisor ``T`` for uniform ``p``) version. Equals the SOCP
    ``min ||diag(sqrt p) n||_2 s.t. n >= mu - x, n >= 0``.

    Parameters
    ----------
    x : array_like, shape (S,) or (S, M)
        Scenario P&L.
    p : array_like, shape (S,), optional
        Scenario probabilities; ``None`` = uniform.

    Returns
    -------
    float or ndarray, shape (M,)
        Semi deviation, units of ``x``.
    """
    X, q, s = _scenarios(x, p)
    D = np.minimum(X - q @ X, 0.0)
    return _out(np.sqrt(q @ (D * D)), s)


def first_lower_partial_moment(x: ArrayLike, p: ArrayLike | None = None, rf: float = 0.0) -> FloatOrArray:
    """FLPM: ``sum_s p_s max(rf - x_s, 0)``.

    ``rf`` is the minimum acceptable return (Riskfolio-Lib's ``MAR``), in units of ``x``.
    Same as Riskfolio-Lib's ``LPM(X, MAR=rf, p=1)`` for uniform ``p``.

    Parameters
    ----------
    x : array_like, shape (S,) or (S, M)
        Scenario P&L.
    p : array_like, shape (S,), optional
        Scenario probabilities; ``None`` = uniform.
    rf : float, default 0
        Threshold (minimum acceptable return).

    Returns
    -------
    float or ndarray, shape (M,)
        First lower partial moment, units of ``x``.
    """
    X, q, s = _scenarios(x, p)
    return _out(q @ np.maximum(float(rf) - X, 0.0), s)


def second_lower_partial_moment(x: ArrayLike, p: ArrayLike | None = None, rf: float = 0.0) -> FloatOrArray:
    """SLPM: ``sqrt(sum_s p_s max(rf - x_s, 0)^2)``.

    Riskfolio-Lib's ``LPM(X, MAR=rf, p=2)`` divides by ``T - 1``; ours by ``T`` (weights ``p``).

    Parameters
    ----------
    x : array_like, shape (S,) or (S, M)
        Scenario P&L.
    p : array_like, shape (S,), optional
        Scenario probabilities; ``None`` = uniform.
    rf : float, default 0
        Threshold (minimum acceptable return).

    Returns
    -------
    float or ndarray, shape (M,)
        Second lower partial moment, units of ``x``.
    """
    X, q, s = _scenarios(x, p)
    D = np.maximum(float(rf) - X, 0.0)
    return _out(np.sqrt(q @ (D * D)), s)


# ---------------------------------------------------------------------------------------------
# tail measures
# ---------------------------------------------------------------------------------------------
def value_at_risk(x: ArrayLike, p: ArrayLike | None = None, alpha: float = 0.05) -> FloatOrArray:
    """VaR: loss quantile ``min{z : P(-x <= z) >= 1 - alpha}`` (positive = loss).

    This is the lower ``(1 - alpha)``-quantile of the loss ``-x`` (Rockafellar-Uryasev's VaR, the
    smallest minimiser of the CVaR objective). Equivalently: sort the losses in decreasing order
    and accumulate their probabilities; VaR is the first loss at which the accumulated probability
    exceeds ``alpha`` (cumulative probabilities within ~1e-12 of ``alpha`` count as equal to it).
    When the cumulative probability never lands exactly on ``alpha`` this is
    ``-(lower alpha-quantile of x)``; when it does (e.g. uniform ``p`` with ``alpha * S`` an
    integer) ours is the next-smaller loss, whereas Riskfolio-Lib's ``VaR_Hist``
    (``-sorted(x)[ceil(alpha*S) - 1]``) returns the larger one.

    Parameters
    ----------
    x : array_like, shape (S,) or (S, M)
        Scenario P&L.
    p : array_like, shape (S,), optional
        Scenario probabilities; ``None`` = uniform. Scenarios with ``p = 0`` are ignored.
    alpha : float, default 0.05
        Tail probability in (0, 1) (0.05 => 95 % VaR).

    Returns
    -------
    float or ndarray, shape (M,)
        Value at risk, units of ``x``, positive for a loss.
    """
    a = _check_alpha(alpha, allow_one=False)
    X, q, s = _scenarios(x, p)
    var, _ = _tail(-X, q, a)
    return _out(var, s)


def conditional_value_at_risk(x: ArrayLike, p: ArrayLike | None = None, alpha: float = 0.05) -> FloatOrArray:
    """CVaR (Rockafellar-Uryasev): ``min_z z + (1/alpha) sum_s p_s max(-x_s - z, 0)``.

    Evaluated exactly at the minimiser ``z = VaR`` (see :func:`value_at_risk`), so it equals the
    optimum of the RU LP ``min z + (1/alpha) p^T u s.t. u >= -x - z, u >= 0``. It is the average
    loss over the worst ``alpha`` probability mass, the atom at VaR entering with the fractional
    weight needed to complete exactly ``alpha``. Same as Riskfolio-Lib's ``CVaR_Hist`` for
    uniform ``p``.

    Parameters
    ----------
    x : array_like, shape (S,) or (S, M)
        Scenario P&L.
    p : array_like, shape (S,), optional
        Scenario probabilities; ``None`` = uniform. Scenarios with ``p = 0`` are ignored.
    alpha : float, default 0.05
        Tail probability in (0, 1]; ``alpha = 1`` gives the expected loss ``-mu``.

    Returns
    -------
    float or ndarray, shape (M,)
        Conditional value at risk, units of ``x``, positive for a loss.
    """
    a = _check_alpha(alpha, allow_one=True)
    X, q, s = _scenarios(x, p)
    _, cvar = _tail(-X, q, a)
    return _out(cvar, s)


def worst_realization(x: ArrayLike, p: ArrayLike | None = None) -> FloatOrArray:
    """WR: worst loss ``max_{s : p_s > 0} (-x_s)`` (Riskfolio-Lib's ``WR``, minimax model).

    Parameters
    ----------
    x : array_like, shape (S,) or (S, M)
        Scenario P&L.
    p : array_like, shape (S,), optional
        Scenario probabilities; only their support (``p > 0``) matters.

    Returns
    -------
    float or ndarray, shape (M,)
        Worst realised loss, units of ``x``, positive for a loss.
    """
    X, _, s = _scenarios(x, p)
    return _out(-X.min(axis=0), s)


# ---------------------------------------------------------------------------------------------
# drawdowns
# ---------------------------------------------------------------------------------------------
def _drawdowns(A: NDArray[np.float64]) -> NDArray[np.float64]:
    """Drawdowns of per-step P&L ``A`` (P, T, M) along axis 1 (see :func:`drawdown_paths`)."""
    c = np.cumsum(A, axis=1)
    peak = np.maximum(np.maximum.accumulate(c, axis=1), 0.0)  # running max incl. c_0 = 0
    return peak - c


def drawdown_paths(paths: ArrayLike) -> NDArray[np.float64]:
    """Uncompounded drawdowns of each path at each step.

    With cumulative P&L ``c_t = sum_{u<=t} paths[:, u]`` and ``c_0 = 0`` prepended, the drawdown
    is ``d_t = max_{0<=u<=t} c_u - c_t`` for ``t = 1..T`` (the running peak includes the starting
    value 0, so a path that starts with a loss is in drawdown from its first step). This matches
    Riskfolio-Lib's ``*_Abs`` functions, which prepend a starting point before the cumulative sum.

    Parameters
    ----------
    paths : array_like, shape (P, T) or (P, T, M)
        Per-step P&L of ``P`` paths of ``T`` steps (for ``M`` portfolios).

    Returns
    -------
    ndarray, shape (P, T) or (P, T, M)
        Drawdowns ``d_t >= 0`` (units of the P&L), step ``t = 1..T`` at index ``t - 1``.
    """
    A = np.asarray(paths, dtype=float)
    if A.ndim not in (2, 3):
        raise ValueError(f"paths must have shape (P, T) or (P, T, M), got {A.shape}")
    return _drawdowns(A[:, :, None] if A.ndim == 2 else A).reshape(A.shape)


def max_drawdown(paths: ArrayLike, p: ArrayLike | None = None) -> FloatOrArray:
    """MDD: largest drawdown over all steps of all paths with ``p > 0``.

    For a single path (P = 1) this is Riskfolio-Lib's ``MDD_Abs``.

    Parameters
    ----------
    paths : array_like, shape (P, T) or (P, T, M)
        Per-step P&L paths.
    p : array_like, shape (P,), optional
        Path probabilities; only their support (``p > 0``) matters. ``None`` = uniform.

    Returns
    -------
    float or ndarray, shape (M,)
        Maximum drawdown, units of the P&L (>= 0).
    """
    A, _, s = _paths(paths, p)
    return _out(_drawdowns(A).max(axis=(0, 1)), s)


def average_drawdown(paths: ArrayLike, p: ArrayLike | None = None) -> FloatOrArray:
    """ADD: ``sum_j p_j (1/T) sum_{t=1..T} d_{j,t}``.

    For a single path this is Riskfolio-Lib's ``ADD_Abs`` (which sums ``T + 1`` drawdowns, the
    first being the zero at the start, and divides by ``T``).

    Parameters
    ----------
    paths : array_like, shape (P, T) or (P, T, M)
        Per-step P&L paths.
    p : array_like, shape (P,), optional
        Path probabilities; ``None`` = uniform.

    Returns
    -------
    float or ndarray, shape (M,)
        Average drawdown, units of the P&L (>= 0).
    """
    A, q, s = _paths(paths, p)
    return _out(q @ _drawdowns(A).mean(axis=1), s)


def conditional_drawdown_at_risk(
    paths: ArrayLike, p: ArrayLike | None = None, alpha: float = 0.05
) -> FloatOrArray:
    """CDaR: CVaR of the pooled drawdown cells.

    The ``P * T`` cells ``(j, t)`` each carry drawdown ``d_{j,t}`` (already a loss) and weight
    ``p_j / T``; CDaR is ``min_z z + (1/alpha) sum_{j,t} (p_j / T) max(d_{j,t} - z, 0)``,
    evaluated exactly (fractional atom) as in :func:`conditional_value_at_risk`. For a single
    path this is Riskfolio-Lib's ``CDaR_Abs`` (its ``T`` drawdowns exclude the starting point).

    Parameters
    ----------
    paths : array_like, shape (P, T) or (P, T, M)
        Per-step P&L paths.
    p : array_like, shape (P,), optional
        Path probabilities; ``None`` = uniform.
    alpha : float, default 0.05
        Tail probability in (0, 1]; ``alpha = 1`` gives ADD.

    Returns
    -------
    float or ndarray, shape (M,)
        Conditional drawdown at risk, units of the P&L (>= 0).
    """
    a = _check_alpha(alpha, allow_one=True)
    A, q, s = _paths(paths, p)
    n_paths, T, M = A.shape
    cells = _drawdowns(A).reshape(n_paths * T, M)
    _, cdar = _tail(cells, np.repeat(q / T, T), a)
    return _out(cdar, s)


# ---------------------------------------------------------------------------------------------
# dispatcher
# ---------------------------------------------------------------------------------------------
def risk(
    rm: RiskMeasure | str,
    x: ArrayLike | None = None,
    p: ArrayLike | None = None,
    *,
    paths: ArrayLike | None = None,
    alpha: float = 0.05,
    rf: float = 0.0,
) -> FloatOrArray:
    """Evaluate risk measure ``rm`` (a :class:`RiskMeasure` or its code, e.g. ``"CVaR"``).

    Parameters
    ----------
    rm : RiskMeasure or str
        Measure code; an unknown code raises ``ValueError``.
    x : array_like, shape (S,) or (S, M), optional
        Scenario P&L; required by all measures except the drawdown ones (ignored by those).
    p : array_like, optional
        Probabilities: shape (S,) for scenario measures, shape (P,) (one per path) for the
        drawdown measures. ``None`` = uniform.
    paths : array_like, shape (P, T) or (P, T, M), optional
        Per-step P&L paths; required by MDD, ADD and CDaR (ignored by the others).
    alpha : float, default 0.05
        Tail probability for CVaR and CDaR.
    rf : float, default 0
        Threshold for FLPM and SLPM.

    Returns
    -------
    float or ndarray, shape (M,)
        The risk (a positive number is a loss / dispersion), units of the P&L.
    """
    try:
        code = RiskMeasure(rm)
    except ValueError:
        valid = ", ".join(m.value for m in RiskMeasure)
        raise ValueError(f"unknown risk measure {rm!r}; valid codes: {valid}") from None

    if code in DRAWDOWN_MEASURES:
        if paths is None:
            raise ValueError(
                f"{code.value} is a drawdown measure: pass paths=(P, T[, M]) per-step P&L "
                "and p of length P (path probabilities); scenario P&L x is not used"
            )
        if code is RiskMeasure.MDD:
            return max_drawdown(paths, p)
        if code is RiskMeasure.ADD:
            return average_drawdown(paths, p)
        return conditional_drawdown_at_risk(paths, p, alpha)

    if x is None:
        raise ValueError(f"{code.value} needs scenario P&L x of shape (S,) or (S, M)")
    if code is RiskMeasure.MV:
        return standard_deviation(x, p)
    if code is RiskMeasure.MAD:
        return mean_absolute_deviation(x, p)
    if code is RiskMeasure.MSV:
        return semi_deviation(x, p)
    if code is RiskMeasure.FLPM:
        return first_lower_partial_moment(x, p, rf)
    if code is RiskMeasure.SLPM:
        return second_lower_partial_moment(x, p, rf)
    if code is RiskMeasure.CVaR:
        return conditional_value_at_risk(x, p, alpha)
    return worst_realization(x, p)  # RiskMeasure.WR
