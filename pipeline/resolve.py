"""Resolve a validated config into the run plan, once, on the client, before any work starts.

:func:`build_plan` builds every object the run computes from — instruments, the driver model or
the user's scenario file, the views, each constraint set's :class:`tasks.optimization.Constraints`
with its Greek rows — and runs the checks that need those objects, raising
:class:`pipeline.errors.ConfigError` with the key path: the budget must be reachable within the
bounds, Greek limits must name underlyings the book has, views must name known variables, the
scenario file's values must be usable.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from pipeline.config import config_hash
from pipeline.errors import ConfigError
from pipeline.plan import (
    BLACK_LITTERMAN,
    BlackLittermanPlan,
    BookPlan,
    ConstraintSetPlan,
    HistoryPlan,
    OptimizationSettings,
    RunPlan,
    ShockPlan,
    SimulationPlan,
    ViewSetPlan,
)
from pipeline.resolve_book import book_holdings, by_name, limits_plan, shock_plan
from pipeline.resolve_factors import factor_model_plan
from pipeline.schema import BOOK_VARIABLE, MULTI_KIND, ConstraintSetSpec, ConstraintSpec, RunConfig
from pipeline.sources import load_source
from pipeline.validate import correlation_matrix
from tasks.expressions import Expression
from tasks.instruments import (
    Bond,
    Cash,
    EuropeanOption,
    Future,
    FxForward,
    Instrument,
    VarianceSwap,
    ZeroCurve,
    greeks_matrix,
    market_value,
)
from tasks.optimization import Constraints, GreekLimits
from tasks.scenarios import Driver, DriverModel, chunk_blocks
from tasks.views import VALUE_NAMES, View, parse_expression
from tasks.vocabulary import CAP_FIELDS, Greek

__all__ = ["build_plan", "instrument_objects", "bounds_arrays", "constraint_set"]

_CLASSES = {"cash": Cash, "equity": Cash, "future": Future, "forward": Future, "option": EuropeanOption,
            "variance_swap": VarianceSwap, "bond": Bond, "fx_forward": FxForward}


def build_plan(cfg: RunConfig) -> RunPlan:
    """The run plan of a validated config (raises :class:`ConfigError` on problems only the
    built objects reveal)."""
    book = book_holdings(cfg, _book(cfg))
    settings = _settings(cfg)
    _check_budget(book.v, settings.lower, settings.upper)
    scenarios = _scenarios(cfg)
    limits = None
    if cfg.limits is not None:
        limits = limits_plan(cfg, _constraints(cfg.limits.model_dump(exclude={"bounds", "view_caps"}), book,
                                               "limits"))
    return RunPlan(
        name=cfg.name,
        config_sha256=config_hash(cfg),
        scenarios=scenarios,
        write_scenarios=cfg.scenarios.write,
        book=book,
        view_sets=tuple(_view_set(cfg, i, book) for i in range(len(cfg.views))),
        settings=settings,
        constraint_sets=tuple(constraint_set(cfg, name, si, book, settings)
                              for si, name in enumerate(cfg.constraint_set_names())),
        shocks=_shocks(cfg, scenarios, book),
        limits=limits,
    )


def _shocks(cfg: RunConfig, scenarios: SimulationPlan | HistoryPlan, book: BookPlan) -> ShockPlan | None:
    """The shock plan, with the factor model (asset drivers follow the factors' shocks)."""
    fm = getattr(scenarios, "factor_model", None)
    if fm is not None and isinstance(scenarios, HistoryPlan):  # the shock space is the file's drivers
        n = len(book.drivers) - len(fm.assets)
        book = dataclasses.replace(book, drivers=book.drivers[:n], driver_kinds=book.driver_kinds[:n])
    plan = shock_plan(cfg, scenarios, book)
    return plan if plan is None or fm is None else dataclasses.replace(plan, factor_model=fm)


# ---- book ---------------------------------------------------------------------------------------

def instrument_objects(cfg: RunConfig) -> list[Instrument]:
    """The instruments as :mod:`tasks.instruments` objects (curve names resolved)."""
    curves = {c.name: ZeroCurve(c.name, tuple(c.tenors), tuple(c.rates), c.parallel_driver, c.slope_driver,
                                c.slope_short, c.slope_long) for c in cfg.curves}
    out: list[Instrument] = []
    for spec in cfg.instruments:
        fields = spec.model_dump(exclude=set() if spec.kind in MULTI_KIND else {"kind"})
        for key in ("curve", "foreign_curve"):
            if fields.get(key) is not None:
                fields[key] = curves[fields[key]]
        out.append(_CLASSES[spec.kind](**fields))
    return out


def _info(spec: Any) -> dict[str, Any]:
    """Static columns of ``instruments.parquet`` for one instrument spec."""
    return {"name": spec.name, "kind": spec.kind, "driver": getattr(spec, "driver", None),
            "strike": getattr(spec, "strike", np.nan), "maturity": getattr(spec, "maturity", np.nan),
            "implied_vol": getattr(spec, "vol", np.nan), "option_type": getattr(spec, "option_type", None)}


def _book(cfg: RunConfig) -> BookPlan:
    insts = instrument_objects(cfg)
    G, keys = greeks_matrix(insts)
    sc = cfg.scenarios
    kinds = [d.kind for d in sc.drivers] if sc.source is None else ["spot"] * len(cfg.driver_names)
    kinds = kinds[:len(cfg.driver_names) - len(cfg.factor_assets)] + ["spot"] * len(cfg.factor_assets)
    return BookPlan(tuple(insts), tuple(cfg.instrument_names), np.array([market_value(i) for i in insts]),
                    np.asarray(G), tuple(keys), tuple(cfg.driver_names), tuple(kinds),
                    tuple(_info(s) for s in cfg.instruments))


# ---- scenarios ----------------------------------------------------------------------------------

def _scenarios(cfg: RunConfig) -> SimulationPlan | HistoryPlan:
    sc = cfg.scenarios
    if sc.source is not None:
        path = cfg.source_path()
        assert path is not None
        h = load_source(path, cfg.horizon, returns=sc.returns, probability_column=sc.probability_column,
                        prior=sc.prior, half_life=sc.half_life, date_column=sc.date_column, frequency=sc.frequency)
        if sc.factor_model is None:
            return HistoryPlan(h.scenarios, h.p, h.summary)
        fm = factor_model_plan(cfg)
        if fm.periods != h.periods_per_scenario:
            raise ConfigError("scenarios.factor_model.frequency",
                              f"the asset history gives {fm.periods} periods per horizon, scenarios.source "
                              f"{h.periods_per_scenario}: give both histories the same frequency")
        return HistoryPlan(h.scenarios, h.p, f"{h.summary}; {fm.summary}", fm)
    for key in ("date_column", "frequency"):
        if getattr(sc, key) is not None:
            raise ConfigError(f"scenarios.{key}", "applies to a scenarios.source file only; remove this key")
    if sc.returns == "prices":
        raise ConfigError("scenarios.returns", "prices apply to a scenarios.source file only; remove this key")
    drivers = tuple(Driver(d.name, d.kind, d.mu, d.sigma) for d in sc.drivers)
    dist = "student_t" if sc.model == "student_t" else "normal"
    model = DriverModel(drivers, correlation_matrix(sc.correlation, len(sc.drivers)), cfg.horizon, dist,
                        sc.nu if dist == "student_t" else None)
    groups = tuple(tuple(g) for g in chunk_blocks(sc.count, sc.block_size, sc.chunks))
    factors = factor_model_plan(cfg) if sc.factor_model is not None else None
    return SimulationPlan(model, cfg.seed, sc.count, sc.block_size, groups, sc.moment_matching, sc.steps, factors)


# ---- views --------------------------------------------------------------------------------------

def _view_value(value: float | str, key: str) -> float | Expression:
    """A view's value: the number, or its expression parsed (once) with a key-path error."""
    if not isinstance(value, str):
        return value
    try:
        return parse_expression(value, VALUE_NAMES)
    except ValueError as exc:
        raise ConfigError(key, f"value must be a number or an expression over {', '.join(VALUE_NAMES)}, "
                               f"e.g. 'prior * 1.2' ({exc})") from None


def _check_names(names: tuple[str, ...], variables: set[str], key: str) -> None:
    for name in names:
        if name == BOOK_VARIABLE and name not in variables:
            raise ConfigError(key, "a view on your book's P&L needs a book: section with its holdings")
        if name not in variables:
            raise ConfigError(key, f"unknown driver or instrument {name!r}")


def _black_litterman_set(cfg: RunConfig, i: int, variables: set[str]) -> ViewSetPlan:
    """Black-Litterman set ``views[i]`` (keys checked by :mod:`pipeline.validate`): its views as
    linear mean views ``P_k x = Q_k``, the universe (variables named in ``weights``, then in the
    views) and ``P`` (K, N) over it."""
    vs = cfg.views[i]
    views = []
    for j, v in enumerate(vs.views):
        key = f"views[{i}].views[{j}]"
        try:
            on = {v.on: 1.0} if isinstance(v.on, str) and v.on in variables else v.on  # a name, as written
            view = View("linear", on, "=", float(v.value), confidence=v.confidence)
        except ValueError as exc:
            raise ConfigError(f"{key}.on", str(exc)) from None
        _check_names(view.variables, variables, f"{key}.on")
        views.append(view)
    weights = vs.weights or {}
    for name in weights:
        _check_names((name,), variables, f"views[{i}].weights.{name}")
    universe = tuple(dict.fromkeys([*weights, *(n for v in views for n in v.variables)]))
    P = np.zeros((len(views), len(universe)))
    for k, v in enumerate(views):
        for name, w in v.on:
            P[k, universe.index(name)] = w
    if np.linalg.matrix_rank(P) < len(views):
        raise ConfigError(f"views[{i}].views", "the views' portfolios are linearly dependent (one view repeats "
                                               "or combines others); merge or drop the redundant view")
    given = all("confidence" in v.model_fields_set for v in vs.views)
    equilibrium = vs.equilibrium is not False
    bl = BlackLittermanPlan(
        universe, P, np.array([v.value for v in views], dtype=float),
        np.array([v.confidence for v in views]) if given else None,
        0.05 if vs.tau is None else vs.tau, equilibrium, vs.delta if equilibrium else None,
        np.array([weights.get(n, 0.0) for n in universe]) if equilibrium else None, bool(vs.match_cov))
    return ViewSetPlan(i + 1, vs.name, BLACK_LITTERMAN, tuple(views), None, bl)


def _view_set(cfg: RunConfig, i: int, book: BookPlan) -> ViewSetPlan:
    """View set ``views[i]`` with its views built (parsed) once and checked against the variables."""
    vs = cfg.views[i]
    variables = set(book.drivers) | set(book.names) | ({BOOK_VARIABLE} if book.holdings is not None else set())
    if vs.is_black_litterman:
        return _black_litterman_set(cfg, i, variables)
    views = []
    for j, v in enumerate(vs.views):
        key = f"views[{i}].views[{j}]"
        value = _view_value(v.value, f"{key}.value")
        try:
            view = View(v.stat.value, v.on, v.op, value, alpha=v.alpha, confidence=v.confidence,
                        threshold=v.threshold)
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None
        _check_names(view.variables, variables, f"{key}.on")
        views.append(view)
    stages = None if vs.stages is None else tuple(tuple(s) for s in vs.stages)
    return ViewSetPlan(i + 1, vs.name, vs.method, tuple(views), stages)


# ---- optimisation -------------------------------------------------------------------------------

def bounds_arrays(cfg: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """(lower (N,), upper (N,)) exposure bounds: instrument name > kind > ``default``."""
    pairs = by_name(cfg.optimization.bounds, cfg, (-np.inf, np.inf))
    return np.array([float(a) for a, _ in pairs]), np.array([float(b) for _, b in pairs])


def _settings(cfg: RunConfig) -> OptimizationSettings:
    opt = cfg.optimization
    lo, hi = bounds_arrays(cfg)
    return OptimizationSettings(opt.alpha, opt.demean, opt.rf, opt.l, opt.points, tuple(opt.targets),
                                tuple(opt.portfolios), lo, hi, opt.solver, opt.cvar_method)


def _check_budget(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    a, b = v * lo, v * hi
    low = np.nansum(np.minimum(a, b))
    high = np.nansum(np.maximum(a, b))
    if not (low <= 1.0 + 1e-12 and high >= 1.0 - 1e-12):
        raise ConfigError("optimization.bounds",
                          f"no exposures within the bounds meet the budget v'e = 1 "
                          f"(v'e ranges over [{low:.4g}, {high:.4g}])")


def _merged(cfg: RunConfig, name: str) -> dict[str, Any]:
    """``optimization.constraints`` with constraint set ``name``'s own keys added (dicts merged,
    lists extended, scalars replaced)."""
    specs: list[ConstraintSpec] = [cfg.optimization.constraints]
    if name != "base":
        specs.append(cfg.optimization.constraint_sets[name])
    merged: dict[str, Any] = {}
    for spec in specs:
        d = spec.model_dump(exclude={"risk_measures"} if isinstance(spec, ConstraintSetSpec) else set())
        for key, val in d.items():
            if isinstance(val, dict) and key in merged and isinstance(merged[key], dict):
                merged[key] = {**merged[key], **val}
            elif isinstance(val, list) and key in merged:
                merged[key] = merged[key] + [x for x in val if x not in merged[key]]
            elif val is not None and val != ConstraintSpec.model_fields[key].default:
                merged[key] = val
            else:
                merged.setdefault(key, val)
    return merged


def _greek_limits(merged: dict[str, Any], book: BookPlan, key: str) -> GreekLimits:
    """Greek rows of the book that the set limits, checked against the book's underlyings."""
    keys = list(book.greek_keys)
    underlyings = sorted({u for _, u in keys})
    limits: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    for g, per in merged["greeks"].items():
        for und, lim in per.items():
            if (g, und) not in keys:
                raise ConfigError(f"{key}.greeks.{g}.{und}",
                                  f"no instrument has a {g} on {und!r} (underlyings: {', '.join(underlyings)})")
            limits[(Greek(g).value, und)] = tuple(lim)
    tol = merged["neutral_tol"]
    for und in merged["delta_neutral"]:
        if ("delta", und) not in keys:
            raise ConfigError(f"{key}.delta_neutral", f"no instrument has a delta on {und!r}")
        limits[("delta", und)] = (-tol, tol)
    rows = [k for k in keys if k in limits]
    cols = [keys.index(k) for k in rows]
    return GreekLimits(book.greeks[:, cols].T, rows, {k: limits[k] for k in rows})


def _constraints(merged: dict[str, Any], book: BookPlan, key: str) -> Constraints:
    names = book.names
    kw: dict[str, Any] = {k: merged[k] for k in ("groups", "group_bounds", "linear", "sht", "uppersht",
                                                 "upperlng", "leverage", "margin", "turnover")}
    if merged["margin_rates"]:
        kw["margin_rates"] = np.array([merged["margin_rates"].get(n, 0.0) for n in names])
    if merged["holdings"] or merged["turnover"] is not None:
        kw["holdings"] = np.array([merged["holdings"].get(n, 0.0) for n in names])
    if merged["tracking_error"] is not None:
        kw["benchmark"] = np.array([merged["benchmark"].get(n, 0.0) for n in names])
        kw["TE"] = merged["tracking_error"]
    for rm, cap in merged["caps"].items():
        kw[CAP_FIELDS[rm]] = cap
    if merged["greeks"] or merged["delta_neutral"]:
        kw["greeks"] = _greek_limits(merged, book, key)
    return Constraints(**kw)


def constraint_set(cfg: RunConfig, name: str, index: int, book: BookPlan,
                   settings: OptimizationSettings) -> ConstraintSetPlan:
    """Constraint set ``name`` (``base`` or a key of ``optimization.constraint_sets``) resolved."""
    key = "optimization.constraints" if name == "base" else f"optimization.constraint_sets.{name}"
    cons = _constraints(_merged(cfg, name), book, key)
    return ConstraintSetPlan(index, name, tuple(cfg.set_measures(name)), cons, settings)
