"""User scenario files (Parquet or CSV): the one loader, for the pipeline and for notebooks.

A file holds one numeric column per risk driver (returns over the horizon: ``"simple"`` or
``"log"``) and optionally a probability column. Nothing is unpickled: Parquet is read with
pyarrow, CSV with pandas. Every problem raises :class:`tasks.errors.ScenarioFileError`, whose
``field`` says which setting it concerns (``"source"`` or ``"probability_column"``) so a caller
can point at its own key (the pipeline adds ``scenarios.`` and the key path).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from tasks.errors import ScenarioFileError
from tasks.scenarios._drivers import DriverScenarios
from tasks.scenarios._history import Prior, ReturnKind, historical_scenarios

__all__ = ["read_scenario_file", "scenario_file_columns", "load_scenario_file"]

_SUFFIXES = (".parquet", ".csv")


def _check_path(path: Path) -> None:
    if not path.is_file():
        raise ScenarioFileError("source", f"file not found: {path}")
    if path.suffix.lower() not in _SUFFIXES:
        raise ScenarioFileError("source", f"unsupported file type {path.suffix!r} (use .parquet or .csv)")


def scenario_file_columns(path: str | Path) -> list[str]:
    """Column names of a scenario file, reading its header only (Parquet schema / CSV first line)."""
    path = Path(path)
    _check_path(path)
    try:
        if path.suffix.lower() == ".parquet":
            return [str(c) for c in pq.read_schema(path).names if not str(c).startswith("__index_level_")]
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except Exception as exc:  # unreadable / corrupt file
        raise ScenarioFileError("source", f"cannot read {path.name}: {exc}") from None


def read_scenario_file(path: str | Path) -> pd.DataFrame:
    """The whole file as a DataFrame (rows = scenarios), checked: rows present, columns numeric."""
    path = Path(path)
    _check_path(path)
    try:
        df = pq.read_table(path).to_pandas() if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # unreadable / corrupt file
        raise ScenarioFileError("source", f"cannot read {path.name}: {exc}") from None
    if df.shape[0] == 0:
        raise ScenarioFileError("source", f"{path.name} has no rows")
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise ScenarioFileError("source", f"column {c!r} of {path.name} is not numeric")
        bad = ~np.isfinite(df[c].to_numpy(dtype=float))
        if bad.any():
            raise ScenarioFileError("source", f"column {c!r} of {path.name} has {int(bad.sum())} NaN/inf values "
                                              f"(first at row {int(np.flatnonzero(bad)[0])})")
    return df


def _check_probabilities(df: pd.DataFrame, column: str, file: str) -> None:
    if column not in df.columns:
        raise ScenarioFileError("probability_column", f"column {column!r} not in {file}")
    p = df[column].to_numpy(dtype=float)
    if (p < 0).any():
        raise ScenarioFileError("probability_column", "probabilities must be >= 0")
    if abs(p.sum() - 1.0) > 1e-6:
        raise ScenarioFileError("probability_column", f"probabilities sum to {p.sum():.8g}, not 1")


def load_scenario_file(
    path: str | Path,
    horizon: float,
    *,
    returns: ReturnKind = "simple",
    probability_column: str | None = None,
    prior: Prior = "uniform",
    half_life: float | None = None,
) -> tuple[DriverScenarios, np.ndarray]:
    """Each row of a scenario file as one horizon scenario of its driver columns.

    Parameters
    ----------
    path : ``.parquet`` or ``.csv`` file; one numeric column per driver (+ the probability column).
    horizon : years the rows' returns span.
    returns : ``"simple"`` (converted with ``log1p``; must be > -1) or ``"log"``.
    probability_column : column of scenario probabilities (>= 0, summing to 1 within 1e-6);
        without it the prior is ``prior`` (``"uniform"``, or ``"exponential"`` with ``half_life``
        rows, the last row the most recent).

    Returns
    -------
    (DriverScenarios with (S, D) log-returns, p (S,)), as :func:`tasks.scenarios.historical_scenarios`.
    """
    path = Path(path)
    df = read_scenario_file(path)
    if probability_column is not None:
        _check_probabilities(df, probability_column, path.name)
    columns = [c for c in df.columns if c != probability_column]
    if not columns:
        raise ScenarioFileError("source", f"{path.name} has no driver columns")
    try:
        return historical_scenarios(df, horizon, columns=columns, returns=returns, prior=prior,
                                    half_life=half_life, probability_column=probability_column)
    except ValueError as exc:  # e.g. simple returns <= -1
        raise ScenarioFileError("source", str(exc)) from None
