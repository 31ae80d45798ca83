"""The config schema: what a run's YAML may say, with types, defaults and units (pydantic v2).

Field types come from the numerics' vocabulary (:mod:`tasks.vocabulary`): a risk measure, a
Greek, a view stat or an SEP method is validated against the enum the solvers use, with a
one-line error naming the choices. Cross-field checks live in :mod:`pipeline.validate`; turning a
valid config into the run's inputs lives in :mod:`pipeline.resolve`.
"""

from __future__ import annotations

import enum
import math
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator

from pipeline.plan import BLACK_LITTERMAN
from tasks.optimization import CvarMethod
from tasks.scenarios import FREQUENCIES, DriverKind, periods_per_year
from tasks.vocabulary import (
    BOOK_VARIABLE,
    METHODS,
    OPS,
    SINGLE_PORTFOLIOS,
    STATS,
    Greek,
    Objective,
    RiskMeasure,
    SEPMethod,
    ViewStat,
)

__all__ = [
    "RunConfig",
    "ScenarioSpec",
    "DriverSpec",
    "CurveSpec",
    "InstrumentSpec",
    "FactorModelSpec",
    "ViewSpec",
    "ViewSetSpec",
    "BL_KEYS",
    "ConstraintSpec",
    "ConstraintSetSpec",
    "OptimizationSpec",
    "BookSpec",
    "ReplaySpec",
    "ShockSpec",
    "LimitsSpec",
    "RebalanceSpec",
    "BOOK_VARIABLE",
    "INSTRUMENT_KINDS",
    "MULTI_KIND",
]


def _member(cls: type[enum.StrEnum], what: str, choices: tuple[str, ...] | None = None) -> BeforeValidator:
    """Validator turning a string into a member of ``cls``, with 'unknown <what> ...; expected one of ...'."""
    allowed = choices if choices is not None else tuple(m.value for m in cls)

    def check(v: Any) -> enum.StrEnum:
        if isinstance(v, str) and v in allowed:
            return cls(v)
        raise ValueError(f"unknown {what} {v!r}; expected one of {', '.join(allowed)}")

    return BeforeValidator(check)


Measure = Annotated[RiskMeasure, _member(RiskMeasure, "risk measure")]
GreekCode = Annotated[Greek, _member(Greek, "Greek")]
Stat = Annotated[ViewStat, _member(ViewStat, "stat", STATS)]
SinglePortfolio = Annotated[Objective, _member(Objective, "single-portfolio objective",
                                               tuple(o.value for o in SINGLE_PORTFOLIOS))]
FrontierObjective = Annotated[Objective, _member(Objective, "frontier objective", ("MinRisk",))]


def _whole_number(v: Any) -> Any:
    """A whole number however YAML wrote it: ``1e8`` (a string to YAML 1.1), ``1.0e8`` (a float),
    ``1_000_000``; a fraction such as ``1.5`` is refused."""
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        try:
            d = Decimal(v.strip().replace("_", ""))
        except InvalidOperation:
            return v  # not a number: pydantic says so
        if not d.is_finite() or d != d.to_integral_value():
            raise ValueError(f"must be a whole number, got {v!r}")
        return int(d)
    if isinstance(v, float) and math.isfinite(v):
        if not v.is_integer():
            raise ValueError(f"must be a whole number, got {v!r}")
        return int(v)
    return v


#: an int that also accepts ``1e8`` and ``1.0e8`` (counts, sizes)
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]


def _frequency(v: Any) -> Any:
    """A history's period: a name of :data:`tasks.scenarios.FREQUENCIES` (any case) or periods per year."""
    if v is None:
        return v
    if isinstance(v, bool):
        raise ValueError(f"expected one of {', '.join(FREQUENCIES)} or the number of periods per year")
    if isinstance(v, str):
        try:
            v = float(v)  # a number of periods per year, quoted
        except ValueError:
            v = v.strip().lower()
    periods_per_year(v)  # raises ValueError with the choices
    return v if isinstance(v, str) else float(v)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DriverSpec(_Model):
    """A risk driver (see :mod:`tasks.scenarios`): ``spot``/``fx``/``vol`` drivers are log-changes
    with annual arithmetic drift ``mu`` and volatility ``sigma``; ``rate`` drivers are additive
    changes of a curve factor (decimal rate units) with drift ``mu`` and volatility ``sigma``."""

    name: str = Field(min_length=1)
    kind: DriverKind = "spot"
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


