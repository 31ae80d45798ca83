"""Risk-factor model: loadings by OLS or stepwise selection, factor moments, factor scenarios.

Model. For N assets and K factors observed over the same T periods (oldest row first),

    X[t, i] = alpha[i] + sum_k B[i, k] F[t, k] + e[t, i],

with X (T, N) asset returns (in this project: P&L per unit exposure over one period) and
F (T, K) factor returns over the same periods. Each asset is regressed separately by ordinary
least squares on a constant (``intercept=True``) and its selected factors.

Selection (Riskfolio-Lib's ``loadings_matrix`` / ``forward_regression`` /
``backward_regression`` with ``criterion='pvalue'``; p-values are the two-sided Student-t tests
``t = b / se``, ``se**2 = diag(s**2 (Z'Z)^-1)``, ``s**2 = RSS / (T - k)``, k regressors
including the constant, T - k degrees of freedom; the constant's p-value never counts):

* ``"ols"``: every factor is kept (Riskfolio's plain regression on all factors).
* ``"forward"``: start from the constant only; at each step try adding every factor not yet
  in the model, keep only the candidates whose refit has *every* factor p-value
  ``<= threshold``, and add the one with the smallest own p-value (ties: the first in factor
  order). Stop when no candidate qualifies or all factors are in.
* ``"backward"``: start from all factors; while the largest factor p-value is ``> threshold``
  drop that factor and refit.

Moments (:func:`factor_stats`, Riskfolio's ``risk_factors``): ``mu = alpha + B mu_f`` and
``cov = B Sigma_f B' + D`` with ``mu_f``, ``Sigma_f`` the probability-weighted mean and
covariance of factor rows under ``p`` and ``D`` the diagonal of the residual covariance.
Conventions that differ from Riskfolio: moments are probability-weighted with divisor 1 (as
every moment in this project, ``sum p = 1``), so with uniform ``p`` the covariances are the
``ddof=0`` ones (Riskfolio: ``ddof=1`` for ``Sigma_f`` and ``D``; the two differ by
``T / (T - 1)``); ``mu`` carries ``alpha`` (Riskfolio adds the constant as a factor column, which
is the same thing); ``residual="full"`` keeps the residual cross-covariances (the covariance of
:func:`factor_scenarios` with row resampling), ``"none"`` drops ``D`` (Riskfolio ``error=False``).

Scenarios (:func:`factor_scenarios`): ``alpha + F_scen B' + e*`` with residuals ``e*`` resampled
from the in-sample residuals. Riskfolio's ``returns_fm`` is the factor part only
(``residuals=False`` here). Resampling is seeded per fixed block of :data:`RESIDUAL_BLOCK`
scenario indices: global block ``b`` draws from ``SeedSequence(seed, spawn_key=(b, 3))`` (the
driver generator uses keys ``(b,)``, ``(b, 1)``, ``(b, 2)``), always a whole block, so the
residual of scenario ``i`` depends only on ``(seed, i)`` and the residual history, never on how
the scenarios are cut into chunks. The factor part is accumulated factor by factor with
element-wise operations (no BLAS), so any chunking gives bit-identical rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from tasks._arrays import aligned

__all__ = [
    "FACTOR_METHODS",
    "RESIDUAL_BLOCK",
    "FactorLoadings",
    "factor_loadings",
    "factor_stats",
    "factor_scenarios",
    "factor_horizon_scenarios",
    "ols_fit",
    "residual_indices",
    "residual_sum_indices",
]

FactorMethod = Literal["ols", "forward", "backward"]
FACTOR_METHODS: tuple[str, ...] = ("ols", "forward", "backward")
RESIDUAL_BLOCK = 4096
"""Scenario indices per residual-resampling block (fixed: changing it changes the numbers)."""
_RESIDUAL_KEY = 3


@dataclass(frozen=True)
class FactorLoadings:
    """Estimated factor model of N assets on K factors from T history rows.

    Attributes
    ----------
    B : (N, K) loadings (0 for a factor not selected for that asset).
    alpha : (N,) intercepts (0 without intercept), in return units per period.
    residuals : (T, N) in-sample residuals ``X - alpha - F B'``.
    selected : per asset, the names of the factors kept (in the order they entered for
        ``"forward"``, in factor order otherwise).
    assets : (N,) asset names; factors : (K,) factor names.
    pvalues : (N, K) two-sided OLS p-values of the final fit (NaN where not selected).
    method : ``"ols"``, ``"forward"`` or ``"backward"``; threshold : the p-value threshold;
    intercept : whether a constant was fitted.
    """

    B: np.ndarray
    alpha: np.ndarray
    residuals: np.ndarray
    selected: tuple[tuple[str, ...], ...]
    assets: tuple[str, ...]
    factors: tuple[str, ...]
    pvalues: np.ndarray
    method: str = "ols"
    threshold: float = 0.05
    intercept: bool = True

    @property
    def n_assets(self) -> int:
        """N, the number of assets."""
        return len(self.assets)

    @property
    def n_factors(self) -> int:
        """K, the number of factors."""
        return len(self.factors)


def _names(a: Any, given: Sequence[str] | None, n: int, what: str, prefix: str) -> tuple[str, ...]:
    """Column names: ``given``, else a DataFrame's columns, else ``prefix0..``; checked (n,)."""
    if given is None:
        cols = getattr(a, "columns", None)
        given = [str(c) for c in cols] if cols is not None else [f"{prefix}{j}" for j in range(n)]
    names = tuple(str(s) for s in given)
    if len(names) != n:
        raise ValueError(f"{what} names: {len(names)} given for {n} columns")
    if len(set(names)) != n:
        raise ValueError(f"{what} names must be unique, got {list(names)}")
    return names


