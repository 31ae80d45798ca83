"""Deterministic stress scenarios: named shocks of risk drivers, fully revalued.

A :class:`DriverShock` moves some named drivers by given amounts in the drivers' own units, the
units of the simulated scenarios (:mod:`tasks.scenarios._drivers`):

=========  ===================================================================================
kind       move ``x`` of the driver over the horizon
=========  ===================================================================================
``spot``   log-return (``S_H = S_0 e^x``); with ``as_simple`` a simple return ``r``, taken as
           ``x = ln(1 + r)`` (``r > -1``), so ``-0.30`` is exactly a 30 % fall
``fx``     as ``spot``
``vol``    log-change of the ATM implied vol (``atm_H = atm_0 e^x``; ``as_simple`` ignored)
``rate``   additive change (decimal: ``-0.01`` = -100 bp; ``as_simple`` ignored)
=========  ===================================================================================

The drivers a shock does not name (unshocked, ``u``) are set by the propagation rule:

* ``"none"``: they stay put, ``x_u = 0``;
* ``"conditional"``: their conditional mean given the shocked ones (``s``) under the driver
  model's joint law with mean ``mu`` (D,) and covariance ``Sigma`` (D, D) of the horizon values
  (:attr:`DriverModel.log_mean` and :attr:`DriverModel.log_cov`: drift over the horizon,
  ``diag(sigma) corr diag(sigma) H``, in the model's log / additive units)::

      x_u = mu_u + Sigma_us Sigma_ss^+ (x_s - mu_s)

  (``^+`` the Moore-Penrose pseudo-inverse: the inverse when ``Sigma_ss`` is non-singular). This
  is the Gaussian conditional mean and, as the conditional mean of any elliptical law, also the
  Student-t model's. A space built from a sample (:meth:`ShockSpace.from_sample`, e.g. a
  historical scenario set) uses the sample's probability-weighted mean and covariance.

Revaluation. The shocks become a :class:`DriverScenarios` with one row per shock, over the
scenario horizon ``H`` and without paths, and every instrument is repriced by the same full
repricing as the scenarios (:func:`tasks.instruments.scenario_pnl`): P&L per unit exposure, time
to the horizon included (an all-zero shock shows the carry over ``H``). A shock is a jump: a
variance swap's realised variance picks up ``x^2`` of its driver's move (one step).

Historical replays (:func:`history_shocks`) take rows of a driver-returns table (rows =
observations, columns = drivers, as :func:`tasks.scenarios.frame_values` reads them) as shocks of
every driver in the table; :func:`worst_history_shocks` keeps the ``k`` rows in which a given
portfolio loses most when repriced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from tasks._arrays import aligned
from tasks.instruments import _repricing
from tasks.scenarios._drivers import DriverKind, DriverModel, DriverScenarios
from tasks.scenarios._history import ReturnKind, frame_values

if TYPE_CHECKING:
    from tasks.instruments._instruments import Instrument

__all__ = [
    "PROPAGATIONS",
    "Propagation",
    "DriverShock",
    "ShockSpace",
    "check_shocks",
    "shock_moves",
    "conditional_mean",
    "shock_values",
    "shock_scenarios",
    "shock_pnl",
    "shock_contributions",
    "history_shocks",
    "worst_rows",
    "worst_history_shocks",
]

Propagation = Literal["none", "conditional"]
#: the propagation rules of the unshocked drivers
PROPAGATIONS: tuple[str, ...] = ("none", "conditional")
_KINDS = ("spot", "fx", "vol", "rate")
_SIMPLE_KINDS = ("spot", "fx")


@dataclass(frozen=True)
class DriverShock:
    """One named deterministic shock.

    Parameters
    ----------
    name : identifier of the shock (e.g. ``"equity_crash"``).
    moves : driver name -> move in the driver's own units (see the module table), at least one.
    as_simple : the moves of ``spot`` / ``fx`` drivers are simple returns (``-0.30`` = -30 %)
        rather than log-returns; ``vol`` and ``rate`` moves are unaffected.
    """

    name: str
    moves: Mapping[str, float]
    as_simple: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a shock needs a non-empty name, got {self.name!r}")
        if not isinstance(self.moves, Mapping) or not self.moves:
            raise ValueError(f"shock {self.name!r} moves no driver")
        moves: dict[str, float] = {}
        for driver, value in self.moves.items():
            if not isinstance(driver, str):
                raise ValueError(f"shock {self.name!r}: driver names must be strings, got {driver!r}")
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"shock {self.name!r}: move of {driver!r} must be a number, got {value!r}") from None
            if not np.isfinite(v):
                raise ValueError(f"shock {self.name!r}: move of {driver!r} must be finite, got {value!r}")
            moves[driver] = v
        object.__setattr__(self, "moves", moves)
        object.__setattr__(self, "as_simple", bool(self.as_simple))


@dataclass(frozen=True, eq=False)
class ShockSpace:
    """The drivers shocks act on: names, kinds, horizon and (for ``"conditional"``) their law.

    Parameters
    ----------
    names : (D,) driver names (unique), the column order of the shocked scenarios.
    kinds : (D,) driver kinds (``"spot"``, ``"fx"``, ``"vol"``, ``"rate"``).
    horizon : years (> 0) over which the instruments are repriced.
    mean : (D,) mean of the horizon values (log / additive units), or ``None``.
    cov : (D, D) covariance of the horizon values, or ``None``; both are needed by
        ``propagate="conditional"`` only.
    """

    names: tuple[str, ...]
    kinds: tuple[DriverKind, ...]
    horizon: float
    mean: np.ndarray | None = None
    cov: np.ndarray | None = None
    _col: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.names)
        kinds = tuple(str(k) for k in self.kinds)
        d = len(names)
        if len(set(names)) != d:
            raise ValueError("driver names must be unique")
        if len(kinds) != d:
            raise ValueError(f"{len(kinds)} kinds for {d} drivers")
        bad = [f"{n}: {k!r}" for n, k in zip(names, kinds) if k not in _KINDS]
        if bad:
            raise ValueError(f"unknown driver kind ({', '.join(bad)}); use one of {', '.join(_KINDS)}")
        if not float(self.horizon) > 0:
            raise ValueError(f"horizon must be > 0, got {self.horizon!r}")
        if (self.mean is None) != (self.cov is None):
            raise ValueError("give both mean and cov, or neither")
        if self.mean is not None:
            mean = np.array(self.mean, dtype=float)
            cov = np.array(self.cov, dtype=float)
            if mean.shape != (d,) or cov.shape != (d, d):
                raise ValueError(f"mean must be ({d},) and cov ({d}, {d})")
            if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
                raise ValueError("mean and cov must be finite")
            object.__setattr__(self, "mean", mean)
            object.__setattr__(self, "cov", 0.5 * (cov + cov.T))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "horizon", float(self.horizon))
        object.__setattr__(self, "_col", {n: i for i, n in enumerate(names)})

    @classmethod
    def from_model(cls, model: DriverModel) -> ShockSpace:
        """The drivers of a model, with its horizon mean ``log_mean`` and covariance ``log_cov``."""
        return cls(tuple(model.names), tuple(model.kinds), model.horizon, model.log_mean, model.log_cov)

    @classmethod
    def from_sample(
        cls,
        scenarios: DriverScenarios,
        kinds: Sequence[DriverKind] | Mapping[str, DriverKind],
        p: np.ndarray | None = None,
    ) -> ShockSpace:
        """The drivers of a scenario set, with its probability-weighted mean and covariance.

        Parameters
        ----------
        scenarios : (n, D) scenario values (e.g. a historical scenario set) and their horizon.
        kinds : (D,) kinds in ``scenarios.names`` order, or a mapping name -> kind.
        p : (n,) probabilities (>= 0, normalised here); ``None`` = uniform. The covariance is
            ``sum_i p_i (x_i - m)(x_i - m)^T`` (divisor 1, as the moment-matched scenarios).
        """
        x = aligned(scenarios.values)
        n = x.shape[0]
        w = np.full(n, 1.0 / n) if p is None else np.asarray(p, dtype=float)
        if n < 1 or w.shape != (n,) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError("p must be (n,), >= 0 and not all zero, with n >= 1 scenarios")
        w = w / w.sum()
        mean = w @ x
        dev = x - mean
        cov = (dev * w[:, None]).T @ dev
        if isinstance(kinds, Mapping):
            missing = [n for n in scenarios.names if n not in kinds]
            if missing:
                raise ValueError(f"no kind for driver(s) {', '.join(missing)}")
            kinds = [kinds[n] for n in scenarios.names]
        return cls(tuple(scenarios.names), tuple(kinds), scenarios.horizon, mean, cov)

    @property
    def kind_of(self) -> dict[str, str]:
        """Driver name -> kind."""
        return dict(zip(self.names, self.kinds))

    def index(self, name: str) -> int:
        """Column of driver ``name`` (ValueError naming it and the known drivers otherwise)."""
        try:
            return self._col[name]
        except KeyError:
            raise ValueError(f"unknown driver {name!r} (drivers: {', '.join(self.names)})") from None


def check_shocks(shocks: Sequence[DriverShock], names: Sequence[str]) -> None:
    """Raise ValueError for duplicate shock names or a shock naming an unknown driver.

    The message names the shock, every unknown driver and the known drivers.
    """
    known = set(names)
    seen: set[str] = set()
    for s in shocks:
        if s.name in seen:
            raise ValueError(f"shock name {s.name!r} is used twice")
        seen.add(s.name)
        unknown = [d for d in s.moves if d not in known]
        if unknown:
            listed = ", ".join(repr(d) for d in unknown)
            raise ValueError(f"shock {s.name!r}: unknown driver{'s' if len(unknown) > 1 else ''} {listed} "
                             f"(drivers: {', '.join(names)})")


def shock_moves(shock: DriverShock, space: ShockSpace) -> dict[str, float]:
    """The shock's moves in the model's units (simple returns of spot / fx turned into logs).

    Returns
    -------
    driver name -> horizon value ``x`` (log-change for spot / fx / vol, additive for rate).
    """
    check_shocks([shock], space.names)
    kind = space.kind_of
    out: dict[str, float] = {}
    for driver, v in shock.moves.items():
        if shock.as_simple and kind[driver] in _SIMPLE_KINDS:
            if not v > -1.0:
                raise ValueError(f"shock {shock.name!r}: simple return of {driver!r} must be > -1, got {v!r}")
            v = float(np.log1p(v))
        out[driver] = v
    return out


def conditional_mean(
    mean: np.ndarray, cov: np.ndarray, shocked: Sequence[int], x_shocked: np.ndarray
) -> np.ndarray:
    """Conditional mean of a joint law given some of its coordinates.

    Parameters
    ----------
    mean : (D,) mean; cov : (D, D) covariance (PSD).
    shocked : (k,) distinct column indices of the given coordinates.
    x_shocked : (k,) or (n, k) their values.

    Returns
    -------
    (D,) or (n, D): the given values in the ``shocked`` columns and
    ``mu_u + Sigma_us Sigma_ss^+ (x_s - mu_s)`` in the others.
    """
    mu = np.asarray(mean, dtype=float)
    c = np.asarray(cov, dtype=float)
    s = np.asarray(shocked, dtype=int)
    xs = np.asarray(x_shocked, dtype=float)
    single = xs.ndim == 1
    xs = np.atleast_2d(xs)
    if len(set(s.tolist())) != s.size or xs.shape[1] != s.size:
        raise ValueError("shocked must be distinct indices, one per column of x_shocked")
    u = np.setdiff1d(np.arange(mu.size), s)
    out = np.empty((xs.shape[0], mu.size))
    out[:, s] = xs
    if u.size:
        if s.size:
            gain = c[np.ix_(u, s)] @ np.linalg.pinv(c[np.ix_(s, s)], hermitian=True)  # (u, k)
            out[:, u] = mu[u] + (xs - mu[s]) @ gain.T
        else:
            out[:, u] = mu[u]
    return out[0] if single else out


def shock_values(
    shocks: Sequence[DriverShock], space: ShockSpace, propagate: Propagation = "none"
) -> np.ndarray:
    """(n_shocks, D) horizon values of every driver (``space.names`` order) under each shock.

    Shocked drivers take their move (:func:`shock_moves`); the others follow ``propagate`` (see
    the module docstring). Shocks that move the same set of drivers share one conditional gain.
    """
    if propagate not in PROPAGATIONS:
        raise ValueError(f"unknown propagate {propagate!r}; use one of {', '.join(PROPAGATIONS)}")
    if propagate == "conditional" and space.mean is None:
        raise ValueError("propagate 'conditional' needs the drivers' mean and covariance (ShockSpace.from_model)")
    check_shocks(shocks, space.names)
    out = np.zeros((len(shocks), len(space.names)))
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, shock in enumerate(shocks):
        moves = shock_moves(shock, space)
        cols = tuple(sorted(space.index(d) for d in moves))
        for d, v in moves.items():
            out[i, space.index(d)] = v
        groups.setdefault(cols, []).append(i)
    if propagate == "conditional":
        for cols, rows in groups.items():
            idx = list(cols)
            out[rows] = conditional_mean(space.mean, space.cov, idx, out[np.ix_(rows, idx)])
    return out


def shock_scenarios(
    shocks: Sequence[DriverShock], space: ShockSpace, propagate: Propagation = "none"
) -> DriverScenarios:
    """The shocks as :class:`DriverScenarios`: one row per shock, ``space.names`` columns, no paths."""
    return DriverScenarios(list(space.names), shock_values(shocks, space, propagate), space.horizon)


def shock_pnl(
    instruments: Sequence[Instrument],
    shocks: Sequence[DriverShock],
    space: ShockSpace,
    propagate: Propagation = "none",
) -> np.ndarray:
    """(n_shocks, N) P&L per unit exposure of every instrument under every shock.

    Full revaluation at the shocked drivers by the scenarios' repricing
    (:func:`tasks.instruments.scenario_pnl` on :func:`shock_scenarios`).
    """
    return _repricing.scenario_pnl(instruments, shock_scenarios(shocks, space, propagate))


def shock_contributions(pnl: np.ndarray, exposures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Portfolio P&L under each shock and each instrument's contribution to it.

    Parameters
    ----------
    pnl : (n_shocks, N) P&L per unit exposure (:func:`shock_pnl`).
    exposures : (M, N) exposures of M portfolios (per unit of portfolio value), or (N,) for one.

    Returns
    -------
    (portfolio (M, n_shocks), contributions (M, n_shocks, N)) with
    ``contributions[m, s, i] = exposures[m, i] * pnl[s, i]`` and ``portfolio`` their sum over
    ``i`` (P&L per unit of portfolio value; M = 1 for a (N,) ``exposures``).
    """
    r = aligned(pnl)
    e = np.atleast_2d(np.asarray(exposures, dtype=float))
    if r.ndim != 2 or e.ndim != 2 or e.shape[1] != r.shape[1]:
        raise ValueError(f"pnl must be (n_shocks, N) and exposures (M, N); got {r.shape} and {e.shape}")
    contributions = e[:, None, :] * r[None, :, :]
    return contributions.sum(axis=2), contributions


