"""Cross-field checks of a config that passed the schema: references, shapes and ranges.

Each check reads the config and raises :class:`pipeline.errors.ConfigError` with the key path of
the first problem. Nothing here builds the run's objects: checks that need them (the budget
within the bounds, Greek limits on existing underlyings, the views' variables, the scenario
file's values) run once, where those objects are made, in :mod:`pipeline.resolve`.
"""

from __future__ import annotations

import numpy as np

from pipeline.errors import ConfigError
from pipeline.schema import INSTRUMENT_KINDS, ConstraintSetSpec, ConstraintSpec, RunConfig
from pipeline.sources import source_columns
from tasks.optimization import parse_constraint, resolve_names
from tasks.vocabulary import DRAWDOWN_MEASURES

__all__ = ["check_config", "correlation_matrix"]


def check_config(cfg: RunConfig) -> None:
    """Raise :class:`ConfigError` for the first cross-field problem of ``cfg``."""
    if cfg.scenarios.source is None:
        _check_simulation(cfg)
    else:
        _check_source(cfg)
    drivers = cfg.driver_names
    if d := _dupes(drivers):
        raise ConfigError("scenarios.drivers", f"duplicate driver names: {', '.join(d)}")
    if d := _dupes(cfg.instrument_names):
        raise ConfigError("instruments", f"duplicate instrument names: {', '.join(d)}")
    sc = cfg.scenarios
    kinds = {d.name: d.kind for d in sc.drivers} if sc.source is None else dict.fromkeys(drivers, "spot")
    _check_curves(cfg, kinds)
    _check_instruments(cfg, kinds)
    _check_view_sets(cfg)
    _check_bounds(cfg)
    _check_constraints(cfg)


def _dupes(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})


# ---- scenarios ----------------------------------------------------------------------------------

def correlation_matrix(rows: list[list[float]] | None, d: int) -> np.ndarray:
    """Full (d, d) matrix from a full matrix or from upper-triangle rows (lengths d-1, ..., 1)."""
    if rows is None:
        return np.eye(d)
    lens = [len(r) for r in rows]
    if lens == [d] * d:
        return np.asarray(rows, dtype=float)
    if lens == list(range(d - 1, 0, -1)):
        c = np.eye(d)
        for i, r in enumerate(rows):
            c[i, i + 1:] = r
            c[i + 1:, i] = r
        return c
    raise ConfigError("scenarios.correlation",
                      f"expected a {d}x{d} matrix or upper-triangle rows of lengths {d-1}..1 "
                      f"(one per driver), got row lengths {lens}")


def _check_correlation(corr: np.ndarray) -> None:
    key = "scenarios.correlation"
    if not np.allclose(corr, corr.T, atol=1e-12):
        raise ConfigError(key, "matrix is not symmetric")
    if not np.allclose(np.diag(corr), 1.0):
        raise ConfigError(key, "diagonal must be all ones")
    if np.abs(corr).max() > 1 + 1e-12:
        raise ConfigError(key, "entries must lie in [-1, 1]")
    min_eig = float(np.linalg.eigvalsh(corr).min())
    if min_eig < -1e-10:
        raise ConfigError(key, f"matrix is not positive semi-definite (smallest eigenvalue {min_eig:.4g})")


def _check_simulation(cfg: RunConfig) -> None:
    sc = cfg.scenarios
    if not sc.drivers:
        raise ConfigError("scenarios.drivers", "at least one driver is required (or give scenarios.source)")
    for i, d in enumerate(sc.drivers):
        if d.sigma <= 0:
            raise ConfigError(f"scenarios.drivers[{i}].sigma", "volatility must be > 0")
    _check_correlation(correlation_matrix(sc.correlation, len(sc.drivers)))
    if sc.count < 2 * len(sc.drivers) and sc.moment_matching:
        raise ConfigError("scenarios.count", "too few scenarios to match moments")
    if sc.model == "student_t" and sc.nu is None:
        raise ConfigError("scenarios.nu", "model student_t needs nu (degrees of freedom > 2)")
    if sc.prior != "uniform":
        raise ConfigError("scenarios.prior", "a prior other than uniform applies to scenarios.source only")


