"""Full repricing of instruments on driver scenarios: P&L per unit of exposure.

Every instrument is repriced at the horizon H from a :class:`tasks.scenarios.DriverScenarios`
(drivers read by name), with the values ``V_t``, normalising notionals ``N_0``, notation and
sticky-moneyness option vols of :mod:`tasks.instruments._instruments`:

    P&L per unit exposure = (g V_H - V_0) / N_0,

so a foreign instrument's P&L is converted at the horizon FX rate ``g`` (exposures in base
currency). Options sharing model, driver, vol driver, FX driver and curve are repriced together on
vectorised (rows, options) blocks; the numbers are identical to pricing them one by one.

Variance swap realised variance: with paths, ``RV`` is the sum of the squared per-step
log-increments of the driver (not demeaned; ``RV / H`` is the annualised realised variance over
``[0, H]``); without paths the horizon is one step, ``RV = x^2``. Its P&L is per unit *variance*
notional: realised vol 20 % vs strike 15 % at expiry pays ``0.04 - 0.0225 = 0.0175``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tasks.instruments._black import black76_price
from tasks.instruments._curves import ZeroCurve
from tasks.instruments._instruments import (
    Bond,
    Cash,
    EuropeanOption,
    Future,
    FxForward,
    Instrument,
    VarianceSwap,
)
from tasks.scenarios._drivers import DriverScenarios

__all__ = [
    "instrument_pnl",
    "scenario_pnl",
    "pnl_matrix",
    "pnl_paths",
]


# ---- horizon rates and FX -----------------------------------------------------------------------

def _horizon_rate(curve: ZeroCurve | None, rate: float, tau: float | np.ndarray,
                  scen: DriverScenarios) -> np.ndarray | float:
    """Shocked zero rate(s) at the horizon for time(s) to maturity ``tau``.

    Scalar ``tau`` -> (n,) (or a float when nothing is shocked); (m,) ``tau`` -> (n, m) / (m,).
    """
    if curve is None:
        return float(rate) if np.ndim(tau) == 0 else np.full(np.shape(tau), float(rate))
    return curve.shocked_zero(tau, scen.get(curve.parallel_driver), scen.get(curve.slope_driver))


def _fx(fx_driver: str | None, scen: DriverScenarios) -> np.ndarray | float:
    """(n,) FX factor ``g = exp(x_fx)`` of ``fx_driver`` at the horizon (``1.0`` without one)."""
    return 1.0 if fx_driver is None else np.exp(scen.column(fx_driver))


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
