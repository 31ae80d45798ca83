"""Run configuration: YAML schema (pydantic), semantic checks, and resolution into task inputs.

Every problem is reported as :class:`ConfigError` with the dotted key path (``instruments[3].strike``)
and a reason, before any work starts. YAML is read with ``yaml.safe_load`` only.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from tasks.instruments import (
    Bond,
    Cash,
    EuropeanOption,
    Future,
    FxForward,
    Instrument,
    VarianceSwap,
    ZeroCurve,
    market_value,
)
from tasks.measures import RiskMeasure
from tasks.scenarios import Driver, DriverModel
from tasks.views import OPS, STATS, View, parse_expression

__all__ = [
    "ConfigError",
    "RunConfig",
    "load_config",
    "parse_config",
    "config_hash",
    "safe_load",
]



class ConfigError(ValueError):
    """A configuration problem, with the key path where it was found."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DriverSpec(_Model):
    """A risk driver (see :mod:`tasks.scenarios`): ``spot``/``fx``/``vol`` drivers are log-changes
    with annual arithmetic drift ``mu`` and volatility ``sigma``; ``rate`` drivers are additive
    changes of a curve factor (decimal rate units) with drift ``mu`` and volatility ``sigma``."""

    name: str = Field(min_length=1)
    kind: Literal["spot", "fx", "vol", "rate"] = "spot"
    mu: float = 0.0
    sigma: float = Field(default=0.0, ge=0.0)


class CurveSpec(_Model):
    """A zero curve (continuous compounding) shocked by optional parallel and slope drivers."""

    name: str = Field(min_length=1)
    tenors: list[float] = Field(min_length=1, description="years, increasing")
    rates: list[float] = Field(min_length=1, description="zero rates, decimals")
    parallel_driver: str | None = None
    slope_driver: str | None = None
    slope_short: float = Field(default=2.0, gt=0)
    slope_long: float = Field(default=10.0, gt=0)


class ScenarioSpec(_Model):
    count: int = Field(default=10_000, ge=10)
    chunks: int = Field(default=4, ge=1)
    block_size: int = Field(default=1000, ge=1)
    model: Literal["lognormal", "student_t"] = "lognormal"
    nu: float | None = Field(default=None, gt=2.0, description="Student-t degrees of freedom")
    moment_matching: bool = True
    steps: int | None = Field(default=None, ge=1, description="path steps per scenario (drawdown measures)")
    drivers: list[DriverSpec] = Field(default_factory=list)
    correlation: list[list[float]] | None = None
    source: str | None = None
    returns: Literal["simple", "log"] = "simple"
    probability_column: str | None = None
    prior: Literal["uniform", "exponential"] = "uniform"
    half_life: float | None = Field(default=None, gt=0, description="rows, for prior: exponential")
    write: bool = False


class CashSpec(_Model):
    name: str = Field(min_length=1)
    kind: Literal["cash", "equity"]
    driver: str
    fx_driver: str | None = None


class FutureSpec(_Model):
    name: str = Field(min_length=1)
    kind: Literal["future", "forward"]
    driver: str
    maturity: float = Field(gt=0, description="years")
    spot: float = Field(default=1.0, gt=0)
    rate: float = 0.0
    dividend: float = 0.0
    curve: str | None = None
    margin: float = Field(default=0.0, ge=0, description="initial margin per unit notional (v)")
    strike: float | None = Field(default=None, gt=0)
    fx_driver: str | None = None


class OptionSpec(_Model):
    name: str = Field(min_length=1)
    kind: Literal["option"]
    driver: str
    option_type: Literal["call", "put"]
    strike: float = Field(gt=0)
    maturity: float = Field(gt=0, description="years")
    vol: float = Field(gt=0, description="implied volatility, annual")
    rate: float = 0.0
    dividend: float = 0.0
    spot: float = Field(default=1.0, gt=0)
    model: Literal["black_scholes", "black76"] = "black_scholes"
    skew: float = 0.0
    vol_driver: str | None = None
    vol_floor: float = Field(default=1e-3, gt=0)
    curve: str | None = None
    fx_driver: str | None = None


