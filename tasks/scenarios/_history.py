"""Historical / user data: scenarios and prior probabilities from a DataFrame; block bootstrap.

Rows of a history frame are observations in *chronological order* (oldest first, most recent
last); each column is one driver (or one instrument's P&L). Driver columns hold the change over
one observation period: ``"log"`` log-returns, ``"simple"`` simple returns (converted to log with
``log1p``), or ``"change"`` additive changes (rates, decimal). After conversion every driver value
is additive over time, as in :mod:`tasks.scenarios`.

Prior probabilities:

* ``"uniform"``: ``p_t = 1 / T``;
* ``"exponential"``: ``p_t ∝ 2 ** (-(T - 1 - t) / h)`` with half-life ``h`` observations: the
  weight halves every ``h`` rows going back from the most recent one; ``sum p = 1``.

Block bootstrap (:func:`bootstrap_chunk`): a path of ``n_steps`` periods is the concatenation of
``ceil(n_steps / L)`` blocks of ``L`` consecutive history rows, truncated to ``n_steps`` rows;
block starts are drawn uniformly from ``0..T-L`` (or proportionally to given row weights, e.g.
exponential-decay probabilities). Path points are the running sums of the sampled rows and the
one-period scenario *is* the path terminal (sum of the steps). Scenario block ``b`` draws its starts
from ``SeedSequence(seed, (b,))``, so results are identical for any chunking.

Prices and horizons: :func:`price_log_returns` turns (T, D) price levels into the (T - 1, D)
log-returns between consecutive rows, and :func:`aggregate_periods` sums k consecutive per-period
log-returns into one non-overlapping k-period scenario (compounding the simple returns: ``exp(sum)
- 1 = prod(1 + r) - 1``), keeping the most recent ``(T // k) * k`` rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from tasks.scenarios import _generation as sc
from tasks.scenarios._drivers import DriverScenarios

__all__ = [
    "ReturnKind",
    "Prior",
    "uniform_probabilities",
    "exponential_decay_probabilities",
    "prior_probabilities",
    "frame_values",
    "historical_scenarios",
    "historical_pnl",
    "bootstrap_chunk",
    "bootstrap_scenarios",
    "price_log_returns",
    "aggregate_periods",
]

ReturnKind = Literal["log", "simple", "change"]
Prior = Literal["uniform", "exponential"]


def uniform_probabilities(n: int) -> np.ndarray:
    """(n,) equal probabilities ``1 / n``."""
    if n < 1:
        raise ValueError("n must be >= 1")
    return np.full(n, 1.0 / n)


def exponential_decay_probabilities(n: int, half_life: float) -> np.ndarray:
    """(n,) exponential-decay probabilities, most recent observation last.

    ``p_t ∝ 2 ** (-(n - 1 - t) / half_life)``, t = 0..n-1, normalised to sum to 1, so
    ``p[t - half_life] = p[t] / 2`` for an integer ``half_life`` (in observations, > 0).
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    if not half_life > 0:
        raise ValueError("half_life must be > 0")
    age = np.arange(n - 1, -1, -1, dtype=float)
    w = np.exp2(-age / float(half_life))
    return w / w.sum()


def prior_probabilities(n: int, prior: Prior = "uniform", half_life: float | None = None) -> np.ndarray:
    """(n,) prior probabilities of ``n`` chronological observations (see module docstring)."""
    if prior == "uniform":
        return uniform_probabilities(n)
    if prior == "exponential":
        if half_life is None:
            raise ValueError("prior 'exponential' needs half_life")
        return exponential_decay_probabilities(n, half_life)
    raise ValueError(f"unknown prior {prior!r}")


def _convert(x: np.ndarray, kind: str, name: str) -> np.ndarray:
    if kind in ("log", "change"):
        return x
    if kind == "simple":
        if np.any(x <= -1.0):
            raise ValueError(f"column {name!r}: simple returns must be > -1")
        return np.log1p(x)
    raise ValueError(f"column {name!r}: unknown return kind {kind!r}")


