"""Instruments: the instrument classes, their relative market value v and today's rates.

Every instrument is repriced at the horizon H from a :class:`tasks.scenarios.DriverScenarios`
(drivers read by name). Notation: ``x`` = the instrument's ``driver`` value (log-return, so
``S_H = S_0 e^x``), ``g = exp(x_fx)`` the FX factor of ``fx_driver`` (base currency per unit of
foreign currency; ``g = 1`` without one), ``tau = T - H`` the remaining maturity, ``r(t)`` the zero
rate for time to maturity ``t`` (from ``curve`` shocked by its parallel/slope drivers, see
:mod:`tasks.instruments`, or the flat ``rate``), ``V_0`` / ``V_H`` values today / at the horizon in the
instrument's currency, ``N_0`` its normalising notional. In general

    P&L per unit exposure = (g V_H - V_0) / N_0,     v = V_0 / N_0,

so a foreign instrument's P&L is converted at the horizon FX rate (exposures in base currency).

=============  ===============================================  =========  ===================
kind           value V_t (local currency)                       N_0        relative value v
=============  ===============================================  =========  ===================
cash, equity   ``S_t`` (P&L = ``e^{x + x_fx} - 1``)              ``S_0``    1
future         margin account ``F_t - F_0``,                    ``S_0``    ``margin`` (initial
               ``F_t = S_t e^{(r(tau) - q) tau}``                          margin fraction, 0 =
                                                                           fully margin-funded)
forward        ``DF(tau) (F_t - K)``, ``K`` default ``F_0``       ``S_0``    ``V_0/S_0 + margin``
option         Black-Scholes with yield q (``model=              ``S_0``    ``V_0 / S_0``
               "black_scholes"``, driver = spot, F = S e^{(r-q)
               tau}) or Black-76 (``model="black76"``, driver =
               the forward of the option's expiry, F_0 =
               ``spot``); vol ``sigma(K)`` from the shocked ATM
               level and the sticky-moneyness skew (below)
variance_swap  ``DF(tau) [RV/T + (tau/T) sigma_t^2 - K_var]``,    1 (per     ``V_0`` (0 for a new
               ``RV`` = sum of squared driver log-increments      unit var.  swap at the fair
               along the path, ``K_var = strike^2``             notional)  strike)
bond           sum of remaining cash flows discounted at        1 (per     ``V_0`` (dirty price
               ``r(t_k - H) + spread`` plus coupons paid in     unit face) per unit face)
               ``(0, H]`` (held as cash, not reinvested)
fx_forward     ``X_t DF_f(tau) - K DF_d(tau)`` in base            ``X_0``    ``V_0 / X_0`` (0 at
               currency (driver = the FX rate X), ``K`` default                the fair strike)
               the fair forward ``X_0 DF_f(T) / DF_d(T)``
=============  ===============================================  =========  ===================

Option implied vol (sticky moneyness). With today's forward ``F_0``, the option's own implied vol
``vol`` and skew slope ``skew`` (per unit of log-moneyness), today's ATM level is
``atm_0 = vol - skew ln(K / F_0)``; at the horizon ``atm_H = atm_0 e^{x_vol}`` (``vol_driver``)
and ``sigma_H(K) = max(atm_H + skew ln(K / F_H), vol_floor)``, i.e. every option is repriced
with its own shocked vol; ``sigma_0 = max(vol, vol_floor)``. An option with ``T <= H`` is worth
its payoff; a future/forward with ``T <= H`` is taken as delivered at ``S_H`` (``tau = 0``); a
variance swap needs ``T >= H``. A variance swap's vol level moves with the ATM shock: ``sigma_H = vol e^{x_vol}`` (no
smile adjustment; ``vol`` is today's fair variance-swap vol).

Full repricing on driver scenarios (the P&L per unit exposure above) is in
:mod:`tasks.instruments._repricing`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tasks.instruments._black import black76_price
from tasks.instruments._curves import Side, ZeroCurve

__all__ = [
    "Cash",
    "Future",
    "EuropeanOption",
    "VarianceSwap",
    "Bond",
    "FxForward",
    "Instrument",
    "zero_rate",
    "forward_rate",
    "market_value",
    "rate_key",
]


# ---- rates --------------------------------------------------------------------------------------

def zero_rate(curve: ZeroCurve | None, rate: float, tau: float) -> float:
    """Today's zero rate for time to maturity ``tau``: ``curve.zero(tau)`` or the flat ``rate``."""
    return float(curve.zero(tau)) if curve is not None else float(rate)


