"""Scenario-based portfolio optimisation with a derivatives budget ``v^T e = 1``.

R is (S, N) P&L per unit exposure, p (S,) scenario probabilities, v (N,) relative market values,
e (N,) exposures. Expected return ``mu^T e`` with ``mu = R^T p``. Drawdown measures use a path
cube ``paths`` (P, T, N) of per-step P&L per unit exposure with path probabilities ``path_p`` (P,).

Objectives (Riskfolio-Lib's codes, :class:`Objective`):

* ``MinRisk``  -- ``min risk(e)`` (MV: the variance), optionally with ``mu^T e >= lowerret``;
* ``MaxRet``   -- ``max mu^T e`` (to 1e-10 relative); among the maximisers the least risky one
  is returned;
* ``Sharpe``   -- ``max (mu^T e - rf) / risk(e)`` for *any* of the ten measures, by the
  Charnes-Cooper transformation: with ``v^T e = 1`` the excess return is ``(mu - rf v)^T e``, and
  with ``y = kappa e``, ``kappa >= 0``::

      min risk(y)  s.t.  (mu - rf v)^T y = 1,  v^T y = kappa,  constraints homogenised in kappa

  (risk(y) = kappa risk(e) since every measure is positively homogeneous once the FLPM / SLPM
  threshold is written ``rf * kappa``). ``e = y / kappa``. When no feasible portfolio has a
  positive excess return the status is ``"no_positive_excess"``;
* ``Utility``  -- ``max mu^T e - l risk(e)`` (MV: ``l`` times the variance).

Risk measures: all ten codes of :class:`tasks.measures.RiskMeasure`, formulated in
:mod:`tasks.optimization` with the scenario (or path) probabilities. Constraints: see
:class:`tasks.optimization.Constraints` (bounds, groups, short/long limits, leverage, margin,
linear expressions, turnover, tracking error, caps on any measures, Greek limits).

A :class:`PortfolioProblem` is compiled once per objective (cvxpy Parameters for the return floor
and the risk aversion) and re-solved for every frontier point with ``warm_start=False`` (a
warm-started re-solve differs in the last bits, which would make results depend on which worker
solved which point first). Reported risks are *evaluated* on the optimal exposures with
:mod:`tasks.measures`, independently of the solver; ``model_risk`` holds the formulation's
value for diagnostics.

CVaR at large S: ``cvar_method="cuts"`` solves the CVaR objective (MinRisk, Sharpe, Utility) by
aggregated cutting planes with level stabilisation (``tasks.optimization._cvar_cuts``, HiGHS),
every solve from its own start, so results never depend on earlier solves; ``"lp"`` (the default of :class:`PortfolioProblem`) uses the full
Rockafellar-Uryasev LP; ``"auto"`` (default of :func:`optimize` / :func:`efficient_frontier`)
picks the cuts for CVaR with at least :data:`AUTO_CUTS_MIN_SCENARIOS` scenarios, linear
constraints and a bounded feasible set. An unbounded cut model, or a gap still open after the
round limit, falls back to the full LP (said in the result's message).

MaxRet to full precision (:mod:`tasks.optimization._max_return`): when the feasible set is linear
the max-return LP is solved by HiGHS's simplex (a vertex), else by the conic solver with tight
tolerances, its objective scaled to O(1) either way; the least-risk tie-break at the maximum uses
a return floor a relative 1e-12 below it and is lifted onto it if the floor was met only to the
solver's tolerance, so the MaxRet return is the maximum to 1e-10 relative. HiGHS is kept quiet
(no banner on stdout).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cvxpy as cp
import numpy as np
import pandas as pd

from tasks._arrays import aligned
from tasks.measures._measures import DRAWDOWN_MEASURES, RiskMeasure
from tasks.optimization._constraints import (
    CompiledConstraints,
    Constraints,
    compile_constraints,
    to_cvxpy,
)
from tasks.optimization._cvar_cuts import CutOutcome, CvarCutSolver
from tasks.optimization._highs import solve_options
from tasks.optimization._max_return import (
    ACCEPT_RTOL,
    FLOOR_RTOL,
    lift_weight,
    max_return_solver,
    return_scale,
)
from tasks.optimization._risk_models import ScenarioData, evaluate, risk_model
from tasks.vocabulary import OK_STATUSES, Objective, Status

__all__ = [
    "Objective",
    "CvarMethod",
    "OptimizationResult",
    "PortfolioProblem",
    "optimize",
    "frontier_limits",
    "efficient_frontier",
    "frontier_targets",
    "SUPPORTED_MEASURES",
    "STATUSES",
    "AUTO_CUTS_MIN_SCENARIOS",
]

SUPPORTED_MEASURES: tuple[RiskMeasure, ...] = tuple(RiskMeasure)
#: Every status a result can carry.
STATUSES = tuple(s.value for s in Status)
CvarMethod = Literal["lp", "cuts", "auto"]
#: ``cvar_method="auto"`` uses cutting planes from this many scenarios (with p > 0) on.
AUTO_CUTS_MIN_SCENARIOS = 5000
#: Charnes-Cooper scales below this (relative to ||y||) mean an unbounded ratio.
_KAPPA_TOL = 1e-10
#: Ratios above this are reported as unbounded (zero risk up to the solver tolerance, ~1e-8).
_RATIO_MAX = 1e6


@dataclass
class OptimizationResult:
    """Outcome of one optimisation.

    Attributes
    ----------
    exposures : (N,) optimal exposures (NaN unless ``ok``).
    status : one of :data:`STATUSES`.
    risk : risk measure evaluated at the exposures by :mod:`tasks.measures` (loss units,
        e.g. 0.05 = 5 %; MV reports the standard deviation).
    expected_return : ``mu^T e`` under the problem's probabilities.
    target : the return floor used (NaN if none).
    seconds : wall time of the solve.
    message : solver message for non-optimal outcomes (and notes such as a fallback).
    objective : objective code.
    model_risk : the formulation's risk at the optimum (diagnostics; equals ``risk`` to solver
        accuracy).
    iterations : cutting-plane master solves (0 for direct solves).
    """

    exposures: np.ndarray
    status: str
    risk: float
    expected_return: float
    target: float = float("nan")
    seconds: float = 0.0
    message: str = ""
    objective: str = "MinRisk"
    model_risk: float = float("nan")
    iterations: int = 0

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def ratio(self, rf: float = 0.0) -> float:
        """Risk-adjusted return ``(expected_return - rf) / risk`` (NaN unless ok)."""
        return (self.expected_return - rf) / self.risk if self.ok else float("nan")


@dataclass
class _Model:
    """One compiled cvxpy problem (one objective) and the handles needed to read it."""

    problem: cp.Problem
    y: cp.Variable
    k: cp.Variable | None
    risk: cp.Expression | None  # formulation risk of y (standard deviation for MV); None for MaxRet
    params: dict[str, cp.Parameter] = field(default_factory=dict)


def _measure(rm: str | RiskMeasure) -> RiskMeasure:
    try:
        return RiskMeasure(rm)
    except ValueError:
        raise ValueError(f"unknown risk measure {rm!r}; valid codes: "
                         f"{', '.join(m.value for m in RiskMeasure)}") from None


def _solver(name: str | None) -> str:
    name = (name or "CLARABEL").upper()
    if name not in cp.installed_solvers():
        raise ValueError(f"solver {name!r} is not installed; available: {cp.installed_solvers()}")
    return name


def _override(x: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.shape != shape or not np.isfinite(a).all() or (a.ndim == 2 and not np.allclose(a, a.T)):
        raise ValueError(f"{what} must be a finite{' symmetric' * (a.ndim == 2)} array of shape {shape}")
    return a


def _use_cuts(method: str, rm: RiskMeasure, cc: CompiledConstraints, data: ScenarioData, v: np.ndarray) -> bool:
    if method not in ("lp", "cuts", "auto"):
        raise ValueError(f"cvar_method must be 'lp', 'cuts' or 'auto', got {method!r}")
    if method == "lp":
        return False
    if rm is not RiskMeasure.CVaR or not cc.is_lp:
        if method == "cuts":
            raise ValueError("cvar_method='cuts' needs rm='CVaR' and linear constraints only "
                             "(no tracking error, no risk caps)")
        return False
    if method == "cuts":
        return True
    return data.q.size >= AUTO_CUTS_MIN_SCENARIOS and cc.bounded(v)


class PortfolioProblem:
    """A compiled optimisation problem for one (R, p, risk measure, constraint set).

    Parameters
    ----------
    R : (S, N) P&L per unit exposure.
    p : (S,) probabilities or None (uniform); renormalised.
    v : (N,) relative market values (None = ones, i.e. ``sum e = 1``).
    rm : risk measure code (any of the ten :class:`RiskMeasure` codes).
    alpha : CVaR / CDaR tail probability in (0, 1).
    demean : the scenario measures see ``P&L - expected P&L`` (drawdowns are unaffected).
    bounds : (lower (N,), upper (N,)) exposure bounds, scalars broadcast (intersected with
        ``constraints.bounds``).
    solver : cvxpy solver name (default CLARABEL; HIGHS for LPs). A linear max-return problem
        is always solved by HiGHS.
    rf : risk-free rate of the Sharpe objective and threshold (minimum acceptable return) of
        FLPM / SLPM, P&L units per unit budget.
    paths : (P, T, N) per-step P&L per unit exposure, needed by MDD, ADD, CDaR (objective or cap).
    path_p : (P,) path probabilities or None (uniform).
    constraints : :class:`tasks.optimization.Constraints`.
    names : N instrument names (for name-based constraints and frontier columns).
    cvar_method : "lp" (default), "cuts" or "auto" -- see the module docstring.
    mu, cov : (N,) expected return of every objective (CVaR then by the full LP) and (N, N) MV
        covariance (objective, cap, risk) instead of ``R``'s, e.g. Black-Litterman's; optional.
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
        rf: float = 0.0,
        paths: np.ndarray | None = None,
        path_p: np.ndarray | None = None,
        constraints: Constraints | None = None,
        names: Sequence[str] | None = None,
        cvar_method: CvarMethod = "lp",
        mu: np.ndarray | None = None,
        cov: np.ndarray | None = None,
    ) -> None:
        self.rm = _measure(rm)
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.data = ScenarioData(R, p, demean=demean, paths=paths, path_p=path_p)
        self.R, self.p, self.mu = self.data.R, self.data.p, self.data.mu
        n = self.R.shape[1]
        self.mu = self.mu if mu is None else _override(mu, (n,), "mu")
        self.cov_given = cov is not None
        if cov is not None:  # MV on F with F^T F = cov (an eigen-factor: a singular cov is fine)
            lam, vec = np.linalg.eigh(_override(cov, (n, n), "cov"))
            if lam.min() < -1e-10 * max(1.0, float(lam.max())):
                raise ValueError(f"cov is not positive semi-definite (smallest eigenvalue {lam.min():.3g})")
            self.data.__dict__["mv_factor"] = (vec * np.sqrt(np.clip(lam, 0.0, None))).T
        self.v = np.ones(n) if v is None else aligned(v)
        if self.v.shape != (n,):
            raise ValueError(f"v has shape {self.v.shape}, expected ({n},)")
        self.alpha = float(alpha)
        self.demean = bool(demean)
        self.rf = float(rf)
        if not math.isfinite(self.rf):
            raise ValueError(f"rf must be finite, got {rf!r}")
        self.solver = _solver(solver)
        self.names = [str(x) for x in names] if names is not None else None
        self.cc = compile_constraints(constraints, R=self.R, p=self.p, names=self.names, bounds=bounds)
        self.lower, self.upper = self.cc.bounds.lower, self.cc.bounds.upper
        wanted = {self.rm, *self.cc.caps}
        if wanted & DRAWDOWN_MEASURES and self.data.paths is None:
            dd = ", ".join(sorted(m.value for m in wanted & DRAWDOWN_MEASURES))
            raise ValueError(f"{dd} is a drawdown measure: pass paths=(P, T, N) per-step P&L per unit "
                             "exposure and path_p=(P,) path probabilities")
        self.cuts: CvarCutSolver | None = None
        if _use_cuts(cvar_method, self.rm, self.cc, self.data, self.v) and mu is None:
            self.cuts = CvarCutSolver(self.data, self.cc, self.v, alpha=self.alpha, rf=self.rf)
        self._models: dict[Objective, _Model] = {}

    # -- model assembly ----------------------------------------------------------------------
    def _feasible_set(self, y: cp.Variable, k: float | cp.Variable) -> list[cp.Constraint]:
        """Budget, constraint blocks and risk caps, homogeneous in (y, k)."""
        cons: list[cp.Constraint] = [self.v @ y == k]
        cons += to_cvxpy(self.cc, y, k)
        for cap_rm, cap in self.cc.caps.items():
            expr, aux = risk_model(cap_rm, self.data, y, k, alpha=self.alpha, rf=self.rf)
            cons += aux + [expr <= (k * cap if isinstance(k, cp.Expression) else cap)]
        return cons

    def _risk(self, y: cp.Variable, k: float | cp.Variable, *, squared: bool
              ) -> tuple[cp.Expression, cp.Expression, list[cp.Constraint]]:
        """(objective risk, reported formulation risk, aux constraints) of the problem's measure."""
        expr, aux = risk_model(self.rm, self.data, y, k, alpha=self.alpha, rf=self.rf,
                               squared=squared and self.rm is RiskMeasure.MV)
        report = cp.norm(self.data.mv_factor @ y, 2) if self.rm is RiskMeasure.MV else expr
        return expr, report, aux

    def _build(self, obj: Objective) -> _Model:
        n = self.R.shape[1]
        y = cp.Variable(n, name="e")
        floor = cp.Parameter(name="return_floor")
        mu = self.mu
        if obj is Objective.MaxRet:
            # in units of the largest |mu_i|: the solvers' absolute tolerances become relative ones
            mu_max = float(np.max(np.abs(mu)))
            scaled = mu / mu_max if mu_max > 0.0 else mu
            prob = cp.Problem(cp.Maximize(scaled @ y), self._feasible_set(y, 1.0))
            return _Model(prob, y, None, None)
        if obj is Objective.Sharpe:
            kappa = cp.Variable(nonneg=True, name="kappa")
            risk, report, aux = self._risk(y, kappa, squared=False)
            cons = self._feasible_set(y, kappa) + aux + [(mu - self.rf * self.v) @ y == 1.0,
                                                         mu @ y >= floor * kappa]
            return _Model(cp.Problem(cp.Minimize(risk), cons), y, kappa, report, {"floor": floor})
        risk, report, aux = self._risk(y, 1.0, squared=True)
        cons = self._feasible_set(y, 1.0) + aux + [mu @ y >= floor]
        # Objectives in units of a typical risk (variance for MV), so that the interior-point
        # gap tolerances (1e-8, absolute or relative) act on an O(1) number.
        scale = self._objective_scale()
        if obj is Objective.MinRisk:
            return _Model(cp.Problem(cp.Minimize(risk / scale), cons), y, None, report, {"floor": floor})
        aversion = cp.Parameter(nonneg=True, name="risk_aversion")
        prob = cp.Problem(cp.Maximize((mu / scale) @ y - aversion * (risk / scale)), cons)
        return _Model(prob, y, None, report, {"floor": floor, "l": aversion})

    def _objective_scale(self) -> float:
        """Typical size of the objective: mean instrument variance (MV) or standard deviation."""
        var = float(np.sum(self.data.mv_factor**2)) / self.R.shape[1]
        if not var > 0.0:
            return 1.0
        return var if self.rm is RiskMeasure.MV else math.sqrt(var)

    def _model(self, obj: Objective) -> _Model:
        model = self._models.get(obj)
        if model is None:
            model = self._models[obj] = self._build(obj)
        return model

    # -- evaluation --------------------------------------------------------------------------
    def evaluate_risk(self, e: np.ndarray, rm: str | RiskMeasure | None = None) -> float:
        """Risk of exposures e (N,) evaluated with :mod:`tasks.measures`.

        ``rm`` defaults to the problem's measure; any code may be asked (drawdowns need paths).
        """
        rm = self.rm if rm is None else _measure(rm)
        if rm is RiskMeasure.MV and self.cov_given:
            return float(np.linalg.norm(self.data.mv_factor @ np.asarray(e, dtype=float)))
        return evaluate(rm, self.data, e, alpha=self.alpha, rf=self.rf)

    def _ok_result(self, e: np.ndarray, status: str, target: float, t0: float, obj: Objective,
                   model_risk: float, iterations: int = 0, message: str = "") -> OptimizationResult:
        return OptimizationResult(e, status, self.evaluate_risk(e), float(self.mu @ e), target,
                                  time.perf_counter() - t0, message, obj.value, float(model_risk), iterations)

    def _failed(self, status: str, target: float, t0: float, obj: Objective, message: str,
                iterations: int = 0) -> OptimizationResult:
        n = self.R.shape[1]
        return OptimizationResult(np.full(n, np.nan), status, math.nan, math.nan, target,
                                  time.perf_counter() - t0, message, obj.value, math.nan, iterations)

    def _solve_model(self, obj: Objective, target: float) -> OptimizationResult:
        model = self._model(obj)
        prob = model.problem
        # an LP max-return problem goes to HiGHS's simplex: the maximum to full precision
        if obj is Objective.MaxRet:
            solver, options = max_return_solver(self.cc, self.solver)
        else:
            solver, options = self.solver, solve_options(self.solver)
        t0 = time.perf_counter()
        try:
            # warm_start=False: a warm-started re-solve differs from a cold one in the last bits,
            # which would make results depend on which worker solved which point first.
            prob.solve(solver=solver, warm_start=False, **options)
        except cp.error.SolverError as exc:
            return self._failed("solver_error", target, t0, obj, f"solver error: {exc}")
        status = prob.status
        if status in OK_STATUSES and model.y.value is not None:
            y = np.asarray(model.y.value, dtype=float).copy()
            k = 1.0 if model.k is None else float(model.k.value)
            if not k > _KAPPA_TOL * max(1.0, float(np.abs(y).max())):
                return self._failed("unbounded", target, t0, obj,
                                    f"Charnes-Cooper scale kappa = {k:.3g}: the ratio is unbounded")
            model_risk = math.nan if model.risk is None else float(model.risk.value) / k
            return self._ok_result(y / k, status, target, t0, obj, model_risk)
        status = {"infeasible_inaccurate": "infeasible", "unbounded_inaccurate": "unbounded"}.get(status, status)
        if status not in ("infeasible", "unbounded", "solver_error"):
            status = "solver_error"
        return self._failed(status, target, t0, obj, str(prob.status))

    def _from_cuts(self, out: CutOutcome, obj: Objective, target: float, t0: float) -> OptimizationResult | None:
        """Result of a cutting-plane solve, or None when the full LP must take over."""
        if out.status == "optimal":
            if not out.k > _KAPPA_TOL * max(1.0, float(np.abs(out.y).max())):
                return self._failed("unbounded", target, t0, obj,
                                    f"Charnes-Cooper scale kappa = {out.k:.3g}: the ratio is unbounded",
                                    out.rounds)
            return self._ok_result(out.y / out.k, "optimal", target, t0, obj, out.model_risk, out.rounds,
                                   out.message)
        if out.status in ("unbounded", "stalled"):
            return None
        return self._failed(out.status, target, t0, obj, out.message, out.rounds)

    def _solve(self, obj: Objective, floor: float | None, l: float = 2.0) -> OptimizationResult:
        """One solve of ``obj`` with return floor ``floor`` (None = none) and risk aversion ``l``."""
        target = math.nan if floor is None else float(floor)
        if self.cuts is not None and obj is not Objective.MaxRet:
            t0 = time.perf_counter()
            out = self.cuts.solve(obj.value, floor=floor, l=l)  # type: ignore[arg-type]
            res = self._from_cuts(out, obj, target, t0)
            if res is not None:
                return res
            note = f"{out.message}: solved with the full LP"
        else:
            note = ""
        model = self._model(obj)
        if "floor" in model.params:
            model.params["floor"].value = self._slack_floor() if floor is None else float(floor)
        if "l" in model.params:
            model.params["l"].value = float(l)
        res = self._solve_model(obj, target)
        if note:
            res.message = f"{note}; {res.message}" if res.message else note
        return res

    def _slack_floor(self) -> float:
        lo = np.where(np.isfinite(self.lower), self.lower, -1e6)
        hi = np.where(np.isfinite(self.upper), self.upper, 1e6)
        return float(np.minimum(self.mu * lo, self.mu * hi).sum()) - 1.0

    # -- public solves -----------------------------------------------------------------------
    def min_risk(self, lowerret: float | None = None) -> OptimizationResult:
        """Minimum-risk portfolio, optionally with expected return >= ``lowerret``."""
        return self._solve(Objective.MinRisk, lowerret)

    def max_return(self) -> OptimizationResult:
        """Maximum expected-return portfolio; its risk is then minimised at that return.

        The expected return is the maximum to within :data:`ACCEPT_RTOL` relative (the LP's
        vertex by HiGHS's simplex when the feasible set is linear, see
        :mod:`tasks.optimization._max_return`).
        """
        res = self._solve(Objective.MaxRet, None)
        if not res.ok:
            return res
        # among the max-return portfolios take the least risky one (ties are common)
        best = res.expected_return
        scale = return_scale(best, self.mu)
        tight = self.min_risk(best - FLOOR_RTOL * scale)
        if not tight.ok:
            return res
        goal = best - ACCEPT_RTOL * scale
        if tight.expected_return < goal:  # the floor was met only to the solver's tolerance
            theta = lift_weight(tight.expected_return, best, goal)
            e = (1.0 - theta) * tight.exposures + theta * res.exposures
            note = f"return lifted onto the maximum (weight {theta:.3g} on the max-return vertex)"
            # no formulation value for a combination: its model risk is the evaluated one
            tight = self._ok_result(e, tight.status, tight.target, time.perf_counter() - tight.seconds,
                                    Objective.MinRisk, self.evaluate_risk(e), tight.iterations, note)
        tight.objective = Objective.MaxRet.value
        return tight

    def max_ratio(self, lowerret: float | None = None) -> OptimizationResult:
        """Maximum risk-adjusted return ``(mu^T e - rf) / risk(e)`` (Riskfolio's "Sharpe").

        Status ``"no_positive_excess"`` when no feasible portfolio has ``mu^T e > rf``;
        ``"unbounded"`` when the ratio has no finite maximum (a feasible portfolio with positive
        excess return and zero or negative risk, or a riskless direction).
        """
        res = self._solve(Objective.Sharpe, lowerret)
        if res.ok:
            excess = res.expected_return - self.rf
            if not res.risk * _RATIO_MAX > excess:
                res.message = (f"risk {res.risk:.3g} at excess return {excess:.3g}: the risk-adjusted "
                               "ratio is unbounded (a riskless or risk-reducing position earns more than rf)")
                res.status = "unbounded"
                res.exposures = np.full_like(res.exposures, np.nan)
            return res
        if res.status not in ("infeasible", "unbounded"):
            return res
        best = self._solve(Objective.MaxRet, None)
        if best.status == "infeasible":
            return res
        if best.ok and best.expected_return - self.rf <= 1e-12 * max(1.0, abs(self.rf)):
            res.status = "no_positive_excess"
            res.message = (f"no feasible portfolio has a positive excess return: max expected return "
                           f"{best.expected_return:.6g} <= rf {self.rf:.6g}")
        elif best.ok and lowerret is not None and best.expected_return < lowerret:
            res.status = "infeasible"
        return res

    def max_utility(self, l: float = 2.0, lowerret: float | None = None) -> OptimizationResult:
        """Maximum ``mu^T e - l * risk(e)`` (MV: ``l`` times the variance); ``l >= 0``."""
        if not (math.isfinite(l) and l >= 0.0):
            raise ValueError(f"risk aversion l must be finite and >= 0, got {l!r}")
        return self._solve(Objective.Utility, lowerret, l)

    def solve(self, obj: str | Objective = "MinRisk", lowerret: float | None = None, *,
              l: float = 2.0) -> OptimizationResult:
        """Solve for one objective (``lowerret`` is ignored by MaxRet)."""
        obj = Objective(obj)
        if obj is Objective.MinRisk:
            return self.min_risk(lowerret)
        if obj is Objective.MaxRet:
            return self.max_return()
        if obj is Objective.Sharpe:
            return self.max_ratio(lowerret)
        return self.max_utility(l, lowerret)

    def frontier_limits(self) -> tuple[OptimizationResult, OptimizationResult]:
        """(minimum-risk portfolio, maximum-return portfolio)."""
        return self.min_risk(), self.max_return()

    def efficient_frontier(self, points: int = 20) -> pd.DataFrame:
        """``points`` MinRisk solves between the frontier limits (see :func:`efficient_frontier`)."""
        n = self.R.shape[1]
        names = self.names if self.names is not None else [f"e{i}" for i in range(n)]
        lo_res = self.min_risk()
        # The targets need only the maximum return. With cutting planes skip the least-risk
        # tie-break at that return: its tail would flood the shared cut pool before the sweep.
        hi_res = self.max_return() if self.cuts is None else self._solve(Objective.MaxRet, None)
        if not (lo_res.ok and hi_res.ok):
            bad = lo_res if not lo_res.ok else hi_res
            return pd.DataFrame([{"point": 0, "target": np.nan, "status": bad.status,
                                  "expected_return": np.nan, "risk": np.nan, **dict.fromkeys(names, np.nan)}])
        rows = []
        for k, t in enumerate(frontier_targets(lo_res.expected_return, hi_res.expected_return, points)):
            res = lo_res if k == 0 else self.min_risk(float(t))
            rows.append({"point": k, "target": float(t), "status": res.status,
                         "expected_return": res.expected_return, "risk": res.risk,
                         **dict(zip(names, res.exposures))})
        return pd.DataFrame(rows)


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
    rf: float = 0.0,
    l: float = 2.0,
    paths: np.ndarray | None = None,
    path_p: np.ndarray | None = None,
    constraints: Constraints | None = None,
    names: Sequence[str] | None = None,
    cvar_method: CvarMethod = "auto",
) -> OptimizationResult:
    """Optimise one portfolio (see :class:`PortfolioProblem` for the arguments).

    ``obj`` is one of "MinRisk", "MaxRet", "Sharpe", "Utility"; ``l`` the Utility risk aversion.
    """
    obj = Objective(obj)
    prob = PortfolioProblem(R, p, v=v, rm=rm, alpha=alpha, demean=demean, bounds=bounds, solver=solver,
                            rf=rf, paths=paths, path_p=path_p, constraints=constraints, names=names,
                            cvar_method=cvar_method)
    return prob.solve(obj, lowerret, l=l)


