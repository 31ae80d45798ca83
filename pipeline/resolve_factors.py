"""Resolve ``scenarios.factor_model`` into a :class:`pipeline.plan.FactorModelPlan`.

Both histories are read (dates sorted, cells checked), aligned on their common dates (inner join)
and turned into per-period log-returns: ``log1p`` of simple returns, except the columns of
``rate`` drivers, which hold per-period changes and are used as they are. The loadings are the
OLS or stepwise fit of every asset on the factor drivers (:func:`tasks.scenarios.factor_loadings`).
A horizon of H years spans ``k = H * periods_per_year`` history periods (frequency from
``frequency`` or the dates), which must be a whole number >= 1 within 1e-6.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError
from pipeline.plan import FactorModelPlan
from pipeline.schema import RunConfig
from pipeline.validate_factors import factor_key
from tasks.errors import ScenarioFileError
from tasks.scenarios import (
    describe_frequency,
    factor_loadings,
    horizon_periods,
    infer_periods_per_year,
    periods_per_year,
    read_scenario_file,
)

__all__ = ["factor_model_plan", "aligned_histories", "MIN_ROWS_PER_REGRESSOR"]

#: common history rows needed per regressor (K factors + the constant + one): 2 x (K + 2)
MIN_ROWS_PER_REGRESSOR = 2
_WHOLE = 1e-6  # periods a horizon may miss a whole number of periods by


def _read(cfg: RunConfig, name: str, field: str) -> pd.DataFrame:
    fm = cfg.scenarios.factor_model
    assert fm is not None
    try:
        return read_scenario_file(cfg.path(name), fm.date_column)
    except ScenarioFileError as exc:
        raise ConfigError(factor_key("date_column" if exc.field == "date_column" else field), str(exc)) from None


def _log_returns(df: pd.DataFrame, returns: str, keep: set[str], file: str, field: str) -> np.ndarray:
    """(T, C) per-period log-returns of ``df``'s columns (columns in ``keep`` as they are)."""
    x = df.to_numpy(dtype=float).copy()
    if returns == "simple":
        conv = [j for j, c in enumerate(df.columns) if c not in keep]
        bad = x[:, conv] <= -1.0
        if bad.any():
            r, j = np.argwhere(bad)[0]
            raise ConfigError(factor_key(field), f"{file}: simple return {x[r, conv[j]]:g} <= -100 % in column "
                                                 f"{df.columns[conv[j]]!r} on {df.index[r]}; returns: log?")
        x[:, conv] = np.log1p(x[:, conv])
    return x


def _source_factors(cfg: RunConfig) -> pd.DataFrame:
    """Per-period factor log-returns from ``scenarios.source`` (its driver columns, dated rows;
    prices differenced in logs, the first date dropped)."""
    sc = cfg.scenarios
    path = cfg.source_path()
    assert path is not None
    try:
        df = read_scenario_file(path, sc.date_column)
    except ScenarioFileError as exc:
        raise ConfigError(f"scenarios.{exc.field}", str(exc)) from None
    factors = cfg.factor_drivers
    df = df[factors]
    if sc.returns != "prices":
        return pd.DataFrame(_log_returns(df, sc.returns, set(), path.name, "factors"), df.index, factors)
    levels = df.to_numpy(dtype=float)
    if not np.all(levels > 0):
        raise ConfigError("scenarios.returns", f"{path.name}: prices must be > 0")
    return pd.DataFrame(np.diff(np.log(levels), axis=0), df.index[1:], factors)


def aligned_histories(cfg: RunConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(asset log-returns (T, N), factor log-returns (T, K) in driver order), on common dates."""
    sc = cfg.scenarios
    fm = sc.factor_model
    assert fm is not None
    assets, factors = cfg.factor_assets, cfg.factor_drivers
    xa = _read(cfg, fm.file, "file")[assets]
    if fm.factors is None:  # the drivers come from scenarios.source: it is the factors' history
        f_frame, f_name = _source_factors(cfg), cfg.path(str(sc.source)).name
    else:
        kinds = {d.name: d.kind for d in sc.drivers}
        xf = _read(cfg, fm.factors, "factors")[factors]
        rates = {n for n, k in kinds.items() if k == "rate"}
        f_name = cfg.path(fm.factors).name
        f_frame = pd.DataFrame(_log_returns(xf, fm.returns, rates, f_name, "factors"), xf.index, factors)
    common = xa.index.intersection(f_frame.index)
    need = MIN_ROWS_PER_REGRESSOR * (len(factors) + 2)
    if len(common) < need:
        raise ConfigError(factor_key("file"), f"{cfg.path(fm.file).name} and {f_name} share {len(common)} dates "
                                              f"({fm.date_column!r}); the fit of {len(factors)} factors needs at "
                                              f"least {need}: give longer, overlapping histories")
    xa = xa.loc[common]
    a = _log_returns(xa, fm.returns, set(), cfg.path(fm.file).name, "file")
    return pd.DataFrame(a, common, assets), f_frame.loc[common]


def _per_year(cfg: RunConfig, dates: pd.Index) -> tuple[float, str]:
    fm = cfg.scenarios.factor_model
    assert fm is not None
    frequency = fm.frequency if fm.frequency is not None else cfg.scenarios.frequency
    if frequency is not None:
        try:
            f = periods_per_year(frequency)
        except ValueError as exc:
            raise ConfigError(factor_key("frequency"), str(exc)) from None
        return f, f"{describe_frequency(f)} (frequency)"
    inferred, seen = infer_periods_per_year(dates) if isinstance(dates, pd.DatetimeIndex) else (None, "no dates")
    if inferred is None:
        raise ConfigError(factor_key("frequency"), f"cannot infer the period of the history rows ({seen}): set "
                                                   "frequency (daily, weekly, monthly, ... or periods per year)")
    return inferred, f"{describe_frequency(inferred)} ({seen})"


def factor_model_plan(cfg: RunConfig) -> FactorModelPlan:
    """The factor model of ``cfg`` (validated; raises :class:`ConfigError` on the files' values)."""
    fm = cfg.scenarios.factor_model
    assert fm is not None
    xa, xf = aligned_histories(cfg)
    per_year, how = _per_year(cfg, xa.index)
    try:
        k = horizon_periods(cfg.horizon, per_year, tolerance=_WHOLE)
    except ValueError as exc:
        raise ConfigError("horizon", f"scenarios.factor_model: {exc}") from None
    try:
        lo = factor_loadings(xa.to_numpy(), xf.to_numpy(), assets=list(xa.columns), factors=list(xf.columns),
                             method=fm.method, threshold=fm.threshold)
    except ValueError as exc:
        raise ConfigError(factor_key("factors"), str(exc)) from None
    summary = (f"factor model: {lo.n_assets} assets on {lo.n_factors} factors, {fm.method} fit on {len(xa)} "
               f"common {how} rows, {k} periods per horizon, residuals {fm.residuals}")
    return FactorModelPlan(lo, tuple(range(lo.n_factors)), k, cfg.seed, fm.residuals, summary)
