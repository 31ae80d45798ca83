"""Run configuration: YAML schema (pydantic), semantic checks, and resolution into task inputs.

Every problem is reported as :class:`ConfigError` with the dotted key path (``instruments[3].strike``)
and a reason, before any work starts. YAML is read with ``yaml.safe_load`` only.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from tasks.instruments import Cash, EuropeanOption, Instrument, market_value
from tasks.risk_measures import RiskMeasure
from tasks.views import OPS, STATS, View, parse_expression

__all__ = [
    "ConfigError",
    "RunConfig",
    "load_config",
    "parse_config",
    "config_hash",
    "safe_load",
]

SUPPORTED_RM = ("CVaR", "MV")


class ConfigError(ValueError):
    """A configuration problem, with the key path where it was found."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DriverSpec(_Model):
    """A risk driver with annual arithmetic drift ``mu`` and log-return volatility ``sigma``."""

    name: str = Field(min_length=1)
    mu: float = 0.0
    sigma: float = Field(default=0.0, ge=0.0)


class ScenarioSpec(_Model):
    count: int = Field(default=10_000, ge=10)
    chunks: int = Field(default=4, ge=1)
    block_size: int = Field(default=1000, ge=1)
    model: Literal["lognormal"] = "lognormal"
    moment_matching: bool = True
    drivers: list[DriverSpec] = Field(default_factory=list)
    correlation: list[list[float]] | None = None
    source: str | None = None
    returns: Literal["simple", "log"] = "simple"
    probability_column: str | None = None
    write: bool = False


class CashSpec(_Model):
    name: str = Field(min_length=1)
    kind: Literal["cash"]
    driver: str


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


InstrumentSpec = Annotated[Union[CashSpec, OptionSpec], Field(discriminator="kind")]


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


class OptimizationSpec(_Model):
    risk_measures: list[str] = Field(default_factory=lambda: ["CVaR"], min_length=1)
    objective: Literal["MinRisk"] = "MinRisk"
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    demean: bool = False
    points: int = Field(default=20, ge=2)
    targets: list[float] = Field(default_factory=list)
    bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    solver: Literal["CLARABEL", "HIGHS"] = "CLARABEL"

    @field_validator("risk_measures")
    @classmethod
    def _rms(cls, v: list[str]) -> list[str]:
        for rm in v:
            try:
                RiskMeasure(rm)
            except ValueError:
                raise ValueError(f"unknown risk measure {rm!r}") from None
            if rm not in SUPPORTED_RM:
                raise ValueError(f"risk measure {rm!r} is not available yet; use one of {SUPPORTED_RM}")
        if len(set(v)) != len(v):
            raise ValueError("duplicate risk measures")
        return v


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

    def instrument_objects(self) -> list[Instrument]:
        out: list[Instrument] = []
        for spec in self.instruments:
            fields = spec.model_dump(exclude={"kind"})
            out.append(Cash(**fields) if spec.kind == "cash" else EuropeanOption(**fields))
        return out

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
        elif item in ("cash", "option") and parts and parts[-1].endswith("]"):
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
    else:
        from pipeline.sources import check_source  # local import: reads the file header only

        check_source(cfg)
        drivers = cfg.driver_names
    if d := _dupes(drivers):
        raise ConfigError("scenarios.drivers", f"duplicate driver names: {', '.join(d)}")
    names = cfg.instrument_names
    if d := _dupes(names):
        raise ConfigError("instruments", f"duplicate instrument names: {', '.join(d)}")
    for i, spec in enumerate(cfg.instruments):
        if spec.driver not in drivers:
            raise ConfigError(f"instruments[{i}].driver",
                              f"unknown driver {spec.driver!r} (drivers: {', '.join(drivers)})")
        if spec.name in drivers and not (spec.kind == "cash" and spec.driver == spec.name):
            raise ConfigError(f"instruments[{i}].name",
                              f"{spec.name!r} is also a driver name; only a cash instrument on that driver may share it")
        if spec.kind == "option" and spec.maturity < cfg.horizon - 1e-12:
            raise ConfigError(f"instruments[{i}].maturity",
                              f"option expires ({spec.maturity} y) before the horizon ({cfg.horizon} y)")
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


def _check_bounds(cfg: RunConfig) -> None:
    opt = cfg.optimization
    known = set(cfg.instrument_names) | {"cash", "option", "default"}
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
