"""Convex (LP / SOCP) formulations of the ten risk measures, homogeneous in ``(y, k)``.

Each formulation returns ``(risk expression, auxiliary constraints)`` such that, at the optimum of
any problem that minimises the expression (or caps it), the expression equals the evaluator of
:mod:`tasks.measures` applied to the exposures ``e = y / k``, times ``k``. ``k`` is 1.0 for the
ordinary problems and the Charnes-Cooper scale ``kappa`` for the risk-adjusted-ratio objective; all
measures are positively homogeneous in ``y`` once thresholds are written as multiples of ``k``
(FLPM/SLPM threshold ``rf * k``; the drawdown peak starts at ``0 * k``).

Notation: kept scenarios (``p > 0``) ``X`` (S', N) with probabilities ``q`` (S',); ``mu = X^T q``;
``D = X - mu``; ``Xs = D`` when ``demean`` else ``X`` (the P&L the tail / threshold measures see).

====== ====================================================================================
MV     ``||F y||_2`` with ``F^T F = D^T diag(q) D`` (QR of ``diag(sqrt q) D``); squared for
       the variance objective
MAD    ``2 q^T n``, ``n >= -D y``, ``n >= 0``  (``E|d| = 2 E[d^-]`` since ``E d = 0``)
MSV    ``||diag(sqrt q) n||_2``, ``n >= -D y``, ``n >= 0``
FLPM   ``q^T n``, ``n >= rf k - Xs y``, ``n >= 0``
SLPM   ``||diag(sqrt q) n||_2``, ``n >= rf k - Xs y``, ``n >= 0``
CVaR   ``z + (q / alpha)^T u``, ``u >= -Xs y - z``, ``u >= 0`` (Rockafellar-Uryasev)
WR     ``t``, ``t >= -Xs y``
MDD    ``t``, ``t >= h - C y``
ADD    ``w^T (h - C y)``, ``w = p_path / T`` per cell
CDaR   ``z + (w / alpha)^T u``, ``u >= h - C y - z``, ``u >= 0``
====== ====================================================================================

Drawdowns use the kept paths' cumulative P&L per unit ``C`` (P'T, N) (row ``j*T + t``) and peak
variables ``h >= C y``, ``h_{j,1} >= 0`` (the start ``c_0 = 0``), ``h_{j,t} >= h_{j,t-1}``; the
drawdown of cell (j, t) is ``h - C y`` at the optimum (``h`` = running peak).
"""

from __future__ import annotations

from functools import cached_property

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from tasks._arrays import aligned
from tasks.measures import _measures as rmod
from tasks.measures._measures import DRAWDOWN_MEASURES, RiskMeasure

__all__ = ["ScenarioData", "risk_model", "evaluate"]

Scale = float | cp.Expression


def _probabilities(p: np.ndarray | None, n: int, what: str) -> np.ndarray:
    if p is None:
        return np.full(n, 1.0 / n)
    q = aligned(p)
    if q.shape != (n,):
        raise ValueError(f"{what} has shape {q.shape}, expected ({n},)")
    if not np.isfinite(q).all() or (q < 0).any() or q.sum() <= 0:
        raise ValueError(f"{what} must be finite, nonnegative and not all zero")
    return q / q.sum()


class ScenarioData:
    """Scenario and path arrays shared by the formulations and the evaluators.

    Parameters
    ----------
    R : (S, N) P&L per unit exposure.
    p : (S,) scenario probabilities (renormalised) or None (uniform).
    demean : tail / threshold measures see ``P&L - expected P&L``.
    paths : (P, T, N) per-step P&L per unit exposure of P paths, or None.
    path_p : (P,) path probabilities (renormalised) or None (uniform).
    """

    def __init__(
        self,
        R: np.ndarray,
        p: np.ndarray | None = None,
        *,
        demean: bool = False,
        paths: np.ndarray | None = None,
        path_p: np.ndarray | None = None,
    ) -> None:
        self.R = aligned(R)
        if self.R.ndim != 2:
            raise ValueError(f"R must have shape (S, N), got {self.R.shape}")
        s, n = self.R.shape
        self.p = _probabilities(p, s, "p")
        keep = self.p > 0
        self.X = aligned(self.R[keep]) if not keep.all() else self.R
        self.q = self.p[keep]
        if not np.isfinite(self.X).all():
            raise ValueError("R must be finite in every scenario with p > 0")
        self.mu = self.X.T @ self.q
        self.demean = bool(demean)
        if paths is None:
            if path_p is not None:
                raise ValueError("path_p given without paths")
            self.paths = None
            self.path_p = None
        else:
            cube = aligned(paths)
            if cube.ndim != 3 or cube.shape[2] != n:
                raise ValueError(f"paths must have shape (P, T, {n}) (paths x steps x instruments), got {cube.shape}")
            self.paths = cube
            self.path_p = _probabilities(path_p, cube.shape[0], "path_p")
            if not np.isfinite(cube[self.path_p > 0]).all():
                raise ValueError("paths must be finite on every path with probability > 0")

    @property
    def n(self) -> int:
        return self.R.shape[1]

    @cached_property
    def D(self) -> np.ndarray:
        """(S', N) centred P&L ``X - mu``."""
        return self.X - self.mu

    @cached_property
    def Xs(self) -> np.ndarray:
        """(S', N) P&L seen by CVaR, WR, FLPM, SLPM (centred when ``demean``)."""
        return self.D if self.demean else self.X

    @cached_property
    def mv_factor(self) -> np.ndarray:
        """Upper-triangular (N, N) ``F`` with ``F^T F`` = probability-weighted covariance."""
        return np.linalg.qr(self.D * np.sqrt(self.q)[:, None], mode="r")

    @cached_property
    def _path_arrays(self) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray]:
        if self.paths is None:
            raise ValueError("drawdown measures (MDD, ADD, CDaR) need paths=(P, T, N) and path_p=(P,)")
        keep = self.path_p > 0
        cube = self.paths[keep]
        qp = self.path_p[keep]
        P, T, n = cube.shape
        cum = np.cumsum(cube, axis=1).reshape(P * T, n)
        weights = np.repeat(qp / T, T)
        cells = np.arange(P * T)
        first = cells % T == 0
        nxt = cells[~first]
        # rows: h[cell] - h[cell - 1] >= 0 for cells that are not a path's first step
        diff = sp.csr_matrix(
            (np.r_[np.ones(nxt.size), -np.ones(nxt.size)],
             (np.r_[np.arange(nxt.size), np.arange(nxt.size)], np.r_[nxt, nxt - 1])),
            shape=(nxt.size, P * T))
        return aligned(cum), weights, diff, np.flatnonzero(first)

    @property
    def cum(self) -> np.ndarray:
        """(P'T, N) cumulative P&L per unit of the kept paths, row ``j*T + t``."""
        return self._path_arrays[0]

    @property
    def cell_weights(self) -> np.ndarray:
        """(P'T,) cell weights ``p_j / T``."""
        return self._path_arrays[1]


