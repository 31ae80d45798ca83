"""Checks of ``scenarios.factor_model`` that need only the files' headers (the assets become drivers).

The asset file's columns (all but the date column) are the asset drivers; they are recorded on the
config (``cfg._factor_assets``) so that :attr:`pipeline.schema.RunConfig.driver_names` lists them
after the factor drivers. With simulated drivers the factor file must hold the date column and one
column per simulated driver, nothing else; with ``scenarios.source`` there is no factor file: the
source's driver columns are the factors and the source (with its ``date_column``) is their
history. The numbers are read and checked in :mod:`pipeline.resolve_factors`.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.schema import RunConfig
from tasks.errors import ScenarioFileError
from tasks.scenarios import scenario_file_columns

__all__ = ["check_factor_model", "factor_key"]

_KEY = "scenarios.factor_model"


def factor_key(field: str) -> str:
    """Key path of a ``scenarios.factor_model`` field."""
    return f"{_KEY}.{field}"


def _columns(path: Path, field: str) -> list[str]:
    try:
        return scenario_file_columns(path)
    except ScenarioFileError as exc:
        raise ConfigError(factor_key(field), f"{exc} (check the path, relative to the config file)") from None


def check_factor_model(cfg: RunConfig) -> None:
    """Raise :class:`ConfigError` for the first problem of ``scenarios.factor_model``'s settings
    and file headers; record the asset drivers on ``cfg``."""
    sc = cfg.scenarios
    fm = sc.factor_model
    if fm is None:
        return
    if sc.steps is not None:
        raise ConfigError("scenarios.steps", "path steps are not available with a factor_model (asset drivers "
                                             "have horizon values only); remove steps or the factor_model")
    if sc.source is not None:
        _check_source_factors(cfg)
        drivers = [c for c in cfg._source_columns or [] if c != sc.date_column]
    else:
        if fm.factors is None:
            raise ConfigError(factor_key("factors"), "the simulated factor drivers need their history: factors: "
                                                     "<file with the date column and one column per driver>")
        drivers = [d.name for d in sc.drivers]
    asset_path = cfg.path(fm.file)
    columns = _columns(asset_path, "file")
    if fm.date_column not in columns:
        raise ConfigError(factor_key("date_column"), f"column {fm.date_column!r} not in {asset_path.name} "
                                                     f"(columns: {', '.join(columns)})")
    assets = [c for c in columns if c != fm.date_column]
    if not assets:
        raise ConfigError(factor_key("file"), f"{asset_path.name} has no asset columns besides {fm.date_column!r}")
    if clash := [a for a in assets if a in drivers]:
        raise ConfigError(factor_key("file"), f"asset column(s) {', '.join(map(repr, clash))} of {asset_path.name} "
                                              "have the name of a factor driver; rename the column or the driver")
    if fm.factors is not None:
        _check_factor_file(cfg, drivers)
    cfg._factor_assets = assets
    for i, s in enumerate(cfg.shocks):
        for name in s.drivers:
            if name in assets:
                raise ConfigError(f"shocks[{i}].drivers.{name}",
                                  f"{name!r} is an asset of scenarios.factor_model: it moves with the factors "
                                  "(k alpha + B x), so shock the factor drivers instead")


def _check_source_factors(cfg: RunConfig) -> None:
    """With ``scenarios.source`` the factors are its driver columns and it is their history."""
    sc = cfg.scenarios
    fm = sc.factor_model
    assert fm is not None
    if fm.factors is not None:
        raise ConfigError(factor_key("factors"), "the factors' history is scenarios.source (its driver columns "
                                                 "are the factors); remove this key")
    if sc.date_column is None:
        raise ConfigError("scenarios.date_column", "a factor model aligns scenarios.source and the asset file on "
                                                   "their dates: set scenarios.date_column")


def _check_factor_file(cfg: RunConfig, drivers: list[str]) -> None:
    fm = cfg.scenarios.factor_model
    assert fm is not None and fm.factors is not None
    factor_path = cfg.path(fm.factors)
    fcols = _columns(factor_path, "factors")
    if fm.date_column not in fcols:
        raise ConfigError(factor_key("date_column"), f"column {fm.date_column!r} not in {factor_path.name} "
                                                     f"(columns: {', '.join(fcols)})")
    if unknown := [c for c in fcols if c != fm.date_column and c not in drivers]:
        raise ConfigError(factor_key("factors"), f"column(s) {', '.join(map(repr, unknown))} of {factor_path.name} "
                                                 f"are not drivers (drivers: {', '.join(drivers)}); add the driver "
                                                 "to scenarios.drivers or remove the column")
    if missing := [d for d in drivers if d not in fcols]:
        raise ConfigError(factor_key("factors"), f"driver(s) {', '.join(map(repr, missing))} have no column in "
                                                 f"{factor_path.name}; every simulated driver is a factor")