def frame_values(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    returns: ReturnKind | Mapping[str, ReturnKind] = "log",
) -> tuple[list[str], np.ndarray]:
    """Driver names and (T, D) additive per-period changes from a history frame.

    Parameters
    ----------
    frame : rows = observations (chronological), columns = drivers.
    columns : driver columns to use (default: all).
    returns : one kind for every column or a mapping column -> kind (missing columns: ``"log"``).
    """
    names = [str(c) for c in (frame.columns if columns is None else columns)]
    out = np.empty((len(frame), len(names)))
    for j, c in enumerate(names):
        x = frame[c].to_numpy(dtype=float)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"column {c!r} has NaN/inf values")
        kind = returns.get(c, "log") if isinstance(returns, Mapping) else returns
        out[:, j] = _convert(x, kind, c)
    return names, out


def _probabilities(frame: pd.DataFrame, probability_column: str | None, prior: Prior,
                   half_life: float | None) -> np.ndarray:
    if probability_column is None:
        return prior_probabilities(len(frame), prior, half_life)
    p = frame[probability_column].to_numpy(dtype=float)
    if np.any(~np.isfinite(p)) or np.any(p < 0) or not p.sum() > 0:
        raise ValueError(f"column {probability_column!r}: probabilities must be finite, >= 0, not all 0")
    return p / p.sum()


def historical_scenarios(
    frame: pd.DataFrame,
    horizon: float,
    *,
    columns: Sequence[str] | None = None,
    returns: ReturnKind | Mapping[str, ReturnKind] = "log",
    prior: Prior = "uniform",
    half_life: float | None = None,
    probability_column: str | None = None,
) -> tuple[DriverScenarios, np.ndarray]:
    """Each row of ``frame`` as one horizon scenario of the drivers, with prior probabilities.

    Returns
    -------
    (DriverScenarios with (T, D) values over ``horizon`` years, p (T,)). ``probability_column``
    (excluded from the drivers) overrides ``prior``.
    """
    if columns is None:
        columns = [c for c in frame.columns if c != probability_column]
    names, x = frame_values(frame, columns, returns)
    return DriverScenarios(names, x, float(horizon)), _probabilities(frame, probability_column, prior, half_life)