def _times(k: Scale, a: float) -> Scale:
    return k * a if isinstance(k, cp.Expression) else float(k) * a


def _drawdown_cells(data: ScenarioData, y: cp.Expression) -> tuple[cp.Expression, list[cp.Constraint]]:
    cum, _, diff, first = data._path_arrays
    h = cp.Variable(cum.shape[0], name="peak")
    cy = cum @ y
    cons = [h >= cy, h[first] >= 0.0]
    if diff.shape[0]:
        cons.append(diff @ h >= 0.0)
    return h - cy, cons


def risk_model(
    rm: RiskMeasure | str,
    data: ScenarioData,
    y: cp.Expression,
    k: Scale = 1.0,
    *,
    alpha: float = 0.05,
    rf: float = 0.0,
    squared: bool = False,
) -> tuple[cp.Expression, list[cp.Constraint]]:
    """Risk expression of ``y`` (times ``k``) and its auxiliary constraints.

    Parameters
    ----------
    rm : risk measure code.
    data : ScenarioData.
    y : (N,) cvxpy expression (exposures or ``kappa * exposures``).
    k : 1.0 or the Charnes-Cooper scale variable.
    alpha : tail probability (CVaR, CDaR).
    rf : threshold of FLPM / SLPM (minimum acceptable return, P&L units).
    squared : for MV return the variance ``||F y||^2`` instead of the standard deviation.

    Returns
    -------
    (expression, constraints)
        A convex scalar expression (risk units) and the constraints defining its auxiliaries.
    """
    rm = RiskMeasure(rm)
    q = data.q
    if rm is RiskMeasure.MV:
        Fy = data.mv_factor @ y
        return (cp.sum_squares(Fy) if squared else cp.norm(Fy, 2)), []
    if rm in (RiskMeasure.MAD, RiskMeasure.MSV):
        n = cp.Variable(q.size, nonneg=True, name=f"{rm.value}_down")
        cons = [n >= -(data.D @ y)]
        if rm is RiskMeasure.MAD:
            return 2.0 * (q @ n), cons
        return cp.norm(cp.multiply(np.sqrt(q), n), 2), cons
    if rm in (RiskMeasure.FLPM, RiskMeasure.SLPM):
        n = cp.Variable(q.size, nonneg=True, name=f"{rm.value}_short")
        cons = [n >= _times(k, float(rf)) - data.Xs @ y]
        if rm is RiskMeasure.FLPM:
            return q @ n, cons
        return cp.norm(cp.multiply(np.sqrt(q), n), 2), cons
    if rm is RiskMeasure.CVaR:
        z = cp.Variable(name="VaR")
        u = cp.Variable(q.size, nonneg=True, name="tail")
        return z + (q / alpha) @ u, [u >= -(data.Xs @ y) - z]
    if rm is RiskMeasure.WR:
        t = cp.Variable(name="worst")
        return t, [-(data.Xs @ y) <= t]
    dd, cons = _drawdown_cells(data, y)
    w = data.cell_weights
    if rm is RiskMeasure.MDD:
        t = cp.Variable(name="mdd")
        return t, cons + [dd <= t]
    if rm is RiskMeasure.ADD:
        return w @ dd, cons
    z = cp.Variable(name="DaR")
    u = cp.Variable(w.size, nonneg=True, name="dd_tail")
    return z + (w / alpha) @ u, cons + [u >= dd - z]


def evaluate(
    rm: RiskMeasure | str,
    data: ScenarioData,
    e: np.ndarray,
    *,
    alpha: float = 0.05,
    rf: float = 0.0,
) -> float:
    """Risk of exposures ``e`` (N,) by :mod:`tasks.measures` (independent of the solver).

    Scenario measures see ``R e`` (minus ``mu^T e`` when ``data.demean``) under ``p``; drawdown
    measures see the paths ``paths @ e`` (P, T) under ``path_p``.
    """
    rm = RiskMeasure(rm)
    e = np.asarray(e, dtype=float)
    if rm in DRAWDOWN_MEASURES:
        if data.paths is None:
            raise ValueError(f"{rm.value} is a drawdown measure: pass paths=(P, T, N) and path_p=(P,)")
        return float(rmod.risk(rm, paths=data.paths @ e, p=data.path_p, alpha=alpha))
    pnl = data.R @ e
    if data.demean:
        pnl = pnl - data.mu @ e
    return float(rmod.risk(rm, pnl, data.p, alpha=alpha, rf=rf))
