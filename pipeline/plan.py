"""The run plan: a validated config resolved once, on the client, into the objects the stages use.

A :class:`RunPlan` is plain picklable data (dataclasses of :mod:`tasks` objects and arrays). The
graph hands each stage only the piece it needs — the driver model, the book, one view set, one
constraint set with the optimisation settings — never the config. :func:`pipeline.resolve.build_plan`
makes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tasks._arrays import aligned
from tasks.instruments import Instrument
from tasks.optimization import Constraints, CvarMethod
from tasks.scenarios import DriverModel, DriverScenarios, DriverShock, FactorLoadings, ShockSpace
from tasks.views import View
from tasks.vocabulary import Objective, RiskMeasure, SEPMethod

__all__ = [
    "Realigned",
    "FactorModelPlan",
    "SimulationPlan",
    "HistoryPlan",
    "BookPlan",
    "ShockEntry",
    "ShockPlan",
    "LimitsPlan",
    "BLACK_LITTERMAN",
    "BlackLittermanPlan",
    "ViewSetPlan",
    "OptimizationSettings",
    "ConstraintSetPlan",
    "RunPlan",
]


class Realigned:
    """Re-align numpy arrays after unpickling (data arriving from another process can be
    unaligned, which changes BLAS/numpy summation order and hence the last bits)."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({k: aligned(v, v.dtype) if isinstance(v, np.ndarray) else v
                              for k, v in state.items()})


@dataclass(frozen=True)
class FactorModelPlan(Realigned):
    """``scenarios.factor_model`` resolved: asset drivers derived from the factor drivers.

    An asset's horizon log-return in scenario i is ``k alpha + B x_i + sum of k residual rows``
    drawn for scenario i (:func:`tasks.scenarios._factors.factor_horizon_scenarios`).

    Attributes
    ----------
    loadings : the model fitted on per-period log-returns (assets = the asset drivers, factors =
        the factor drivers, in driver order).
    factor_columns : (K,) columns of the factor drivers among the run's factor driver values.
    periods : k, history periods per horizon (a whole number >= 1).
    seed : the run seed of the residual draws.
    residuals : ``rows``, ``assets`` or ``none``.
    summary : one line: what was read and fitted.
    """

    loadings: FactorLoadings
    factor_columns: tuple[int, ...]
    periods: int
    seed: int
    residuals: str
    summary: str = ""

    @property
    def assets(self) -> tuple[str, ...]:
        """The asset drivers, in the order their columns follow the factor drivers."""
        return self.loadings.assets


@dataclass(frozen=True)
class SimulationPlan:
    """Scenarios simulated from the driver model in seeded blocks (see :mod:`tasks.scenarios`).

    ``block_groups[c]`` lists the block indices of chunk ``c``; ``steps`` is the number of path
    steps per scenario (None: no paths).
    """

    model: DriverModel
    seed: int
    count: int
    block_size: int
    block_groups: tuple[tuple[int, ...], ...]
    moment_matching: bool
    steps: int | None
    #: asset drivers derived from the simulated drivers (``scenarios.factor_model``), or None
    factor_model: FactorModelPlan | None = None


@dataclass(frozen=True)
class HistoryPlan(Realigned):
    """Scenarios read from the user's file: driver log-returns over the horizon and prior p (S,);
    ``summary`` says in one line what was read and how the rows became horizon scenarios (their
    frequency, prices converted, windows summed)."""

    scenarios: DriverScenarios
    p: np.ndarray
    summary: str = ""
    #: asset drivers derived from the file's drivers (``scenarios.factor_model``), or None
    factor_model: FactorModelPlan | None = None


@dataclass(frozen=True)
class BookPlan(Realigned):
    """The instruments and what the client needs to know about them.

    Attributes
    ----------
    instruments : (N,) :mod:`tasks.instruments` objects, config order.
    names : (N,) instrument names.
    v : (N,) relative market values (budget ``v'e = 1``).
    greeks : (N, K) Greeks per unit exposure; ``greek_keys`` (K,) their (greek, underlying).
    drivers : (D,) driver names; ``driver_kinds`` (D,) spot/fx/vol/rate.
    info : (N,) static columns of ``instruments.parquet`` (kind, driver, strike, ...).
    holdings : (N,) the user's book (``book:``): current exposures per unit of portfolio value
        (``v @ holdings == 1``), or None without a book. With a book, the scenario set gains the
        view variable ``book`` (its P&L, ``R @ holdings``).
    value : the book's market value in currency (``book.value``), or None: money columns.
    """

    instruments: tuple[Instrument, ...]
    names: tuple[str, ...]
    v: np.ndarray
    greeks: np.ndarray
    greek_keys: tuple[tuple[str, str], ...]
    drivers: tuple[str, ...]
    driver_kinds: tuple[str, ...]
    info: tuple[dict[str, Any], ...]
    holdings: np.ndarray | None = None
    value: float | None = None


@dataclass(frozen=True)
class ShockEntry:
    """One entry of ``shocks:``: its deterministic shocks and how they are revalued.

    Attributes
    ----------
    name : the entry's name (a named shock's own name; the prefix of a replay's shocks).
    shocks : the shocks, moves in the drivers' own units: one for a named shock, one per selected
        row of a historical replay (named ``<entry>:<row label>``), every row for ``worst``.
    propagate : ``none`` or ``conditional`` (unshocked drivers move by their conditional mean).
    source : ``config`` (named drivers), ``history`` (replayed rows) or ``history worst``.
    worst : keep only the ``worst`` shocks in which the book loses most (worst first), or None.
    """

    name: str
    shocks: tuple[DriverShock, ...]
    propagate: str
    source: str
    worst: int | None = None


