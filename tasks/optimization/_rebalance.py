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
from tasks.optimization._limits import CompiledLimits, LimitRow, RiskTerm, evaluate_limits
from tasks.optimization._tail_oracle import TailOracle
from tasks.vocabulary import OK_STATUSES, RiskMeasure, Status

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


#: ``cvar_method="auto"`` imposes CVaR caps by cutting planes from this many scenarios on.
CUTS_FROM = 5000
#: A cut is added while the CVaR exceeds its (tightened) cap by more than this, relative: about the
#: LP's feasibility tolerance (a smaller excess is the LP's, not the cuts'; the exact restoration
#: of :func:`rebalance` tightens the cap by it and solves again).
CUT_TOL = 1e-9
#: Least-cost LPs solved per cutting-plane solve at most.
MAX_CUT_ROUNDS = 300


def _cvar_oracles(limits: CompiledLimits, method: str) -> dict[int, TailOracle]:
    """Row index -> CVaR oracle of the CVaR caps imposed by cutting planes (``method`` auto: at
    S >= :data:`CUTS_FROM`, cuts: always, lp: never)."""
    if method not in ("auto", "cuts", "lp"):
        raise ValueError(f"cvar_method must be auto, cuts or lp, got {method!r}")
    out: dict[int, TailOracle] = {}
    for k, row in enumerate(limits.rows):
        t = row.term
        if not (isinstance(t, RiskTerm) and t.measure == RiskMeasure.CVaR and row.sense == "<="):
            continue
        if method == "cuts" or (method == "auto" and t.data.q.size >= CUTS_FROM):
            d = t.data
            out[k] = TailOracle(d.X - d.mu if d.demean else d.X, d.q, t.alpha)
    return out


def _known(g: np.ndarray, cuts: list[np.ndarray]) -> bool:
    """Whether cut ``g`` is (to rounding) one of ``cuts``: the LP already holds it, so its excess is
    the LP's tolerance and another round would not move the solution."""
    return any(np.allclose(g, h, rtol=1e-12, atol=1e-15) for h in cuts)


def _least_cost(limits: CompiledLimits, e0: np.ndarray, v: np.ndarray, c: np.ndarray, margins: np.ndarray,
                solver: str, oracles: dict[int, TailOracle] | None = None,
                cuts: dict[int, list[np.ndarray]] | None = None) -> tuple[str, np.ndarray]:
    """Solve the least-cost program with inequality bounds tightened by ``margins`` (K,).

    The CVaR caps of ``oracles`` are imposed by cutting planes (Kelley): the LP without them is
    solved, each cap's CVaR and subgradient evaluated at the solution, and a violated cap gets
    the cut ``g^T e <= cap`` (valid everywhere: CVaR(e) >= g^T e); the cuts found are kept in
    ``cuts`` for the next call. Each LP has about N rows, whatever the number of scenarios.
    """
    oracles = oracles or {}
    cuts = cuts if cuts is not None else {}
    rows = limits.rows
    plain = [k for k in range(len(rows)) if k not in oracles]
    y = cp.Variable(limits.n, name="target")
    exprs, cons = _terms([rows[k] for k in plain], y)
    cons.append(v @ y == 1.0)
    for k, x in zip(plain, exprs):
        row, m = rows[k], margins[k]
        if row.sense == "<=":
            cons.append(x <= row.bound - m)
        elif row.sense == ">=":
            cons.append(x >= row.bound + m)
        else:
            cons.append(x == row.bound)
    objective = cp.Minimize(c @ cp.abs(y - e0))
    status, e = "", np.full(limits.n, np.nan)
    for _ in range(MAX_CUT_ROUNDS if oracles else 1):
        extra = [g @ y <= rows[k].bound - margins[k] for k in oracles for g in cuts.get(k, [])]
        status = _solve(cp.Problem(objective, cons + extra), solver)
        if status not in ("optimal", "optimal_inaccurate") or y.value is None:
            return status, np.full(limits.n, np.nan)
        e = np.asarray(y.value, dtype=float)
        added = False
        for k, oracle in oracles.items():
            cap = rows[k].bound - margins[k]
            value, g = oracle(e)
            if value > cap + CUT_TOL * max(1.0, abs(cap)) and not _known(g, cuts.get(k, [])):
                cuts.setdefault(k, []).append(g)
                added = True
        if not added:
            return status, e
    return Status.optimal_inaccurate.value, e  # the rounds ran out: the exact check reports the excess


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
    cvar_method: str = "auto",
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
    cvar_method : how CVaR caps are imposed: ``lp`` (the Rockafellar-Uryasev LP, S rows per cap),
        ``cuts`` (cutting planes on the CVaR's subgradients: LPs of about N rows) or ``auto``
        (cuts from :data:`CUTS_FROM` scenarios on). Both give the least cost; cuts are much
        faster at large S.
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
    oracles, cuts = _cvar_oracles(limits, cvar_method), {}
    for rounds in range(1, max_rounds + 1):
        status, e = _least_cost(limits, e0, v, c, margins, solver, oracles, cuts)
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