def historical_pnl(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    prior: Prior = "uniform",
    half_life: float | None = None,
    probability_column: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """User-supplied P&L per unit exposure: ((T, N) matrix in ``columns`` order, p (T,))."""
    r = frame[list(columns)].to_numpy(dtype=float)
    if not np.all(np.isfinite(r)):
        raise ValueError("P&L columns have NaN/inf values")
    return np.ascontiguousarray(r), _probabilities(frame, probability_column, prior, half_life)


def price_log_returns(prices: np.ndarray) -> np.ndarray:
    """(T - 1, D) log-returns ``ln(P_t / P_{t-1})`` of (T, D) chronological price levels (all > 0)."""
    P = np.asarray(prices, dtype=float)
    if P.ndim != 2 or P.shape[0] < 2:
        raise ValueError("prices must be (T, D) with T >= 2 rows")
    if not np.all(np.isfinite(P)) or np.any(P <= 0):
        raise ValueError("prices must be finite and > 0")
    return np.diff(np.log(P), axis=0)


def aggregate_periods(x: np.ndarray, p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping k-period scenarios from per-period additive changes.

    Parameters
    ----------
    x : (T, D) per-period log-returns (or additive changes), chronological (most recent last).
    p : (T,) row probabilities (>= 0, not all zero on the kept rows).
    k : periods per scenario (>= 1).

    Returns
    -------
    (X (T // k, D) sums of k consecutive rows, q (T // k,)): window w covers rows
    ``T - (T // k - w) * k`` up to ``+ k``, so the oldest ``T % k`` rows are dropped; ``q_w`` is the
    sum of its rows' probabilities, renormalised to 1 (an exponential prior on the rows stays
    exponential on the windows, with the half-life divided by k).
    """
    x = np.asarray(x, dtype=float)
    p = np.asarray(p, dtype=float)
    if k < 1 or x.ndim != 2 or p.shape != (x.shape[0],):
        raise ValueError("x must be (T, D), p (T,) and k >= 1")
    n = x.shape[0] // k
    if n < 1:
        raise ValueError(f"{x.shape[0]} rows hold no window of {k} periods")
    start = x.shape[0] - n * k
    X = x[start:].reshape(n, k, x.shape[1]).sum(axis=1)
    q = p[start:].reshape(n, k).sum(axis=1)
    if not q.sum() > 0:
        raise ValueError("the kept rows have zero probability")
    return np.ascontiguousarray(X), q / q.sum()


def bootstrap_chunk(
    history: np.ndarray,
    names: Sequence[str],
    seed: int,
    n_scenarios: int,
    block_size: int,
    blocks: list[int],
    n_steps: int,
    block_length: int,
    step_dt: float,
    weights: np.ndarray | None = None,
) -> DriverScenarios:
    """Block-bootstrap paths of one chunk of whole scenario blocks.

    Parameters
    ----------
    history : (T, D) additive per-period changes (:func:`frame_values`), chronological.
    names : (D,) driver names.
    seed : run seed; n_scenarios : S; block_size : scenarios per block; blocks : this chunk's.
    n_steps : periods per path (horizon = ``n_steps * step_dt``).
    block_length : L, consecutive history rows per bootstrap block (1 <= L <= T).
    step_dt : years per history period (e.g. 1/252 for daily data).
    weights : (T,) optional row weights; a block starting at row t is drawn with probability
        proportional to ``weights[t]`` (over the admissible starts). ``None``: uniform.

    Returns
    -------
    DriverScenarios with values = path terminals (n, D), paths (n, n_steps, D).
    """
    h = np.ascontiguousarray(history, dtype=float)
    t_len, d = h.shape
    if not 1 <= block_length <= t_len:
        raise ValueError("block_length must be in 1..T")
    n_starts = t_len - block_length + 1
    p = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)[:n_starts]
        if w.shape != (n_starts,) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError("weights must be (T,), >= 0, with positive mass on admissible starts")
        p = w / w.sum()
    pieces = math.ceil(n_steps / block_length)
    offsets = np.arange(block_length)
    ranges = sc.block_ranges(n_scenarios, block_size)
    out = []
    for b in blocks:
        n = ranges[b][1] - ranges[b][0]
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(b,))))
        starts = rng.choice(n_starts, size=(n, pieces), p=p) if p is not None else rng.integers(0, n_starts, (n, pieces))
        idx = (starts[:, :, None] + offsets).reshape(n, pieces * block_length)[:, :n_steps]
        out.append(np.cumsum(h[idx], axis=1))
    horizon = n_steps * float(step_dt)
    paths = np.concatenate(out, axis=0) if out else np.empty((0, n_steps, d))
    times = step_dt * np.arange(1, n_steps + 1, dtype=float)
    times[-1] = horizon
    return DriverScenarios(list(names), paths[:, -1, :], horizon, paths, times)


def bootstrap_scenarios(
    history: np.ndarray,
    names: Sequence[str],
    n_scenarios: int,
    seed: int,
    n_steps: int,
    block_length: int,
    step_dt: float,
    *,
    block_size: int = 1024,
    weights: np.ndarray | None = None,
) -> DriverScenarios:
    """All bootstrap paths of a run in one call (see :func:`bootstrap_chunk`)."""
    blocks = list(range(len(sc.block_ranges(n_scenarios, block_size))))
    return bootstrap_chunk(history, names, seed, n_scenarios, block_size, blocks, n_steps,
                           block_length, step_dt, weights)