def _check_source(cfg: RunConfig) -> None:
    """Settings of a scenario file, and its driver columns from the header (recorded on ``cfg``)."""
    sc = cfg.scenarios
    if sc.prior == "exponential" and sc.half_life is None:
        raise ConfigError("scenarios.half_life", "prior: exponential needs a half_life (in rows)")
    if sc.drivers:
        raise ConfigError("scenarios.drivers", "drivers come from the columns of scenarios.source; remove this key")
    if sc.probability_column is not None and sc.prior != "uniform":
        raise ConfigError("scenarios.prior", "give either a probability_column or a prior, not both")
    if sc.correlation is not None:
        raise ConfigError("scenarios.correlation", "not used with scenarios.source; remove this key")
    path = cfg.source_path()
    assert path is not None
    columns = source_columns(path)
    if sc.probability_column is not None and sc.probability_column not in columns:
        raise ConfigError("scenarios.probability_column", f"column {sc.probability_column!r} not in {path.name}")
    drivers = [c for c in columns if c != sc.probability_column]
    if not drivers:
        raise ConfigError("scenarios.source", f"{path.name} has no driver columns")
    cfg._source_columns = drivers


# ---- curves and instruments ---------------------------------------------------------------------

def _check_curves(cfg: RunConfig, kinds: dict[str, str]) -> None:
    if d := _dupes([c.name for c in cfg.curves]):
        raise ConfigError("curves", f"duplicate curve names: {', '.join(d)}")
    for i, c in enumerate(cfg.curves):
        if len(c.tenors) != len(c.rates):
            raise ConfigError(f"curves[{i}].rates", f"{len(c.rates)} rates for {len(c.tenors)} tenors")
        if any(t <= 0 for t in c.tenors) or any(b <= a for a, b in zip(c.tenors, c.tenors[1:])):
            raise ConfigError(f"curves[{i}].tenors", "tenors must be positive and increasing")
        for field in ("parallel_driver", "slope_driver"):
            ref = getattr(c, field)
            if ref is not None and kinds.get(ref) != "rate":
                reason = f"{ref!r} is not a driver of kind 'rate'" if ref in kinds else f"unknown driver {ref!r}"
                raise ConfigError(f"curves[{i}].{field}", reason)


def _check_instruments(cfg: RunConfig, kinds: dict[str, str]) -> None:
    drivers = cfg.driver_names
    curves = {c.name for c in cfg.curves}
    for i, spec in enumerate(cfg.instruments):
        key = f"instruments[{i}]"
        for field, want in (("driver", None), ("fx_driver", "fx"), ("vol_driver", "vol")):
            ref = getattr(spec, field, None)
            if ref is None:
                continue
            if ref not in kinds:
                raise ConfigError(f"{key}.{field}", f"unknown driver {ref!r} (drivers: {', '.join(drivers)})")
            if want is not None and kinds[ref] != want:
                raise ConfigError(f"{key}.{field}", f"driver {ref!r} is of kind {kinds[ref]!r}, expected {want!r}")
        for field in ("curve", "foreign_curve"):
            ref = getattr(spec, field, None)
            if ref is not None and ref not in curves:
                raise ConfigError(f"{key}.{field}", f"unknown curve {ref!r}")
        if spec.name in drivers and not (spec.kind in ("cash", "equity") and spec.driver == spec.name):
            raise ConfigError(f"{key}.name", f"{spec.name!r} is also a driver name; only a cash instrument "
                                             "on that driver may share it")
        if spec.kind in ("option", "variance_swap") and spec.maturity < cfg.horizon - 1e-12:
            raise ConfigError(f"{key}.maturity",
                              f"{spec.kind.replace('_', ' ')} expires ({spec.maturity} y) before the horizon "
                              f"({cfg.horizon} y)")


# ---- views --------------------------------------------------------------------------------------