class FactorModelSpec(_Model):
    """``scenarios.factor_model``: asset drivers from the factor drivers through loadings estimated on
    histories (see :mod:`pipeline.resolve_factors`)."""

    file: str = Field(min_length=1, description="asset-return history: a date column + one column per asset")
    factors: str | None = Field(default=None, exclude_if=lambda v: v is None,
                                description="factor history: the date column + one column per factor driver")
    date_column: str = Field(default="date", min_length=1, description="date column of both histories")
    returns: Literal["simple", "log"] = Field(default="simple", description="what both histories hold per period")
    method: Literal["ols", "forward", "backward"] = "ols"
    threshold: float = Field(default=0.05, gt=0, le=1, description="p-value threshold of stepwise selection")
    residuals: Literal["rows", "assets", "none"] = Field(
        default="rows", description="resample whole residual rows, each asset's residual, or none")
    frequency: Annotated[str | float | None, BeforeValidator(_frequency)] = Field(
        default=None, exclude_if=lambda v: v is None,
        description="period of the history rows: daily|weekly|monthly|... or periods per year (default: dates)")


class ScenarioSpec(_Model):
    count: WholeNumber = Field(default=10_000, ge=10)
    chunks: WholeNumber = Field(default=4, ge=1)
    block_size: WholeNumber = Field(default=1000, ge=1)
    model: Literal["lognormal", "student_t"] = "lognormal"
    nu: float | None = Field(default=None, gt=2.0, description="Student-t degrees of freedom")
    moment_matching: bool = True
    steps: WholeNumber | None = Field(default=None, ge=1, description="path steps per scenario (drawdown measures)")
    drivers: list[DriverSpec] = Field(default_factory=list)
    correlation: list[list[float]] | None = None
    source: str | None = None
    returns: Literal["simple", "log", "prices"] = Field(
        default="simple", description="what the driver columns of source hold: returns, or price levels")
    date_column: str | None = Field(default=None, exclude_if=lambda v: v is None,
                                    description="column of dates (or a sortable index) in source")
    frequency: Annotated[str | float | None, BeforeValidator(_frequency)] = Field(
        default=None, exclude_if=lambda v: v is None,
        description="period of the rows of source: daily|weekly|monthly|... or periods per year")
    probability_column: str | None = None
    prior: Literal["uniform", "exponential"] = "uniform"
    half_life: float | None = Field(default=None, gt=0, description="rows, for prior: exponential")
    write: bool = False
    factor_model: FactorModelSpec | None = Field(default=None, exclude_if=lambda v: v is None)


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
    currency: str | None = Field(default=None, exclude_if=lambda v: v is None,
                                 description="currency of the flat rate: keys its rho (default: rate)")


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
    currency: str | None = Field(default=None, exclude_if=lambda v: v is None,
                                 description="currency of the flat rate: keys its rho (default: rate)")


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
    currency: str | None = Field(default=None, exclude_if=lambda v: v is None,
                                 description="currency of the flat rate: keys its rho (default: rate)")


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
    currency: str | None = Field(default=None, exclude_if=lambda v: v is None,
                                 description="currency of the flat rate: keys its rho (default: rate)")


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
    currency: str | None = Field(default=None, exclude_if=lambda v: v is None,
                                 description="currency of the flat rate: keys its rho (default: rate)")
    foreign_currency: str | None = Field(default=None, exclude_if=lambda v: v is None,
                                         description="currency of the flat foreign_rate: keys its rho")


InstrumentSpec = Annotated[
    CashSpec | FutureSpec | OptionSpec | VarianceSwapSpec | BondSpec | FxForwardSpec,
    Field(discriminator="kind"),
]
INSTRUMENT_KINDS = ("cash", "equity", "future", "forward", "option", "variance_swap", "bond", "fx_forward")
MULTI_KIND = ("cash", "equity", "future", "forward")


