"""The rebalancing trade: the least-cost change of a book that restores all of its limits.

With the current book ``e0`` (N,), relative market values ``v`` (N,) and transaction-cost rates
``c >= 0`` (N,) (cost per unit of exposure traded, in units of portfolio value)::

    min_e  sum_i c_i |e_i - e0_i|   s.t.  every limit of a CompiledLimits,   v^T e = 1

Every limit is imposed through the same formulation the optimiser uses (linear rows, absolute
sums, the Rockafellar-Uryasev LP of a CVaR cap on the scenarios, the second-order cone of an MV /
MSV / SLPM / tracking-error cap; :mod:`tasks.optimization._limits`). With linear limits only the
problem is an LP solved by HiGHS, otherwise an SOCP solved by Clarabel (``solver=`` overrides).

*Exact restoration.* A breached limit ends up active at the optimum, and a solver can leave it a
few ulps (or, for a conic solve, its tolerance) over the bound, which :func:`evaluate_limits` would
report as a breach. After each solve every limit is re-evaluated on the target by its evaluator
(risk measures by :mod:`tasks.measures`); an inequality still over its bound is tightened by
twice its excess and the problem solved again (at most ``max_rounds`` solves), so the returned
target meets every inequality limit exactly (``excess <= 0``). Equality limits are met to
``eq_tol`` (relative).

*Infeasible limits.* When no book meets every limit the status is ``"infeasible"`` and
:func:`find_conflicts` names a conflicting subset: an elastic program (one slack per limit,
minimise the total slack) gives the least total violation per limit, and a deletion filter on
the same program (a limit is dropped while the rest stays infeasible; tested in halving chunks)
leaves an irreducible set of limits that cannot all be met under the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
import pandas as pd

from tasks.optimization._constraints import _vector
from tasks.optimization._highs import solve_options
from tasks.optimization._limits import CompiledLimits, LimitRow, evaluate_limits
from tasks.vocabulary import OK_STATUSES, Status

__all__ = ["RebalanceResult", "TRADE_COLUMNS", "rebalance", "find_conflicts"]

#: Columns of :meth:`RebalanceResult.table` (``trades.parquet``).
TRADE_COLUMNS: tuple[str, ...] = ("instrument", "current", "target", "trade", "cost")


@dataclass
class RebalanceResult:
    """Outcome of :func:`rebalance`.

    Attributes
    ----------
    status : ``optimal``, ``optimal_inaccurate`` (a limit could not be met exactly; see
        ``message``), ``infeasible`` or ``solver_error``.
    current : (N,) exposures of the book.
    target : (N,) exposures after the trade (NaN unless ``ok``).
    rates : (N,) cost per unit of exposure traded.
    names : N instrument names.
    conflicts : names of an irreducible set of limits that cannot all be met (when infeasible).
    violations : least total violation per limit (limit units), for the limits it needs to
        violate (when infeasible).
    message : what happened, in words.
    rounds : solves of the least-cost problem.
    before, after : :func:`evaluate_limits` tables of the book and of the target (None when not
        ok).
    """

    status: str
    current: np.ndarray
    target: np.ndarray
    rates: np.ndarray
    names: tuple[str, ...]
    conflicts: tuple[str, ...] = ()
    violations: dict[str, float] = field(default_factory=dict)
    message: str = ""
    rounds: int = 0
    before: pd.DataFrame | None = None
    after: pd.DataFrame | None = None

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    @property
    def trade(self) -> np.ndarray:
        """(N,) exposure traded, ``target - current``."""
        return self.target - self.current

    @property
    def cost(self) -> np.ndarray:
        """(N,) cost per instrument, ``rates * |trade|`` (portfolio-value units)."""
        return self.rates * np.abs(self.trade)

    @property
    def total_cost(self) -> float:
        return float(self.cost.sum())

    def table(self) -> pd.DataFrame:
        """One row per instrument, columns :data:`TRADE_COLUMNS`."""
        return pd.DataFrame({"instrument": list(self.names), "current": self.current, "target": self.target,
                             "trade": self.trade, "cost": self.cost}, columns=list(TRADE_COLUMNS))


# ---------------------------------------------------------------------------------------------
# the cvxpy programs
# ---------------------------------------------------------------------------------------------
def _terms(rows: Sequence[LimitRow], y: cp.Variable) -> tuple[list[Any], list[cp.Constraint]]:
    """Each row's term as an expression of ``y`` (shared terms formulated once) and the auxiliaries."""
    forms: dict[int, Any] = {}
    aux: list[cp.Constraint] = []
    exprs = []
    for row in rows:
        key = id(row.term)
        if key not in forms:
            expr, cons = row.term.formulation(y)
            forms[key] = expr
            aux += cons
        exprs.append(forms[key])
    return exprs, aux


