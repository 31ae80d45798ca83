"""Resolve the user's book, shocks and limits into plan pieces, once, on the client.

:func:`book_holdings` reads the book (inline, or a positions file of exposures or quantities),
:func:`shock_plan` the named shocks and historical replays, :func:`limits_plan` the limits and the
rebalancing cost rates. Problems only the read files or the built objects reveal (unknown
instruments in a positions file, a book off its budget, an unknown driver column or row of a
replay) raise :class:`pipeline.errors.ConfigError` with the key path, before any work starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError
from pipeline.plan import BookPlan, HistoryPlan, LimitsPlan, ShockEntry, ShockPlan, SimulationPlan
from pipeline.schema import RunConfig, ShockSpec
from pipeline.validate_book import unknown_name
from tasks.errors import ScenarioFileError
from tasks.optimization import Constraints
from tasks.scenarios import DriverShock, ShockSpace, history_shocks, read_scenario_file
from tasks.vocabulary import RiskMeasure

__all__ = ["book_holdings", "shock_plan", "limits_plan", "unit_notional", "by_name", "BUDGET_TOL"]

#: how far the book's v'e may be from 1 (exposures are per unit of portfolio value)
BUDGET_TOL = 1e-6
#: kinds whose quantity is in units of the underlying, each worth the instrument's ``spot``
_PER_UNDERLYING = ("future", "forward", "option", "fx_forward")


# ---- the book -----------------------------------------------------------------------------------

def unit_notional(spec: Any) -> float:
    """Currency notional of one unit of an instrument: its ``spot`` for futures, forwards, options
    and FX forwards (a unit is one unit of the underlying), else 1 (a quantity of cash or equity is
    its value in currency, of a bond its face, of a variance swap its variance notional)."""
    return float(spec.spot) if spec.kind in _PER_UNDERLYING else 1.0


def book_holdings(cfg: RunConfig, book: BookPlan) -> BookPlan:
    """``book`` with the user's holdings (N,) and value, checked against the budget ``v'e = 1``."""
    spec = cfg.book
    if spec is None:
        return book
    names = list(book.names)
    if spec.holdings is not None:
        e = np.array([float(spec.holdings.get(n, 0.0)) for n in names])
        value = spec.value
        where = "book.holdings"
    else:
        e, value = _positions(cfg, book)
        where = "book.file"
    if spec.cash is not None:
        e = _with_cash(e, book, spec.cash)
    budget = float(book.v @ e)
    if abs(budget - 1.0) > BUDGET_TOL:
        raise ConfigError(where, _budget_reason(budget, book, cfg))
    return replace(book, holdings=e, value=value)


def _with_cash(e: np.ndarray, book: BookPlan, cash: str) -> np.ndarray:
    """``e`` with instrument ``cash``'s exposure set so that ``v'e = 1``."""
    j = list(book.names).index(cash)
    if not abs(book.v[j]) > 1e-12:
        raise ConfigError("book.cash", f"{cash!r} has no market value (v = {book.v[j]:g}): it cannot hold "
                                       f"the rest of the book's value; name a cash or bond instrument")
    out = e.copy()
    out[j] = 0.0
    out[j] = (1.0 - float(book.v @ out)) / book.v[j]
    return out


def _budget_reason(budget: float, book: BookPlan, cfg: RunConfig) -> str:
    gap = 1.0 - budget
    cash = [n for n, info in zip(book.names, book.info) if info["kind"] == "cash"]
    fix = (f"set book.cash: {cash[0]} to let it hold the rest, or add {gap:+.6g} to its exposure"
           if cash else "add a cash instrument and name it in book.cash")
    return (f"the book's market value v'e is {budget:.6g}, not 1: exposures are per unit of portfolio value, "
            f"so they must sum (weighted by each instrument's relative market value v) to 1; {fix}")


def _read_table(path: Path, key: str) -> pd.DataFrame:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (OSError, ValueError, ImportError) as exc:
        raise ConfigError(key, f"cannot read {path.name}: {exc}") from None


def _positions(cfg: RunConfig, book: BookPlan) -> tuple[np.ndarray, float | None]:
    """Exposures (N,) and value of a positions file: ``instrument`` with ``exposure``, or with
    ``quantity`` (and optional ``multiplier``) converted with ``book.value``."""
    assert cfg.book is not None and cfg.book.file is not None
    path = cfg.path(cfg.book.file)
    df = _read_table(path, "book.file")
    cols = [str(c) for c in df.columns]
    amount = "exposure" if "exposure" in cols else "quantity" if "quantity" in cols else None
    if "instrument" not in cols or amount is None:
        raise ConfigError("book.file", f"{path.name} needs the columns instrument and exposure (per unit of "
                                       f"portfolio value), or instrument and quantity (with book.value); it has: "
                                       f"{', '.join(cols)}")
    if "exposure" in cols and "quantity" in cols:
        raise ConfigError("book.file", f"{path.name} has both exposure and quantity columns: keep one")
    names = list(book.names)
    inst = df["instrument"].astype(str).str.strip()
    for row, name in enumerate(inst, start=1):
        if name not in names:
            raise ConfigError("book.file", f"{path.name} row {row}: " + unknown_name("instrument", name, names))
    if dup := sorted(set(inst[inst.duplicated()])):
        raise ConfigError("book.file", f"{path.name} lists {', '.join(dup)} more than once: one row per instrument")
    x = _numbers(df, amount, path.name)
    if amount == "exposure":
        return _spread(names, inst, x), cfg.book.value
    mult = _numbers(df, "multiplier", path.name) if "multiplier" in cols else np.ones(len(df))
    specs = {s.name: s for s in cfg.instruments}
    notional = _spread(names, inst, x * mult * np.array([unit_notional(specs[n]) for n in inst]))
    value = cfg.book.value
    if value is None:
        value = float(book.v @ notional)  # the book's market value at the model's prices
        if not value > 0:
            raise ConfigError("book.value", f"the positions' market value is {value:.6g}: give book.value, "
                                            f"the book's value in currency")
    return notional / value, value


def _numbers(df: pd.DataFrame, col: str, file: str) -> np.ndarray:
    x = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    bad = [str(i + 1) for i in np.flatnonzero(~np.isfinite(x))]
    if bad:
        raise ConfigError("book.file", f"{file}: column {col} has no finite number in row(s) {', '.join(bad[:10])}")
    return x


def _spread(names: list[str], inst: pd.Series, x: np.ndarray) -> np.ndarray:
    """(N,) in instrument order from per-row values (instruments not listed: 0)."""
    out = np.zeros(len(names))
    for name, val in zip(inst, x):
        out[names.index(name)] = val
    return out


# ---- shocks -------------------------------------------------------------------------------------

def _space(scenarios: SimulationPlan | HistoryPlan, book: BookPlan) -> ShockSpace:
    """The drivers shocks move, with the scenario model's (or the scenario file's) law."""
    if isinstance(scenarios, SimulationPlan):
        return ShockSpace.from_model(scenarios.model)
    return ShockSpace.from_sample(scenarios.scenarios, list(book.driver_kinds), scenarios.p)


def shock_plan(cfg: RunConfig, scenarios: SimulationPlan | HistoryPlan, book: BookPlan) -> ShockPlan | None:
    """The ``shocks:`` entries as :class:`ShockEntry` s (replay files read and checked here)."""
    if not cfg.shocks:
        return None
    space = _space(scenarios, book)
    entries = []
    for i, s in enumerate(cfg.shocks):
        if s.from_history is None:
            shock = DriverShock(s.name, dict(s.drivers), as_simple=s.as_ == "simple")
            entries.append(ShockEntry(s.name, (shock,), s.propagate, "config"))
        else:
            entries.append(_replay(cfg, i, s, space))
    return ShockPlan(tuple(entries), space)


def _replay_frame(cfg: RunConfig, key: str, s: ShockSpec, space: ShockSpace) -> tuple[pd.DataFrame, dict[str, str]]:
    """The replay file as one-period driver changes (prices differenced) and each column's kind
    of change (``log``/``simple``/``change``)."""
    h = s.from_history
    assert h is not None
    path = cfg.path(h.file)
    try:
        df = read_scenario_file(path, h.date_column)
    except ScenarioFileError as exc:
        field = "date_column" if exc.field == "date_column" else "file"
        raise ConfigError(f"{key}.from_history.{field}", str(exc)) from None
    kinds = space.kind_of
    for col in df.columns:
        if str(col) not in kinds:
            raise ConfigError(f"{key}.from_history.file", f"{path.name}: column {col!r} is not a driver: "
                              + unknown_name("driver", str(col), kinds) + "; remove the column or rename it")
    df.columns = [str(c) for c in df.columns]
    if h.returns == "prices":
        levels = df.to_numpy(dtype=float)
        rate = np.array([kinds[c] == "rate" for c in df.columns])
        if np.any(levels[:, ~rate] <= 0):
            raise ConfigError(f"{key}.from_history.returns", f"{path.name}: prices must be > 0 (rate columns "
                                                             f"hold levels)")
        steps = np.where(rate, np.diff(levels, axis=0), np.diff(np.log(np.where(rate, 1.0, levels)), axis=0))
        df = pd.DataFrame(steps, index=df.index[1:], columns=df.columns)
        returns = {c: "change" if kinds[c] == "rate" else "log" for c in df.columns}
    else:
        returns = {c: "change" if kinds[c] == "rate" else h.returns for c in df.columns}
    if len(df) == 0:
        raise ConfigError(f"{key}.from_history.file", f"{path.name} has no rows to replay")
    return df, returns


def _replay(cfg: RunConfig, i: int, s: ShockSpec, space: ShockSpace) -> ShockEntry:
    """A historical replay: the chosen rows (1-based numbers or labels), or every row for worst."""
    key = f"shocks[{i}]"
    h = s.from_history
    assert h is not None
    df, returns = _replay_frame(cfg, key, s, space)
    offset = 2 if h.returns == "prices" else 1  # file row n is position n - offset (prices: the change into row n)
    rows = None if h.rows is None else [r - offset if isinstance(r, int) else r for r in h.rows]
    if h.returns == "prices" and any(isinstance(r, int) and r < 0 for r in rows or []):
        raise ConfigError(f"{key}.from_history.rows", "row 1 holds the first prices: it has no change to replay")
    try:
        found = history_shocks(df, rows, returns=returns)
    except ValueError as exc:
        raise ConfigError(f"{key}.from_history.rows", str(exc)) from None
    if h.worst is not None and h.worst > len(found):
        raise ConfigError(f"{key}.from_history.worst", f"{h.worst} rows asked for, the file has {len(found)}")
    shocks = tuple(DriverShock(f"{s.name}:{x.name}", x.moves) for x in found)
    source = "history worst" if h.worst is not None else "history"
    return ShockEntry(s.name, shocks, s.propagate, source, h.worst)


# ---- limits and rebalance -----------------------------------------------------------------------

def by_name(mapping: Mapping[str, Any], cfg: RunConfig, default: Any) -> list[Any]:
    """Per instrument: its own entry, else its kind's, else ``default``'s, else ``default``."""
    return [mapping.get(s.name, mapping.get(s.kind, mapping.get("default", default))) for s in cfg.instruments]


def limits_plan(cfg: RunConfig, constraints: Constraints) -> LimitsPlan | None:
    """The book's limits (``constraints``: ``limits:`` in the constraint grammar, built by
    :mod:`pipeline.resolve`) with its bounds, caps under view sets and the cost rates."""
    lim = cfg.limits
    if lim is None:
        return None
    pairs = by_name(lim.bounds, cfg, (None, None))
    lo = np.array([-np.inf if a is None else float(a) for a, _ in pairs])
    hi = np.array([np.inf if b is None else float(b) for _, b in pairs])
    if np.isfinite(lo).any() or np.isfinite(hi).any():
        constraints = replace(constraints, bounds=(lo, hi))
    caps = tuple((name, RiskMeasure(rm), float(cap)) for name, per in lim.view_caps.items() for rm, cap in per.items())
    costs = None
    if cfg.rebalance is not None:
        costs = np.array([float(c) for c in by_name(cfg.rebalance.costs, cfg, 0.0)])
    opt = cfg.optimization
    return LimitsPlan(constraints, caps, opt.alpha, opt.rf, opt.demean, costs,
                      None if cfg.rebalance is None else cfg.rebalance.solver)