class ViewSpec(_Model):
    """One view ``stat(on) op value`` (see :class:`tasks.views.View`)."""

    stat: Stat
    on: str | list[str] | dict[str, float]
    op: str
    value: float | str
    alpha: float | None = Field(default=None, gt=0.0, lt=1.0, description="VaR/CVaR tail probability")
    confidence: float = Field(default=1.0, gt=0.0, le=1.0)
    threshold: float | None = Field(default=None, description="x in P(X <= x) for stat: prob")

    @field_validator("op")
    @classmethod
    def _op(cls, v: str) -> str:
        if v not in OPS:
            raise ValueError(f"unknown operator {v!r}; expected one of {', '.join(OPS)}")
        return v

    @field_validator("value")
    @classmethod
    def _value(cls, v: float | str) -> float | str:
        """Numbers must be finite; an expression is parsed once, where the view is built."""
        if not isinstance(v, str) and not np.isfinite(v):
            raise ValueError("value must be finite")
        return v


def _set_method(v: Any) -> Any:
    """A view set's method: an SEP method, or ``black_litterman``."""
    if v == BLACK_LITTERMAN:
        return v
    if isinstance(v, str) and v in METHODS:
        return SEPMethod(v)
    raise ValueError(f"unknown method {v!r}; expected one of {', '.join((*METHODS, BLACK_LITTERMAN))}")


SetMethod = Annotated[SEPMethod | Literal["black_litterman"], BeforeValidator(_set_method)]
#: keys of a view set that only ``method: black_litterman`` reads
BL_KEYS = ("tau", "delta", "equilibrium", "weights", "match_cov")


class ViewSetSpec(_Model):
    """A set of views solved together: Sequential Entropy Pooling (H1, H2), Meucci's original, or
    Black-Litterman (``method: black_litterman``).

    A Black-Litterman set's views are ``{stat: mean, on: <variable | linear expression | mapping>,
    op: "=", value: Q_k}`` (the rows ``P_k`` of the linear-view grammar); its ``confidence`` is
    Idzorek's (view k alone tilts the mean by c_k of its 100 % tilt), given on every view or on
    none (He-Litterman ``Omega = diag(P tau Sigma P^T)``), not Meucci's blend of EP sets. The
    prior mean is ``Pi = delta Sigma w`` (``equilibrium``, default true, with ``weights`` and
    ``delta``) or the scenario means; ``Sigma`` is the scenarios' covariance under the prior. The
    posterior mean (and with ``match_cov`` the covariance) is matched by Entropy Pooling
    (:mod:`pipeline.black_litterman_views`). :data:`BL_KEYS` apply to such sets only.
    """

    name: str = Field(min_length=1)
    method: SetMethod = SEPMethod.H1
    stages: list[list[int]] | None = Field(default=None, description="custom stage order: view indices")
    views: list[ViewSpec] = Field(min_length=1)
    # ---- Black-Litterman only (None: not given; defaults in pipeline.resolve) ----
    tau: float | None = Field(default=None, gt=0, allow_inf_nan=False, exclude_if=lambda v: v is None,
                              description="uncertainty of the prior mean, tau * Sigma (default 0.05)")
    delta: float | None = Field(default=None, gt=0, allow_inf_nan=False, exclude_if=lambda v: v is None,
                                description="risk aversion of the equilibrium prior Pi = delta Sigma w")
    equilibrium: bool | None = Field(default=None, exclude_if=lambda v: v is None,
                                     description="prior mean from market weights (default true), else the "
                                                 "scenario means")
    weights: dict[str, float] | None = Field(default=None, exclude_if=lambda v: v is None,
                                             description="variable -> market weight (equilibrium)")
    match_cov: bool | None = Field(default=None, exclude_if=lambda v: v is None,
                                   description="also match the BL posterior covariance (default false)")

    @property
    def is_black_litterman(self) -> bool:
        return self.method == BLACK_LITTERMAN


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
    caps: dict[Measure, float] = Field(default_factory=dict, description="risk measure -> cap")
    greeks: dict[GreekCode, dict[str, tuple[float | None, float | None]]] = Field(
        default_factory=dict, description="greek -> underlying -> [lo, hi] on portfolio Greeks")
    delta_neutral: list[str] = Field(default_factory=list, description="underlyings with |delta| <= tol")
    neutral_tol: float = Field(default=1e-6, gt=0)

    @field_validator("caps")
    @classmethod
    def _caps(cls, v: dict[RiskMeasure, float]) -> dict[RiskMeasure, float]:
        for k, cap in v.items():
            if not cap > 0:
                raise ValueError(f"cap on {k} must be > 0")
        return v