def _solve(problem: cp.Problem, solver: str) -> str:
    try:
        problem.solve(solver=solver, **solve_options(solver))
    except cp.SolverError as exc:
        return f"{Status.solver_error.value}: {exc}"
    return str(problem.status)


def _least_cost(limits: CompiledLimits, e0: np.ndarray, v: np.ndarray, c: np.ndarray, margins: np.ndarray,
                solver: str) -> tuple[str, np.ndarray]:
    """Solve the least-cost program with inequality bounds tightened by ``margins`` (K,)."""
    y = cp.Variable(limits.n, name="target")
    exprs, cons = _terms(limits.rows, y)
    cons.append(v @ y == 1.0)
    for row, x, m in zip(limits.rows, exprs, margins):
        if row.sense == "<=":
            cons.append(x <= row.bound - m)
        elif row.sense == ">=":
            cons.append(x >= row.bound + m)
        else:
            cons.append(x == row.bound)
    problem = cp.Problem(cp.Minimize(c @ cp.abs(y - e0)), cons)
    status = _solve(problem, solver)
    ok = status in ("optimal", "optimal_inaccurate") and y.value is not None
    return status, (np.asarray(y.value, dtype=float) if ok else np.full(limits.n, np.nan))


def _solver_name(solver: str | None, limits: CompiledLimits) -> str:
    name = (solver or ("HIGHS" if limits.is_lp else "CLARABEL")).upper()
    if name not in cp.installed_solvers():
        raise ValueError(f"solver {name!r} is not installed; available: {cp.installed_solvers()}")
    return name


def find_conflicts(
    limits: CompiledLimits,
    v: Any,
    *,
    solver: str | None = None,
    tol: float = 1e-7,
) -> tuple[tuple[str, ...], dict[str, float]]:
    """Name limits that cannot all be met together with the budget ``v^T e = 1``.

    Parameters
    ----------
    limits : CompiledLimits
    v : (N,) relative market values (array, scalar or mapping name -> value).
    solver : cvxpy solver (default HiGHS for linear limits, else Clarabel).
    tol : total slack (limit units) above which a set of limits counts as infeasible.

    Returns
    -------
    conflicts : names of an irreducible infeasible subset (empty when the limits are feasible).
    violations : ``{name: slack}`` of the least-total-violation book, for slacks above ``tol``.
    """
    rows = limits.rows
    v = _vector(v, limits.n, limits.names, "v")
    solver = _solver_name(solver, limits)
    if not rows:
        return (), {}
    y = cp.Variable(limits.n, name="book")
    s = cp.Variable(len(rows), nonneg=True, name="slack")
    w = cp.Parameter(len(rows), nonneg=True, name="penalised", value=np.ones(len(rows)))
    exprs, cons = _terms(rows, y)
    cons.append(v @ y == 1.0)
    for k, (row, x) in enumerate(zip(rows, exprs)):
        if row.sense in ("<=", "=="):
            cons.append(x - s[k] <= row.bound)
        if row.sense in (">=", "=="):
            cons.append(x + s[k] >= row.bound)
    problem = cp.Problem(cp.Minimize(w @ s), cons)

    def infeasible() -> bool:
        status = _solve(problem, solver)
        if status not in ("optimal", "optimal_inaccurate"):
            raise RuntimeError(f"the elastic program of the limits did not solve: {status}")
        return float(problem.value) > tol

    if not infeasible():
        return (), {}
    slack = np.asarray(s.value, dtype=float)
    violations = {row.name: float(slack[k]) for k, row in enumerate(rows) if slack[k] > tol}

    def drop(chunk: list[int]) -> None:
        """Drop ``chunk`` if the rest stays infeasible, else try its halves (deletion filter)."""
        weights = w.value.copy()
        weights[chunk] = 0.0
        w.value = weights
        if infeasible():
            return
        weights[chunk] = 1.0
        w.value = weights
        if len(chunk) > 1:
            half = len(chunk) // 2
            drop(chunk[:half])
            drop(chunk[half:])

    drop(list(range(len(rows))))
    keep = np.flatnonzero(w.value > 0)
    return tuple(rows[k].name for k in keep), violations


