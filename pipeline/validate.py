"""Cross-field checks of a config that passed the schema: references, shapes and ranges.

Each check reads the config and raises :class:`pipeline.errors.ConfigError` with the key path of
the first problem. Nothing here builds the run's objects: checks that need them (the budget
within the bounds, Greek limits on existing underlyings, the views' variables, the scenario
file's values) run once, where those objects are made, in :mod:`pipeline.resolve`.

The unit checks (:func:`check_units`) refuse values that are almost surely in the wrong unit --
``alpha: 0.95`` where a tail probability is meant, ``sigma: 15`` for 15 %, a vol view of ``20`` --
naming the likely meaning. A value that is unusual but legal may be accepted by listing its key
path under ``allow_unusual``; an impossible one (a simple return below -100 %, a probability
above 1, an annual vol of 1000 %) may not.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.errors import ConfigError
from pipeline.schema import BL_KEYS, INSTRUMENT_KINDS, ConstraintSetSpec, ConstraintSpec, RunConfig, ViewSetSpec
from pipeline.sources import source_columns
from pipeline.validate_book import check_book, shock_slip_paths
from pipeline.validate_factors import check_factor_model
from tasks.optimization import parse_constraint, resolve_names
from tasks.vocabulary import DRAWDOWN_MEASURES

__all__ = ["check_config", "check_units", "correlation_matrix"]


def check_config(cfg: RunConfig) -> None:
    """Raise :class:`ConfigError` for the first cross-field problem of ``cfg``."""
    if cfg.scenarios.source is None:
        _check_simulation(cfg)
    else:
        _check_source(cfg)
    check_factor_model(cfg)
    drivers = cfg.driver_names
    if d := _dupes(drivers):
        raise ConfigError("scenarios.drivers", f"duplicate driver names: {', '.join(d)}")
    if d := _dupes(cfg.instrument_names):
        raise ConfigError("instruments", f"duplicate instrument names: {', '.join(d)}")
    sc = cfg.scenarios
    kinds = {d.name: d.kind for d in sc.drivers} if sc.source is None else dict.fromkeys(drivers, "spot")
    kinds.update(dict.fromkeys(cfg.factor_assets, "spot"))  # factor-model assets: derived spot drivers
    _check_curves(cfg, kinds)
    _check_instruments(cfg, kinds)
    _check_view_sets(cfg)
    _check_bounds(cfg)
    _check_constraints(cfg)
    check_book(cfg, kinds)
    if cfg.limits is not None:
        _check_constraint_set(cfg, "limits", cfg.limits)
    check_units(cfg)


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
        _check_black_litterman(i, vs)
        for j, v in enumerate(vs.views):
            if v.stat in ("vol", "var") and isinstance(v.value, float) and v.value < 0:
                raise ConfigError(f"views[{i}].views[{j}].value", f"{v.stat} must be >= 0")
        if vs.stages is not None:
            flat = sorted(k for st in vs.stages for k in st)
            if flat != list(range(len(vs.views))):
                raise ConfigError(f"views[{i}].stages",
                                  f"must list every view index 0..{len(vs.views) - 1} exactly once")


def _check_black_litterman(i: int, vs: ViewSetSpec) -> None:
    """A Black-Litterman set's keys and views (names are checked where they are resolved): BL keys
    on an EP set, a view other than ``mean ... = number``, confidences on some views only, an
    equilibrium prior without its weights and delta."""
    key = f"views[{i}]"
    if not vs.is_black_litterman:
        for k in BL_KEYS:
            if getattr(vs, k) is not None:
                raise ConfigError(f"{key}.{k}", f"applies to method: black_litterman only (this set's method "
                                                f"is {vs.method}); remove it or set method: black_litterman")
        return
    if vs.stages is not None:
        raise ConfigError(f"{key}.stages", "a black_litterman set is solved in one step; remove stages")
    for j, v in enumerate(vs.views):
        vk = f"{key}.views[{j}]"
        if v.stat != "mean":
            raise ConfigError(f"{vk}.stat", f"a Black-Litterman view is a view on expected values: stat: mean "
                                            f"(on a variable or a linear expression such as 'SPX - Bond'), "
                                            f"not {v.stat}")
        if v.op != "=":
            raise ConfigError(f"{vk}.op", f"a Black-Litterman view states an expected value: op: '=', not "
                                          f"{v.op!r} (for a bound use an Entropy Pooling set)")
        if isinstance(v.value, str):
            raise ConfigError(f"{vk}.value", "a Black-Litterman view's value Q is a number (expected value of "
                                             f"the view portfolio over the horizon), not {v.value!r}")
        if isinstance(v.on, list):
            raise ConfigError(f"{vk}.on", "a variable name, a linear expression ('2*SPX - Bond') or a mapping "
                                          "{variable: weight}, not a list")
        for extra in ("alpha", "threshold"):
            if getattr(v, extra) is not None:
                raise ConfigError(f"{vk}.{extra}", "does not apply to a mean view; remove it")
    given = ["confidence" in v.model_fields_set for v in vs.views]
    if any(given) and not all(given):
        j = given.index(False)
        raise ConfigError(f"{key}.views[{j}].confidence",
                          "give a confidence (Idzorek, in (0, 1]) on every view of a black_litterman set or on "
                          "none (then Omega = diag(P tau Sigma P^T))")
    if vs.equilibrium is False:
        for k in ("weights", "delta"):
            if getattr(vs, k) is not None:
                raise ConfigError(f"{key}.{k}", "belongs to the equilibrium prior Pi = delta Sigma w; with "
                                                "equilibrium: false the prior is the scenario means: remove it")
        return
    for k, what in (("weights", "the market weights {variable: weight}"), ("delta", "the risk aversion (e.g. 2.5)")):
        if getattr(vs, k) is None:
            raise ConfigError(f"{key}.{k}", f"the equilibrium prior Pi = delta Sigma w needs {what}; give it, "
                                            f"or set equilibrium: false to start from the scenario means")
    for name, w in (vs.weights or {}).items():
        if not math.isfinite(w):
            raise ConfigError(f"{key}.weights.{name}", f"must be a finite number, got {w!r}")
    if vs.weights is not None and not any(w != 0 for w in vs.weights.values()):
        raise ConfigError(f"{key}.weights", "the market weights are all zero")


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


# ---- unit slips ---------------------------------------------------------------------------------

#: a tail probability above this is questioned: its "tail" would be most of the distribution
ALPHA_MAX = 0.5


@dataclass(frozen=True)
class _Scale:
    """How a key reads: what it is, the bound above which ``|value|`` is questioned (``soft``),
    the bound from which no market has it (``hard``), whether a slip may be in basis points as
    well as percent, and the convention to quote."""

    what: str
    soft: float
    hard: float
    bp: bool
    norm: str


_VOL = _Scale("annual volatility", 3.0, 10.0, False, "decimals: 0.15 = 15 %; crypto 0.6-1.5")
_DRIFT = _Scale("annual drift", 1.0, 10.0, False, "decimals: 0.06 = 6 %")
_RATE = _Scale("annual rate", 1.0, 10.0, False, "decimals: 0.04 = 4 %")
_SPREAD = _Scale("spread", 1.0, 10.0, True, "decimals: 0.01 = 100 bp")
_RATE_MOVE = _Scale("annual rate-driver move", 0.25, 1.0, True, "decimal rate units: 0.01 = 100 bp")
_RF = _Scale("risk-free return over the horizon", 1.0, math.inf, False, "per unit of portfolio value: 0.02 = 2 %")
_TARGET = _Scale("target return over the horizon", 1.0, math.inf, False, "per unit of portfolio value: 0.05 = 5 %")
_INSTRUMENT_SCALES = (("vol", _VOL), ("rate", _RATE), ("dividend", _RATE), ("foreign_rate", _RATE),
                      ("coupon", _RATE), ("spread", _SPREAD))


@dataclass(frozen=True)
class _Slip:
    """A value almost surely in the wrong unit: its key path, why, and whether it is legal (so
    ``allow_unusual`` may accept it)."""

    path: str
    reason: str
    legal: bool


def check_units(cfg: RunConfig) -> None:
    """Raise :class:`ConfigError` for the first value that is almost surely in the wrong unit.

    A legal value whose key path is listed under ``allow_unusual`` is accepted; an impossible one
    is not, and an entry there that names no questioned value is refused, so a misspelt opt-out
    cannot pass silently.
    """
    allowed = set(cfg.allow_unusual)
    found = (_driver_slips(cfg), _instrument_slips(cfg), _optimization_slips(cfg), _view_slips(cfg))
    slips = [s for gen in found for s in gen if s is not None]
    for s in slips:
        if s.legal and s.path in allowed:
            continue
        if s.legal:
            tail = f" (if it is meant, list {s.path} under allow_unusual)"
        else:
            tail = " (allow_unusual cannot accept an impossible value)" if s.path in allowed else ""
        raise ConfigError(s.path, s.reason + tail)
    questioned = {s.path for s in slips} | shock_slip_paths(cfg)
    for k, entry in enumerate(cfg.allow_unusual):
        if entry not in questioned:
            raise ConfigError(f"allow_unusual[{k}]",
                              f"{entry!r} names no value that the unit checks question; remove it")


def _guess(value: float, bound: float, bp: bool) -> tuple[float, str]:
    """The decimal a value typed in percent (or in basis points, where percent is still too big)
    most likely means, and that unit."""
    if bp and abs(value) / 100 > bound:
        return value / 1e4, "basis points"
    return value / 100, "percent"


def _magnitude(path: str, value: float, scale: _Scale) -> _Slip | None:
    """A slip where ``|value|`` exceeds the scale's bound; legal below its hard bound."""
    if abs(value) <= scale.soft:
        return None
    guess, unit = _guess(value, scale.soft, scale.bp)
    shown = f"{value * 1e4:.4g} bp" if scale.bp else f"{value * 100:.4g} %"
    legal = abs(value) < scale.hard
    why = "is far beyond real markets" if legal else "is not a fraction"
    return _Slip(path, f"{scale.what} {value:g} = {shown} {why} ({scale.norm}): looks like {unit}: "
                       f"did you mean {guess:.4g}?", legal)


