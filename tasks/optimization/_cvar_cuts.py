"""CVaR minimisation by aggregated cutting planes with level stabilisation (HiGHS LPs).

For exposures ``y`` the CVaR of the P&L ``Xs y`` under probabilities ``q`` is the support function
of the tail means: ``CVaR(y) = max_w -(1/alpha) sum_s w_s Xs_s y`` over ``0 <= w <= q``,
``sum w = alpha``. One weighted selection of the losses (:mod:`._tail_oracle`) gives ``CVaR(y)`` and the
maximising ``w``, whose tail-mean P&L ``g`` is an exact *aggregated cut*: ``CVaR(y') >= g^T y'``
for all ``y'``, with equality at ``y``. The cuts are homogeneous, so one model serves MinRisk
(``k = 1``), Utility (``max mu^T e - l CVaR``) and Sharpe (Charnes-Cooper: ``(mu - rf v)^T y = 1``,
``v^T y = k >= 0``, constraints homogenised in ``k``).

Kelley's method (minimise the cut model, cut at its minimiser) zig-zags, and the disaggregated
form (one row per tail scenario, the previous method here) grows masters of 10^4 rows when the
posterior is concentrated (no convergence in 500 rounds at S = 10^5). The *level bundle* method
(Lemarechal, Nemirovskii and Nesterov, 1995) keeps both cheap: every round

1. solves the cut model as an LP: its value ``LB`` is a lower bound on the optimum; the best
   objective found so far is an upper bound ``UB``; stop when ``UB - LB <= GAP_RTOL * |UB|``;
   (or ``<= GAP_ATOL``, the masters' own accuracy);
2. projects the best point onto the level set ``{cut model <= UB - LEVEL (UB - LB)}`` in the
   1-norm (an LP; HiGHS's active-set QP for the Euclidean projection fails on the degenerate cut
   sets of a converging bundle); if the level set is empty, the level is a new lower bound;
3. cuts at the projection (one call of the :class:`TailOracle`).

Both masters have O(N) columns and one row per round; a round costs two small warm-started LPs and
one pass over the scenarios (``Xs y``, a bracketed weighted selection and ``w^T Xs``: about 1 ms at
S = 10^5, N = 16). Every solve starts from the same point (the projection of the equal budget) with
no cuts, so a result depends only on the problem, not on which points were solved before: frontiers
are identical for any number of workers (:meth:`CvarCutSolver.begin_sweep` keeps the cuts from one
solve to the next instead; measured in ``benchmarks/bench_scale.py``, it saves rounds but not time,
as the masters grow). If the cut model is unbounded (free exposures) or the gap does not close in
``MAX_ROUNDS`` rounds (to ``ACCEPT_RTOL``), the outcome says so and the caller solves the full LP.
Only linear constraint blocks are supported (:attr:`CompiledConstraints.is_lp`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import highspy
import numpy as np

from tasks.optimization._constraints import CompiledConstraints
from tasks.optimization._highs import quiet_highs
from tasks.optimization._risk_models import ScenarioData
from tasks.optimization._tail_oracle import TailOracle, tail_cut

__all__ = ["CvarCutSolver", "CutOutcome", "CutObjective", "tail_cut"]

CutObjective = Literal["MinRisk", "Utility", "Sharpe"]

_INF = highspy.kHighsInf
#: HiGHS primal / dual feasibility tolerances of the master problems.
MASTER_TOL = 1e-10
#: Stop when ``UB - LB <= GAP_RTOL * |UB|`` (the optimum is then known to this relative accuracy).
GAP_RTOL = 1e-8
#: ... or ``UB - LB <= GAP_ATOL`` (P&L per unit budget): the LP masters' own accuracy (feasibility
#: tolerance 1e-10 on rows of order 1) bounds how far the lower bound can be trusted.
GAP_ATOL = 2e-10
#: The level sits this fraction of the gap below the best objective.
LEVEL = 0.5
#: After ``MAX_ROUNDS`` a gap within this relative accuracy is accepted (and said in the message).
ACCEPT_RTOL = 1e-7
#: Most rounds (two LPs + one data pass) in one solve before handing over to the full LP.
MAX_ROUNDS = 400


@dataclass
class CutOutcome:
    """Result of one cutting-plane solve.

    Attributes
    ----------
    status : "optimal", "infeasible", "unbounded" (cut model unbounded: the caller should use the
        full LP), "stalled" (gap still open after ``MAX_ROUNDS``: the caller should use the full
        LP) or "solver_error".
    y : (N,) optimal ``y`` (exposures times ``k``), NaN unless optimal.
    k : Charnes-Cooper scale (1 for MinRisk / Utility).
    model_risk : CVaR of the optimum (exact, by :func:`tail_cut`) divided by ``k``.
    rounds : bundle rounds in this call.
    pool_size : unused (0); kept for callers of the previous scenario-pool method.
    message : diagnostics for non-optimal outcomes.
    """

    status: str
    y: np.ndarray
    k: float
    model_risk: float
    rounds: int
    pool_size: int
    message: str = ""


class _Master:
    """One HiGHS model (one objective kind): the portfolio constraints and the aggregated cuts.

    Columns: ``y`` (0..n-1), the Charnes-Cooper scale ``k`` (n), the risk epigraph ``theta`` (n+1,
    ``zcol``), then auxiliary columns of absolute / signed sums. Every row is homogeneous in ``k``.
    """

    def __init__(self, kind: CutObjective, data: ScenarioData, cc: CompiledConstraints, v: np.ndarray,
                 alpha: float, rf: float) -> None:
        self.kind = kind
        self.data, self.alpha = data, alpha
        n = data.n
        self.n = n
        h = quiet_highs()  # no banner, no log on stdout
        h.setOptionValue("presolve", "off")  # keep the basis across re-solves
        h.setOptionValue("primal_feasibility_tolerance", MASTER_TOL)
        h.setOptionValue("dual_feasibility_tolerance", MASTER_TOL)
        self.h = h
        homog = kind == "Sharpe"
        lo, hi = cc.bounds.lower, cc.bounds.upper
        # columns: y (0..n-1), k (n), z (n+1)
        if homog:
            self._add_cols(np.full(n, -_INF), np.full(n, _INF))
            self._add_cols(np.zeros(1), np.full(1, _INF))
        else:
            self._add_cols(np.where(np.isfinite(lo), lo, -_INF), np.where(np.isfinite(hi), hi, _INF))
            self._add_cols(np.ones(1), np.ones(1))
        self.kcol, self.zcol = n, n + 1
        self._add_cols(np.full(1, -_INF), np.full(1, _INF))
        ycols = np.arange(n)
        self._row(np.r_[ycols, self.kcol], np.r_[v, -1.0], 0.0, 0.0)  # budget v^T y - k = 0
        if homog:
            self._bound_rows(lo, hi)
        for rows in cc.linear:
            self._linear_rows(rows.A, rows.lo, rows.hi)
        for b in cc.absolute:
            self._abs_sum(b.weights, b.center, b.cap)
        for sgn in cc.signed:
            self._signed_sum(1.0 if sgn.side == "short" else -1.0, sgn.cap)
        # return floor: mu^T y - floor * k >= 0 (inactive until set)
        self.floor_row = self._row(np.r_[ycols, self.kcol], np.r_[data.mu, 0.0], -_INF, _INF)
        if homog:  # (mu - rf v)^T y = 1
            self._row(ycols, data.mu - rf * v, 1.0, 1.0)
        self.cut0 = h.getNumRow()  # first cut row
        self.ycols = ycols.astype(np.int32)
        # objective l * theta - mu^T y (Utility) or theta: its coefficients also define the level row
        self.cost_theta = 1.0
        self.cost_y = -data.mu if kind == "Utility" else np.zeros(n)
        h.changeColCost(self.zcol, 1.0)
        if kind == "Utility":
            h.changeColsCost(n, self.ycols, self.cost_y)

    # -- model building (all rows homogeneous in the k column) --------------------------------
    def _bound_rows(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """``lo_i k <= y_i <= hi_i k`` as rows (Charnes-Cooper masters)."""
        for i in np.flatnonzero(np.isfinite(lo)):
            self._row(np.array([i, self.kcol]), np.array([1.0, -lo[i]]), 0.0, _INF)
        for i in np.flatnonzero(np.isfinite(hi)):
            self._row(np.array([i, self.kcol]), np.array([1.0, -hi[i]]), -_INF, 0.0)

    def _linear_rows(self, A: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """``lo k <= A y <= hi k``."""
        for a, l_, u_ in zip(A, lo, hi):
            nz = np.flatnonzero(a)
            if l_ == u_:
                self._row(np.r_[nz, self.kcol], np.r_[a[nz], -l_], 0.0, 0.0)
                continue
            if np.isfinite(l_):
                self._row(np.r_[nz, self.kcol], np.r_[a[nz], -l_], 0.0, _INF)
            if np.isfinite(u_):
                self._row(np.r_[nz, self.kcol], np.r_[a[nz], -u_], -_INF, 0.0)

    def _abs_sum(self, weights: np.ndarray, center: np.ndarray, cap: float) -> None:
        """``sum w_i |y_i - c_i k| <= cap k`` with ``t_i >= +-(y_i - c_i k)``."""
        idx = np.flatnonzero(weights > 0)
        t0 = self._add_cols(np.zeros(idx.size), np.full(idx.size, _INF))
        for j, i in enumerate(idx):
            self._row(np.array([t0 + j, i, self.kcol]), np.array([1.0, -1.0, center[i]]), 0.0, _INF)
            self._row(np.array([t0 + j, i, self.kcol]), np.array([1.0, 1.0, -center[i]]), 0.0, _INF)
        self._row(np.r_[t0 + np.arange(idx.size), self.kcol], np.r_[weights[idx], -cap], -_INF, 0.0)

    def _signed_sum(self, sign: float, cap: float) -> None:
        """``sum max(-sign y_i, 0) <= cap k`` (sign +1: shorts, -1: longs) with ``t_i >= -sign y_i``."""
        n = self.n
        t0 = self._add_cols(np.zeros(n), np.full(n, _INF))
        for i in range(n):
            self._row(np.array([t0 + i, i]), np.array([1.0, sign]), 0.0, _INF)
        self._row(np.r_[t0 + np.arange(n), self.kcol], np.r_[np.ones(n), -cap], -_INF, 0.0)

    def _add_cols(self, lo: np.ndarray, hi: np.ndarray) -> int:
        first = self.h.getNumCol()
        m = lo.size
        if m:
            empty = np.array([], dtype=np.int32)
            self.h.addCols(m, np.zeros(m), lo.astype(float), hi.astype(float), 0, empty, empty, np.array([]))
        return first

    def _row(self, idx: np.ndarray, val: np.ndarray, lo: float, hi: float) -> int:
        keep = val != 0.0
        r = self.h.getNumRow()
        self.h.addRow(float(lo), float(hi), int(keep.sum()), idx[keep].astype(np.int32), val[keep].astype(float))
        return r

    def set_floor(self, floor: float | None) -> None:
        if floor is None:
            self.h.changeRowBounds(self.floor_row, -_INF, _INF)
            self.h.changeCoeff(self.floor_row, self.kcol, 0.0)
        else:
            self.h.changeCoeff(self.floor_row, self.kcol, -float(floor))
            self.h.changeRowBounds(self.floor_row, 0.0, _INF)

    def set_utility(self, l: float) -> None:
        """Objective ``l * theta - mu^T y`` (Utility models only)."""
        self.cost_theta = float(l)
        self.h.changeColCost(self.zcol, self.cost_theta)

    def add_cut(self, g: np.ndarray) -> None:
        """``theta >= g^T y`` (homogeneous: valid for any Charnes-Cooper scale)."""
        self._row(np.r_[np.arange(self.n), self.zcol], np.r_[-g, 1.0], 0.0, _INF)

    def objective(self, y: np.ndarray, risk: float) -> float:
        """The objective at ``y`` with risk ``risk`` (= CVaR of ``y``, homogeneous)."""
        return self.cost_theta * risk + float(self.cost_y @ y)

    def solve(self) -> tuple[str, np.ndarray]:
        """Re-solve from the current basis; a failure is retried once from scratch (a warm basis
        after changed bounds can mislead the simplex into declaring a bounded LP unbounded)."""
        h = self.h
        h.run()
        M = highspy.HighsModelStatus
        if h.getModelStatus() != M.kOptimal:
            h.clearSolver()
            h.run()
        st = h.getModelStatus()
        if st == M.kOptimal:
            return "optimal", np.asarray(h.getSolution().col_value, dtype=float)
        if st == M.kInfeasible:
            return "infeasible", np.empty(0)
        if st in (M.kUnbounded, M.kUnboundedOrInfeasible):
            return "unbounded", np.empty(0)
        return "solver_error:" + h.modelStatusToString(st), np.empty(0)


class CvarCutSolver:
    """Level-bundle aggregated cuts for a CVaR objective over linear constraints (see module doc).

    Parameters
    ----------
    data : ScenarioData (kept scenarios ``Xs``, ``q``).
    cc : compiled constraints; must be linear (``cc.is_lp``).
    v : (N,) budget vector (``v^T e = 1``).
    alpha : CVaR tail probability.
    rf : risk-free rate of the Sharpe objective (``(mu^T e - rf) / CVaR``).
    """

    def __init__(self, data: ScenarioData, cc: CompiledConstraints, v: np.ndarray, *, alpha: float,
                 rf: float = 0.0) -> None:
        if not cc.is_lp:
            raise ValueError("the CVaR cutting-plane method supports linear constraints only "
                             "(no tracking error, no risk caps); use cvar_method='lp'")
        self.data, self.cc, self.v = data, cc, np.asarray(v, dtype=float)
        self.alpha, self.rf = float(alpha), float(rf)
        self.oracle = TailOracle(data.Xs, data.q, self.alpha)
        #: per objective kind, the models and best point of the current sweep (None: no sweep)
        self._sweep: dict[str, tuple[_Master, _Master, np.ndarray]] | None = None

    def reset(self) -> None:
        """End any sweep: the next solve builds its models and cuts afresh."""
        self._sweep = None

    def begin_sweep(self) -> None:
        """Keep models, cuts and the last optimum from one solve to the next (per objective kind)
        until :meth:`reset`. Every cut is valid for every floor and risk aversion, so a sweep of
        nearby problems (a frontier) starts each from an almost exact model. The result of a solve
        then depends on the solves before it in the sweep: run a sweep in a fixed order."""
        self._sweep = {}

    # -- models ----------------------------------------------------------------------------------
    def _model(self, kind: CutObjective, role: str) -> _Master:
        """A fresh LP (lower bounds) or projection model of ``kind``. Built anew for every solve
        (a few ms): a re-used HiGHS model keeps its basis, and a solve would then depend on the
        solves before it."""
        m = _Master(kind, self.data, self.cc, self.v, self.alpha, self.rf)
        if role == "qp":
            self._make_projection(m)
        return m

    @staticmethod
    def _make_projection(m: _Master) -> None:
        """Turn a model into ``min sum_i |y_i - c_i|`` s.t. the constraints, the cuts and the level row
        ``cost_theta * theta + cost_y^T y <= level`` (an LP: ``s_i >= +-(y_i - c_i)``; the rows come
        before the cuts)."""
        h, n = m.h, m.n
        h.changeColCost(m.zcol, 0.0)
        h.changeColsCost(n, m.ycols, np.zeros(n))
        s0 = m._add_cols(np.zeros(n), np.full(n, _INF))
        h.changeColsCost(n, np.arange(s0, s0 + n, dtype=np.int32), np.ones(n))
        m.dist_row = h.getNumRow()
        for i in range(n):
            m._row(np.array([s0 + i, i]), np.array([1.0, -1.0]), 0.0, _INF)  # s_i - y_i >= -c_i
            m._row(np.array([s0 + i, i]), np.array([1.0, 1.0]), 0.0, _INF)   # s_i + y_i >= c_i
        m.level_row = m._row(np.r_[np.arange(n), m.zcol], np.r_[m.cost_y, 1.0], -_INF, _INF)
        m.cut0 = h.getNumRow()

    # -- one solve -------------------------------------------------------------------------------
    def solve(self, kind: CutObjective, *, floor: float | None = None, l: float = 1.0) -> CutOutcome:
        """Solve one objective to the optimum of the full RU LP (gap <= :data:`GAP_RTOL`).

        Parameters
        ----------
        kind : "MinRisk", "Utility" or "Sharpe".
        floor : expected-return floor ``mu^T e >= floor`` (None = none).
        l : risk aversion of the Utility objective (>= 0).
        """
        warm = self._sweep.get(kind) if self._sweep is not None else None
        lp, qp = (warm[0], warm[1]) if warm else (self._model(kind, "lp"), self._model(kind, "qp"))
        for m in (lp, qp):
            m.set_floor(floor)
            if kind == "Utility":
                m.set_utility(l)
        if kind == "Utility":
            qp.h.changeColCost(qp.zcol, 0.0)
            qp.h.changeCoeff(qp.level_row, qp.zcol, float(l))
        bundle = _Bundle(self, kind, lp, qp)
        out = bundle.run(warm[2] if warm else None)
        if self._sweep is not None:
            if out.status == "optimal":
                self._sweep[kind] = (lp, qp, bundle.best)
            else:
                self._sweep.pop(kind, None)
        return out


class _Bundle:
    """State of one level-bundle solve: best point, bounds and the partial-sort size."""

    def __init__(self, solver: CvarCutSolver, kind: CutObjective, lp: _Master, qp: _Master) -> None:
        self.s, self.kind, self.lp, self.qp = solver, kind, lp, qp
        self.n = solver.data.n
        self.ub, self.lb = math.inf, -math.inf
        self.best: np.ndarray | None = None
        self.best_k, self.best_risk = math.nan, math.nan
        self.rounds = 0
        self.kelley_steps = 0

    def _project(self, center: np.ndarray, level: float) -> tuple[str, np.ndarray]:
        """The point of the level set nearest ``center`` in the 1-norm (the LP projection)."""
        m, n = self.qp, self.n
        h = m.h
        h.changeRowBounds(m.level_row, -_INF, level)
        rows = np.arange(m.dist_row, m.dist_row + 2 * n, dtype=np.int32)
        lower = np.empty(2 * n)
        lower[0::2], lower[1::2] = -center, center
        h.changeRowsBounds(2 * n, rows, lower, np.full(2 * n, _INF))
        return m.solve()

    def _cut(self, x: np.ndarray) -> None:
        """Evaluate the point, add its cut to both models, keep it if it is the best so far."""
        y, k = x[: self.n], x[self.n]
        risk, g = self.s.oracle(y)
        self.lp.add_cut(g)
        self.qp.add_cut(g)
        f = self.lp.objective(y, risk)
        if f < self.ub:
            self.ub, self.best, self.best_k, self.best_risk = f, y.copy(), float(k), risk

    def _outcome(self, status: str, message: str = "") -> CutOutcome:
        if status != "optimal" or self.best is None:
            return CutOutcome(status, np.full(self.n, np.nan), math.nan, math.nan, self.rounds, 0, message)
        k = self.best_k
        return CutOutcome("optimal", self.best, k, self.best_risk / k if k > 0 else math.nan, self.rounds, 0,
                          message)

    def run(self, start: np.ndarray | None = None) -> CutOutcome:
        """Solve from ``start`` (y, N) or, by default, the equal budget."""
        self.s.oracle.forget()
        if start is None:
            v = self.s.v
            total = v.sum()
            start = np.full(self.n, 1.0 / total) if abs(total) > 1e-12 else v / (v @ v)
        status, x = self._project(start, _INF)  # a feasible point near the equal budget
        if status != "optimal":
            return self._outcome(status, f"cut master {status}")
        self._cut(x)
        while self.rounds < MAX_ROUNDS:
            self.rounds += 1
            status, kelley = self.lp.solve()
            x = kelley
            if status != "optimal":  # unbounded: the caller solves the full LP
                return self._outcome(status if status in ("infeasible", "unbounded") else "solver_error",
                                     f"cut master {status}")
            self.lb = max(self.lb, self.lp.objective(x[: self.n], x[self.lp.zcol]))
            gap = self.ub - self.lb
            if gap <= max(GAP_RTOL * max(abs(self.ub), abs(self.best_risk)), GAP_ATOL):
                return self._outcome("optimal")
            status, x = self._project(self.best, self.ub - LEVEL * gap)
            if status == "infeasible":  # nothing reaches the level: it is a lower bound
                self.lb = self.ub - LEVEL * gap
                continue
            if status != "optimal":  # the projection failed: take Kelley's step (the LP minimiser)
                self.kelley_steps += 1
                x = kelley
            self._cut(x)
        gap = self.ub - self.lb
        if gap <= ACCEPT_RTOL * max(abs(self.ub), abs(self.best_risk)):
            return self._outcome("optimal", f"level-bundle cuts: gap {gap:.2g} ({gap / abs(self.ub):.1g} relative) "
                                            f"after {MAX_ROUNDS} rounds, within the {ACCEPT_RTOL:g} accepted")
        return self._outcome("stalled", f"level-bundle cuts: gap {gap:.3g} after {MAX_ROUNDS} rounds")
