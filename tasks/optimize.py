"""Scenario-based portfolio optimisation with a derivatives budget ``v^T e = 1``.

R is (S, N) P&L per unit exposure, p (S,) scenario probabilities, v (N,) relative market values,
e (N,) exposures. Expected return ``mu^T e`` with ``mu = R^T p``.

Risk measures (probability weighted):

* ``CVaR`` — Rockafellar–Uryasev LP: ``min_z z + (1/alpha) sum_s p_s max(-r_s - z, 0)`` with
  ``r = R e`` (or ``(R - 1 mu^T) e`` when ``demean``); ``alpha`` is the tail probability.
* ``MV`` — standard deviation ``sqrt(e^T Sigma e)``, ``Sigma`` the p-weighted covariance
  (the problem minimises the variance; the reported risk is the standard deviation).

A :class:`PortfolioProblem` is compiled once (cvxpy Parameters for the return floor) and re-solved
for every frontier point. Reported risks are *evaluated* on the optimal exposures with
:mod:`tasks.risk_measures`, independently of the solver's objective value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import cvxpy as cp
import numpy as np
import pandas as pd

from tasks import risk_measures as rmod
from tasks._arrays import aligned
from tasks.risk_measures import RiskMeasure

__all__ = [
    "Objective",
    "OptimizationResult",
    "PortfolioProblem",
    "optimize",
    "efficient_frontier",
    "frontier_targets",
    "SUPPORTED_MEASURES",
]

SUPPORTED_MEASURES = (RiskMeasure.CVaR, RiskMeasure.MV)


class Objective(str, Enum):
    """Optimisation objective codes (as Riskfolio-Lib)."""

    MinRisk = "MinRisk"
    MaxRet = "MaxRet"


@dataclass
class OptimizationResult:
    """Outcome of one optimisation.

    Attributes
    ----------
    exposures : (N,) optimal exposures (NaN unless status is optimal).
    status : "optimal", "optimal_inaccurate", "infeasible", "unbounded" or "solver_error".
    risk : risk measure evaluated at the exposures (loss units, e.g. 0.05 = 5 %).
    expected_return : ``mu^T e`` under the problem's probabilities.
    target : the return floor used (NaN if none).
    seconds : wall time of the solve.
    message : solver message for non-optimal outcomes.
    """

    exposures: np.ndarray
    status: str
    risk: float
    expected_return: float
    target: float = float("nan")
    seconds: float = 0.0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "optimal_inaccurate")


def _as_bounds(bounds: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    if bounds is None:
        return np.full(n, -np.inf), np.full(n, np.inf)
    lo, hi = bounds
    lo = np.broadcast_to(np.asarray(lo, dtype=float), (n,)).copy()
    hi = np.broadcast_to(np.asarray(hi, dtype=float), (n,)).copy()
    return lo, hi


def _normalise_p(p: np.ndarray | None, s: int) -> np.ndarray:
    if p is None:
        return np.full(s, 1.0 / s)
    p = aligned(p)
    if p.shape != (s,):
        raise ValueError(f"p has shape {p.shape}, expected ({s},)")
    return p / p.sum()


class PortfolioProblem:
    """A compiled optimisation problem for one (R, p, risk measure, constraint set).

    Parameters
    ----------
    R : (S, N) P&L per unit exposure.
    p : (S,) probabilities or None (uniform).
    v : (N,) relative market values (None = ones, i.e. ``sum e = 1``).
    rm : risk measure code, one of :data:`SUPPORTED_MEASURES`.
    alpha : CVaR tail probability in (0, 1).
    demean : measure the risk of ``P&L - expected P&L``.
    bounds : (lower (N,), upper (N,)) exposure bounds, scalars broadcast.
    solver : cvxpy solver name (default CLARABEL).
    """

    def __init__(
        self,
        R: np.ndarray,
        p: np.ndarray | None = None,
        *,
        v: np.ndarray | None = None,
        rm: str | RiskMeasure = "CVaR",
        alpha: float = 0.05,
        demean: bool = False,
        bounds: Any = None,
        solver: str | None = None,
    ) -> None:
        self.R = aligned(R)
        s, n = self.R.shape
        self.p = _normalise_p(p, s)
        self.v = np.ones(n) if v is None else aligned(v)
        self.rm = RiskMeasure(rm)
        if self.rm not in SUPPORTED_MEASURES:
            raise ValueError(f"risk measure {self.rm.value} is not supported here; use one of "
                             f"{[m.value for m in SUPPORTED_MEASURES]}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.alpha = float(alpha)
        self.demean = bool(demean)
        self.lower, self.upper = _as_bounds(bounds, n)
        self.solver = solver or "CLARABEL"
        self.mu = self.R.T @ self.p
        self._e = cp.Variable(n, name="e")
        self._floor = cp.Parameter(name="return_floor")
        self._base = self._constraints()
        self._risk_expr, extra = self._risk_model()
        self._base += extra
        self._minrisk = cp.Problem(cp.Minimize(self._risk_expr), self._base + [self.mu @ self._e >= self._floor])
        self._maxret = cp.Problem(cp.Maximize(self.mu @ self._e), list(self._base))

    # -- model -------------------------------------------------------------------------------
    def _constraints(self) -> list[cp.Constraint]:
        e = self._e
        cons: list[cp.Constraint] = [self.v @ e == 1.0]
        fin_lo, fin_hi = np.isfinite(self.lower), np.isfinite(self.upper)
        if fin_lo.any():
            cons.append(e[np.flatnonzero(fin_lo)] >= self.lower[fin_lo])
        if fin_hi.any():
            cons.append(e[np.flatnonzero(fin_hi)] <= self.upper[fin_hi])
        return cons

    def _centered(self) -> tuple[np.ndarray, np.ndarray]:
        keep = self.p > 0
        R = self.R[keep]
        if self.demean or self.rm == RiskMeasure.MV:
            R = R - self.mu
        return R, self.p[keep]

    def _risk_model(self) -> tuple[cp.Expression, list[cp.Constraint]]:
        R, p = self._centered()
        e = self._e
        if self.rm == RiskMeasure.CVaR:
            z = cp.Variable(name="var")
            u = cp.Variable(R.shape[0], nonneg=True, name="tail")
            return z + (p / self.alpha) @ u, [u >= -(R @ e) - z]
        # MV: variance = || diag(sqrt p) (R - mu) e ||^2 via an N x N factor of Sigma
        cov = (R * p[:, None]).T @ R
        w, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
        factor = vecs * np.sqrt(np.clip(w, 0.0, None))  # cov = factor factor^T
        return cp.sum_squares(factor.T @ e), []

    # -- evaluation --------------------------------------------------------------------------
    def evaluate_risk(self, e: np.ndarray) -> float:
        """Risk of exposures e (N,) evaluated with :mod:`tasks.risk_measures`."""
        pnl = self.R @ e
        if self.demean:
            pnl = pnl - self.mu @ e
        if self.rm == RiskMeasure.CVaR:
            return float(rmod.conditional_value_at_risk(pnl, self.p, self.alpha))
        return float(rmod.standard_deviation(pnl, self.p))

    def _result(self, prob: cp.Problem, target: float, t0: float, message: str = "") -> OptimizationResult:
        status = prob.status if message == "" else "solver_error"
        n = self.R.shape[1]
        if status in ("optimal", "optimal_inaccurate") and self._e.value is not None:
            e = np.asarray(self._e.value, dtype=float).copy()
            return OptimizationResult(e, status, self.evaluate_risk(e), float(self.mu @ e), target,
                                      time.perf_counter() - t0)
        status = {"infeasible_inaccurate": "infeasible", "unbounded_inaccurate": "unbounded"}.get(status, status)
        if status not in ("infeasible", "unbounded", "solver_error"):
            status = "solver_error"
        return OptimizationResult(np.full(n, np.nan), status, float("nan"), float("nan"), target,
                                  time.perf_counter() - t0, message or str(prob.status))

    def _solve(self, prob: cp.Problem, target: float) -> OptimizationResult:
        t0 = time.perf_counter()
        try:
            # warm_start=False: a warm-started re-solve differs from a cold one in the last bits,
            # which would make results depend on which worker solved which point first.
            prob.solve(solver=self.solver, warm_start=False)
        except cp.error.SolverError as exc:
            return self._result(prob, target, t0, message=f"solver error: {exc}")
        return self._result(prob, target, t0)

    # -- public solves -----------------------------------------------------------------------
    def min_risk(self, lowerret: float | None = None) -> OptimizationResult:
        """Minimum-risk portfolio, optionally with expected return >= ``lowerret``."""
        if lowerret is None:
            self._floor.value = self._slack_floor()
            res = self._solve(self._minrisk, float("nan"))
        else:
            self._floor.value = float(lowerret)
            res = self._solve(self._minrisk, float(lowerret))
        return res

    def max_return(self) -> OptimizationResult:
        """Maximum expected-return portfolio; its risk is then minimised at that return."""
        res = self._solve(self._maxret, float("nan"))
        if not res.ok:
            return res
        # among the max-return portfolios take the least risky one (ties are common)
        floor = res.expected_return - 1e-9 * max(1.0, abs(res.expected_return))
        tight = self.min_risk(floor)
        return tight if tight.ok else res

    def _slack_floor(self) -> float:
        lo = np.where(np.isfinite(self.lower), self.lower, -1e6)
        hi = np.where(np.isfinite(self.upper), self.upper, 1e6)
        return float(np.minimum(self.mu * lo, self.mu * hi).sum()) - 1.0

    def solve(self, obj: str | Objective = "MinRisk", lowerret: float | None = None) -> OptimizationResult:
        """Solve for one objective."""
        obj = Objective(obj)
        return self.min_risk(lowerret) if obj == Objective.MinRisk else self.max_return()


def optimize(
    R: np.ndarray,
    p: np.ndarray | None = None,
    *,
    v: np.ndarray | None = None,
    rm: str = "CVaR",
    obj: str = "MinRisk",
    alpha: float = 0.05,
    demean: bool = False,
    lowerret: float | None = None,
    bounds: Any = None,
    solver: str | None = None,
) -> OptimizationResult:
    """Optimise one portfolio (see :class:`PortfolioProblem` for the arguments)."""
    prob = PortfolioProblem(R, p, v=v, rm=rm, alpha=alpha, demean=demean, bounds=bounds, solver=solver)
    return prob.solve(obj, lowerret)


def frontier_targets(min_return: float, max_return: float, points: int) -> np.ndarray:
    """(points,) evenly spaced return floors from the min-risk to the max-return portfolio.

    The last floor is backed off by 1e-9 of the range so it stays numerically feasible.
    """
    if points < 2:
        raise ValueError("a frontier needs points >= 2")
    t = np.linspace(min_return, max_return, points)
    t[-1] = max_return - 1e-9 * max(abs(max_return - min_return), 1e-12)
    return t


def efficient_frontier(
    R: np.ndarray, p: np.ndarray | None = None, *, points: int = 20, **options: Any
) -> pd.DataFrame:
    """Efficient frontier: ``points`` MinRisk solves between the min-risk and max-return portfolios.

    Returns a DataFrame with one row per point: point, target, status, expected_return, risk, and
    one column per instrument (``e0..`` or the names in ``options['names']``).
    """
    names = options.pop("names", None)
    prob = PortfolioProblem(R, p, **options)
    n = prob.R.shape[1]
    names = list(names) if names is not None else [f"e{i}" for i in range(n)]
    lo_res, hi_res = prob.min_risk(), prob.max_return()
    rows = []
    if not (lo_res.ok and hi_res.ok):
        bad = lo_res if not lo_res.ok else hi_res
        return pd.DataFrame([{"point": 0, "target": np.nan, "status": bad.status,
                              "expected_return": np.nan, "risk": np.nan, **dict.fromkeys(names, np.nan)}])
    for k, t in enumerate(frontier_targets(lo_res.expected_return, hi_res.expected_return, points)):
        res = lo_res if k == 0 else prob.min_risk(float(t))
        rows.append({"point": k, "target": float(t), "status": res.status,
                     "expected_return": res.expected_return, "risk": res.risk,
                     **dict(zip(names, res.exposures))})
    return pd.DataFrame(rows)