class ConstraintSetSpec(ConstraintSpec):
    """An extra frontier with more constraints (added to ``optimization.constraints``)."""

    risk_measures: list[Measure] | None = Field(default=None, description="default: optimization.risk_measures")

    @field_validator("risk_measures")
    @classmethod
    def _rms(cls, v: list[RiskMeasure] | None) -> list[RiskMeasure] | None:
        return None if v is None else _no_duplicates(v)


def _no_duplicates(v: list[RiskMeasure]) -> list[RiskMeasure]:
    if len(set(v)) != len(v):
        raise ValueError("duplicate risk measures")
    return v


class OptimizationSpec(_Model):
    risk_measures: list[Measure] = Field(default_factory=lambda: [RiskMeasure.CVaR], min_length=1)
    objective: FrontierObjective = Objective.MinRisk
    portfolios: list[SinglePortfolio] = Field(
        default_factory=list, description="single portfolios per (view set, measure, constraint set)")
    rf: float = Field(default=0.0, description="risk-free rate (Sharpe) and FLPM/SLPM threshold")
    l: float = Field(default=2.0, gt=0, description="risk aversion of the Utility objective")
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    demean: bool = False
    points: WholeNumber = Field(default=20, ge=2)
    targets: list[float] = Field(default_factory=list)
    bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    solver: Literal["CLARABEL", "HIGHS"] = "CLARABEL"
    cvar_method: CvarMethod = "auto"
    constraints: ConstraintSpec = Field(default_factory=ConstraintSpec)
    constraint_sets: dict[str, ConstraintSetSpec] = Field(default_factory=dict)

    @field_validator("risk_measures")
    @classmethod
    def _rms(cls, v: list[RiskMeasure]) -> list[RiskMeasure]:
        return _no_duplicates(v)


# ---- the user's own book ------------------------------------------------------------------------

class BookSpec(_Model):
    """The portfolio you hold: exposures per unit of portfolio value, inline or from a file."""

    holdings: dict[str, float] | None = Field(
        default=None, description="instrument -> exposure per unit of portfolio value (v'e = 1)")
    file: str | None = Field(default=None, description=(
        "positions file (CSV/Parquet): columns instrument and exposure, or instrument and quantity "
        "(units; optional multiplier) with value"))
    value: float | None = Field(default=None, gt=0, description="the book's market value in currency")
    cash: str | None = Field(default=None, exclude_if=lambda v: v is None,
                             description="instrument that holds the rest of the value (its exposure: v'e = 1)")


class ReplaySpec(_Model):
    """Rows of a driver-returns file replayed as shocks of every driver column."""

    file: str = Field(min_length=1)
    rows: list[str | int] | None = Field(default=None, description="dates or labels, or 1-based row numbers")
    worst: WholeNumber | None = Field(default=None, ge=1, description="the k rows in which the book loses most")
    returns: Literal["log", "simple", "prices"] = Field(
        default="log", description="what the spot/fx/vol columns hold (rate columns: changes, or levels with prices)")
    date_column: str | None = Field(default=None, exclude_if=lambda v: v is None)


