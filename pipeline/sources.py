"""User scenario files: :mod:`tasks.scenarios`' loader, with the config's key paths on its errors."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import ConfigError
from tasks.errors import ScenarioFileError
from tasks.scenarios import HistoryFile, load_history_file, scenario_file_columns

__all__ = ["source_columns", "load_source"]

#: fields of :class:`tasks.errors.ScenarioFileError` that are top-level config keys
_TOP_LEVEL = frozenset({"horizon"})


def _config_error(exc: ScenarioFileError) -> ConfigError:
    return ConfigError(exc.field if exc.field in _TOP_LEVEL else f"scenarios.{exc.field}", str(exc))


def source_columns(path: Path) -> list[str]:
    """Column names of the file at ``scenarios.source`` (header only)."""
    try:
        return scenario_file_columns(path)
    except ScenarioFileError as exc:
        raise _config_error(exc) from None


def load_source(path: Path, horizon: float, *, returns: str, probability_column: str | None,
                prior: str, half_life: float | None, date_column: str | None = None,
                frequency: str | float | None = None) -> HistoryFile:
    """The file at ``scenarios.source`` as horizon scenarios: driver log-returns over the horizon
    (S, D), prior probabilities (S,), the rows' frequency and a one-line summary."""
    try:
        return load_history_file(path, horizon, returns=returns, probability_column=probability_column,
                                 prior=prior, half_life=half_life, date_column=date_column, frequency=frequency)
    except ScenarioFileError as exc:
        raise _config_error(exc) from None
