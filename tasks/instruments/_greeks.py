"""Analytic Greeks per unit of exposure, keyed by (greek, underlying), and portfolio aggregation.

Definitions. Let ``v(.)`` be an instrument's value per unit exposure, ``V / N_0`` (see
:mod:`tasks.instruments`), as a function of the market today (horizon 0, all drivers 0). Then

==============  ==================================================  ==========================
greek           definition (per unit exposure)                      underlying key
==============  ==================================================  ==========================
``delta``       ``dv / d(S/S_0)``: the spot move relative to today   spot driver (``driver``);
                (for an FX driver: ``dv / d(X/X_0)``)                FX driver for FX exposure
``gamma``       ``d^2 v / d(S/S_0)^2``                               spot driver
``vega``        ``dv / d atm`` per 1.00 of the ATM vol level         spot driver
                (variance swap: of its vol level)
``theta``       ``dv / dt`` per year, drivers held fixed (curve       spot driver (bonds: curve)
                constant in time to maturity, i.e. rolls along it)
``rho``         ``dv / dp`` per 1.00 parallel zero-rate shift p       curve name; a flat rate:
                                                                    its ``currency``, else
                                                                    ``"rate"`` (base currency)
                                                                    or ``"rate:<fx_driver>"``
                                                                    (fx forward's foreign leg:
                                                                    ``"rate:<driver>"``)
``convexity``   ``d^2 v / dp^2`` (bonds)                             as rho
==============  ==================================================  ==========================

They are exactly the derivatives of the repricing functions of :mod:`tasks.instruments` at
horizon 0 (``theta``: w.r.t. the horizon), including the sticky-moneyness skew (an option's vol
moves with its forward: ``d sigma / dS = -skew / S``), the vol floor (no vol sensitivity while
floored) and curve roll-down. The repricing discounts at ``z(T - H)`` for horizons ``H >= 0``, so
theta takes the curve's slope to the *left* of ``T`` (``ZeroCurve.zero_slope(T, "left")``): at a
maturity or cash flow exactly on a curve tenor (a kink of the linear interpolation) it is still
the derivative of the repricing. A foreign-currency instrument has in addition
``delta[fx_driver] = V_0 / N_0`` (its base-currency value per unit exposure).

Closed forms: options from :func:`tasks.instruments.black_scholes_greeks` /
:func:`tasks.instruments.black76_greeks` plus the skew chain rule
(``delta + vega s_S``, ``gamma + 2 vanna s_S + volga s_S^2 + vega s_SS``, ...); futures
``delta = e^{(r-q)T}`` (1 without carry); bonds ``rho = -sum t a DF``, ``convexity = sum t^2 a DF``
(:func:`bond_duration` and :func:`bond_convexity` normalise by the price); variance swaps
``gamma = 2 DF / T``, ``vega = 2 vol DF``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tasks.instruments._black import black76_greeks, black_scholes_greeks
from tasks.instruments._curves import ZeroCurve
from tasks.instruments._instruments import (
    Bond,
    Cash,
    EuropeanOption,
    Future,
    FxForward,
    Instrument,
    VarianceSwap,
    forward_rate,
    market_value,
    rate_key,
    zero_rate,
)
from tasks.vocabulary import GREEKS, Greek

__all__ = [
    "GreekName",
    "GREEKS",
    "instrument_greeks",
    "greeks_table",
    "greeks_matrix",
    "portfolio_greeks",
    "bond_duration",
    "bond_convexity",
]

GreekName = Greek
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _rate_key(inst: EuropeanOption | Future | VarianceSwap | Bond) -> str:
    return rate_key(inst.curve, inst.currency, inst.fx_driver)


def _zero_slope(curve: ZeroCurve | None, t: float) -> float:
    """``dz/dt`` from the left at ``t``: the horizon repricing discounts at ``z(T - H)``."""
    return float(curve.zero_slope(t, "left")) if curve is not None else 0.0


def _roll_rate(curve: ZeroCurve | None, rate: float, t: float) -> float:
    """Forward rate seen by theta: ``d(z(T - H)(T - H))/dH = -f(T-)``, the left one at a tenor."""
    return forward_rate(curve, rate, t, "left")


def _add_fx(out: dict[tuple[str, str], float], fx_driver: str | None, value: float) -> None:
    if fx_driver is not None:
        out[("delta", fx_driver)] = out.get(("delta", fx_driver), 0.0) + value


def _option(o: EuropeanOption) -> dict[tuple[str, str], float]:
    t, k, n0 = o.maturity, o.strike, o.spot
    r, q = o.rate0, o.carry
    active = o.vol > o.vol_floor  # floored vol: no vol sensitivity
    sig = max(o.vol, o.vol_floor)
    bs = o.model == "black_scholes"
    if bs:
        g = black_scholes_greeks(n0, k, t, sig, r, q, o.is_call)
        fwd, lead = o.forward0, math.exp(-q * t)
    else:
        g = black76_greeks(n0, k, t, sig, r, o.is_call)
        fwd, lead = n0, math.exp(-r * t)
    delta, gamma, vega, theta, rho = (float(g[c]) for c in ("delta", "gamma", "vega", "theta", "rho"))
    sd = sig * math.sqrt(t)
    d1 = math.log(fwd / k) / sd + 0.5 * sd
    d2 = d1 - sd
    pdf = _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1)
    vanna = -lead * pdf * d2 / sig
    volga = vega * d1 * d2 / sig
    kk = o.skew if active else 0.0
    s_s, s_ss = -kk / n0, kk / (n0 * n0)
    s_r = -kk * t if bs else 0.0
    s_t = kk * (_roll_rate(o.curve, o.rate, t) - q) if bs else 0.0
    dr_dt = -_zero_slope(o.curve, t)  # r(t) = z(T - t)
    out = {
        ("delta", o.driver): delta + vega * s_s,
        ("gamma", o.driver): n0 * (gamma + 2.0 * vanna * s_s + volga * s_s * s_s + vega * s_ss),
        ("vega", o.driver): (vega if active else 0.0) / n0,
        ("theta", o.driver): (theta + rho * dr_dt + vega * s_t) / n0,
        ("rho", _rate_key(o)): (rho + vega * s_r) / n0,
    }
    _add_fx(out, o.fx_driver, market_value(o))
    return out


def _future(f: Future) -> dict[tuple[str, str], float]:
    t, q = f.maturity, f.dividend
    r = zero_rate(f.curve, f.rate, t)
    fr = _roll_rate(f.curve, f.rate, t)
    if f.kind == "future":
        grow = math.exp((r - q) * t)
        out = {("delta", f.driver): grow, ("gamma", f.driver): 0.0,
               ("theta", f.driver): -(fr - q) * grow, ("rho", _rate_key(f)): t * grow}
    else:
        dq, df, kd = math.exp(-q * t), math.exp(-r * t), f.delivery
        out = {("delta", f.driver): dq, ("gamma", f.driver): 0.0,
               ("theta", f.driver): (q * f.spot * dq - kd * fr * df) / f.spot,
               ("rho", _rate_key(f)): t * kd * df / f.spot}
    _add_fx(out, f.fx_driver, f.value0() / f.spot)
    return out


def _variance_swap(v: VarianceSwap) -> dict[tuple[str, str], float]:
    t = v.maturity
    df = math.exp(-zero_rate(v.curve, v.rate, t) * t)
    fr = _roll_rate(v.curve, v.rate, t)
    s2, kv = v.vol**2, v.variance_strike
    out = {("delta", v.driver): 0.0, ("gamma", v.driver): 2.0 * df / t,
           ("vega", v.driver): 2.0 * v.vol * df,
           ("theta", v.driver): fr * df * (s2 - kv) - df * s2 / t,
           ("rho", _rate_key(v)): -t * df * (s2 - kv)}
    _add_fx(out, v.fx_driver, v.value0())
    return out


def _bond_parts(b: Bond) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t, a = b.cash_flows()
    z = b.curve.zero(t) if b.curve is not None else np.full(t.shape, b.rate)
    return t, a, np.exp(-(z + b.spread) * t)


def _bond(b: Bond) -> dict[tuple[str, str], float]:
    t, a, df = _bond_parts(b)
    fr = b.curve.forward(t, "left") if b.curve is not None else np.full(t.shape, b.rate)
    key = _rate_key(b)
    out = {("rho", key): float(-np.sum(t * a * df)), ("convexity", key): float(np.sum(t * t * a * df)),
           ("theta", key): float(np.sum(a * df * (fr + b.spread)))}
    _add_fx(out, b.fx_driver, b.value0())
    return out


def _fx_forward(f: FxForward) -> dict[tuple[str, str], float]:
    t, x0, kd = f.maturity, f.spot, f.delivery
    dd = math.exp(-zero_rate(f.curve, f.rate, t) * t)
    dfor = math.exp(-zero_rate(f.foreign_curve, f.foreign_rate, t) * t)
    fd = _roll_rate(f.curve, f.rate, t)
    ff = _roll_rate(f.foreign_curve, f.foreign_rate, t)
    out: dict[tuple[str, str], float] = {("delta", f.driver): dfor, ("gamma", f.driver): 0.0,
                                         ("theta", f.driver): (x0 * dfor * ff - kd * dd * fd) / x0}
    # the foreign leg is in the currency of the FX driver (base per unit foreign)
    dom = ("rho", rate_key(f.curve, f.currency))
    fgn = ("rho", rate_key(f.foreign_curve, f.foreign_currency, f.driver))
    out[dom] = t * kd * dd / x0
    out[fgn] = out.get(fgn, 0.0) - t * dfor
    return out


def instrument_greeks(inst: Instrument) -> dict[tuple[str, str], float]:
    """Greeks of one instrument per unit exposure: ``{(greek, underlying): value}``.

    See the module table for definitions, units and keys.
    """
    if isinstance(inst, Cash):
        out = {("delta", inst.driver): 1.0}
        _add_fx(out, inst.fx_driver, 1.0)
        return out
    if isinstance(inst, EuropeanOption):
        return _option(inst)
    if isinstance(inst, Future):
        return _future(inst)
    if isinstance(inst, VarianceSwap):
        return _variance_swap(inst)
    if isinstance(inst, Bond):
        return _bond(inst)
    if isinstance(inst, FxForward):
        return _fx_forward(inst)
    raise TypeError(f"unknown instrument {inst!r}")


def greeks_table(instruments: Sequence[Instrument]) -> pd.DataFrame:
    """Tidy table of all instruments' Greeks.

    Returns
    -------
    DataFrame with columns ``instrument``, ``kind``, ``greek``, ``underlying``, ``value`` (per
    unit exposure), one row per (instrument, greek, underlying), instruments in input order.
    """
    rows = [(inst.name, inst.kind, g, u, val)
            for inst in instruments for (g, u), val in instrument_greeks(inst).items()]
    return pd.DataFrame(rows, columns=["instrument", "kind", "greek", "underlying", "value"])


def _keys(table: pd.DataFrame) -> list[tuple[str, str]]:
    seen = dict.fromkeys(zip(table["greek"], table["underlying"]))
    order = {g: i for i, g in enumerate(GREEKS)}
    return sorted(seen, key=lambda k: (order.get(k[0], len(order)), k[0]))


def greeks_matrix(instruments: Sequence[Instrument]) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """((N, K) Greeks per unit exposure, K (greek, underlying) column keys); 0 where n/a."""
    table = greeks_table(instruments)
    keys = _keys(table)
    col = {k: j for j, k in enumerate(keys)}
    row = {inst.name: i for i, inst in enumerate(instruments)}
    out = np.zeros((len(instruments), len(keys)))
    for name, g, u, val in zip(table["instrument"], table["greek"], table["underlying"], table["value"]):
        out[row[name], col[(g, u)]] += val
    return out, keys


def portfolio_greeks(
    greeks: pd.DataFrame, exposures: np.ndarray | pd.DataFrame | pd.Series
) -> pd.DataFrame:
    """Greeks of many portfolios at once, aggregated per (greek, underlying).

    Parameters
    ----------
    greeks : tidy table from :func:`greeks_table`.
    exposures : (P, N) or (N,) exposures with instruments in the table's order, or a DataFrame
        (P rows, one column per instrument name) / Series (index = instrument names), aligned by
        name (instruments not in ``exposures`` count as 0).

    Returns
    -------
    (P, K) DataFrame, columns a MultiIndex (greek, underlying), index the portfolios (the
    DataFrame's index, else 0..P-1): ``sum_i e_i * greek_i``.
    """
    names = list(dict.fromkeys(greeks["instrument"]))
    keys = _keys(greeks)
    wide = (greeks.pivot_table(index="instrument", columns=["greek", "underlying"], values="value",
                               aggfunc="sum", fill_value=0.0)
            .reindex(index=names, fill_value=0.0)
            .reindex(columns=pd.MultiIndex.from_tuples(keys, names=["greek", "underlying"]), fill_value=0.0))
    if isinstance(exposures, pd.Series):
        exposures = exposures.to_frame().T
    if isinstance(exposures, pd.DataFrame):
        e = exposures.reindex(columns=names, fill_value=0.0).to_numpy(dtype=float)
        index = exposures.index
    else:
        e = np.atleast_2d(np.asarray(exposures, dtype=float))
        if e.shape[1] != len(names):
            raise ValueError(f"exposures have {e.shape[1]} columns for {len(names)} instruments")
        index = pd.RangeIndex(e.shape[0])
    return pd.DataFrame(e @ wide.to_numpy(), index=index, columns=wide.columns)


def bond_duration(bond: Bond) -> float:
    """Duration ``-(dP/dp) / P`` in years (continuous compounding; Macaulay = modified)."""
    t, a, df = _bond_parts(bond)
    return float(np.sum(t * a * df) / np.sum(a * df))


def bond_convexity(bond: Bond) -> float:
    """Convexity ``(d^2P/dp^2) / P`` in years^2."""
    t, a, df = _bond_parts(bond)
    return float(np.sum(t * t * a * df) / np.sum(a * df))