# ---- historical replays -------------------------------------------------------------------------

def _label(index: pd.Index, pos: int) -> str:
    """Shock name of row ``pos``: its date (``YYYY-MM-DD``, or ISO with a time), its label, or
    ``"row <pos>"`` for a default integer index."""
    if isinstance(index, pd.DatetimeIndex):
        ts = index[pos]
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.isoformat()
    if isinstance(index, pd.RangeIndex):
        return f"row {pos}"
    return str(index[pos])


def _position(index: pd.Index, row: object) -> int:
    """Row position of ``row``: an int is a 0-based position (negative from the end), anything
    else an index label (a date for a DatetimeIndex)."""
    n = len(index)
    if isinstance(row, (int, np.integer)) and not isinstance(row, bool):
        if not -n <= int(row) < n:
            raise ValueError(f"row {row} is out of range: the history has {n} rows (positions 0..{n - 1})")
        return int(row) % n
    if isinstance(index, pd.DatetimeIndex):
        try:
            mask = index == pd.Timestamp(row)
        except (TypeError, ValueError):
            raise ValueError(f"row {row!r} is not a date (the history is indexed by date)") from None
    else:
        mask = index.astype(str) == str(row)
    hits = np.flatnonzero(np.asarray(mask))
    if hits.size == 0:
        span = f" ({_label(index, 0)} .. {_label(index, n - 1)})" if n else ""
        raise ValueError(f"row {row!r} is not in the history{span}")
    if hits.size > 1:
        raise ValueError(f"row {row!r} labels {hits.size} rows of the history; give a position instead")
    return int(hits[0])


