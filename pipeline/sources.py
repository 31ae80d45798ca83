"""User scenario files: :mod:`tasks.scenarios`' loader, with the config's key paths on its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError
from tasks.errors import ScenarioFileError
from tasks.scenarios import DriverScenarios, load_scenario_file, scenario_file_columns

__all__ = ["source_columns", "load_source"]


def _config_error(exc: ScenarioFileError) -> ConfigError:
    return ConfigError(f"scenarios.{exc.field}", str(exc))


def source_columns(path: Path) -> list[str]:
    """Column names of the file at ``scenarios.source`` (header only)."""
    try:
        return scenario_file_columns(path)
    except ScenarioFileError as exc:
        raise _config_error(exc) from None


def load_source(path: Path, horizon: float, *, returns: str, probability_column: str | None,
                prior: str, half_life: float | None) -> tuple[DriverScenarios, np.ndarray]:
    """Driver log-returns over the horizon (S, D) and prior probabilities (S,) from the file."""
    try:
        return load_scenario_file(path, horizon, returns=returns, probability_column=probability_column,
                                  prior=prior, half_life=half_life)
    except ScenarioFileError as exc:
        raise _config_error(exc) from None