def _alpha_slip(path: str, alpha: float | None) -> _Slip | None:
    """A tail probability above :data:`ALPHA_MAX` reads as a confidence level."""
    if alpha is None or alpha <= ALPHA_MAX:
        return None
    return _Slip(path, f"alpha is the tail probability and {alpha:g} puts {alpha * 100:.4g} % of the scenarios "
                       f"in the tail ({alpha:g} reads as a confidence level); tail probability: did you mean "
                       f"{1 - alpha:.4g}?", True)


def _driver_slips(cfg: RunConfig) -> Iterator[_Slip | None]:
    for i, d in enumerate(cfg.scenarios.drivers):
        key = f"scenarios.drivers[{i}]"
        vol, drift = (_RATE_MOVE, _RATE_MOVE) if d.kind == "rate" else (_VOL, _DRIFT)
        yield _magnitude(f"{key}.sigma", d.sigma, vol)
        yield _magnitude(f"{key}.mu", d.mu, drift)


def _instrument_slips(cfg: RunConfig) -> Iterator[_Slip | None]:
    for i, c in enumerate(cfg.curves):
        for k, r in enumerate(c.rates):
            yield _magnitude(f"curves[{i}].rates[{k}]", r, _RATE)
    for i, spec in enumerate(cfg.instruments):
        key = f"instruments[{i}]"
        for field, scale in _INSTRUMENT_SCALES:
            value = getattr(spec, field, None)
            if value is not None:
                yield _magnitude(f"{key}.{field}", value, scale)
        if spec.kind == "variance_swap" and spec.strike is not None:
            yield _magnitude(f"{key}.strike", spec.strike, _VOL)  # in vol units
        elif spec.kind == "option" and spec.strike > 10 * spec.spot:
            ratio = spec.strike / spec.spot
            hint = f": looks like percent of spot: did you mean {spec.strike / 100:.4g}?" if ratio <= 1000 else ""
            yield _Slip(f"{key}.strike", f"strike {spec.strike:g} is {ratio:.4g}x the spot {spec.spot:g} "
                                         f"(strikes are in the spot's units){hint}", True)