def frontier_limits(R: np.ndarray, p: np.ndarray | None = None, *, cvar_method: CvarMethod = "auto",
                    **options: Any) -> tuple[OptimizationResult, OptimizationResult]:
    """(minimum-risk, maximum-return) portfolios; ``options`` as :class:`PortfolioProblem`."""
    return PortfolioProblem(R, p, cvar_method=cvar_method, **options).frontier_limits()


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
    R: np.ndarray, p: np.ndarray | None = None, *, points: int = 20, cvar_method: CvarMethod = "auto",
    **options: Any
) -> pd.DataFrame:
    """Efficient frontier: ``points`` MinRisk solves between the min-risk and max-return portfolios.

    One compiled problem serves every point (the return floor is a cvxpy Parameter; with CVaR
    cutting planes the cut pool is shared by the points). ``options`` are the keyword arguments
    of :class:`PortfolioProblem` (``v, rm, alpha, demean, bounds, solver, rf, paths, path_p,
    constraints, names``).

    Returns a DataFrame with one row per point: point, target, status, expected_return, risk, and
    one column per instrument (``e0..`` or the names in ``options['names']``). If a limit fails,
    a single row carries its status.
    """
    return PortfolioProblem(R, p, cvar_method=cvar_method, **options).efficient_frontier(points)