def history_shocks(
    frame: pd.DataFrame,
    rows: Sequence[object] | None = None,
    *,
    columns: Sequence[str] | None = None,
    returns: ReturnKind | Mapping[str, ReturnKind] = "log",
) -> list[DriverShock]:
    """Rows of a driver-returns table as shocks of every driver column.

    Parameters
    ----------
    frame : rows = observations, columns = drivers (changes over one period, see
        :func:`tasks.scenarios.frame_values`); a DatetimeIndex names the rows by date.
    rows : the rows to replay, in the order given: ints are 0-based positions (negative from the
        end), anything else an index label (a date string for a DatetimeIndex); ``None`` = all.
    columns : driver columns (default all); returns : how the columns are stored (``"log"``,
        ``"simple"`` -> ``log1p``, ``"change"``), one kind or per column.

    Returns
    -------
    One :class:`DriverShock` per row (moves in model units, ``as_simple=False``), named by the
    row's date / label (``"row <pos>"`` for a default integer index).
    """
    positions = list(range(len(frame))) if rows is None else [_position(frame.index, r) for r in rows]
    if len(set(positions)) != len(positions):
        raise ValueError("a history row is selected twice")
    names, x = frame_values(frame.iloc[positions], columns, returns)
    return [DriverShock(_label(frame.index, p), dict(zip(names, x[i].tolist())))
            for i, p in enumerate(positions)]