def forward_rate(curve: ZeroCurve | None, rate: float, tau: float, side: Side = "right") -> float:
    """Today's instantaneous forward rate at ``tau`` (``rate`` for a flat rate); at a tenor node
    the one-sided rate ``side`` (theta, the horizon derivative, needs ``"left"``)."""
    return float(curve.forward(tau, side)) if curve is not None else float(rate)


def rate_key(curve: ZeroCurve | None, currency: str | None = None, fx_driver: str | None = None) -> str:
    """Underlying that keys an instrument's rate sensitivities (rho, convexity).

    The curve's name (e.g. ``"USD"``) when the instrument is discounted on a curve; else its flat
    rate's ``currency`` when given; else ``"rate"`` for a base-currency instrument (no FX driver)
    and ``"rate:<fx_driver>"`` for one in the currency of ``fx_driver``: flat rates of different
    currencies never share a key (nor a rho limit).
    """
    if curve is not None:
        return curve.name
    if currency is not None:
        return str(currency)
    return "rate" if fx_driver is None else f"rate:{fx_driver}"


def _check_code(field: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{field} must be one of {', '.join(allowed)}, got {value!r}")


def _check_positive(**values: float) -> None:
    for k, v in values.items():
        if not v > 0:
            raise ValueError(f"{k} must be > 0, got {v!r}")


# ---- instruments --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cash:
    """A funded asset (equity, index, fund, ETF, crypto) whose P&L is its driver's simple return.

    Parameters
    ----------
    name, driver : identifiers (driver: the asset's log-return driver).
    fx_driver : FX driver of its currency (base per foreign), ``None`` for base currency.
    """

    name: str
    driver: str
    fx_driver: str | None = None
    kind: Literal["cash", "equity"] = "cash"

    def __post_init__(self) -> None:
        _check_code("kind", self.kind, ("cash", "equity"))


@dataclass(frozen=True)
class Future:
    """An equity/index future (margined) or forward (unmargined) on a spot driver.

    Parameters
    ----------
    name, driver : identifiers (driver: the underlying's spot log-return).
    maturity : years to delivery today (T).
    spot : S_0; rate : flat rate r (used without ``curve``); dividend : yield q (decimals).
    curve : zero curve for the carry (shocked by its drivers), or ``None``.
    margin : initial margin fraction of S_0 held as capital (its relative market value).
    strike : delivery price K of a ``forward`` (default the fair forward F_0); unused for a future.
    fx_driver : FX driver of its currency or ``None``.
    kind : ``"future"`` (P&L = ``g (F_H - F_0) / S_0``) or ``"forward"`` (discounted value change).
    currency : currency of the flat ``rate`` (keys its rho, see :func:`rate_key`); unused with a
        ``curve`` (its name keys rho).
    """

    name: str
    driver: str
    maturity: float
    spot: float = 1.0
    rate: float = 0.0
    dividend: float = 0.0
    curve: ZeroCurve | None = None
    margin: float = 0.0
    strike: float | None = None
    fx_driver: str | None = None
    kind: Literal["future", "forward"] = "future"
    currency: str | None = None

    def __post_init__(self) -> None:
        _check_code("kind", self.kind, ("future", "forward"))
        _check_positive(spot=self.spot)

    @property
    def forward0(self) -> float:
        """Today's forward ``F_0 = S_0 exp((r(T) - q) T)``."""
        t = self.maturity
        return self.spot * math.exp((zero_rate(self.curve, self.rate, t) - self.dividend) * t)

    @property
    def delivery(self) -> float:
        """Delivery price K (``strike`` or ``F_0``)."""
        return self.forward0 if self.strike is None else float(self.strike)

    def value0(self) -> float:
        """``V_0`` (0 for a future; ``DF(T) (F_0 - K)`` for a forward)."""
        if self.kind == "future":
            return 0.0
        t = self.maturity
        return math.exp(-zero_rate(self.curve, self.rate, t) * t) * (self.forward0 - self.delivery)


@dataclass(frozen=True)
class EuropeanOption:
    """A European call or put (Black-Scholes with dividend yield, or Black-76 on a forward).

    Parameters
    ----------
    name, driver : identifiers (driver: spot log-return for ``black_scholes``, the forward's
        log-return for ``black76``).
    option_type : "call" or "put".
    strike : absolute strike K, in the units of ``spot``.
    maturity : years to expiry today (T).
    vol : the option's implied volatility today (annual, decimal).
    rate : flat continuously compounded rate r (used without ``curve``); dividend : yield q
        (``black_scholes`` only).
    spot : S_0 (``black_scholes``) or F_0 (``black76``).
    model : ``"black_scholes"`` or ``"black76"``.
    skew : slope of implied vol in log-moneyness ``ln(K/F)`` (e.g. -0.1), sticky moneyness.
    vol_driver : driver of the underlying's ATM-vol log-change, or ``None`` (ATM level fixed).
    vol_floor : lower bound of the shocked implied vol.
    curve : zero curve (shocked by its drivers) or ``None`` for the flat ``rate``.
    fx_driver : FX driver of its currency or ``None``.
    currency : currency of the flat ``rate`` (keys its rho, see :func:`rate_key`).
    """

    name: str
    driver: str
    option_type: Literal["call", "put"]
    strike: float
    maturity: float
    vol: float
    rate: float = 0.0
    dividend: float = 0.0
    spot: float = 1.0
    model: Literal["black_scholes", "black76"] = "black_scholes"
    skew: float = 0.0
    vol_driver: str | None = None
    vol_floor: float = 1e-3
    curve: ZeroCurve | None = None
    fx_driver: str | None = None
    kind: Literal["option"] = "option"
    currency: str | None = None

    def __post_init__(self) -> None:
        _check_code("option_type", self.option_type, ("call", "put"))
        _check_code("model", self.model, ("black_scholes", "black76"))
        _check_positive(strike=self.strike, spot=self.spot, vol_floor=self.vol_floor)
        if not self.vol >= 0.0:
            raise ValueError(f"vol must be >= 0, got {self.vol!r}")

    @property
    def is_call(self) -> bool:
        return self.option_type == "call"

    @property
    def carry(self) -> float:
        """Dividend yield used in the forward (0 for ``black76``)."""
        return self.dividend if self.model == "black_scholes" else 0.0

    def _log_forward(self, spot: float, tau: float, r: float) -> float:
        lf = math.log(spot)
        return lf + (r - self.dividend) * tau if self.model == "black_scholes" else lf

    @property
    def forward0(self) -> float:
        """Today's forward ``F_0`` of the option's expiry."""
        return math.exp(self._log_forward(self.spot, self.maturity, self.rate0))

    @property
    def rate0(self) -> float:
        """Today's zero rate for the option's maturity."""
        return zero_rate(self.curve, self.rate, self.maturity)

    @property
    def atm_vol0(self) -> float:
        """Today's ATM level ``atm_0 = vol - skew ln(K / F_0)``."""
        return self.vol - self.skew * (math.log(self.strike) - math.log(self.forward0))

    def price(self, spot: np.ndarray | float, time_to_expiry: float) -> np.ndarray:
        """Value for spot(s) (or forwards, ``black76``) and remaining maturity (years) on today's
        curve and ATM level, with the sticky-moneyness vol of the moved forward."""
        tau = max(float(time_to_expiry), 0.0)
        r = zero_rate(self.curve, self.rate, tau)
        s = np.asarray(spot, dtype=float)
        fwd = s * math.exp((r - self.dividend) * tau) if self.model == "black_scholes" else s
        sigma = self.vol
        if self.skew != 0.0:
            lf0 = self._log_forward(self.spot, self.maturity, self.rate0)
            sigma = self.vol + self.skew * (lf0 - np.log(fwd))
        return black76_price(fwd, self.strike, tau, np.maximum(sigma, self.vol_floor), r, self.is_call)


@dataclass(frozen=True)
class VarianceSwap:
    """A variance swap on a driver; P&L per unit of variance notional.

    Parameters
    ----------
    name, driver : identifiers (driver: the underlying's log-return).
    maturity : years to expiry today (T >= horizon).
    vol : today's fair variance-swap vol (annual, decimal); its level moves with ``vol_driver``.
    strike : vol strike (``K_var = strike^2``); default ``vol`` (a new swap, V_0 = 0).
    vol_driver : ATM-vol driver of the underlying, or ``None``.
    rate, curve : discounting (flat rate or shocked curve).
    fx_driver : FX driver of its currency or ``None``.
    currency : currency of the flat ``rate`` (keys its rho, see :func:`rate_key`).
    """

    name: str
    driver: str
    maturity: float
    vol: float
    strike: float | None = None
    vol_driver: str | None = None
    rate: float = 0.0
    curve: ZeroCurve | None = None
    fx_driver: str | None = None
    kind: Literal["variance_swap"] = "variance_swap"
    currency: str | None = None

    def __post_init__(self) -> None:
        _check_positive(maturity=self.maturity)

    @property
    def variance_strike(self) -> float:
        """``K_var = strike^2`` (``vol^2`` by default)."""
        k = self.vol if self.strike is None else float(self.strike)
        return k * k

    def value0(self) -> float:
        """``V_0 = DF(T) (vol^2 - K_var)``."""
        t = self.maturity
        return math.exp(-zero_rate(self.curve, self.rate, t) * t) * (self.vol**2 - self.variance_strike)


@dataclass(frozen=True)
class Bond:
    """A zero-coupon (``coupon=0``) or fixed-coupon bond per unit of face value.

    Parameters
    ----------
    name : identifier.
    maturity : years to the final payment (T > 0).
    coupon : annual coupon rate (decimal); each payment is ``coupon / frequency``.
    frequency : coupons per year; payment dates ``T - k / frequency > 0``, k = 0, 1, ...
        (the first period may be short; prices are dirty).
    curve : discount curve (shocked by its drivers) or ``None`` for the flat ``rate``.
    rate : flat continuously compounded rate (used without ``curve``).
    spread : constant continuously compounded credit spread added to the zero rate.
    fx_driver : FX driver of its currency or ``None``.
    currency : currency of the flat ``rate`` (keys its rho and convexity, see :func:`rate_key`).
    """

    name: str
    maturity: float
    coupon: float = 0.0
    frequency: int = 1
    curve: ZeroCurve | None = None
    rate: float = 0.0
    spread: float = 0.0
    fx_driver: str | None = None
    kind: Literal["bond"] = "bond"
    currency: str | None = None

    def __post_init__(self) -> None:
        _check_positive(maturity=self.maturity, frequency=self.frequency)

    def cash_flows(self) -> tuple[np.ndarray, np.ndarray]:
        """(times (K,) in years ascending, amounts (K,) per unit face) of the remaining payments."""
        if not self.maturity > 0 or self.frequency < 1:
            raise ValueError("bond needs maturity > 0 and frequency >= 1")
        n = int(math.floor(self.maturity * self.frequency + 1e-9))
        times = self.maturity - np.arange(n + 1)[::-1] / self.frequency
        times = times[times > 1e-12]
        amounts = np.full(times.shape, self.coupon / self.frequency)
        amounts[-1] += 1.0
        return times, amounts

    def value0(self) -> float:
        """Today's dirty price per unit face ``sum a_k exp(-(r(t_k) + spread) t_k)``."""
        t, a = self.cash_flows()
        z = self.curve.zero(t) if self.curve is not None else np.full(t.shape, self.rate)
        return float(np.sum(a * np.exp(-(z + self.spread) * t)))


@dataclass(frozen=True)
class FxForward:
    """An FX forward: buy 1 unit of foreign currency for K units of base currency at T.

    Parameters
    ----------
    name : identifier; driver : the FX rate's log-return driver (base per unit foreign).
    maturity : years to delivery (T).
    strike : K (base per foreign); default the fair forward (V_0 = 0).
    spot : X_0. rate / curve : domestic (base) discounting; foreign_rate / foreign_curve : foreign.
    currency, foreign_currency : currencies of the flat ``rate`` / ``foreign_rate`` (key their
        rho, see :func:`rate_key`; the foreign one defaults to the FX ``driver``'s currency).
    """

    name: str
    driver: str
    maturity: float
    strike: float | None = None
    spot: float = 1.0
    rate: float = 0.0
    foreign_rate: float = 0.0
    curve: ZeroCurve | None = None
    foreign_curve: ZeroCurve | None = None
    kind: Literal["fx_forward"] = "fx_forward"
    currency: str | None = None
    foreign_currency: str | None = None

    def __post_init__(self) -> None:
        _check_positive(spot=self.spot)

    def _dfs(self, tau: float) -> tuple[float, float]:
        rd = zero_rate(self.curve, self.rate, tau)
        rf = zero_rate(self.foreign_curve, self.foreign_rate, tau)
        return math.exp(-rd * tau), math.exp(-rf * tau)

    @property
    def delivery(self) -> float:
        """K (``strike`` or the fair forward ``X_0 DF_f(T) / DF_d(T)``)."""
        if self.strike is not None:
            return float(self.strike)
        dd, df = self._dfs(self.maturity)
        return self.spot * df / dd

    def value0(self) -> float:
        """``V_0 = X_0 DF_f(T) - K DF_d(T)`` in base currency."""
        dd, df = self._dfs(self.maturity)
        return self.spot * df - self.delivery * dd


Instrument = Cash | Future | EuropeanOption | VarianceSwap | Bond | FxForward


# ---- market values ------------------------------------------------------------------------------

def market_value(inst: Instrument) -> float:
    """Relative market value v of one unit of exposure (dimensionless, see module table)."""
    if isinstance(inst, Cash):
        return 1.0
    if isinstance(inst, EuropeanOption):
        return float(inst.price(inst.spot, inst.maturity)) / inst.spot
    if isinstance(inst, Future):
        return inst.margin + inst.value0() / inst.spot
    if isinstance(inst, (VarianceSwap, Bond)):
        return inst.value0()
    if isinstance(inst, FxForward):
        return inst.value0() / inst.spot
    raise TypeError(f"unknown instrument {inst!r}")