class VarianceSwapSpec(_Model):
    name: str = Field(min_length=1)
    kind: Literal["variance_swap"]
    driver: str
    maturity: float = Field(gt=0, description="years")
    vol: float = Field(gt=0, description="implied vol of the remaining period, annual")
    strike: float | None = Field(default=None, gt=0, description="vol strike (default: fair)")
    vol_driver: str | None = None
    rate: float = 0.0
    curve: str | None = None
    fx_driver: str | None = None


class BondSpec(_Model):
    name: str = Field(min_length=1)
    kind: Literal["bond"]
    maturity: float = Field(gt=0, description="years")
    coupon: float = Field(default=0.0, ge=0)
    frequency: int = Field(default=1, ge=1)
    curve: str | None = None
    rate: float = 0.0
    spread: float = 0.0
    fx_driver: str | None = None


class FxForwardSpec(_Model):
    name: str = Field(min_length=1)
    kind: Literal["fx_forward"]
    driver: str
    maturity: float = Field(gt=0, description="years")
    strike: float | None = Field(default=None, gt=0)
    spot: float = Field(default=1.0, gt=0)
    rate: float = 0.0
    foreign_rate: float = 0.0
    curve: str | None = None
    foreign_curve: str | None = None


InstrumentSpec = Annotated[
    CashSpec | FutureSpec | OptionSpec | VarianceSwapSpec | BondSpec | FxForwardSpec,
    Field(discriminator="kind"),
]
INSTRUMENT_KINDS = ("cash", "equity", "future", "forward", "option", "variance_swap", "bond", "fx_forward")
_CLASSES = {"cash": Cash, "equity": Cash, "future": Future, "forward": Future, "option": EuropeanOption,
            "variance_swap": VarianceSwap, "bond": Bond, "fx_forward": FxForward}
_MULTI_KIND = ("cash", "equity", "future", "forward")


class ViewSpec(_Model):
    """One view ``stat(on) op value`` (see :class:`tasks.views.View`)."""

    stat: str
    on: str | list[str] | dict[str, float]
    op: str
    value: float | str
    alpha: float | None = Field(default=None, gt=0.0, lt=1.0, description="VaR/CVaR tail probability")
    confidence: float = Field(default=1.0, gt=0.0, le=1.0)
    threshold: float | None = Field(default=None, description="x in P(X <= x) for stat: prob")

    @field_validator("stat")
    @classmethod
    def _stat(cls, v: str) -> str:
        if v not in STATS:
            raise ValueError(f"unknown stat {v!r}; expected one of {', '.join(STATS)}")
        return v

    @field_validator("op")
    @classmethod
    def _op(cls, v: str) -> str:
        if v not in OPS:
            raise ValueError(f"unknown operator {v!r}; expected one of {', '.join(OPS)}")
        return v

    @field_validator("value")
    @classmethod
    def _value(cls, v: float | str) -> float | str:
        if isinstance(v, str):
            try:
                parse_expression(v, allowed=("prior", "prior_mean", "prior_vol"))
            except ValueError as exc:
                raise ValueError(f"value must be a number or an expression over prior, prior_mean and "
                                 f"prior_vol, e.g. 'prior * 1.2' ({exc})") from None
        elif not np.isfinite(v):
            raise ValueError("value must be finite")
        return v

    def to_view(self) -> View:
        return View(self.stat, self.on, self.op, self.value, alpha=self.alpha,
                    confidence=self.confidence, threshold=self.threshold)


class ViewSetSpec(_Model):
    """A set of views solved together: Sequential Entropy Pooling (H1, H2) or Meucci's original."""

    name: str = Field(min_length=1)
    method: Literal["H1", "H2", "original"] = "H1"
    stages: list[list[int]] | None = Field(default=None, description="custom stage order: view indices")
    views: list[ViewSpec] = Field(min_length=1)


