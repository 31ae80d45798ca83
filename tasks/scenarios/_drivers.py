"""Named risk drivers: a joint one-period (and path) model and the per-chunk scenario container.

Driver kinds and what a scenario value ``x`` of the driver means over the horizon H:

=========  =================================================  ==================================
kind       scenario value x                                   mean / std of x (Gaussian model)
=========  =================================================  ==================================
``spot``   log-return of an equity / index / crypto spot,       ``(mu - sigma^2/2) H``,
           ``S_H = S_0 e^x``                                    ``sigma sqrt(H)``
``fx``     log-return of an FX rate quoted in base currency     same as ``spot``
           per unit of foreign currency, ``X_H = X_0 e^x``
``vol``    log-change of an underlying's ATM implied vol,       same as ``spot``
           ``atm_H = atm_0 e^x`` (``mu = 0``: E[atm_H] = atm_0)
``rate``   additive change of a curve factor (parallel or       ``mu H``, ``sigma sqrt(H)``
           slope, decimal rate units: 0.01 = 100 bp)
=========  =================================================  ==================================

``mu`` and ``sigma`` are annual (decimals). All drivers are drawn jointly with one correlation
matrix (e.g. spot/ATM-vol correlation -0.7), Gaussian or Student-t (``nu``) with the same mean and
covariance, optionally moment matched exactly, chunk-invariant (:mod:`tasks.scenarios`).

A :class:`DriverScenarios` holds the scenario values of named drivers for a set of scenarios
(a chunk, or the whole run) and optionally their paths; instruments read drivers by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from tasks._arrays import aligned
from tasks.scenarios import _generation as sc

__all__ = [
    "DriverKind",
    "Driver",
    "DriverModel",
    "DriverScenarios",
    "concat_scenarios",
    "driver_statistics",
    "driver_transform",
    "drivers_chunk",
    "simulate_drivers",
]

DriverKind = Literal["spot", "fx", "vol", "rate"]
_LOG_KINDS = ("spot", "fx", "vol")


@dataclass(frozen=True)
class Driver:
    """One risk driver.

    Parameters
    ----------
    name : identifier instruments refer to.
    kind : ``"spot"``, ``"fx"``, ``"vol"`` (log-changes) or ``"rate"`` (additive change).
    mu : annual drift (decimal): arithmetic drift for log kinds, drift of the level for ``rate``.
    sigma : annual volatility (decimal) of the log-change (log kinds) or of the level (``rate``).
    """

    name: str
    kind: DriverKind = "spot"
    mu: float = 0.0
    sigma: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("spot", "fx", "vol", "rate"):
            raise ValueError(f"unknown driver kind {self.kind!r}")
        if not self.sigma >= 0.0:
            raise ValueError("sigma must be >= 0")


@dataclass(frozen=True)
class DriverModel:
    """Joint one-period model of D named drivers over ``horizon`` years.

    Parameters
    ----------
    drivers : (D,) driver specifications (names unique).
    corr : (D, D) correlation matrix (PSD, unit diagonal).
    horizon : years (> 0).
    distribution : ``"normal"`` or ``"student_t"`` (scaled to the same covariance).
    nu : degrees of freedom of the Student-t (> 2); ignored for ``"normal"``.
    """

    drivers: tuple[Driver, ...]
    corr: np.ndarray
    horizon: float
    distribution: Literal["normal", "student_t"] = "normal"
    nu: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "drivers", tuple(self.drivers))
        names = self.names
        if len(set(names)) != len(names):
            raise ValueError("driver names must be unique")
        c = np.asarray(self.corr, dtype=float)
        if c.shape != (len(names), len(names)):
            raise ValueError(f"corr must be ({len(names)}, {len(names)})")
        if self.distribution == "student_t":
            if self.nu is None or not float(self.nu) > 2.0:
                raise ValueError("student_t needs nu > 2")
        elif self.distribution == "normal":
            object.__setattr__(self, "nu", None)
        else:
            raise ValueError(f"unknown distribution {self.distribution!r}")

    @property
    def names(self) -> list[str]:
        """(D,) driver names."""
        return [d.name for d in self.drivers]

    @property
    def kinds(self) -> list[str]:
        """(D,) driver kinds."""
        return [d.kind for d in self.drivers]

    @property
    def log_mean(self) -> np.ndarray:
        """(D,) mean of the horizon value x of each driver (see module table)."""
        mu = np.array([d.mu for d in self.drivers], dtype=float)
        sig = np.array([d.sigma for d in self.drivers], dtype=float)
        is_log = np.array([d.kind in _LOG_KINDS for d in self.drivers])
        return np.where(is_log, mu - 0.5 * sig**2, mu) * self.horizon

    @property
    def log_cov(self) -> np.ndarray:
        """(D, D) covariance of the horizon values ``diag(sigma) corr diag(sigma) H``."""
        sig = np.array([d.sigma for d in self.drivers], dtype=float)
        return sc.covariance_from_correlation(sig, self.corr) * self.horizon


@dataclass
class DriverScenarios:
    """Scenario values of named drivers (one chunk or a whole run).

    Attributes
    ----------
    names : (D,) driver names.
    values : (n, D) horizon value x of each driver (log-change or additive change, see module
        table), rows in scenario order.
    horizon : years.
    paths : (n, steps, D) cumulative values at ``step_times`` or ``None``; ``paths[:, -1]`` equals
        ``values``.
    step_times : (steps,) path times in years (last == horizon) or ``None``.
    """

    names: list[str]
    values: np.ndarray
    horizon: float
    paths: np.ndarray | None = None
    step_times: np.ndarray | None = None
    _col: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.names = [str(n) for n in self.names]
        v = np.asarray(self.values, dtype=float)
        if v.ndim == 1:  # (n,) values of a single driver
            v = v.reshape(-1, 1) if len(self.names) == 1 else v.reshape(1, -1)
        self.values = aligned(v)
        if self.values.shape[1] != len(self.names):
            raise ValueError(f"values has {self.values.shape[1]} columns for {len(self.names)} names")
        self._col = {n: i for i, n in enumerate(self.names)}
        if len(self._col) != len(self.names):
            raise ValueError("driver names must be unique")
        if self.paths is not None:
            self.paths = aligned(self.paths)
            self.step_times = np.asarray(self.step_times, dtype=float)
            if self.paths.shape[0] != self.values.shape[0] or self.paths.shape[2] != len(self.names):
                raise ValueError("paths must be (n, steps, D)")
            if self.step_times.shape != (self.paths.shape[1],):
                raise ValueError("step_times must be (steps,)")

    @property
    def n(self) -> int:
        """Number of scenarios."""
        return self.values.shape[0]

    def __contains__(self, name: object) -> bool:
        return name in self._col

    def index(self, name: str) -> int:
        """Column of driver ``name`` (KeyError naming the known drivers otherwise)."""
        try:
            return self._col[name]
        except KeyError:
            raise KeyError(f"driver {name!r} is not in the scenarios ({', '.join(self.names)})") from None

    def column(self, name: str) -> np.ndarray:
        """(n,) horizon values of driver ``name`` (a view)."""
        return self.values[:, self.index(name)]

    def get(self, name: str | None) -> np.ndarray | float:
        """``column(name)``, or the scalar 0.0 for ``name=None`` (an unshocked factor)."""
        return 0.0 if name is None else self.column(name)

    def increments(self, name: str) -> np.ndarray:
        """(n, steps) per-step changes of driver ``name`` (one step = the horizon without paths)."""
        if self.paths is None:
            return self.column(name)[:, None]
        return np.diff(self.paths[:, :, self.index(name)], axis=1, prepend=0.0)

    def at_step(self, k: int) -> DriverScenarios:
        """The scenarios as seen at path point ``k`` (horizon ``step_times[k]``, paths truncated)."""
        if self.paths is None:
            raise ValueError("no paths")
        k = range(self.paths.shape[1])[k]
        return DriverScenarios(self.names, self.paths[:, k, :], float(self.step_times[k]),
                               self.paths[:, : k + 1, :], self.step_times[: k + 1])

    def subset(self, rows: slice | np.ndarray) -> DriverScenarios:
        """The scenarios of the selected rows."""
        paths = None if self.paths is None else self.paths[rows]
        return DriverScenarios(self.names, self.values[rows], self.horizon, paths, self.step_times)


def concat_scenarios(parts: Sequence[DriverScenarios]) -> DriverScenarios:
    """Concatenate chunk results (in chunk order) into one :class:`DriverScenarios`."""
    first = parts[0]
    if any(p.names != first.names or p.horizon != first.horizon for p in parts):
        raise ValueError("chunks differ in drivers or horizon")
    values = np.concatenate([p.values for p in parts], axis=0)
    paths = None
    if first.paths is not None:
        paths = np.concatenate([p.paths for p in parts], axis=0)
    return DriverScenarios(first.names, values, first.horizon, paths, first.step_times)


def driver_statistics(
    model: DriverModel, seed: int, n_scenarios: int, block_size: int, blocks: list[int]
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Per-block sufficient statistics of a chunk's raw draws (for moment matching)."""
    return sc.chunk_statistics(seed, n_scenarios, block_size, blocks, len(model.drivers), model.nu)


