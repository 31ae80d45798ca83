"""User-supplied scenario files (Parquet or CSV): checking and loading.

A file holds one numeric column per risk driver (returns over the horizon, ``scenarios.returns``
says simple or log) and optionally a probability column (``scenarios.probability_column``).
Nothing is unpickled: Parquet is read with pyarrow, CSV with pandas.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from pipeline.config import RunConfig

__all__ = ["check_source", "read_source"]


def _read(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".parquet":
        return pq.read_table(path).to_pandas()
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    raise ValueError(f"unsupported file type {path.suffix!r} (use .parquet or .csv)")


def read_source(cfg: RunConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """Driver returns (S, D) as a DataFrame of *log*-returns and probabilities p (S,)."""
    from pipeline.config import ConfigError

    path = cfg.source_path()
    assert path is not None
    key = "scenarios.source"
    if not path.is_file():
        raise ConfigError(key, f"file not found: {path}")
    try:
        df = _read(path)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None
    except Exception as exc:  # unreadable / corrupt file
        raise ConfigError(key, f"cannot read {path.name}: {exc}") from None
    if df.shape[0] == 0:
        raise ConfigError(key, f"{path.name} has no rows")
    pcol = cfg.scenarios.probability_column
    if pcol is not None and pcol not in df.columns:
        raise ConfigError("scenarios.probability_column", f"column {pcol!r} not in {path.name}")
    cols = [c for c in df.columns if c != pcol]
    if not cols:
        raise ConfigError(key, f"{path.name} has no driver columns")
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise ConfigError(key, f"column {c!r} of {path.name} is not numeric")
        bad = ~np.isfinite(df[c].to_numpy(dtype=float))
        if bad.any():
            raise ConfigError(key, f"column {c!r} of {path.name} has {int(bad.sum())} NaN/inf values "
                                   f"(first at row {int(np.flatnonzero(bad)[0])})")
    x = df[cols].to_numpy(dtype=float)
    if cfg.scenarios.returns == "simple":
        if (x <= -1).any():
            raise ConfigError(key, "simple returns must be > -1")
        x = np.log1p(x)
    if pcol is None:
        from tasks.scenarios import prior_probabilities

        p = prior_probabilities(len(df), cfg.scenarios.prior, cfg.scenarios.half_life)
    else:
        p = df[pcol].to_numpy(dtype=float)
        if (p < 0).any():
            raise ConfigError("scenarios.probability_column", "probabilities must be >= 0")
        if abs(p.sum() - 1.0) > 1e-6:
            raise ConfigError("scenarios.probability_column", f"probabilities sum to {p.sum():.8g}, not 1")
        p = p / p.sum()
    return pd.DataFrame(x, columns=[str(c) for c in cols]), p


def check_source(cfg: RunConfig) -> None:
    """Validate the scenario file and record its driver columns on the config."""
    from pipeline.config import ConfigError

    if cfg.scenarios.drivers:
        raise ConfigError("scenarios.drivers", "drivers come from the columns of scenarios.source; remove this key")
    if cfg.scenarios.probability_column is not None and cfg.scenarios.prior != "uniform":
        raise ConfigError("scenarios.prior", "give either a probability_column or a prior, not both")
    if cfg.scenarios.correlation is not None:
        raise ConfigError("scenarios.correlation", "not used with scenarios.source; remove this key")
    x, _ = read_source(cfg)
    cfg._source_columns = list(x.columns)