def worst_rows(portfolio_pnl: np.ndarray, k: int) -> np.ndarray:
    """(k,) positions of the k lowest P&Ls (largest losses), worst first, ties in row order."""
    v = np.asarray(portfolio_pnl, dtype=float)
    if v.ndim != 1:
        raise ValueError("portfolio_pnl must be (T,)")
    if not 1 <= int(k) <= v.size:
        raise ValueError(f"k must be in 1..{v.size} (the number of rows), got {k}")
    return np.argsort(v, kind="stable")[: int(k)]


def worst_history_shocks(
    frame: pd.DataFrame,
    k: int,
    instruments: Sequence[Instrument],
    exposures: np.ndarray,
    space: ShockSpace,
    propagate: Propagation = "none",
    *,
    columns: Sequence[str] | None = None,
    returns: ReturnKind | Mapping[str, ReturnKind] = "log",
) -> list[DriverShock]:
    """The ``k`` rows of a driver-returns table in which a portfolio loses most, as shocks.

    Every row is replayed (:func:`history_shocks`), repriced (:func:`shock_pnl` with
    ``propagate``) and valued with ``exposures`` (N,); the ``k`` lowest portfolio P&Ls are kept,
    worst first (ties in row order).
    """
    e = np.asarray(exposures, dtype=float)
    if e.shape != (len(instruments),):
        raise ValueError(f"exposures must be ({len(instruments)},), got {e.shape}")
    shocks = history_shocks(frame, None, columns=columns, returns=returns)
    if not 1 <= int(k) <= len(shocks):
        raise ValueError(f"k must be in 1..{len(shocks)} (the rows of the history), got {k}")
    portfolio, _ = shock_contributions(shock_pnl(instruments, shocks, space, propagate), e)
    return [shocks[i] for i in worst_rows(portfolio[0], k)]
