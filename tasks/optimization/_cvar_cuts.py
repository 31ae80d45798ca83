"""CVaR minimisation by scenario cutting planes on the Rockafellar-Uryasev epigraph (HiGHS).

The RU problem ``min_{e,z} z + (1/alpha) sum_s p_s max(L_s(e) - z, 0)`` (``L_s = -Xs_s e`` the
loss) has one epigraph row ``u_s >= L_s - z`` per scenario. Dropping rows gives a *relaxation*
(each dropped term is >= 0), so the master problem

    min z + (1/alpha) sum_{s in C} p_s u_s   s.t.  u_s >= L_s(e) - z  (s in C),  e feasible

is a lower bound on the optimum for any pool ``C``. At the master's solution ``(e*, z*)`` the
scenarios with ``L_s(e*) > z*`` that are not in ``C`` are exactly the violated cuts (they are in
the worst-alpha tail of ``e*``, beyond its VaR ``z*``); they are added and the master re-solved.
When none is violated, ``u_s = 0`` completes a feasible point of the full LP with the master's
objective, so ``e*`` is optimal for the full LP (to HiGHS's tolerances, set to 1e-10). This is the
disaggregated (one cut per scenario) form of the Kuenzi-Bay--Mayer / Benders decomposition of the
CVaR epigraph: their aggregated cut ``w >= sum_{s in K} p_s (L_s - z)`` over the tail set ``K``
needs hundreds of rounds per point at N = 30 (Kelley's zig-zag), whereas the disaggregated master
converges in one to three rounds per frontier point.

The pool ``C`` is shared by every solve of one :class:`CvarCutSolver` (e.g. all points of one
frontier), and each master keeps its HiGHS basis, so later points start from the previous
point's basis and cuts (dual simplex warm start). Two devices keep the masters small: a round
adds at most ``ADD_TAILS`` tails' worth of the most violated scenarios, and before a solve a pool
larger than ``PRUNE_TAILS`` tails is pruned to the scenarios among the largest losses (mass
``KEEP_MASS * alpha``) of the latest solution -- a pruned scenario comes back if violated again,
so the optimum is unaffected. Results depend (in the last bits, or in the choice among tied
optima) on the sequence of solves: where they must not depend on task order, call
:meth:`CvarCutSolver.seed` with a fixed pool before each solve (or use the full LP).

Objectives: ``MinRisk`` (``k = 1``), ``Utility`` (``max mu^T e - l CVaR``) and ``Sharpe``
(Charnes-Cooper: ``(mu - rf v)^T y = 1``, ``v^T y = k >= 0``, constraints homogenised in ``k``).
Only linear constraint blocks are supported (:attr:`CompiledConstraints.is_lp`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import highspy
import numpy as np

from tasks.optimization._constraints import CompiledConstraints
from tasks.optimization._risk_models import ScenarioData

__all__ = ["CvarCutSolver", "CutOutcome", "CutObjective"]

CutObjective = Literal["MinRisk", "Utility", "Sharpe"]

_INF = highspy.kHighsInf
#: HiGHS primal / dual feasibility tolerances of the master problems.
MASTER_TOL = 1e-10
#: Most master solves in one call before giving up (each adds at least one scenario).
MAX_ROUNDS = 500
#: The first pool: the largest losses of an equal-budget portfolio, this many tails' worth.
SEED_TAILS = 1.0
#: At most this many tails' worth of violated scenarios (the most violated) are added per round.
ADD_TAILS = 0.5
#: ... but never fewer than this many (when that many are violated).
ADD_MIN = 50
#: The pool is pruned before a solve once it holds more than this many tails' worth of scenarios,
PRUNE_TAILS = 2.0
#: keeping the pool scenarios among the largest losses of probability ``KEEP_MASS * alpha``.
KEEP_MASS = 1.5


@dataclass
class CutOutcome:
    """Result of one cutting-plane solve.

    Attributes
    ----------
    status : "optimal", "infeasible", "unbounded" (master unbounded or unbounded-or-infeasible:
        the caller should use the full LP) or "solver_error".
    y : (N,) optimal ``y`` (exposures times ``k``), NaN unless optimal.
    k : Charnes-Cooper scale (1 for MinRisk / Utility).
    model_risk : the master's CVaR at the optimum (``z + sum_C p u / alpha``) divided by ``k``.
    rounds : master solves in this call.
    pool_size : scenarios in the shared pool after the call.
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
    """One HiGHS master model (one objective kind) over the shared scenario pool."""

    def __init__(self, kind: CutObjective, data: ScenarioData, cc: CompiledConstraints, v: np.ndarray,
                 alpha: float, rf: float) -> None:
        self.kind = kind
        self.data, self.alpha = data, alpha
        n = data.n
        self.n = n
        h = highspy.Highs()
        h.silent()
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
        self.u0 = h.getNumCol()  # first scenario column
        self.r0 = h.getNumRow()  # first scenario row
        self.pool_idx = np.empty(0, dtype=np.int64)  # scenarios in the model, in column order
        self.cost_scale = 1.0  # l of the Utility objective
        h.changeColCost(self.zcol, 1.0)
        if kind == "Utility":
            h.changeColsCost(n, ycols.astype(np.int32), -data.mu)

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

    def sync(self, pool: np.ndarray, in_pool: np.ndarray) -> None:
        """Make the model's scenarios equal to ``pool``: delete the pruned ones, append the new.

        Scenario ``pool_idx[i]`` owns column ``u0 + i`` (``u_s``) and row ``r0 + i``
        (``Xs_s y + z + u_s >= 0``); deletions keep the order, so the mapping stays valid.
        """
        h = self.h
        if self.pool_idx.size:
            gone = ~in_pool[self.pool_idx]
            if gone.any():
                pos = np.flatnonzero(gone).astype(np.int32)
                h.deleteRows(pos.size, self.r0 + pos)
                h.deleteCols(pos.size, self.u0 + pos)
                self.pool_idx = self.pool_idx[~gone]
        mine = np.zeros(in_pool.size, dtype=bool)
        mine[self.pool_idx] = True
        new = pool[~mine[pool]]
        m = new.size
        if m == 0:
            return
        n = self.n
        first = h.getNumCol()
        cost = self.cost_scale * self.data.q[new] / self.alpha
        empty = np.array([], dtype=np.int32)
        h.addCols(m, cost, np.zeros(m), np.full(m, _INF), 0, empty, empty, np.array([]))
        vals = np.empty((m, n + 2))
        vals[:, :n] = self.data.Xs[new]
        vals[:, n:] = 1.0
        cols = np.empty((m, n + 2), dtype=np.int32)
        cols[:, :n] = np.arange(n)
        cols[:, n] = self.zcol
        cols[:, n + 1] = first + np.arange(m)
        keep = vals != 0.0
        starts = np.r_[0, np.cumsum(keep.sum(axis=1))[:-1]].astype(np.int32)
        h.addRows(m, np.zeros(m), np.full(m, _INF), int(keep.sum()), starts,
                  cols[keep].astype(np.int32), vals[keep])
        self.pool_idx = np.r_[self.pool_idx, new]

    def set_floor(self, floor: float | None) -> None:
        if floor is None:
            self.h.changeRowBounds(self.floor_row, -_INF, _INF)
            self.h.changeCoeff(self.floor_row, self.kcol, 0.0)
        else:
            self.h.changeCoeff(self.floor_row, self.kcol, -float(floor))
            self.h.changeRowBounds(self.floor_row, 0.0, _INF)

    def set_utility(self, l: float) -> None:
        """Objective ``l * (z + sum_C p u / alpha) - mu^T y`` (Utility masters only)."""
        l = float(l)
        if l == self.cost_scale:
            return
        self.cost_scale = l
        self.h.changeColCost(self.zcol, l)
        m = self.pool_idx.size
        if m:
            cols = np.arange(self.u0, self.u0 + m, dtype=np.int32)
            self.h.changeColsCost(m, cols, l * self.data.q[self.pool_idx] / self.alpha)

    def solve(self) -> tuple[str, np.ndarray]:
        h = self.h
        h.run()
        st = h.getModelStatus()
        M = highspy.HighsModelStatus
        if st == M.kOptimal:
            return "optimal", np.asarray(h.getSolution().col_value, dtype=float)
        if st == M.kInfeasible:
            return "infeasible", np.empty(0)
        if st in (M.kUnbounded, M.kUnboundedOrInfeasible):
            return "unbounded", np.empty(0)
        return "solver_error:" + h.modelStatusToString(st), np.empty(0)


