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
from tasks.scenarios import DriverModel, DriverScenarios
from tasks.views import View
from tasks.vocabulary import Objective, RiskMeasure, SEPMethod

__all__ = [
    "Realigned",
    "SimulationPlan",
    "HistoryPlan",
    "BookPlan",
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


@dataclass(frozen=True)
class HistoryPlan(Realigned):
    """Scenarios read from the user's file: driver log-returns over the horizon and prior p (S,);
    ``summary`` says in one line what was read and how the rows became horizon scenarios (their
    frequency, prices converted, windows summed)."""

    scenarios: DriverScenarios
    p: np.ndarray
    summary: str = ""


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
    """

    instruments: tuple[Instrument, ...]
    names: tuple[str, ...]
    v: np.ndarray
    greeks: np.ndarray
    greek_keys: tuple[tuple[str, str], ...]
    drivers: tuple[str, ...]
    driver_kinds: tuple[str, ...]
    info: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ViewSetPlan:
    """One view set: its views (parsed once) and how they are solved."""

    index: int
    name: str
    method: SEPMethod
    views: tuple[View, ...]
    stages: tuple[tuple[int, ...], ...] | None


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

    @property
    def view_names(self) -> list[str]:
        """``prior`` then every view set, in config order."""
        return ["prior"] + [vs.name for vs in self.view_sets]

    @property
    def measures(self) -> list[RiskMeasure]:
        """Every measure of any constraint set, in first-use order."""
        return list(dict.fromkeys(rm for cs in self.constraint_sets for rm in cs.measures))
