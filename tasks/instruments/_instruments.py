"""Instruments: per-scenario P&L per unit of exposure and relative market value v.

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

Variance swap realised variance: with paths, ``RV`` is the sum of the squared per-step
log-increments of the driver (not demeaned; ``RV / H`` is the annualised realised variance over
``[0, H]``); without paths the horizon is one step, ``RV = x^2``. Its P&L is per unit *variance*
notional: realised vol 20 % vs strike 15 % at expiry pays ``0.04 - 0.0225 = 0.0175``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tasks.instruments._curves import ZeroCurve
from tasks.instruments._pricing import black76_price
from tasks.scenarios._drivers import DriverScenarios

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
    "instrument_pnl",
    "scenario_pnl",
    "pnl_matrix",
    "pnl_paths",
]


# ---- rates --------------------------------------------------------------------------------------

def zero_rate(curve: ZeroCurve | None, rate: float, tau: float) -> float:
    """Today's zero rate for time to maturity ``tau``: ``curve.zero(tau)`` or the flat ``rate``."""
    return float(curve.zero(tau)) if curve is not None else float(rate)


def forward_rate(curve: ZeroCurve | None, rate: float, tau: float) -> float:
    """Today's instantaneous forward rate at ``tau`` (``rate`` for a flat rate)."""
    return float(curve.forward(tau)) if curve is not None else float(rate)


def _horizon_rate(curve: ZeroCurve | None, rate: float, tau: float | np.ndarray,
                  scen: DriverScenarios) -> np.ndarray | float:
    """Shocked zero rate(s) at the horizon for time(s) to maturity ``tau``.

    Scalar ``tau`` -> (n,) (or a float when nothing is shocked); (m,) ``tau`` -> (n, m) / (m,).
    """
    if curve is None:
        return float(rate) if np.ndim(tau) == 0 else np.full(np.shape(tau), float(rate))
    return curve.shocked_zero(tau, scen.get(curve.parallel_driver), scen.get(curve.slope_driver))


def _fx(fx_driver: str | None, scen: DriverScenarios) -> np.ndarray | float:
    return 1.0 if fx_driver is None else np.exp(scen.column(fx_driver))


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


# ---- repricing ----------------------------------------------------------------------------------

_ROW_BLOCK = 1 << 16  # elements per row block of the grouped option repricing (cache friendly)