class CvarCutSolver:
    """Scenario cutting planes for a CVaR objective over linear constraints (see module doc).

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
        self.pool = np.empty(0, dtype=np.int64)
        self._in_pool = np.zeros(data.q.size, dtype=bool)
        self._masters: dict[str, _Master] = {}
        self._last: tuple[np.ndarray, float] | None = None  # (losses, VaR) of the latest master
        tail = int(np.searchsorted(np.cumsum(np.sort(data.q)[::-1]), alpha)) + 1  # scenarios in a tail
        self._max_add = max(ADD_MIN, int(ADD_TAILS * tail))
        self._prune_above = int(PRUNE_TAILS * tail) + ADD_MIN

    def reset(self) -> None:
        """Forget the pool and the masters (the next solve starts cold)."""
        self.pool = np.empty(0, dtype=np.int64)
        self._in_pool[:] = False
        self._masters.clear()
        self._last = None

    def seed(self, pool: np.ndarray | None = None) -> None:
        """Start afresh from ``pool`` (kept-scenario indices, e.g. another solver's :attr:`pool`).

        After ``seed(pool)`` the next solve depends only on the problem and ``pool``, not on
        earlier solves -- what a distributed frontier needs for results that do not depend on
        which worker solved which point (``pool=None``: the default equal-budget seed).
        """
        self.reset()
        if pool is not None and len(pool):
            self._add(np.asarray(pool))

    def _seed(self) -> None:
        """Initial pool: the worst scenarios of an equal-budget portfolio, probability > SEED_TAILS alpha."""
        v = self.v
        total = v.sum()
        e = np.full(v.size, 1.0 / total) if abs(total) > 1e-12 else v / (v @ v)
        self._add(self._tail(-(self.data.Xs @ e), min(1.0, SEED_TAILS * self.alpha)))

    def _prune(self) -> None:
        """Drop pool scenarios far from the latest tail once the pool outgrows ``PRUNE_TAILS`` tails.

        Kept: the pool scenarios among the largest losses (probability ``KEEP_MASS * alpha``) of
        the latest master solution. Dropped scenarios return if a later solution violates them,
        so optimality is unaffected; the masters stay small as a frontier sweeps across tails.
        """
        if self._last is None or self.pool.size <= self._prune_above:
            return
        loss, _ = self._last
        near = np.zeros(self._in_pool.size, dtype=bool)
        near[self._tail(loss, min(1.0, KEEP_MASS * self.alpha))] = True
        keep = near[self.pool]
        self._in_pool[self.pool[~keep]] = False
        self.pool = self.pool[keep]

    def _tail(self, loss: np.ndarray, mass: float) -> np.ndarray:
        """Indices of the largest losses whose probability first exceeds ``mass``."""
        q = self.data.q
        order = np.argsort(-loss, kind="stable")
        cum = np.cumsum(q[order])
        m = int(np.searchsorted(cum, mass, side="right")) + 1
        return order[: min(m, order.size)]

    def _add(self, idx: np.ndarray) -> None:
        idx = np.asarray(idx, dtype=np.int64)
        idx = idx[~self._in_pool[idx]]
        if idx.size:
            idx = np.sort(idx)
            self._in_pool[idx] = True
            self.pool = np.r_[self.pool, idx]

    def _master(self, kind: CutObjective) -> _Master:
        m = self._masters.get(kind)
        if m is None:
            m = _Master(kind, self.data, self.cc, self.v, self.alpha, self.rf)
            self._masters[kind] = m
        return m

    def solve(self, kind: CutObjective, *, floor: float | None = None, l: float = 1.0) -> CutOutcome:
        """Solve one objective to optimality of the full RU LP.

        Parameters
        ----------
        kind : "MinRisk", "Utility" or "Sharpe".
        floor : expected-return floor ``mu^T e >= floor`` (None = none).
        l : risk aversion of the Utility objective (>= 0).
        """
        if self.pool.size == 0:
            self._seed()
        else:
            self._prune()
        master = self._master(kind)
        n = self.data.n
        master.set_floor(floor)
        rounds = 0
        while True:
            if kind == "Utility":
                master.set_utility(l)
            master.sync(self.pool, self._in_pool)
            status, x = master.solve()
            rounds += 1
            if status != "optimal":
                msg = "" if status in ("infeasible", "unbounded") else status.split(":", 1)[1]
                st = status if status in ("infeasible", "unbounded") else "solver_error"
                return CutOutcome(st, np.full(n, np.nan), math.nan, math.nan, rounds, self.pool.size,
                                  msg or f"cut master {status}")
            y, k, z = x[:n], x[n], x[n + 1]
            loss = -(self.data.Xs @ y)
            self._last = (loss, z)
            tol = 1e-11 * max(1.0, float(np.abs(loss).max()))
            viol = np.flatnonzero((loss > z + tol) & ~self._in_pool)
            if viol.size == 0:
                u = x[master.u0:master.u0 + master.pool_idx.size]
                risk = z + (self.data.q[master.pool_idx] / self.alpha) @ u
                return CutOutcome("optimal", y.copy(), float(k), float(risk / k) if k > 0 else math.nan,
                                  rounds, self.pool.size)
            if rounds >= MAX_ROUNDS:
                return CutOutcome("solver_error", np.full(n, np.nan), math.nan, math.nan, rounds,
                                  self.pool.size, f"no convergence in {MAX_ROUNDS} cut rounds")
            if viol.size > self._max_add:  # the most violated first: smaller masters
                worst = np.argpartition(-(loss[viol]), self._max_add - 1)[: self._max_add]
                viol = viol[worst]
            self._add(viol)
