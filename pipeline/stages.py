"""Functions that run on the workers: one per kind of task in the graph.

They take small, picklable pieces of the run plan (:mod:`pipeline.plan`: the driver model, the
book, one view set, one constraint set), block indices and earlier task results, and call the pure
numerical code in :mod:`tasks`; they never see the config. Compiled cvxpy problems are cached per worker
process (:data:`_PROBLEMS`) and never leave it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from dask.sizeof import sizeof

from pipeline.black_litterman_views import solve_black_litterman
from pipeline.memory import MAX_CACHED_PROBLEMS, PROBLEM_CACHE_BYTES, STRESS_BLOCK_BYTES
from pipeline.plan import (
    BLACK_LITTERMAN,
    BookPlan,
    ConstraintSetPlan,
    HistoryPlan,
    Realigned,
    SimulationPlan,
    ViewSetPlan,
)
from tasks.errors import ViewsInfeasible
from tasks.instruments import pnl_paths, scenario_pnl
from tasks.measures import stress_metrics
from tasks.optimization import OptimizationResult, PortfolioProblem, frontier_targets
from tasks.scenarios import (
    DriverScenarios,
    driver_statistics,
    driver_transform,
    drivers_chunk,
    factor_horizon_scenarios,
)
from tasks.views import sequential_entropy_pooling
from tasks.vocabulary import BOOK_VARIABLE, CAP_FIELDS, DRAWDOWN_MEASURES, Objective, PortfolioKind, Status, ViewStatus

__all__ = [
    "ScenarioSet",
    "ViewOutcome",
    "BOOK_VARIABLE",
    "chunk_statistics",
    "moment_transform",
    "factor_assets",
    "chunk_scenarios",
    "assemble_scenarios",
    "load_scenarios",
    "solve_views",
    "prior_outcome",
    "frontier_limits",
    "frontier_point",
    "target_portfolio",
    "single_portfolio",
    "portfolio_id",
    "stress_table",
]


@dataclass
class ScenarioSet(Realigned):
    """The scenario matrix of a run (a task result that stays on the workers).

    Attributes
    ----------
    R : (S, N) P&L per unit exposure of the instruments.
    X : (S, n_var) values of the view variables: drivers' simple returns, then instruments
        whose name is not a driver name, then (with a book) ``book``, the book's P&L ``R @ holdings``.
    variables : (n_var,) names of X's columns.
    instruments : (N,) instrument names.
    drivers : (D,) driver names.
    p : (S,) prior probabilities.
    v : (N,) relative market values.
    paths : (S, steps, N) cumulative-P&L paths per unit exposure (drawdown measures), or None.
    """

    R: np.ndarray
    X: np.ndarray
    variables: list[str]
    instruments: list[str]
    drivers: list[str]
    p: np.ndarray
    v: np.ndarray
    paths: np.ndarray | None = None


@dataclass
class ViewOutcome(Realigned):
    """Posterior of one view set (or the prior) with diagnostics."""

    name: str
    method: str
    status: str
    q: np.ndarray | None
    relative_entropy: float = 0.0
    effective_scenarios: float = 1.0
    max_residual: float = 0.0
    n_views: int = 0
    seconds: float = 0.0
    message: str = ""
    checks: list[dict[str, Any]] = field(default_factory=list)
    n_stages: int = 0

    @property
    def ok(self) -> bool:
        return self.status == ViewStatus.ok


@sizeof.register(Realigned)
def _sizeof_result(obj: Realigned) -> int:
    """Bytes of a task result (its arrays): Dask's memory accounting and transfer decisions use it
    (the default for an unknown object is its shallow ``sys.getsizeof``, ~56 bytes)."""
    return 64 + sum(sizeof(v) for v in vars(obj).values())


# ---- scenarios ----------------------------------------------------------------------------------

def chunk_statistics(sim: SimulationPlan, blocks: list[int]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Sufficient statistics of the raw draws of a chunk's blocks."""
    return driver_statistics(sim.model, sim.seed, sim.count, sim.block_size, blocks)