def _check_view_sets(cfg: RunConfig) -> None:
    """Names and stage orders; each view itself is checked when it is built (pipeline.resolve)."""
    if d := _dupes([vs.name for vs in cfg.views]):
        raise ConfigError("views", f"duplicate view set names: {', '.join(d)}")
    for i, vs in enumerate(cfg.views):
        if vs.name == "prior":
            raise ConfigError(f"views[{i}].name", "'prior' is reserved for the prior probabilities")
        for j, v in enumerate(vs.views):
            if v.stat in ("vol", "var") and isinstance(v.value, float) and v.value < 0:
                raise ConfigError(f"views[{i}].views[{j}].value", f"{v.stat} must be >= 0")
        if vs.stages is not None:
            flat = sorted(k for st in vs.stages for k in st)
            if flat != list(range(len(vs.views))):
                raise ConfigError(f"views[{i}].stages",
                                  f"must list every view index 0..{len(vs.views) - 1} exactly once")


# ---- optimisation -------------------------------------------------------------------------------

def _check_bounds(cfg: RunConfig) -> None:
    known = set(cfg.instrument_names) | set(INSTRUMENT_KINDS) | {"default"}
    for key, (lo, hi) in cfg.optimization.bounds.items():
        if key not in known:
            raise ConfigError(f"optimization.bounds.{key}",
                              "unknown instrument (keys are instrument names, kinds or 'default')")
        if lo > hi:
            raise ConfigError(f"optimization.bounds.{key}", f"lower bound {lo} exceeds upper bound {hi}")


def _constraint_specs(cfg: RunConfig) -> list[tuple[str, ConstraintSpec]]:
    opt = cfg.optimization
    return [("optimization.constraints", opt.constraints)] + [
        (f"optimization.constraint_sets.{k}", v) for k, v in opt.constraint_sets.items()]


def _check_constraints(cfg: RunConfig) -> None:
    opt = cfg.optimization
    if "base" in opt.constraint_sets:
        raise ConfigError("optimization.constraint_sets.base", "'base' is reserved for optimization.constraints")
    if set(opt.risk_measures) & DRAWDOWN_MEASURES and not cfg.scenarios.steps:
        raise ConfigError("optimization.risk_measures",
                          "drawdown measures (MDD, ADD, CDaR) need path scenarios: set scenarios.steps")
    for key, spec in _constraint_specs(cfg):
        _check_constraint_set(cfg, key, spec)


def _check_constraint_set(cfg: RunConfig, key: str, spec: ConstraintSpec) -> None:
    opt = cfg.optimization
    names = set(cfg.instrument_names)
    measures = set(opt.risk_measures)
    if isinstance(spec, ConstraintSetSpec) and spec.risk_measures is not None:
        measures = set(spec.risk_measures)
    if (measures | set(spec.caps)) & DRAWDOWN_MEASURES and not cfg.scenarios.steps:
        raise ConfigError(f"{key}" if spec.caps else "optimization.risk_measures",
                          "drawdown measures (MDD, ADD, CDaR) need path scenarios: set scenarios.steps")
    for g, members in spec.groups.items():
        if g in names:
            raise ConfigError(f"{key}.groups.{g}", "a group may not share an instrument's name")
        for m in members:
            if m not in names:
                raise ConfigError(f"{key}.groups.{g}", f"unknown instrument {m!r}")
    groups = {**opt.constraints.groups, **spec.groups}
    for g in spec.group_bounds:
        if g not in groups:
            raise ConfigError(f"{key}.group_bounds.{g}", "unknown group")
    for field in ("margin_rates", "holdings", "benchmark"):
        for n in getattr(spec, field):
            if n not in names:
                raise ConfigError(f"{key}.{field}.{n}", "unknown instrument")
    if spec.tracking_error is not None and not (spec.benchmark or opt.constraints.benchmark):
        raise ConfigError(f"{key}.benchmark", "tracking_error needs benchmark exposures")
    if spec.margin is not None and not (spec.margin_rates or opt.constraints.margin_rates):
        raise ConfigError(f"{key}.margin_rates", "margin needs margin_rates")
    for j, text in enumerate(spec.linear):
        try:
            resolve_names(parse_constraint(text).coefs, cfg.instrument_names, groups)
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"{key}.linear[{j}]", str(exc).strip("'\"")) from None
    for g, per in spec.greeks.items():
        for und, (lo, hi) in per.items():
            if lo is not None and hi is not None and lo > hi:
                raise ConfigError(f"{key}.greeks.{g}.{und}", f"lower limit {lo} exceeds upper limit {hi}")