@dataclass(frozen=True)
class ShockPlan:
    """The deterministic stress scenarios of a run: entries in config order and the drivers they
    move (their kinds, the horizon, and for ``conditional`` the drivers' mean and covariance)."""

    entries: tuple[ShockEntry, ...]
    space: ShockSpace
    #: asset drivers of ``scenarios.factor_model``: they move by their conditional mean given the
    #: factors, ``k alpha + B x`` (no residual), or None
    factor_model: FactorModelPlan | None = None


@dataclass(frozen=True)
class LimitsPlan(Realigned):
    """The limits on the user's book (``limits:``) and the rebalancing settings (``rebalance:``).

    Attributes
    ----------
    constraints : the limits in the optimisation-constraint grammar (bounds, groups, linear,
        Greek bands, leverage, margin, short/long caps, tracking error, risk caps under the prior).
    view_caps : (view set name, risk measure, cap) caps under a view set's posterior.
    alpha, rf, demean : of the risk caps (``optimization.alpha``, ``rf``, ``demean``).
    costs : (N,) transaction-cost rates per unit of exposure traded, or None: no rebalance.
    solver : cvxpy solver of the rebalance (None: HiGHS for linear limits, else Clarabel).
    """

    constraints: Constraints
    view_caps: tuple[tuple[str, RiskMeasure, float], ...]
    alpha: float
    rf: float
    demean: bool
    costs: np.ndarray | None = None
    solver: str | None = None


#: ``views[i].method`` of a Black-Litterman view set (solved by :mod:`pipeline.black_litterman_views`)
BLACK_LITTERMAN = "black_litterman"


@dataclass(frozen=True)
class BlackLittermanPlan(Realigned):
    """A Black-Litterman view set resolved: its universe, views and prior.

    Attributes
    ----------
    universe : (N,) view variables the model covers: those named in ``weights``, then those the
        views name, in first-use order (drivers' simple returns, instruments' P&L per unit exposure).
    P : (K, N) view portfolios (rows of the linear-view grammar) over ``universe``.
    Q : (K,) the views' expected values of ``P @ X`` over the horizon (units of X).
    confidences : (K,) Idzorek confidences in (0, 1] (Omega from them), or None: He-Litterman
        ``Omega = diag(P tau Sigma P^T)``.
    tau : scale of the prior mean's uncertainty (``tau * Sigma``).
    equilibrium : prior mean ``Pi = delta * Sigma @ weights`` if True, else the scenario means.
    delta : risk aversion of the equilibrium prior (None without equilibrium).
    weights : (N,) market weights over ``universe`` (0 where not named), or None.
    match_cov : the posterior probabilities also match the BL posterior covariance.
    """

    universe: tuple[str, ...]
    P: np.ndarray
    Q: np.ndarray
    confidences: np.ndarray | None
    tau: float
    equilibrium: bool
    delta: float | None
    weights: np.ndarray | None
    match_cov: bool


@dataclass(frozen=True)
class ViewSetPlan:
    """One view set: its views (parsed once) and how they are solved.

    ``method`` is an SEP method, or :data:`BLACK_LITTERMAN` with ``black_litterman`` set; a
    Black-Litterman set's ``views`` are its views as ``linear`` mean views (``= Q_k``), which name
    the variables it touches.
    """

    index: int
    name: str
    method: SEPMethod | str
    views: tuple[View, ...]
    stages: tuple[tuple[int, ...], ...] | None
    black_litterman: BlackLittermanPlan | None = None


@dataclass(frozen=True)
class OptimizationSettings(Realigned):
    """Settings shared by every portfolio of the run (units: per unit of budget)."""

    alpha: float
    demean: bool
    rf: float
    l: float
    points: int
    targets: tuple[float, ...]
    portfolios: tuple[Objective, ...]
    lower: np.ndarray
    upper: np.ndarray
    solver: str
    cvar_method: CvarMethod


@dataclass(frozen=True)
class ConstraintSetPlan:
    """A constraint set (``base`` = ``optimization.constraints``) and the measures it is solved for."""

    index: int
    name: str
    measures: tuple[RiskMeasure, ...]
    constraints: Constraints
    settings: OptimizationSettings


@dataclass(frozen=True)
class RunPlan:
    """Everything a run computes from, resolved from a validated config."""

    name: str
    config_sha256: str
    scenarios: SimulationPlan | HistoryPlan
    write_scenarios: bool
    book: BookPlan
    view_sets: tuple[ViewSetPlan, ...]
    settings: OptimizationSettings
    constraint_sets: tuple[ConstraintSetPlan, ...]
    shocks: ShockPlan | None = None
    limits: LimitsPlan | None = None
    #: ``stressfrontier book``: only the book's work (no frontiers or single portfolios)
    book_only: bool = False

    @property
    def view_names(self) -> list[str]:
        """``prior`` then every view set, in config order."""
        return ["prior"] + [vs.name for vs in self.view_sets]

    @property
    def measures(self) -> list[RiskMeasure]:
        """Every measure of any constraint set, in first-use order."""
        return list(dict.fromkeys(rm for cs in self.constraint_sets for rm in cs.measures))