def _optimization_slips(cfg: RunConfig) -> Iterator[_Slip | None]:
    opt = cfg.optimization
    yield _alpha_slip("optimization.alpha", opt.alpha)
    yield _magnitude("optimization.rf", opt.rf, _RF)
    for k, t in enumerate(opt.targets):
        yield _magnitude(f"optimization.targets[{k}]", t, _TARGET)


def _prior_moments(cfg: RunConfig) -> dict[str, tuple[str, float | None, float | None]]:
    """The view variables' kinds and, where the config fixes them, their prior mean and standard
    deviation over the horizon.

    Returns
    -------
    name -> (kind, mean, std). ``kind`` is ``return`` (a spot/fx/vol driver's or a scenario
    file's simple return, never below -1), ``rate`` (a rate driver's additive change, decimal) or
    ``pnl`` (an instrument's P&L per unit exposure). For simulated drivers, with
    x ~ N((mu - sigma^2/2) H, sigma^2 H): ``E[e^x - 1] = e^{mu H} - 1`` and
    ``sd = e^{mu H} sqrt(e^{sigma^2 H} - 1)``; rate drivers ``mu H`` and ``sigma sqrt(H)``.
    Student-t drivers share the mean and covariance of x, so for them this is a scale. None where
    the config does not fix a moment (instruments, scenario files).
    """
    h = cfg.horizon
    out: dict[str, tuple[str, float | None, float | None]] = dict.fromkeys(cfg.instrument_names, ("pnl", None, None))
    if cfg.scenarios.source is not None:
        out.update(dict.fromkeys(cfg.driver_names, ("return", None, None)))
    out.update(dict.fromkeys(cfg.factor_assets, ("return", None, None)))  # moments fixed by the files
    for d in cfg.scenarios.drivers:
        if d.kind == "rate":
            out[d.name] = ("rate", d.mu * h, d.sigma * math.sqrt(h))
        else:
            growth = math.exp(min(d.mu * h, 300.0))
            out[d.name] = ("return", growth - 1.0, growth * math.sqrt(math.expm1(min(d.sigma**2 * h, 300.0))))
    return out