class ShockSpec(_Model):
    """A named deterministic stress scenario: driver moves in the drivers' own units, or a replay."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    name: str = Field(min_length=1)
    drivers: dict[str, float] = Field(default_factory=dict, description="driver -> move (log-return, "
                                      "vol log-change, rate change)")
    as_: Literal["log", "simple"] = Field(default="log", alias="as",
                                          description="spot/fx moves are log-returns or simple returns")
    propagate: Literal["none", "conditional"] = "none"
    from_history: ReplaySpec | None = Field(default=None, exclude_if=lambda v: v is None)


class LimitsSpec(ConstraintSpec):
    """Limits on the book, in the grammar of the optimisation constraints, plus exposure bounds and
    risk caps under a view set's posterior."""

    bounds: dict[str, tuple[float | None, float | None]] = Field(
        default_factory=dict, description="instrument | kind | default -> [lo, hi] exposure")
    view_caps: dict[str, dict[Measure, float]] = Field(
        default_factory=dict, description="view set -> risk measure -> cap under its posterior")


class RebalanceSpec(_Model):
    """The least-cost trade that restores every limit."""

    costs: dict[str, float] = Field(default_factory=dict, description=(
        "instrument | kind | default -> cost per unit of exposure traded (portfolio-value units)"))
    solver: Literal["CLARABEL", "HIGHS"] | None = None


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
    book: BookSpec | None = Field(default=None, exclude_if=lambda v: v is None)
    shocks: list[ShockSpec] = Field(default_factory=list, exclude_if=lambda v: not v)
    limits: LimitsSpec | None = Field(default=None, exclude_if=lambda v: v is None)
    rebalance: RebalanceSpec | None = Field(default=None, exclude_if=lambda v: v is None)
    output: OutputSpec = Field(default_factory=OutputSpec)
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    allow_unusual: list[str] = Field(default_factory=list, exclude_if=lambda v: not v, description=(
        "key paths whose unusual but legal values are meant (unit checks, pipeline.validate)"))
    # set by the loader, not by users: directory relative paths are resolved against
    base_dir: str = Field(default=".", exclude=True)
    _source_columns: list[str] | None = PrivateAttr(default=None)
    _factor_assets: list[str] | None = PrivateAttr(default=None)

    # ---- names and paths (objects are built in pipeline.resolve) --------------------------------
    @property
    def driver_names(self) -> list[str]:
        """Simulated drivers' names, or a scenario file's driver columns (read by validation), then
        the assets of ``scenarios.factor_model`` (derived drivers, read by validation)."""
        if self.scenarios.source is not None:
            names = [c for c in self._source_columns or [] if c != self.scenarios.date_column]
        else:
            names = [d.name for d in self.scenarios.drivers]
        return names + list(self.factor_assets)

    @property
    def factor_assets(self) -> list[str]:
        """Asset drivers of ``scenarios.factor_model`` (the asset file's columns), or none."""
        return list(self._factor_assets or []) if self.scenarios.factor_model is not None else []

    @property
    def factor_drivers(self) -> list[str]:
        """The drivers the assets load on: every driver that is not an asset."""
        assets = set(self.factor_assets)
        return [n for n in self.driver_names if n not in assets]

    @property
    def instrument_names(self) -> list[str]:
        return [i.name for i in self.instruments]

    def source_path(self) -> Path | None:
        """``scenarios.source`` resolved against the config file's folder."""
        src = self.scenarios.source
        return None if src is None else self.path(src)

    def path(self, name: str) -> Path:
        """A file named in the config, resolved against the config file's folder."""
        p = Path(name)
        return (p if p.is_absolute() else Path(self.base_dir) / p).resolve()

    def constraint_set_names(self) -> list[str]:
        """``base`` (the ``optimization.constraints``) then every named extra set."""
        return ["base"] + list(self.optimization.constraint_sets)

    def set_measures(self, name: str) -> list[RiskMeasure]:
        """Risk measures whose frontiers are computed under constraint set ``name``."""
        if name == "base":
            return list(self.optimization.risk_measures)
        return list(self.optimization.constraint_sets[name].risk_measures or self.optimization.risk_measures)

    def output_dir(self) -> Path:
        """Output folder: ``output.dir`` or ``runs/<name>``, relative to the working directory."""
        return Path(self.output.dir or f"runs/{self.name}").resolve()

    def canonical(self) -> dict[str, Any]:
        """The config as JSON-ready data (what the manifest stores and the config hash covers)."""
        return self.model_dump(mode="json", exclude={"base_dir"})