def rebalance(
    limits: CompiledLimits,
    holdings: Any,
    v: Any,
    costs: Any,
    *,
    solver: str | None = None,
    max_rounds: int = 6,
    eq_tol: float = 1e-9,
) -> RebalanceResult:
    """The least-cost trade from ``holdings`` to a book that meets every limit.

    Parameters
    ----------
    limits : CompiledLimits, from :func:`compile_limits`.
    holdings : (N,) current exposures (per unit of portfolio value; array or mapping name ->
        exposure, missing = 0).
    v : (N,) relative market values of the budget ``v^T e = 1``.
    costs : (N,) cost rates ``c_i >= 0`` per unit of exposure traded (array, scalar, or mapping
        name -> rate, missing = 0).
    solver : cvxpy solver (default HiGHS for linear limits, else Clarabel).
    max_rounds : solves of the least-cost program (see exact restoration in the module docstring).
    eq_tol : relative tolerance of equality limits (``|value - bound| <= eq_tol * max(1, |bound|)``).

    Returns
    -------
    RebalanceResult
        Target exposures, trades, cost per instrument, status; when the limits cannot all be met,
        status ``"infeasible"`` and the names of the conflicting limits.
    """
    n, names = limits.n, limits.names
    inst = names if names is not None else tuple(str(i) for i in range(n))
    e0 = _vector(holdings, n, names, "holdings")
    v = _vector(v, n, names, "v")
    c = _vector(costs, n, names, "costs")
    for what, arr in (("holdings", e0), ("v", v), ("costs", c)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{what} must be finite")
    if (c < 0).any():
        raise ValueError("transaction-cost rates must be >= 0")
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")
    solver = _solver_name(solver, limits)
    before = evaluate_limits(limits, e0)
    result = RebalanceResult(Status.solver_error.value, e0, np.full(n, np.nan), c, inst, before=before)
    bound = np.array([r.bound for r in limits.rows], dtype=float)
    ineq = np.array([r.sense != "==" for r in limits.rows], dtype=bool)
    margins = np.zeros(len(limits.rows))
    best: np.ndarray | None = None
    for rounds in range(1, max_rounds + 1):
        status, e = _least_cost(limits, e0, v, c, margins, solver)
        result.rounds = rounds
        if status not in ("optimal", "optimal_inaccurate"):
            if best is None:
                result.status, result.message = _failure(status)
            break
        best = e
        excess = limits.excess(e)
        over = ineq & (excess > 0.0)
        eq_off = ~ineq & (excess > eq_tol * np.maximum(1.0, np.abs(bound)))
        if not over.any() and not eq_off.any():
            result.status, result.target, result.message = Status.optimal.value, e, ""
            break
        result.status, result.target = Status.optimal_inaccurate.value, e
        bad = [limits.rows[k].name for k in np.flatnonzero(over | eq_off)]
        result.message = f"limits met only to the solver's accuracy: {', '.join(bad)}"
        margins[over] += 2.0 * excess[over] + 1e-12 * np.maximum(1.0, np.abs(bound[over]))
    if result.status == Status.infeasible.value:
        try:
            result.conflicts, result.violations = find_conflicts(limits, v, solver=solver)
        except RuntimeError as exc:  # the elastic program failed: say so, keep the status
            result.message = f"{result.message}; no conflicting limits named ({exc})"
        if result.conflicts:
            result.message = f"the limits cannot all be met: {', '.join(result.conflicts)} conflict"
    if result.ok:
        result.after = evaluate_limits(limits, result.target)
    return result


def _failure(status: str) -> tuple[str, str]:
    """(status, message) of a least-cost program that did not solve."""
    if status.startswith("infeasible"):
        return Status.infeasible.value, "the limits cannot all be met under the budget"
    if status.startswith("unbounded"):
        return Status.unbounded.value, "the least-cost program is unbounded"
    return Status.solver_error.value, status