def _matrix(a: Any, what: str, cols: int | None = None) -> np.ndarray:
    """A finite 2-D float array (``cols`` columns if given), else ValueError naming ``what``."""
    m = np.asarray(a, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (rows, columns), got shape {m.shape}")
    if cols is not None and m.shape[1] != cols:
        raise ValueError(f"{what} must have {cols} columns, got {m.shape[1]}")
    if not np.all(np.isfinite(m)):
        bad = np.argwhere(~np.isfinite(m))[0]
        raise ValueError(f"{what} holds a NaN or infinite value (first at row {bad[0]}, column {bad[1]})")
    return aligned(m)


def _probabilities(p: Any, n: int, what: str) -> np.ndarray:
    """(n,) non-negative weights normalised to sum 1 (``None``: uniform)."""
    if p is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(p, dtype=float)
    if w.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"{what} must be finite, >= 0 and have a positive sum")
    return w / w.sum()


def _design(F: np.ndarray, intercept: bool) -> np.ndarray:
    """(T, k) regressors: a column of ones first when ``intercept``, then ``F``'s columns."""
    return np.column_stack([np.ones(F.shape[0]), F]) if intercept else F


def ols_fit(y: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ordinary least squares of y (T,) on Z (T, k) with two-sided t-test p-values.

    Solved by a QR factorisation ``Z = QR``: ``b = R^-1 Q'y``, ``(Z'Z)^-1 = R^-1 R^-T``,
    ``s**2 = RSS / (T - k)``, ``t = b / sqrt(s**2 diag((Z'Z)^-1))``, ``p = 2 sf_t(|t|, T - k)``.
    An exact fit (``RSS = 0``) gives p = 0 for non-zero and NaN for zero coefficients.

    Returns
    -------
    coef : (k,) coefficients; pvalues : (k,); residuals : (T,) ``y - Z b``.
    """
    t_len, k = Z.shape
    if k == 0:
        return np.empty(0), np.empty(0), y.copy()
    q, r = np.linalg.qr(Z)
    coef = np.linalg.solve(r, q.T @ y)
    resid = y - Z @ coef
    dof = t_len - k
    r_inv = np.linalg.solve(r, np.eye(k))
    s2 = float(resid @ resid) / dof
    se = np.sqrt(s2 * np.einsum("ij,ij->i", r_inv, r_inv))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = coef / se
    return coef, 2.0 * stats.t.sf(np.abs(t), dof), resid


def _factor_pvalues(y: np.ndarray, F: np.ndarray, cols: list[int], intercept: bool) -> np.ndarray:
    """p-values of the factors ``cols`` (in that order) in the regression of y on them."""
    _, pv, _ = ols_fit(y, _design(F[:, cols], intercept))
    pv = pv[1:] if intercept else pv
    return np.where(np.isnan(pv), 1.0, pv)  # a 0 coefficient of an exact fit is not significant


def _forward(y: np.ndarray, F: np.ndarray, threshold: float, intercept: bool) -> list[int]:
    """Factor columns chosen by forward selection, in the order they entered."""
    chosen: list[int] = []
    while len(chosen) < F.shape[1]:
        best, best_p = -1, np.inf
        for j in range(F.shape[1]):
            if j in chosen:
                continue
            pv = _factor_pvalues(y, F, chosen + [j], intercept)
            if pv.max() <= threshold and pv[-1] < best_p:
                best, best_p = j, float(pv[-1])
        if best < 0:
            break
        chosen.append(best)
    return chosen


def _backward(y: np.ndarray, F: np.ndarray, threshold: float, intercept: bool) -> list[int]:
    """Factor columns left by backward elimination, in factor order."""
    cols = list(range(F.shape[1]))
    while cols:
        pv = _factor_pvalues(y, F, cols, intercept)
        if not pv.max() > threshold:
            break
        del cols[int(np.argmax(pv))]
    return cols


def factor_loadings(
    X: Any,
    F: Any,
    *,
    assets: Sequence[str] | None = None,
    factors: Sequence[str] | None = None,
    method: FactorMethod = "ols",
    threshold: float = 0.05,
    intercept: bool = True,
) -> FactorLoadings:
    """Estimate the loadings of N assets on K factors (Riskfolio-Lib's ``loadings_matrix``).

    Parameters
    ----------
    X : (T, N) asset returns per period (array or DataFrame), oldest row first.
    F : (T, K) factor returns over the same T periods.
    assets, factors : names of X's and F's columns (default: DataFrame columns, else
        ``asset0..`` / ``factor0..``).
    method : ``"ols"`` (all factors), ``"forward"`` or ``"backward"`` stepwise selection on
        OLS p-values (see the module docstring for the exact rules).
    threshold : largest p-value a kept factor may have, in (0, 1]; used by the stepwise methods.
    intercept : fit a constant ``alpha`` (Riskfolio always does).

    Returns
    -------
    FactorLoadings with B (N, K), alpha (N,), residuals (T, N), selected, pvalues (N, K).

    Raises
    ------
    ValueError
        Non-2-D or non-finite inputs, different row counts, fewer rows than
        ``K + intercept + 1`` (no residual degree of freedom for the full model), collinear
        factors (including a constant factor with ``intercept``), an unknown method or a
        threshold outside (0, 1].
    """
    x, f = _matrix(X, "asset returns X"), _matrix(F, "factor returns F")
    t_len, n = x.shape
    k = f.shape[1]
    if f.shape[0] != t_len:
        raise ValueError(f"X and F must have the same rows (periods), got {t_len} and {f.shape[0]}")
    if n == 0 or k == 0:
        raise ValueError(f"need at least one asset and one factor, got N={n}, K={k}")
    asset_names = _names(X, assets, n, "asset", "asset")
    factor_names = _names(F, factors, k, "factor", "factor")
    if method not in FACTOR_METHODS:
        raise ValueError(f"method must be one of {FACTOR_METHODS}, got {method!r}")
    if not 0.0 < float(threshold) <= 1.0:
        raise ValueError(f"threshold must be a p-value in (0, 1], got {threshold}")
    n_reg = k + int(intercept)
    if t_len <= n_reg:
        raise ValueError(
            f"too few rows: T={t_len} periods for {n_reg} regressors (K={k} factors"
            f"{' + intercept' if intercept else ''}); need at least {n_reg + 1}"
        )
    z = _design(f, intercept)
    rank = int(np.linalg.matrix_rank(z))
    if rank < n_reg:
        raise ValueError(
            f"the factors are collinear (regressor matrix of rank {rank} < {n_reg}"
            f"{', a constant factor counts against the intercept' if intercept else ''}); "
            "drop a redundant factor"
        )
    B, alpha = np.zeros((n, k)), np.zeros(n)
    pvalues, resid = np.full((n, k), np.nan), np.empty((t_len, n))
    selected: list[tuple[str, ...]] = []
    for i in range(n):
        y = x[:, i]
        if method == "forward":
            cols = _forward(y, f, float(threshold), intercept)
        elif method == "backward":
            cols = _backward(y, f, float(threshold), intercept)
        else:
            cols = list(range(k))
        coef, pv, resid[:, i] = ols_fit(y, _design(f[:, cols], intercept))
        if intercept:
            alpha[i], coef, pv = coef[0], coef[1:], pv[1:]
        B[i, cols], pvalues[i, cols] = coef, pv
        selected.append(tuple(factor_names[j] for j in cols))
    return FactorLoadings(B, alpha, resid, tuple(selected), asset_names, factor_names, pvalues,
                          str(method), float(threshold), bool(intercept))


def _factor_rows(F: Any, loadings: FactorLoadings, what: str) -> np.ndarray:
    """(S, K) factor rows in the loadings' factor order (DataFrame columns are matched by name)."""
    cols = getattr(F, "columns", None)
    if cols is not None and set(map(str, cols)) == set(loadings.factors):
        F = F[[c for name in loadings.factors for c in cols if str(c) == name]]
    return _matrix(F, what, loadings.n_factors)


def _residual_cov(loadings: FactorLoadings, residual: str, residual_p: Any) -> np.ndarray:
    """(N, N) residual covariance under row weights: its diagonal, all of it, or zeros."""
    n = loadings.n_assets
    if residual == "none":
        return np.zeros((n, n))
    e = loadings.residuals
    w = _probabilities(residual_p, e.shape[0], "residual_p")
    c = e - w @ e
    full = (c * w[:, None]).T @ c
    return full if residual == "full" else np.diag(np.diag(full))


def factor_stats(
    loadings: FactorLoadings,
    F: Any,
    *,
    p: Any = None,
    residual: Literal["diag", "full", "none"] = "diag",
    residual_p: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Asset mean and covariance implied by a factor model (Riskfolio-Lib's ``risk_factors``).

    Parameters
    ----------
    loadings : the fitted model (:func:`factor_loadings`).
    F : (S, K) factor scenarios or history (any rows, e.g. simulated drivers), columns in the
        loadings' factor order (a DataFrame with exactly those columns is reordered by name).
    p : (S,) scenario probabilities of F's rows (normalised; ``None``: uniform).
    residual : ``"diag"`` ``D`` = residual variances (the factor model, default), ``"full"``
        the whole residual covariance, ``"none"`` no residual term.
    residual_p : (T,) weights of the in-sample residual rows (``None``: uniform).

    Returns
    -------
    mu : (N,) ``alpha + B mu_f`` with ``mu_f = p' F``.
    cov : (N, N) ``B Sigma_f B' + D`` with ``Sigma_f = sum_s p_s (F_s - mu_f)(F_s - mu_f)'``
        (divisor 1, i.e. ``ddof=0`` for uniform p; see the module docstring).
    """
    if residual not in ("diag", "full", "none"):
        raise ValueError(f"residual must be 'diag', 'full' or 'none', got {residual!r}")
    f = _factor_rows(F, loadings, "factor rows F")
    if f.shape[0] == 0:
        raise ValueError("factor rows F are empty")
    w = _probabilities(p, f.shape[0], "p")
    mu_f = w @ f
    c = f - mu_f
    sigma_f = (c * w[:, None]).T @ c
    B = loadings.B
    mu = loadings.alpha + B @ mu_f
    cov = B @ sigma_f @ B.T + _residual_cov(loadings, residual, residual_p)
    return mu, 0.5 * (cov + cov.T)


def _block_stream(seed: int, block: int) -> np.random.Generator:
    key = np.random.SeedSequence(int(seed), spawn_key=(int(block), _RESIDUAL_KEY))
    return np.random.Generator(np.random.PCG64(key))


def residual_indices(
    seed: int,
    start: int,
    n: int,
    n_rows: int,
    n_assets: int | None = None,
    weights: Any = None,
) -> np.ndarray:
    """Residual history rows drawn for scenarios ``start .. start + n - 1``.

    Block ``b`` (scenarios ``b*RESIDUAL_BLOCK`` ..) draws a whole block of row indices from
    ``SeedSequence(seed, spawn_key=(b, 3))`` and the requested range is sliced out, so the
    draw of scenario i depends only on (seed, i, n_rows, n_assets, weights).

    Parameters
    ----------
    seed : run seed (int >= 0); start : first global scenario index (>= 0); n : scenarios.
    n_rows : T, the number of residual rows to draw from.
    n_assets : ``None``: one row per scenario (shape (n,)); an int N: an independent row per
        scenario and asset (shape (n, N)).
    weights : (T,) optional row probabilities (``None``: uniform).

    Returns
    -------
    (n,) or (n, N) int64 row indices in ``0 .. n_rows - 1``.
    """
    if int(seed) < 0 or int(start) < 0 or int(n) < 0 or int(n_rows) < 1:
        raise ValueError("seed, start and n must be >= 0 and n_rows >= 1")
    w = None if weights is None else _probabilities(weights, int(n_rows), "residual_p")
    shape: tuple[int, ...] = (RESIDUAL_BLOCK,) if n_assets is None else (RESIDUAL_BLOCK, int(n_assets))
    stop = int(start) + int(n)
    first, last = int(start) // RESIDUAL_BLOCK, (stop - 1) // RESIDUAL_BLOCK
    parts = []
    for b in range(first, last + 1) if stop > int(start) else []:
        rng = _block_stream(seed, b)
        draw = rng.integers(0, n_rows, shape) if w is None else rng.choice(n_rows, shape, p=w)
        lo = max(int(start), b * RESIDUAL_BLOCK) - b * RESIDUAL_BLOCK
        hi = min(stop, (b + 1) * RESIDUAL_BLOCK) - b * RESIDUAL_BLOCK
        parts.append(draw[lo:hi])
    if not parts:
        return np.empty((0,) + shape[1:], dtype=np.int64)
    return np.concatenate(parts).astype(np.int64, copy=False)


def factor_scenarios(
    F_scen: Any,
    loadings: FactorLoadings,
    *,
    seed: int,
    start: int = 0,
    residuals: bool | Literal["rows", "assets"] = True,
    residual_p: Any = None,
) -> np.ndarray:
    """Asset return scenarios from factor scenarios through the loadings.

    Parameters
    ----------
    F_scen : (S, K) factor scenarios, global scenario indices ``start .. start + S - 1``
        (columns in the loadings' factor order; a DataFrame is matched by name).
    loadings : the fitted model.
    seed : run seed for the residual resampling (int >= 0).
    start : global index of the first row (so a chunk of a larger scenario set gets the same
        residuals as in one call).
    residuals : ``True`` / ``"rows"``: add a whole in-sample residual row per scenario (keeps
        the residuals' cross-correlation: the scenario covariance tends to
        ``factor_stats(..., residual="full")``); ``"assets"``: an independent row per scenario
        and asset (covariance tends to the factor model's ``residual="diag"``); ``False``: the
        factor part only (Riskfolio's ``returns_fm``).
    residual_p : (T,) optional probabilities of the residual rows (``None``: uniform).

    Returns
    -------
    (S, N) asset returns ``alpha + F_scen B' + e*``; row i depends only on
    ``(F_scen[i], seed, start + i)``, bit for bit.
    """
    f = _factor_rows(F_scen, loadings, "factor scenarios F_scen")
    if residuals not in (True, False, "rows", "assets"):
        raise ValueError(f"residuals must be True, False, 'rows' or 'assets', got {residuals!r}")
    s = f.shape[0]
    out = np.broadcast_to(loadings.alpha, (s, loadings.n_assets)).copy()
    for j in range(loadings.n_factors):  # element-wise, factor by factor: chunk-invariant bits
        out += f[:, j, None] * loadings.B[None, :, j]
    if not residuals:
        return out
    e = loadings.residuals
    if residuals == "assets":
        idx = residual_indices(seed, start, s, e.shape[0], loadings.n_assets, residual_p)
        out += e[idx, np.arange(loadings.n_assets)[None, :]]
    else:
        out += e[residual_indices(seed, start, s, e.shape[0], None, residual_p)]
    return out


def residual_sum_indices(
    seed: int,
    start: int,
    n: int,
    n_rows: int,
    periods: int,
    n_assets: int | None = None,
) -> np.ndarray:
    """Residual history rows drawn for the ``periods`` periods of scenarios ``start .. start+n-1``.

    The multi-period form of :func:`residual_indices`: block ``b`` draws a whole block of shape
    ``(RESIDUAL_BLOCK, periods)`` (or ``(RESIDUAL_BLOCK, periods, N)``) from the same stream
    ``SeedSequence(seed, spawn_key=(b, 3))``, so the draws of scenario i depend only on
    ``(seed, i, n_rows, periods, n_assets)``; with ``periods == 1`` they are exactly
    :func:`residual_indices`' draws.

    Returns
    -------
    (n, periods) or (n, periods, N) int64 row indices in ``0 .. n_rows - 1``.
    """
    if int(periods) < 1:
        raise ValueError(f"periods must be a whole number >= 1, got {periods}")
    if int(seed) < 0 or int(start) < 0 or int(n) < 0 or int(n_rows) < 1:
        raise ValueError("seed, start and n must be >= 0 and n_rows >= 1")
    tail: tuple[int, ...] = (int(periods),) if n_assets is None else (int(periods), int(n_assets))
    stop = int(start) + int(n)
    parts = []
    for b in range(int(start) // RESIDUAL_BLOCK, (stop - 1) // RESIDUAL_BLOCK + 1) if n else []:
        draw = _block_stream(seed, b).integers(0, n_rows, (RESIDUAL_BLOCK,) + tail)
        lo = max(int(start), b * RESIDUAL_BLOCK) - b * RESIDUAL_BLOCK
        hi = min(stop, (b + 1) * RESIDUAL_BLOCK) - b * RESIDUAL_BLOCK
        parts.append(draw[lo:hi])
    if not parts:
        return np.empty((0,) + tail, dtype=np.int64)
    return np.concatenate(parts).astype(np.int64, copy=False)


def factor_horizon_scenarios(
    x_factors: Any,
    loadings: FactorLoadings,
    *,
    periods: int,
    seed: int,
    start: int = 0,
    residuals: Literal["rows", "assets", "none"] = "rows",
) -> np.ndarray:
    """Asset horizon log-returns from factor horizon log-returns through per-period loadings.

    With per-period log-returns ``x_t = alpha + B f_t + e_t`` (the loadings), the log-return
    over a horizon of ``k = periods`` periods is the sum of k periods:
    ``k alpha + B (sum_t f_t) + sum_t e_t``. ``x_factors`` are the factor horizon log-returns
    ``sum_t f_t`` (e.g. simulated drivers), and ``sum_t e_t`` is the sum of k residual rows
    resampled from the in-sample residuals (i.i.d. over periods; its covariance is ``k`` times
    the residual covariance).

    Parameters
    ----------
    x_factors : (S, K) factor horizon log-returns of global scenarios ``start .. start + S - 1``
        (columns in the loadings' factor order; a DataFrame is matched by name).
    loadings : the model fitted on per-period log-returns.
    periods : k, whole periods in the horizon (>= 1).
    seed : run seed (int >= 0); start : global index of the first row.
    residuals : ``"rows"`` k whole residual rows per scenario (keeps their cross-correlation),
        ``"assets"`` an independent row per period and asset, ``"none"`` no residual.

    Returns
    -------
    (S, N) asset horizon log-returns; row i depends only on ``(x_factors[i], seed, start + i)``,
    bit for bit (element-wise accumulation, periods summed in order), so any chunking of the
    scenarios gives the same numbers.
    """
    if residuals not in ("rows", "assets", "none"):
        raise ValueError(f"residuals must be 'rows', 'assets' or 'none', got {residuals!r}")
    k = int(periods)
    if k != periods or k < 1:
        raise ValueError(f"periods must be a whole number >= 1, got {periods}")
    f = _factor_rows(x_factors, loadings, "factor horizon returns x_factors")
    s, n = f.shape[0], loadings.n_assets
    out = np.broadcast_to(k * loadings.alpha, (s, n)).copy()
    for j in range(loadings.n_factors):  # element-wise, factor by factor: chunk-invariant bits
        out += f[:, j, None] * loadings.B[None, :, j]
    if residuals == "none" or s == 0:
        return out
    e = loadings.residuals
    acc = np.zeros((s, n))
    cols = np.arange(n)[None, :]
    for lo in range(0, s, RESIDUAL_BLOCK):  # bounded memory: one block of draws at a time
        hi = min(s, lo + RESIDUAL_BLOCK)
        if residuals == "assets":
            idx = residual_sum_indices(seed, start + lo, hi - lo, e.shape[0], k, n)
            for t in range(k):
                acc[lo:hi] += e[idx[:, t, :], cols]
        else:
            idx = residual_sum_indices(seed, start + lo, hi - lo, e.shape[0], k)
            for t in range(k):
                acc[lo:hi] += e[idx[:, t]]
    return out + acc