GREEK_NAMES = ("delta", "gamma", "vega", "theta", "rho")
CAP_KEYS = {"MV": "upperdev", "MAD": "uppermad", "MSV": "uppersdev", "FLPM": "upperflpm", "SLPM": "upperslpm",
            "CVaR": "upperCVaR", "WR": "upperwr", "MDD": "uppermdd", "ADD": "upperadd", "CDaR": "upperCDaR"}


class ConstraintSpec(_Model):
    """Portfolio constraints beyond bounds and the budget (see :class:`tasks.optimization.Constraints`).

    Exposures and caps are in units of the portfolio's market value (budget 1).
    """

    groups: dict[str, list[str]] = Field(default_factory=dict, description="group name -> instruments")
    group_bounds: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)
    linear: list[str] = Field(default_factory=list, description='e.g. "Put_90 + Put_95 >= -0.3"')
    sht: bool = True
    uppersht: float | None = Field(default=None, ge=0, description="sum of short exposures <=")
    upperlng: float | None = Field(default=None, ge=0, description="sum of long exposures <=")
    leverage: float | None = Field(default=None, gt=0, description="gross exposure sum|e| <=")
    margin_rates: dict[str, float] = Field(default_factory=dict, description="instrument -> margin per unit |e|")
    margin: float | None = Field(default=None, gt=0, description="sum m_i |e_i| <=")
    holdings: dict[str, float] = Field(default_factory=dict, description="current exposures e0 (turnover)")
    turnover: float | None = Field(default=None, gt=0, description="sum |e - e0| <=")
    benchmark: dict[str, float] = Field(default_factory=dict, description="benchmark exposures (tracking error)")
    tracking_error: float | None = Field(default=None, gt=0, description="std of P&L minus benchmark P&L <=")
    caps: dict[str, float] = Field(default_factory=dict, description="risk measure -> cap")
    greeks: dict[str, dict[str, tuple[float | None, float | None]]] = Field(
        default_factory=dict, description="greek -> underlying -> [lo, hi] on portfolio Greeks")
    delta_neutral: list[str] = Field(default_factory=list, description="underlyings with |delta| <= tol")
    neutral_tol: float = Field(default=1e-6, gt=0)

    @field_validator("caps")
    @classmethod
    def _caps(cls, v: dict[str, float]) -> dict[str, float]:
        for k, cap in v.items():
            if k not in CAP_KEYS:
                raise ValueError(f"unknown risk measure {k!r} in caps; expected one of {', '.join(CAP_KEYS)}")
            if not cap > 0:
                raise ValueError(f"cap on {k} must be > 0")
        return v

    @field_validator("greeks")
    @classmethod
    def _greeks(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for g in v:
            if g not in GREEK_NAMES:
                raise ValueError(f"unknown Greek {g!r}; expected one of {', '.join(GREEK_NAMES)}")
        return v


class ConstraintSetSpec(ConstraintSpec):
    """An extra frontier with more constraints (added to ``optimization.constraints``)."""

    risk_measures: list[str] | None = Field(default=None, description="default: optimization.risk_measures")


def _check_measures(v: list[str]) -> list[str]:
    for rm in v:
        try:
            RiskMeasure(rm)
        except ValueError:
            raise ValueError(f"unknown risk measure {rm!r}; expected one of "
                             f"{', '.join(m.value for m in RiskMeasure)}") from None
    if len(set(v)) != len(v):
        raise ValueError("duplicate risk measures")
    return v


class OptimizationSpec(_Model):
    risk_measures: list[str] = Field(default_factory=lambda: ["CVaR"], min_length=1)
    objective: Literal["MinRisk"] = "MinRisk"
    portfolios: list[Literal["Sharpe", "Utility", "MaxRet"]] = Field(
        default_factory=list, description="single portfolios per (view set, measure, constraint set)")
    rf: float = Field(default=0.0, description="risk-free rate (Sharpe) and FLPM/SLPM threshold")
    l: float = Field(default=2.0, gt=0, description="risk aversion of the Utility objective")
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    demean: bool = False
    points: int = Field(default=20, ge=2)
    targets: list[float] = Field(default_factory=list)
    bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    solver: Literal["CLARABEL", "HIGHS"] = "CLARABEL"
    cvar_method: Literal["lp", "cuts", "auto"] = "auto"
    constraints: ConstraintSpec = Field(default_factory=ConstraintSpec)
    constraint_sets: dict[str, ConstraintSetSpec] = Field(default_factory=dict)

    @field_validator("risk_measures")
    @classmethod
    def _rms(cls, v: list[str]) -> list[str]:
        return _check_measures(v)


class OutputSpec(_Model):
    dir: str | None = None


class ClusterSpec(_Model):
    workers: int = Field(default=2, ge=1)
    threads_per_worker: int = Field(default=1, ge=1)


class RunConfig(_Model):
    """A whole run. See README 'Config reference' for every key, default and unit."""

    name: str = Field(default="run", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = Field(default=0, ge=0)
    horizon: float = Field(default=1.0, gt=0.0, description="years")
    scenarios: ScenarioSpec = Field(default_factory=ScenarioSpec)
    curves: list[CurveSpec] = Field(default_factory=list)
    instruments: list[InstrumentSpec] = Field(min_length=1)
    views: list[ViewSetSpec] = Field(default_factory=list)
    optimization: OptimizationSpec = Field(default_factory=OptimizationSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    # set by the loader, not by users: directory relative paths are resolved against
    base_dir: str = Field(default=".", exclude=True)
    _source_columns: list[str] | None = PrivateAttr(default=None)

    # ---- derived views of the config ---------------------------------------------------------
    @property
    def driver_names(self) -> list[str]:
        if self.scenarios.source is not None:
            return list(self._source_columns or [])
        return [d.name for d in self.scenarios.drivers]

    @property
    def instrument_names(self) -> list[str]:
        return [i.name for i in self.instruments]

    def curve_objects(self) -> dict[str, ZeroCurve]:
        return {c.name: ZeroCurve(c.name, tuple(c.tenors), tuple(c.rates), c.parallel_driver, c.slope_driver,
                                  c.slope_short, c.slope_long) for c in self.curves}

    def instrument_objects(self) -> list[Instrument]:
        """The instruments as :mod:`tasks.instruments` objects (curve names resolved)."""
        curves = self.curve_objects()
        out: list[Instrument] = []
        for spec in self.instruments:
            fields = spec.model_dump(exclude=set() if spec.kind in _MULTI_KIND else {"kind"})
            for key in ("curve", "foreign_curve"):
                if fields.get(key) is not None:
                    fields[key] = curves[fields[key]]
            out.append(_CLASSES[spec.kind](**fields))
        return out

    def driver_model(self) -> DriverModel:
        """The joint driver model of the simulated drivers."""
        sc = self.scenarios
        drivers = tuple(Driver(d.name, d.kind, d.mu, d.sigma) for d in sc.drivers)
        dist = "student_t" if sc.model == "student_t" else "normal"
        return DriverModel(drivers, self.correlation_matrix(), self.horizon, dist,
                           sc.nu if dist == "student_t" else None)

    def correlation_matrix(self) -> np.ndarray:
        return _correlation_matrix(self.scenarios.correlation, len(self.scenarios.drivers))

    def source_path(self) -> Path | None:
        src = self.scenarios.source
        if src is None:
            return None
        p = Path(src)
        return (p if p.is_absolute() else Path(self.base_dir) / p).resolve()

    def bounds_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower (N,), upper (N,)) exposure bounds: instrument name > kind > ``default``."""
        b = self.optimization.bounds
        lo, hi = [], []
        for spec in self.instruments:
            pair = b.get(spec.name, b.get(spec.kind, b.get("default", (-np.inf, np.inf))))
            lo.append(float(pair[0]))
            hi.append(float(pair[1]))
        return np.array(lo), np.array(hi)

    def view_sets(self) -> dict[str, list[View]]:
        """View objects of every view set, by name."""
        return {vs.name: [v.to_view() for v in vs.views] for vs in self.views}

    def constraint_set_names(self) -> list[str]:
        """``base`` (the ``optimization.constraints``) then every named extra set."""
        return ["base"] + list(self.optimization.constraint_sets)

    def set_measures(self, name: str) -> list[str]:
        """Risk measures whose frontiers are computed under constraint set ``name``."""
        if name == "base":
            return list(self.optimization.risk_measures)
        return list(self.optimization.constraint_sets[name].risk_measures or self.optimization.risk_measures)

    def constraints(self, name: str, greek_matrix: np.ndarray | None = None,
                    greek_keys: list[tuple[str, str]] | None = None) -> Any:
        """The :class:`tasks.optimization.Constraints` of constraint set ``name`` (base + the set's own).

        ``greek_matrix`` (N, K) and ``greek_keys`` come from :func:`tasks.instruments.greeks_matrix` and
        are needed when the set limits Greeks.
        """
        from tasks.optimization import Constraints, GreekLimits

        specs = [self.optimization.constraints]
        if name != "base":
            specs.append(self.optimization.constraint_sets[name])
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
        names = self.instrument_names
        kw: dict[str, Any] = {
            "groups": merged["groups"], "group_bounds": merged["group_bounds"], "linear": merged["linear"],
            "sht": merged["sht"], "uppersht": merged["uppersht"], "upperlng": merged["upperlng"],
            "leverage": merged["leverage"], "margin": merged["margin"], "turnover": merged["turnover"],
        }
        if merged["margin_rates"]:
            kw["margin_rates"] = np.array([merged["margin_rates"].get(n, 0.0) for n in names])
        if merged["holdings"] or merged["turnover"] is not None:
            kw["holdings"] = np.array([merged["holdings"].get(n, 0.0) for n in names])
        if merged["tracking_error"] is not None:
            kw["benchmark"] = np.array([merged["benchmark"].get(n, 0.0) for n in names])
            kw["TE"] = merged["tracking_error"]
        for rm, cap in merged["caps"].items():
            kw[CAP_KEYS[rm]] = cap
        if merged["greeks"] or merged["delta_neutral"]:
            if greek_matrix is None or greek_keys is None:
                raise ValueError("Greek limits need the instruments' Greek matrix")
            limits: dict[Any, Any] = {}
            for g, per in merged["greeks"].items():
                for und, lim in per.items():
                    limits[(g, und)] = tuple(lim)
            tol = merged["neutral_tol"]
            for und in merged["delta_neutral"]:
                limits[("delta", und)] = (-tol, tol)
            rows = [k for k in greek_keys if k in limits]
            cols = [greek_keys.index(k) for k in rows]
            kw["greeks"] = GreekLimits(np.asarray(greek_matrix)[:, cols].T, rows,
                                       {k: limits[k] for k in rows})
        return Constraints(**kw)

    def output_dir(self) -> Path:
        """Output folder: ``output.dir`` or ``runs/<name>``, relative to the working directory."""
        return Path(self.output.dir or f"runs/{self.name}").resolve()

    def canonical(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"base_dir"})


def config_hash(cfg: RunConfig) -> str:
    """SHA-256 of the canonical JSON of the config (stable key for deterministic task names)."""
    return hashlib.sha256(json.dumps(cfg.canonical(), sort_keys=True).encode()).hexdigest()


def _correlation_matrix(rows: list[list[float]] | None, d: int) -> np.ndarray:
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


# ---- loading & validation ---------------------------------------------------------------------

class _SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2 booleans: only true/false, so the view key ``on`` stays a
    string (YAML 1.1 would read ``on``/``off``/``yes``/``no`` as booleans)."""


_SafeLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


def yaml_error_line(exc: yaml.YAMLError) -> str:
    """A one-line description of a YAML syntax error."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}"


def safe_load(text: str) -> Any:
    """Parse YAML safely (no object construction) with YAML 1.2 booleans."""
    return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a SafeLoader subclass


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in INSTRUMENT_KINDS and parts and parts[-1].endswith("]"):
            continue  # discriminator tag of the instrument union
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def parse_config(data: Any, base_dir: str | Path = ".") -> RunConfig:
    """Validate a config mapping; raise :class:`ConfigError` (first problem, with key path)."""
    if not isinstance(data, dict):
        raise ConfigError("", "the config must be a YAML mapping at top level")
    if "base_dir" in data:
        raise ConfigError("base_dir", "unknown key")
    try:
        cfg = RunConfig(**{**data, "base_dir": str(base_dir)})
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        if err["type"] == "missing":
            msg = "required key is missing"
        raise ConfigError(_loc_to_path(tuple(err["loc"])), msg) from None
    _check_semantics(cfg)
    return cfg


def load_config(path: str | Path) -> RunConfig:
    """Read a YAML config with ``yaml.safe_load`` and validate it."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        data = safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("", yaml_error_line(exc)) from None
    return parse_config(data, base_dir=path.resolve().parent)


def _dupes(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})


def _check_semantics(cfg: RunConfig) -> None:
    sc = cfg.scenarios
    drivers = cfg.driver_names
    if sc.source is None:
        if not drivers:
            raise ConfigError("scenarios.drivers", "at least one driver is required (or give scenarios.source)")
        for i, d in enumerate(sc.drivers):
            if d.sigma <= 0:
                raise ConfigError(f"scenarios.drivers[{i}].sigma", "volatility must be > 0")
        corr = cfg.correlation_matrix()
        if not np.allclose(corr, corr.T, atol=1e-12):
            raise ConfigError("scenarios.correlation", "matrix is not symmetric")
        if not np.allclose(np.diag(corr), 1.0):
            raise ConfigError("scenarios.correlation", "diagonal must be all ones")
        if np.abs(corr).max() > 1 + 1e-12:
            raise ConfigError("scenarios.correlation", "entries must lie in [-1, 1]")
        min_eig = float(np.linalg.eigvalsh(corr).min())
        if min_eig < -1e-10:
            raise ConfigError("scenarios.correlation",
                              f"matrix is not positive semi-definite (smallest eigenvalue {min_eig:.4g})")
        if sc.count < 2 * len(drivers) and sc.moment_matching:
            raise ConfigError("scenarios.count", "too few scenarios to match moments")
        if sc.model == "student_t" and sc.nu is None:
            raise ConfigError("scenarios.nu", "model student_t needs nu (degrees of freedom > 2)")
        if sc.prior != "uniform":
            raise ConfigError("scenarios.prior", "a prior other than uniform applies to scenarios.source only")
    else:
        if sc.prior == "exponential" and sc.half_life is None:
            raise ConfigError("scenarios.half_life", "prior: exponential needs a half_life (in rows)")
        from pipeline.sources import check_source  # local import: reads the file header only

        check_source(cfg)
        drivers = cfg.driver_names
    if d := _dupes(drivers):
        raise ConfigError("scenarios.drivers", f"duplicate driver names: {', '.join(d)}")
    names = cfg.instrument_names
    if d := _dupes(names):
        raise ConfigError("instruments", f"duplicate instrument names: {', '.join(d)}")
    kinds = {d.name: d.kind for d in sc.drivers} if sc.source is None else dict.fromkeys(drivers, "spot")
    _check_curves(cfg, kinds)
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
            raise ConfigError(f"{key}.name",
                              f"{spec.name!r} is also a driver name; only a cash instrument on that driver may share it")
        if spec.kind in ("option", "variance_swap") and spec.maturity < cfg.horizon - 1e-12:
            raise ConfigError(f"{key}.maturity",
                              f"{spec.kind.replace('_', ' ')} expires ({spec.maturity} y) before the horizon "
                              f"({cfg.horizon} y)")
    variables = set(drivers) | set(names)
    if d := _dupes([vs.name for vs in cfg.views]):
        raise ConfigError("views", f"duplicate view set names: {', '.join(d)}")
    for i, vs in enumerate(cfg.views):
        if vs.name == "prior":
            raise ConfigError(f"views[{i}].name", "'prior' is reserved for the prior probabilities")
        for j, v in enumerate(vs.views):
            key = f"views[{i}].views[{j}]"
            try:
                view = v.to_view()
            except ValueError as exc:
                raise ConfigError(key, str(exc)) from None
            for name in view.variables:
                if name not in variables:
                    raise ConfigError(f"{key}.on", f"unknown driver or instrument {name!r}")
            if v.stat in ("vol", "var") and isinstance(v.value, float) and v.value < 0:
                raise ConfigError(f"{key}.value", f"{v.stat} must be >= 0")
        if vs.stages is not None:
            flat = sorted(k for st in vs.stages for k in st)
            if flat != list(range(len(vs.views))):
                raise ConfigError(f"views[{i}].stages",
                                  f"must list every view index 0..{len(vs.views) - 1} exactly once")
    _check_bounds(cfg)
    _check_constraints(cfg)


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
                raise ConfigError(f"curves[{i}].{field}",
                                  f"{ref!r} is not a driver of kind 'rate'" if ref in kinds else f"unknown driver {ref!r}")


def _check_constraints(cfg: RunConfig) -> None:
    from tasks.instruments import greeks_matrix
    from tasks.optimization import parse_constraint, resolve_names

    opt = cfg.optimization
    names = set(cfg.instrument_names)
    _, keys = greeks_matrix(cfg.instrument_objects())
    underlyings = {u for _, u in keys}
    drawdowns = {"MDD", "ADD", "CDaR"}
    sets = [("optimization.constraints", opt.constraints)] + [
        (f"optimization.constraint_sets.{k}", v) for k, v in opt.constraint_sets.items()]
    if "base" in opt.constraint_sets:
        raise ConfigError("optimization.constraint_sets.base", "'base' is reserved for optimization.constraints")
    for key, spec in sets:
        measures = set(opt.risk_measures)
        if isinstance(spec, ConstraintSetSpec) and spec.risk_measures is not None:
            try:
                _check_measures(spec.risk_measures)
            except ValueError as exc:
                raise ConfigError(f"{key}.risk_measures", str(exc)) from None
            measures = set(spec.risk_measures)
        if (measures | set(spec.caps)) & drawdowns and not cfg.scenarios.steps:
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
                if und not in underlyings:
                    raise ConfigError(f"{key}.greeks.{g}.{und}",
                                      f"no instrument has a {g} on {und!r} (underlyings: {', '.join(sorted(underlyings))})")
                if lo is not None and hi is not None and lo > hi:
                    raise ConfigError(f"{key}.greeks.{g}.{und}", f"lower limit {lo} exceeds upper limit {hi}")
        for und in spec.delta_neutral:
            if ("delta", und) not in keys:
                raise ConfigError(f"{key}.delta_neutral", f"no instrument has a delta on {und!r}")
    if set(opt.risk_measures) & drawdowns and not cfg.scenarios.steps:
        raise ConfigError("optimization.risk_measures",
                          "drawdown measures (MDD, ADD, CDaR) need path scenarios: set scenarios.steps")


def _check_bounds(cfg: RunConfig) -> None:
    opt = cfg.optimization
    known = set(cfg.instrument_names) | set(INSTRUMENT_KINDS) | {"default"}
    for key, (lo, hi) in opt.bounds.items():
        if key not in known:
            raise ConfigError(f"optimization.bounds.{key}",
                              "unknown instrument (keys are instrument names, kinds or 'default')")
        if lo > hi:
            raise ConfigError(f"optimization.bounds.{key}", f"lower bound {lo} exceeds upper bound {hi}")
    lo, hi = cfg.bounds_arrays()
    v = np.array([market_value(inst) for inst in cfg.instrument_objects()])
    a, b = v * lo, v * hi
    low = np.nansum(np.minimum(a, b))
    high = np.nansum(np.maximum(a, b))
    if not (low <= 1.0 + 1e-12 and high >= 1.0 - 1e-12):
        raise ConfigError("optimization.bounds",
                          f"no exposures within the bounds meet the budget v'e = 1 "
                          f"(v'e ranges over [{low:.4g}, {high:.4g}])")