def _view_slips(cfg: RunConfig) -> Iterator[_Slip | None]:
    variables = _prior_moments(cfg)
    for i, vs in enumerate(cfg.views):
        for j, v in enumerate(vs.views):
            key = f"views[{i}].views[{j}]"
            yield _alpha_slip(f"{key}.alpha", v.alpha)
            var = variables.get(v.on) if isinstance(v.on, str) else None
            if isinstance(v.value, (int, float)):
                yield _view_value_slip(f"{key}.value", str(v.stat), float(v.value), var)
            if v.threshold is not None and var is not None and var[0] == "return" and v.threshold < -1:
                hint = f": looks like percent: did you mean {v.threshold / 100:.4g}?" if v.threshold >= -100 else ""
                yield _Slip(f"{key}.threshold", f"a simple return cannot fall below -100 %, so "
                                                f"P(X <= {v.threshold:g}) is 0{hint}", False)


def _view_value_slip(path: str, stat: str, v: float, var: tuple[str, Any, Any] | None) -> _Slip | None:
    """A view value in the wrong unit: probabilities and correlations out of range (impossible),
    simple-return means at or below -100 % and losses above 100 % (impossible), and moments of
    100 % or more far from the prior (legal, questioned)."""
    if stat in ("prob", "corr"):
        lo = 0.0 if stat == "prob" else -1.0
        if lo <= v <= 1.0:
            return None
        what = "a probability lies in [0, 1]" if stat == "prob" else "a correlation lies in [-1, 1]"
        hint = f": looks like percent: did you mean {v / 100:.4g}?" if lo <= v / 100 <= 1 else ""
        return _Slip(path, f"{what}, got {v:g}{hint}", False)
    if var is None or stat not in ("mean", "vol", "var", "VaR", "CVaR"):
        return None
    kind, mean, sd = var
    if kind == "return" and ((stat == "mean" and v <= -1) or (stat in ("VaR", "CVaR") and v > 1)):
        what = (f"mean {v:g} = {v * 100:.4g} % of a simple return, which stays above -100 %" if stat == "mean"
                else f"{stat} {v:g} = a loss of {v * 100:.4g} % of a simple return, which cannot lose more than 100 %")
        return _Slip(path, f"{what}: looks like percent: did you mean {v / 100:.4g}?", False)
    return _moment_slip(path, stat, v, kind, mean, sd)


def _moment_slip(path: str, stat: str, v: float, kind: str, mean: float | None, sd: float | None) -> _Slip | None:
    """A mean, vol, variance or tail loss of 100 % or more over the horizon (a rate change of
    2500 bp or more), questioned unless the prior puts it within reach (mean within 20 prior
    standard deviations, vol within 10 prior vols)."""
    bp = kind == "rate"
    bound = _RATE_MOVE.soft if bp else 1.0
    size = math.sqrt(abs(v)) if stat == "var" else abs(v)
    if size <= bound:
        return None
    name = {"return": "simple return", "rate": "rate change", "pnl": "P&L per unit exposure"}[kind]
    if sd and stat in ("mean", "vol", "var"):
        z = abs(v - mean) / sd if stat == "mean" else size / sd
        if z <= (20.0 if stat == "mean" else 10.0):
            return None
        context = (f"{z:.0f} prior standard deviations from the prior mean {mean:.3g}" if stat == "mean"
                   else f"{z:.0f}x the prior vol {sd:.3g}")
    else:
        amount = size if stat == "var" else v
        context = f"{amount * 1e4:.4g} bp" if bp else f"{amount * 100:.4g} %"
        context = f"the variance of a {context} vol" if stat == "var" else context
    if stat == "var":
        guess, unit = v / 1e4, "percent squared (a 20 % vol is a variance of 0.04, not 400)"
    else:
        guess, unit = _guess(v, bound, bp)
    return _Slip(path, f"{stat} {v:g} of the {name} over the horizon is {context}: looks like {unit}: "
                       f"did you mean {guess:.4g}?", True)