def driver_transform(
    model: DriverModel, stats: list[tuple[int, np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moment-matching map from all blocks' statistics (in block order)."""
    return sc.moment_matching_transform(stats, model.log_mean, model.log_cov)


def drivers_chunk(
    model: DriverModel,
    seed: int,
    n_scenarios: int,
    block_size: int,
    blocks: list[int],
    transform: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    n_steps: int | None = None,
) -> DriverScenarios:
    """Driver scenarios (and paths when ``n_steps`` is given) of one chunk of whole blocks.

    Parameters
    ----------
    model : the joint driver model.
    seed : run seed.
    n_scenarios : S of the run; block_size : scenarios per block; blocks : this chunk's blocks.
    transform : from :func:`driver_transform` (moment matching) or ``None``.
    n_steps : number of path points (Brownian bridge pinned at the one-period values), or
        ``None`` for no paths.
    """
    if n_steps is None:
        x = sc.log_returns_chunk(model, seed, n_scenarios, block_size, blocks, transform)
        return DriverScenarios(model.names, x, model.horizon)
    x, paths = sc.paths_chunk(model, seed, n_scenarios, block_size, blocks, n_steps, transform)
    return DriverScenarios(model.names, x, model.horizon, paths, sc.step_times(model.horizon, n_steps))


def simulate_drivers(
    model: DriverModel,
    n_scenarios: int,
    seed: int,
    *,
    moment_matching: bool = True,
    block_size: int = 1024,
    n_steps: int | None = None,
) -> DriverScenarios:
    """All driver scenarios of a run in one call (single-process path of the chunked graph)."""
    blocks = list(range(len(sc.block_ranges(n_scenarios, block_size))))
    transform = None
    if moment_matching:
        transform = driver_transform(model, driver_statistics(model, seed, n_scenarios, block_size, blocks))
    return drivers_chunk(model, seed, n_scenarios, block_size, blocks, transform, n_steps)