def moment_transform(sim: SimulationPlan, *chunk_stats: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reduce per-block statistics (in block order) to the moment-matching affine map."""
    return driver_transform(sim.model, [st for chunk in chunk_stats for st in chunk])


@dataclass
class ScenarioChunk(Realigned):
    """One chunk: driver values (n, D), instrument P&L (n, N), P&L paths (n, steps, N) or None."""

    drivers: np.ndarray
    R: np.ndarray
    paths: np.ndarray | None


def factor_assets(sim: SimulationPlan, scen: DriverScenarios, blocks: list[int]) -> DriverScenarios:
    """``scen`` (a chunk of simulated drivers, rows = ``blocks`` in order) with the asset drivers of
    ``sim.factor_model`` appended: per block, :func:`factor_horizon_scenarios` from the block's
    first global scenario index, so every row depends only on (seed, its index): chunk-invariant."""
    fm = sim.factor_model
    if fm is None:
        return scen
    x = scen.values[:, list(fm.factor_columns)]
    parts, row = [], 0
    for b in blocks:
        start = b * sim.block_size
        n = min(sim.block_size, sim.count - start)
        parts.append(factor_horizon_scenarios(x[row:row + n], fm.loadings, periods=fm.periods, seed=fm.seed,
                                              start=start, residuals=fm.residuals))  # type: ignore[arg-type]
        row += n
    assets = np.concatenate(parts, axis=0) if parts else np.empty((0, len(fm.assets)))
    return DriverScenarios(list(scen.names) + list(fm.assets), np.concatenate([scen.values, assets], axis=1),
                           scen.horizon)


def chunk_scenarios(sim: SimulationPlan, book: BookPlan, blocks: list[int], transform: Any) -> ScenarioChunk:
    """Simulate the drivers of one chunk (and the factor model's asset drivers) and reprice every
    instrument on them."""
    scen = drivers_chunk(sim.model, sim.seed, sim.count, sim.block_size, blocks, transform, sim.steps)
    scen = factor_assets(sim, scen, blocks)
    insts = list(book.instruments)
    paths = pnl_paths(insts, scen) if sim.steps else None
    return ScenarioChunk(scen.values, scenario_pnl(insts, scen), paths)


def _driver_returns(kinds: list[str], values: np.ndarray) -> np.ndarray:
    """View variables of the drivers: simple returns of log kinds, changes of rate drivers."""
    out = np.array(values, dtype=float, copy=True)
    log = [j for j, k in enumerate(kinds) if k != "rate"]
    out[:, log] = np.expm1(out[:, log])
    return out


def _scenario_set(book: BookPlan, values: np.ndarray, R: np.ndarray, p: np.ndarray,
                  paths: np.ndarray | None = None) -> ScenarioSet:
    """X = drivers' returns, instruments that are not drivers, and with a book its P&L (last)."""
    names, drivers = list(book.names), list(book.drivers)
    extra = [j for j, n in enumerate(names) if n not in drivers]
    cols = [_driver_returns(list(book.driver_kinds), values), R[:, extra]]
    variables = drivers + [names[j] for j in extra]
    if book.holdings is not None:
        cols.append((R @ np.asarray(book.holdings, dtype=float))[:, None])
        variables.append(BOOK_VARIABLE)
    X = np.concatenate(cols, axis=1)
    return ScenarioSet(R, X, variables, names, drivers, p, book.v, paths)


def assemble_scenarios(book: BookPlan, *chunks: ScenarioChunk) -> ScenarioSet:
    """Concatenate chunk results (in chunk order) into the run's scenario set."""
    values = np.concatenate([c.drivers for c in chunks], axis=0)
    R = np.concatenate([c.R for c in chunks], axis=0)
    paths = np.concatenate([c.paths for c in chunks], axis=0) if chunks[0].paths is not None else None
    return _scenario_set(book, values, R, np.full(R.shape[0], 1.0 / R.shape[0]), paths)


def load_scenarios(history: HistoryPlan, book: BookPlan) -> ScenarioSet:
    """Scenario set from the user's file (read and checked on the client), with the factor model's
    asset drivers: reprice the book."""
    scen = history.scenarios
    if (fm := history.factor_model) is not None:  # one piece from scenario 0: as in any chunking
        assets = factor_horizon_scenarios(scen.values[:, list(fm.factor_columns)], fm.loadings, periods=fm.periods,
                                          seed=fm.seed, residuals=fm.residuals)  # type: ignore[arg-type]
        scen = DriverScenarios(list(scen.names) + list(fm.assets), np.concatenate([scen.values, assets], axis=1),
                               scen.horizon)
    R = scenario_pnl(list(book.instruments), scen)
    return _scenario_set(book, scen.values, R, history.p)


# ---- views --------------------------------------------------------------------------------------

def prior_outcome(scen: ScenarioSet) -> ViewOutcome:
    """The prior as a 'view set' without views."""
    return ViewOutcome("prior", "prior", ViewStatus.ok.value, scen.p)


def solve_views(scen: ScenarioSet, view_set: ViewSetPlan) -> ViewOutcome:
    """Entropy Pooling posterior of one view set (Sequential EP H1/H2, Meucci's original, or a
    Black-Litterman posterior matched by EP: :mod:`pipeline.black_litterman_views`).

    Infeasible or unattainable views give status 'infeasible' with the message; the run goes on.
    """
    if view_set.black_litterman is not None:
        return _solve_black_litterman(scen, view_set)
    t0 = time.perf_counter()
    name, method, views = view_set.name, view_set.method.value, list(view_set.views)
    stages = None if view_set.stages is None else [list(s) for s in view_set.stages]
    X = pd.DataFrame(scen.X, columns=scen.variables, copy=False)
    try:
        res = sequential_entropy_pooling(X, scen.p, views, method=method, stages=stages)
    except ViewsInfeasible as exc:
        return ViewOutcome(name, method, ViewStatus.infeasible.value, None, np.nan, np.nan, np.nan, len(views),
                           time.perf_counter() - t0, str(exc))
    checks = res.checks.copy()
    checks.insert(0, "view_set", name)
    checks["on"] = checks["on"].map(lambda o: o if isinstance(o, str) else str(o))
    return ViewOutcome(name, method, ViewStatus.ok.value, res.posterior, res.relative_entropy,
                       res.effective_scenarios, float(res.max_violation), len(views), time.perf_counter() - t0,
                       "" if res.converged else "solver did not reach its tolerance",
                       checks.to_dict("records"), n_stages=len(res.stages))


def _solve_black_litterman(scen: ScenarioSet, view_set: ViewSetPlan) -> ViewOutcome:
    """A Black-Litterman set: closed-form posterior, matched by Entropy Pooling
    (:mod:`pipeline.black_litterman_views`). Infeasible moments or redundant views give status
    'infeasible' with the message; the run goes on."""
    t0 = time.perf_counter()
    name, bl, k = view_set.name, view_set.black_litterman, len(view_set.views)
    assert bl is not None
    try:
        sol = solve_black_litterman(scen.X, scen.variables, scen.p, bl, tuple(v.on_label for v in view_set.views))
    except (ViewsInfeasible, ValueError) as exc:
        return ViewOutcome(name, BLACK_LITTERMAN, ViewStatus.infeasible.value, None, np.nan, np.nan, np.nan, k,
                           time.perf_counter() - t0, str(exc))
    checks = [{"view_set": name, **row} for row in sol.checks]
    return ViewOutcome(name, BLACK_LITTERMAN, ViewStatus.ok.value, sol.q, sol.relative_entropy,
                       sol.effective_scenarios, sol.max_residual, k, time.perf_counter() - t0,
                       "" if sol.converged else "solver did not reach its tolerance", checks, n_stages=1)


# ---- optimisation -------------------------------------------------------------------------------

_PROBLEMS: OrderedDict[str, PortfolioProblem] = OrderedDict()


def _problem(key: str, cset: ConstraintSetPlan, scen: ScenarioSet, view: ViewOutcome, rm: str) -> PortfolioProblem:
    """The compiled problem for (scenario set, probabilities, measure, constraint set), built
    once per worker process and reused for every frontier point."""
    prob = _PROBLEMS.get(key)
    if prob is None:
        st, cons = cset.settings, cset.constraints
        caps = {m for m, c in CAP_FIELDS.items() if getattr(cons, c) is not None}
        paths = None
        if ({rm} | caps) & DRAWDOWN_MEASURES:
            paths = np.diff(scen.paths, axis=1, prepend=0.0)  # per-step P&L per unit exposure
        prob = PortfolioProblem(scen.R, view.q, v=scen.v, rm=rm, alpha=st.alpha, demean=st.demean,
                                bounds=(st.lower, st.upper), solver=st.solver, rf=st.rf, paths=paths,
                                path_p=view.q if paths is not None else None, constraints=cons,
                                names=scen.instruments, cvar_method=st.cvar_method)
        _PROBLEMS[key] = prob
        budget = max(1, PROBLEM_CACHE_BYTES // max(1, 3 * scen.R.nbytes))  # a problem holds ~3 copies of R
        while len(_PROBLEMS) > min(MAX_CACHED_PROBLEMS, budget):
            _PROBLEMS.popitem(last=False)
    else:
        _PROBLEMS.move_to_end(key)
    return prob


def _fresh(prob: PortfolioProblem) -> PortfolioProblem:
    """Make the next solve a function of its inputs only (determinism across workers): the CVaR
    cutting-plane solver starts every solve from its own point and cuts."""
    if prob.cuts is not None:
        prob.cuts.reset()
    return prob


def portfolio_id(view: str, rm: str, cset: str, kind: str, point: int) -> str:
    """``view/rm/kindN`` for the base constraint set, ``view/rm@set/kindN`` otherwise."""
    return f"{view}/{rm}{'' if cset == 'base' else '@' + cset}/{kind}{point}"


def _row(scen: ScenarioSet, view: str, rm: str, cset: str, kind: str, point: int,
         res: OptimizationResult) -> dict[str, Any]:
    e = res.exposures
    row = {"view_set": view, "risk_measure": str(rm), "constraint_set": cset, "kind": str(kind), "point": point,
           "portfolio": portfolio_id(view, rm, cset, kind, point),
           "target": res.target, "status": str(res.status), "expected_return": res.expected_return,
           "risk": res.risk, "budget": float(scen.v @ e), "gross_exposure": float(np.abs(e).sum()),
           "seconds": res.seconds, "message": res.message}
    row.update({f"e_{n}": float(x) for n, x in zip(scen.instruments, e)})
    return row


def _failed(scen: ScenarioSet, status: Status, message: str) -> OptimizationResult:
    n = len(scen.instruments)
    return OptimizationResult(np.full(n, np.nan), str(status), np.nan, np.nan, message=message)


def frontier_limits(key: str, cset: ConstraintSetPlan, scen: ScenarioSet, view: ViewOutcome,
                    rm: str) -> dict[str, Any]:
    """Min-risk and max-return portfolios of one (probabilities, measure, constraint set)."""
    if not view.ok:
        bad = _failed(scen, Status.view_infeasible, view.message)
        return {"ok": False, "min": bad, "max": bad}
    prob = _fresh(_problem(key, cset, scen, view, rm))
    lo = prob.min_risk()
    hi = _fresh(prob).max_return()
    return {"ok": lo.ok and hi.ok, "min": lo, "max": hi}


def frontier_point(key: str, cset: ConstraintSetPlan, scen: ScenarioSet, view: ViewOutcome, rm: str,
                   limits: dict[str, Any], k: int) -> dict[str, Any]:
    """Frontier point k: min risk with a return floor evenly spaced between the limits."""
    kind = PortfolioKind.frontier
    if not limits["ok"]:
        bad = limits["min"] if not limits["min"].ok else limits["max"]
        return _row(scen, view.name, rm, cset.name, kind, k, _failed(scen, bad.status, bad.message))
    if k == 0:
        return _row(scen, view.name, rm, cset.name, kind, k, limits["min"])
    t = frontier_targets(limits["min"].expected_return, limits["max"].expected_return, cset.settings.points)[k]
    res = _fresh(_problem(key, cset, scen, view, rm)).min_risk(float(t))
    return _row(scen, view.name, rm, cset.name, kind, k, res)


def target_portfolio(key: str, cset: ConstraintSetPlan, scen: ScenarioSet, view: ViewOutcome, rm: str,
                     index: int) -> dict[str, Any]:
    """Headline portfolio: min risk with expected return >= ``optimization.targets[index]``."""
    target = cset.settings.targets[index]
    if not view.ok:
        res = _failed(scen, Status.view_infeasible, view.message)
        res.target = target
    else:
        prob = _problem(key, cset, scen, view, rm)
        res = _fresh(prob).min_risk(target)
        why = None if res.ok else _unattainable(prob, target)
        if why:
            res.message = why + (f"; solver: {res.message}" if res.message not in ("", res.status) else "")
    return _row(scen, view.name, rm, cset.name, PortfolioKind.target, index, res)


def _unattainable(prob: PortfolioProblem, target: float) -> str | None:
    """Why a return floor ``target`` failed: no portfolio satisfies the constraints, or the target
    is above the highest attainable expected return (then the attainable range: from the
    minimum-risk to the maximum-return portfolio's expected return). None if it is attainable."""
    hi = _fresh(prob).max_return()
    if not hi.ok:
        return f"no portfolio satisfies the constraints ({hi.status}{': ' + hi.message if hi.message else ''})"
    if target <= hi.expected_return:
        return None
    lo = _fresh(prob).min_risk()
    low = f"{lo.expected_return:.2%} (minimum risk) to " if lo.ok else "up to "
    return (f"target expected return {target:.2%} is not attainable: attainable expected returns "
            f"{low}{hi.expected_return:.2%} (maximum return)")


def single_portfolio(key: str, cset: ConstraintSetPlan, scen: ScenarioSet, view: ViewOutcome, rm: str,
                     objective: Objective) -> dict[str, Any]:
    """One Sharpe (max risk-adjusted return), Utility (mu'e - l*risk) or MaxRet portfolio."""
    if not view.ok:
        return _row(scen, view.name, rm, cset.name, objective, 0,
                    _failed(scen, Status.view_infeasible, view.message))
    prob = _fresh(_problem(key, cset, scen, view, rm))
    if objective == Objective.Sharpe:
        res = prob.max_ratio()
    elif objective == Objective.Utility:
        res = prob.max_utility(cset.settings.l)
    else:
        res = prob.max_return()
    return _row(scen, view.name, rm, cset.name, objective, 0, res)


# ---- stress -------------------------------------------------------------------------------------

def stress_table(alpha: float, scen: ScenarioSet, view: ViewOutcome, portfolios: pd.DataFrame) -> pd.DataFrame:
    """Every portfolio's P&L statistics under one probability vector (tail probability ``alpha``)."""
    cols = [f"e_{n}" for n in scen.instruments]
    ident = portfolios[["portfolio", "view_set", "risk_measure", "constraint_set", "kind", "point"]].rename(
        columns={"view_set": "portfolio_view_set"})
    E = portfolios[cols].to_numpy(dtype=float)
    if not view.ok:
        E = np.full_like(E, np.nan)
    q = view.q if view.ok else scen.p
    block = max(1, STRESS_BLOCK_BYTES // (8 * scen.R.shape[0]))  # an (S, block) P&L matrix at a time
    metrics = pd.concat([stress_metrics(scen.R, E[i:i + block], q, alpha) for i in range(0, max(len(E), 1), block)],
                        ignore_index=True)
    out = pd.concat([ident.reset_index(drop=True), metrics], axis=1)
    out.insert(1, "eval_view_set", view.name)
    out["eval_status"] = view.status
    return out