def _options_pnl(opts: Sequence[EuropeanOption], scen: DriverScenarios,
                 out: np.ndarray | None = None) -> np.ndarray:
    """(n, m) P&L of options sharing driver, vol driver, FX driver, curve and model.

    Written into ``out`` ((n, m), may be a column slice of a larger array) when given. Rows are
    processed in blocks of about ``_ROW_BLOCK`` elements; every operation is elementwise, so each
    scenario's numbers do not depend on how many scenarios or options are priced together.
    """
    o0 = opts[0]
    h = scen.horizon
    k = np.array([o.strike for o in opts])
    s0 = np.array([o.spot for o in opts])
    vol = np.array([o.vol for o in opts])
    skew = np.array([o.skew for o in opts])
    floor = np.array([o.vol_floor for o in opts])
    q = np.array([o.carry for o in opts])
    t0 = np.array([o.maturity for o in opts])
    tau = np.maximum(t0 - h, 0.0)
    r0 = np.array([o.rate0 for o in opts])
    atm0 = np.array([o.atm_vol0 for o in opts])
    calls = np.array([o.is_call for o in opts])
    v0 = np.array([float(o.price(o.spot, o.maturity)) for o in opts])
    bs = o0.model == "black_scholes"
    lns0 = np.log(s0)
    lnf0 = lns0 + (r0 - q) * t0 if bs else lns0  # ln F_0
    has_skew, has_vol = bool(np.any(skew != 0.0)), o0.vol_driver is not None

    n, m = scen.n, len(opts)
    if out is None:
        out = np.empty((n, m))
    x = scen.column(o0.driver)
    xv = scen.column(o0.vol_driver) if has_vol else None
    fx = scen.column(o0.fx_driver) if o0.fx_driver is not None else None
    curve = o0.curve
    par = scen.get(curve.parallel_driver) if curve is not None else 0.0
    slo = scen.get(curve.slope_driver) if curve is not None else 0.0
    step = max(1, _ROW_BLOCK // m)
    for a in range(0, n, step):
        rows = slice(a, min(a + step, n))
        xb = x[rows, None]
        if curve is not None:
            rh = curve.shocked_zero(tau, par[rows] if np.ndim(par) else par,
                                    slo[rows] if np.ndim(slo) else slo)
        else:
            rh = r0  # flat rate: unchanged
        if bs:  # ln F_H = ln S_0 + x + (r_H - q) tau
            lnf = np.broadcast_to(rh - q, (xb.shape[0], m)) * tau
            lnf += xb
        else:  # the driver is the forward itself
            lnf = np.repeat(xb, m, axis=1)
        lnf += lns0
        fwd = np.exp(lnf)
        if has_vol:  # vol + atm_0 (e^{x_vol} - 1) = atm_H + the moneyness term of today
            sigma = atm0 * np.expm1(xv[rows, None])
            sigma += vol
        else:
            sigma = np.repeat(vol[None, :], xb.shape[0], axis=0)
        if has_skew:  # + skew (ln F_0 - ln F_H): exactly 0 without a move
            np.subtract(lnf0, lnf, out=lnf)
            lnf *= skew
            sigma += lnf
        np.maximum(sigma, floor, out=sigma)
        vh = black76_price(fwd, k, tau, sigma, rh, calls)
        if fx is not None:
            vh *= np.exp(fx[rows, None])
        vh -= v0
        np.divide(vh, s0, out=out[rows])
    return out


def _future_pnl(f: Future, scen: DriverScenarios) -> np.ndarray:
    x = scen.column(f.driver)
    tau = max(f.maturity - scen.horizon, 0.0)
    rh = _horizon_rate(f.curve, f.rate, tau, scen)
    fwd_h = f.spot * np.exp(x + (rh - f.dividend) * tau)
    g = _fx(f.fx_driver, scen)
    if f.kind == "future":
        return g * (fwd_h - f.forward0) / f.spot
    vh = np.exp(-rh * tau) * (fwd_h - f.delivery)
    return (g * vh - f.value0()) / f.spot


def _realised(inc: np.ndarray) -> np.ndarray:
    """(n,) sum of squares over the steps, accumulated in step order (deterministic)."""
    acc = np.zeros(inc.shape[0])
    for j in range(inc.shape[1]):
        acc += inc[:, j] * inc[:, j]
    return acc


def _variance_swap_pnl(vs: VarianceSwap, scen: DriverScenarios) -> np.ndarray:
    t, h = vs.maturity, scen.horizon
    if h > t + 1e-12:
        raise ValueError(f"variance swap {vs.name!r}: maturity {t} is before the horizon {h}")
    tau = max(t - h, 0.0)
    rv = _realised(scen.increments(vs.driver))
    sig2 = vs.vol**2 if vs.vol_driver is None else (vs.vol * np.exp(scen.column(vs.vol_driver))) ** 2
    rh = _horizon_rate(vs.curve, vs.rate, tau, scen)
    vh = np.exp(-rh * tau) * (rv / t + (tau / t) * sig2 - vs.variance_strike)
    return _fx(vs.fx_driver, scen) * vh - vs.value0()


def _bond_pnl(b: Bond, scen: DriverScenarios) -> np.ndarray:
    t, a = b.cash_flows()
    h = scen.horizon
    paid = t <= h
    received = float(np.sum(a[paid]))
    tau = t[~paid] - h
    vh = np.full(scen.n, received)
    if tau.size:
        z = _horizon_rate(b.curve, b.rate, tau, scen)
        disc = np.exp(-(z + b.spread) * tau)
        amounts = a[~paid]
        for j in range(tau.size):  # cash flow by cash flow: row results independent of n
            vh = vh + amounts[j] * (disc[:, j] if disc.ndim == 2 else disc[j])
    return _fx(b.fx_driver, scen) * vh - b.value0()


def _fx_forward_pnl(f: FxForward, scen: DriverScenarios) -> np.ndarray:
    tau = max(f.maturity - scen.horizon, 0.0)
    xh = f.spot * np.exp(scen.column(f.driver))
    rd = _horizon_rate(f.curve, f.rate, tau, scen)
    rf = _horizon_rate(f.foreign_curve, f.foreign_rate, tau, scen)
    vh = xh * np.exp(-rf * tau) - f.delivery * np.exp(-rd * tau)
    return (vh - f.value0()) / f.spot


def _as_scenarios(inst: Instrument, scen: DriverScenarios | np.ndarray, horizon: float | None) -> DriverScenarios:
    if isinstance(scen, DriverScenarios):
        return scen
    if horizon is None:
        raise ValueError("horizon is required with a log-return array")
    x = np.asarray(scen, dtype=float)
    driver = getattr(inst, "driver", None)
    if driver is None:
        return DriverScenarios([], np.empty((x.shape[0], 0)), horizon)
    return DriverScenarios([driver], x[:, None], horizon)


def instrument_pnl(
    inst: Instrument, scen: DriverScenarios | np.ndarray, horizon: float | None = None
) -> np.ndarray:
    """(n,) P&L per unit exposure of one instrument.

    Parameters
    ----------
    inst : the instrument.
    scen : driver scenarios, or (n,) log-returns of the instrument's own ``driver`` (all other
        drivers then must not be needed).
    horizon : years; required with an array, ignored with :class:`DriverScenarios`.
    """
    s = _as_scenarios(inst, scen, horizon)
    if isinstance(inst, Cash):
        x = s.column(inst.driver)
        return np.expm1(x if inst.fx_driver is None else x + s.column(inst.fx_driver))
    if isinstance(inst, EuropeanOption):
        return _options_pnl([inst], s)[:, 0]
    if isinstance(inst, Future):
        return _future_pnl(inst, s)
    if isinstance(inst, VarianceSwap):
        return _variance_swap_pnl(inst, s)
    if isinstance(inst, Bond):
        return _bond_pnl(inst, s)
    if isinstance(inst, FxForward):
        return _fx_forward_pnl(inst, s)
    raise TypeError(f"unknown instrument {inst!r}")


def scenario_pnl(instruments: Sequence[Instrument], scen: DriverScenarios) -> np.ndarray:
    """(n, N) P&L per unit exposure of every instrument (options repriced in vectorised groups).

    Options sharing model, driver, vol driver, FX driver and curve are repriced together on
    (rows, options) blocks; the numbers are identical to pricing them one by one.
    """
    out = np.empty((scen.n, len(instruments)))
    groups: dict[tuple, list[int]] = {}
    for j, inst in enumerate(instruments):
        if isinstance(inst, EuropeanOption):
            key = (inst.model, inst.driver, inst.vol_driver, inst.fx_driver, inst.curve)
            groups.setdefault(key, []).append(j)
        else:
            out[:, j] = instrument_pnl(inst, scen)
    for cols in groups.values():
        opts = [instruments[j] for j in cols]
        if cols == list(range(cols[0], cols[-1] + 1)):  # contiguous: write in place
            _options_pnl(opts, scen, out[:, cols[0]:cols[-1] + 1])
        else:
            out[:, cols] = _options_pnl(opts, scen)
    return out


def pnl_matrix(
    instruments: Sequence[Instrument], driver_names: list[str], log_returns: np.ndarray, horizon: float
) -> np.ndarray:
    """(n, N) P&L per unit exposure from drivers' horizon values (n, D) in ``driver_names`` order."""
    return scenario_pnl(instruments, DriverScenarios(driver_names, log_returns, horizon))


def pnl_paths(instruments: Sequence[Instrument], scen: DriverScenarios) -> np.ndarray:
    """(n, steps, N) P&L per unit exposure at every path point (for drawdown measures).

    Point k reprices at horizon ``step_times[k]`` with the path values there (and, for variance
    swaps, the realised variance up to k); the last point equals :func:`scenario_pnl`.
    """
    if scen.paths is None:
        return scenario_pnl(instruments, scen)[:, None, :]
    steps = scen.paths.shape[1]
    out = np.empty((scen.n, steps, len(instruments)))
    for k in range(steps):
        out[:, k, :] = scenario_pnl(instruments, scen if k == steps - 1 else scen.at_step(k))
    return out
