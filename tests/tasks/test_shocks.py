"""Tests for tasks.scenarios._shocks: named driver shocks, propagation, full revaluation, replays.

Every number is checked against an independent computation: the instruments' closed-form values
written out by hand at the shocked drivers (not the repricing module), the Gaussian conditional
mean from the precision matrix and from a regression on a simulated sample, and brute-force
loops for the worst historical rows.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.instruments import (
    Bond,
    Cash,
    EuropeanOption,
    Future,
    FxForward,
    VarianceSwap,
    ZeroCurve,
    black_scholes_price,
    instrument_pnl,
)
from tasks.scenarios import (
    Driver,
    DriverModel,
    DriverScenarios,
    DriverShock,
    ShockSpace,
    check_shocks,
    conditional_mean,
    history_shocks,
    shock_contributions,
    shock_pnl,
    shock_scenarios,
    shock_values,
    simulate_drivers,
    worst_history_shocks,
    worst_rows,
)

ROOT = Path(__file__).resolve().parents[2]
H = 0.25
NAMES = ["SPX", "SPX_vol", "EURUSD", "USD_par", "USD_slope"]
CORR = np.array([
    [1.0, -0.7, 0.2, 0.3, 0.1],
    [-0.7, 1.0, -0.1, -0.2, 0.0],
    [0.2, -0.1, 1.0, 0.25, 0.0],
    [0.3, -0.2, 0.25, 1.0, -0.4],
    [0.1, 0.0, 0.0, -0.4, 1.0],
])
DRIVERS = [Driver("SPX", "spot", 0.06, 0.2), Driver("SPX_vol", "vol", 0.0, 0.9), Driver("EURUSD", "fx", 0.01, 0.08),
           Driver("USD_par", "rate", 0.002, 0.01), Driver("USD_slope", "rate", 0.0, 0.006)]
USD = ZeroCurve("USD", (0.25, 2.0, 10.0), (0.045, 0.042, 0.044), "USD_par", "USD_slope")

PUT = EuropeanOption("SPX_P90", "SPX", "put", 0.90, 0.5, 0.24, dividend=0.015, skew=-0.35, vol_driver="SPX_vol",
                     curve=USD)
CALL = EuropeanOption("SPX_C105", "SPX", "call", 1.05, 0.75, 0.16, dividend=0.015, skew=-0.35,
                      vol_driver="SPX_vol", curve=USD)
EUR_PUT = EuropeanOption("SX5E_P95", "SPX", "put", 0.95, 0.5, 0.2, rate=0.03, fx_driver="EURUSD")
FUT = Future("SPX_fut", "SPX", 0.5, dividend=0.015, curve=USD)
VSW = VarianceSwap("SPX_vs", "SPX", 0.5, 0.19, strike=0.2, vol_driver="SPX_vol", curve=USD)
BOND = Bond("UST10", 10.0, coupon=0.04, frequency=2, curve=USD, spread=0.001)
FXF = FxForward("EURUSD_fwd", "EURUSD", 0.5, spot=1.1, rate=0.045, foreign_rate=0.03)
EQ = Cash("SPX_eq", "SPX")
BOOK = [EQ, PUT, FUT, CALL, VSW, BOND, FXF, EUR_PUT]  # options not contiguous: grouped repricing path

CRASH = DriverShock("equity_crash", {"SPX": -0.30, "SPX_vol": 0.7, "USD_par": -0.01}, as_simple=True)
FX_RATES = DriverShock("fx_rates", {"EURUSD": 0.05, "USD_par": 0.015, "USD_slope": -0.005})
RALLY = DriverShock("rally", {"SPX": 0.08})


@pytest.fixture(params=["normal", "student_t"])
def model(request) -> DriverModel:
    return DriverModel(DRIVERS, CORR, H, request.param, 6.0 if request.param == "student_t" else None)


@pytest.fixture
def space() -> ShockSpace:
    return ShockSpace.from_model(DriverModel(DRIVERS, CORR, H))


# ---- closed forms, written out without the repricing module ------------------------------------

def _slope_w(t: float) -> float:
    return (min(max(t, 2.0), 10.0) - 2.0) / 8.0 - 0.5


def _usd(t: float, x: dict[str, float]) -> float:
    """Shocked USD zero rate for time to maturity t."""
    return float(np.interp(t, USD.tenors, USD.rates)) + x["USD_par"] + x["USD_slope"] * _slope_w(t)


def _usd0(t: float) -> float:
    return float(np.interp(t, USD.tenors, USD.rates))


def _bs_option(o: EuropeanOption, x: dict[str, float], rate_h: float, rate_0: float) -> float:
    """(g V_H - V_0) / S_0 of a Black-Scholes option with sticky-moneyness skew."""
    tau = o.maturity - H
    lnf0 = math.log(o.spot) + (rate_0 - o.dividend) * o.maturity
    atm0 = o.vol - o.skew * (math.log(o.strike) - lnf0)
    s_h = o.spot * math.exp(x[o.driver])
    lnf_h = math.log(s_h) + (rate_h - o.dividend) * tau
    atm_h = atm0 * math.exp(x[o.vol_driver]) if o.vol_driver else atm0
    sig_h = max(atm_h + o.skew * (math.log(o.strike) - lnf_h), o.vol_floor)
    v_h = float(black_scholes_price(s_h, o.strike, tau, sig_h, rate_h, o.dividend, o.is_call))
    v_0 = float(black_scholes_price(o.spot, o.strike, o.maturity, max(o.vol, o.vol_floor), rate_0, o.dividend,
                                    o.is_call))
    g = math.exp(x[o.fx_driver]) if o.fx_driver else 1.0
    return (g * v_h - v_0) / o.spot


def _by_hand(x: dict[str, float]) -> np.ndarray:
    """(N,) P&L per unit exposure of BOOK at driver values x (horizon H), from the formulas."""
    out = {"SPX_eq": math.expm1(x["SPX"])}
    out["SPX_P90"] = _bs_option(PUT, x, _usd(PUT.maturity - H, x), _usd0(PUT.maturity))
    out["SPX_C105"] = _bs_option(CALL, x, _usd(CALL.maturity - H, x), _usd0(CALL.maturity))
    out["SX5E_P95"] = _bs_option(EUR_PUT, x, 0.03, 0.03)
    tau = FUT.maturity - H
    f0 = math.exp((_usd0(FUT.maturity) - 0.015) * FUT.maturity)
    out["SPX_fut"] = math.exp(x["SPX"] + (_usd(tau, x) - 0.015) * tau) - f0
    tau = VSW.maturity - H
    sig_h = 0.19 * math.exp(x["SPX_vol"])
    v0 = math.exp(-_usd0(0.5) * 0.5) * (0.19**2 - 0.2**2)
    out["SPX_vs"] = math.exp(-_usd(tau, x) * tau) * (x["SPX"] ** 2 / 0.5 + tau / 0.5 * sig_h**2 - 0.04) - v0
    times = 10.0 - np.arange(20)[::-1] / 2.0
    v0 = sum((0.02 + (t == 10.0)) * math.exp(-(_usd0(t) + 0.001) * t) for t in times)
    out["UST10"] = sum((0.02 + (t == 10.0)) * math.exp(-(_usd(t - H, x) + 0.001) * (t - H)) for t in times) - v0
    k = 1.1 * math.exp(-0.03 * 0.5) / math.exp(-0.045 * 0.5)
    tau = FXF.maturity - H
    v_h = 1.1 * math.exp(x["EURUSD"]) * math.exp(-0.03 * tau) - k * math.exp(-0.045 * tau)
    out["EURUSD_fwd"] = v_h / 1.1  # V_0 = 0 at the fair strike
    return np.array([out[i.name] for i in BOOK])


def _precision_conditional(mean: np.ndarray, cov: np.ndarray, s: list[int], xs: np.ndarray) -> np.ndarray:
    """Gaussian conditional mean from the precision matrix: mu_u - P_uu^-1 P_us (x_s - mu_s)."""
    u = [i for i in range(len(mean)) if i not in s]
    P = np.linalg.inv(cov)
    out = np.empty(len(mean))
    out[s] = xs
    out[u] = mean[u] - np.linalg.solve(P[np.ix_(u, u)], P[np.ix_(u, s)] @ (xs - mean[s]))
    return out


# ---- shocks and full revaluation --------------------------------------------------------------

def test_shock_pnl_equals_closed_form_repricing(space):
    pnl = shock_pnl(BOOK, [CRASH, FX_RATES, RALLY], space, "none")
    assert pnl.shape == (3, len(BOOK))
    for row, moves in zip(pnl, [
        {"SPX": math.log1p(-0.30), "SPX_vol": 0.7, "USD_par": -0.01},  # as_simple: -30 % is ln 0.7
        {"EURUSD": 0.05, "USD_par": 0.015, "USD_slope": -0.005},
        {"SPX": 0.08},
    ]):
        x = dict.fromkeys(NAMES, 0.0) | moves
        np.testing.assert_allclose(row, _by_hand(x), rtol=1e-11, atol=1e-14)
    assert pnl[0, 0] == pytest.approx(-0.30, abs=1e-15)  # the equity loses exactly 30 %
    assert pnl[0, 1] > 0.05 and pnl[0, 5] > 0  # long put and long bond gain in the crash


def test_shock_pnl_equals_instrument_by_instrument_pricing(space):
    shocks = [CRASH, FX_RATES, RALLY]
    for propagate in ("none", "conditional"):
        values = shock_values(shocks, space, propagate)
        pnl = shock_pnl(BOOK, shocks, space, propagate)
        for s in range(len(shocks)):
            scen = DriverScenarios(NAMES, values[s][None, :], H)  # one shock, priced on its own
            direct = [instrument_pnl(inst, scen)[0] for inst in BOOK]
            np.testing.assert_allclose(pnl[s], direct, rtol=1e-13, atol=1e-15)


def test_unshocked_drivers_stay_put_without_propagation(space):
    x = shock_values([CRASH, FX_RATES], space, "none")
    np.testing.assert_array_equal(x[0], [math.log1p(-0.3), 0.7, 0.0, -0.01, 0.0])
    np.testing.assert_array_equal(x[1], [0.0, 0.0, 0.05, 0.015, -0.005])
    scen = shock_scenarios([CRASH], space)
    assert scen.names == NAMES and scen.horizon == H and scen.paths is None


def test_as_simple_only_converts_spot_and_fx(space):
    s = DriverShock("s", {"SPX": 0.1, "EURUSD": -0.2, "SPX_vol": 0.5, "USD_par": 0.01}, as_simple=True)
    np.testing.assert_allclose(shock_values([s], space)[0], [math.log1p(0.1), 0.5, math.log1p(-0.2), 0.01, 0.0],
                               rtol=0, atol=0)


# ---- conditional propagation ------------------------------------------------------------------

def test_conditional_equals_precision_form(model):
    sp = ShockSpace.from_model(model)
    x = shock_values([CRASH, FX_RATES, RALLY], sp, "conditional")
    for row, moves in zip(x, [{"SPX": math.log1p(-0.3), "SPX_vol": 0.7, "USD_par": -0.01},
                              {"EURUSD": 0.05, "USD_par": 0.015, "USD_slope": -0.005}, {"SPX": 0.08}]):
        s = [NAMES.index(d) for d in moves]
        ref = _precision_conditional(model.log_mean, model.log_cov, s, np.array(list(moves.values())))
        np.testing.assert_allclose(row, ref, rtol=1e-10, atol=1e-14)
    # a crash lifts the vol (corr -0.7): far more than its mean, by rho sigma_v / sigma_s (x - mu)
    spx, vol = 0, 1
    expected = model.log_mean[vol] + (-0.7 * 0.9 / 0.2) * (0.08 - model.log_mean[spx])
    assert x[2, vol] == pytest.approx(expected, rel=1e-12)


def test_conditional_equals_regression_on_a_simulated_sample(model):
    """OLS of the unshocked drivers on the shocked ones over a (moment-matched) model sample."""
    sample = simulate_drivers(model, 40_000, seed=11).values
    sp = ShockSpace.from_model(model)
    for shock in (CRASH, FX_RATES):
        x = shock_values([shock], sp, "conditional")[0]
        s = [NAMES.index(d) for d in shock.moves]
        u = [i for i in range(len(NAMES)) if i not in s]
        design = np.column_stack([np.ones(len(sample)), sample[:, s]])
        beta, *_ = np.linalg.lstsq(design, sample[:, u], rcond=None)
        np.testing.assert_allclose(x[u], np.concatenate([[1.0], x[s]]) @ beta, rtol=1e-8, atol=1e-12)


def test_conditional_from_a_sample_space_and_singular_blocks():
    rng = np.random.default_rng(5)
    values = rng.standard_normal((500, 3)) @ np.array([[0.02, 0.01, 0.0], [0.0, 0.03, 0.0], [0.0, 0.0, 0.0]])
    p = rng.uniform(0.5, 1.5, 500)
    scen = DriverScenarios(["A", "B", "C"], values, 1 / 12)
    sp = ShockSpace.from_sample(scen, {"A": "spot", "B": "fx", "C": "rate"}, p)
    np.testing.assert_allclose(sp.mean, np.average(values, axis=0, weights=p), rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(sp.cov, np.cov(values.T, aweights=p, bias=True), rtol=1e-10, atol=1e-18)
    # C never moves (zero variance): shocking it alone propagates nothing but the mean
    x = shock_values([DriverShock("c", {"C": 0.01})], sp, "conditional")[0]
    np.testing.assert_allclose(x, [sp.mean[0], sp.mean[1], 0.01], rtol=1e-12, atol=1e-18)
    # shocking A and C: C's zero row/column drops out, B follows A alone
    x = shock_values([DriverShock("ac", {"A": -0.05, "C": 0.01})], sp, "conditional")[0]
    b = sp.mean[1] + sp.cov[1, 0] / sp.cov[0, 0] * (-0.05 - sp.mean[0])
    assert np.all(np.isfinite(x)) and x[1] == pytest.approx(b, rel=1e-9)


def test_conditional_mean_function_batches_rows(space):
    xs = np.array([[-0.2, 0.5], [0.1, -0.3], [0.0, 0.0]])
    out = conditional_mean(space.mean, space.cov, [0, 1], xs)
    for row, x in zip(out, xs):
        np.testing.assert_allclose(row, _precision_conditional(space.mean, space.cov, [0, 1], x), rtol=1e-10,
                                   atol=1e-14)
    np.testing.assert_allclose(conditional_mean(space.mean, space.cov, [], np.empty(0)), space.mean)


# ---- errors -----------------------------------------------------------------------------------

def test_unknown_driver_is_a_clear_error(space):
    bad = DriverShock("equity_crash", {"SPX": -0.3, "SPX_vols": 0.7})
    for call in (lambda: shock_pnl(BOOK, [bad], space), lambda: check_shocks([bad], NAMES),
                 lambda: shock_values([RALLY, bad], space, "conditional")):
        with pytest.raises(ValueError, match=r"shock 'equity_crash': unknown driver 'SPX_vols' \(drivers: SPX, "):
            call()


@pytest.mark.parametrize(("make", "match"), [
    (lambda sp: shock_values([RALLY, DriverShock("rally", {"SPX": 0.1})], sp), "'rally' is used twice"),
    (lambda sp: shock_values([DriverShock("x", {"SPX": -1.0}, as_simple=True)], sp), "must be > -1"),
    (lambda sp: shock_values([RALLY], sp, "linear"), "unknown propagate 'linear'"),
    (lambda sp: shock_values([RALLY], ShockSpace(tuple(NAMES), sp.kinds, H), "conditional"), "needs the drivers"),
    (lambda sp: DriverShock("empty", {}), "moves no driver"),
    (lambda sp: DriverShock("nan", {"SPX": float("nan")}), "must be finite"),
    (lambda sp: ShockSpace(("A",), ("equity",), H), "unknown driver kind"),
])
def test_bad_shocks_raise(space, make, match):
    with pytest.raises(ValueError, match=match):
        make(space)


# ---- portfolios -------------------------------------------------------------------------------

def test_portfolio_pnl_and_contributions(space):
    pnl = shock_pnl(BOOK, [CRASH, FX_RATES, RALLY], space)
    rng = np.random.default_rng(2)
    E = rng.normal(size=(4, len(BOOK)))
    port, contrib = shock_contributions(pnl, E)
    assert port.shape == (4, 3) and contrib.shape == (4, 3, len(BOOK))
    for m in range(4):
        for s in range(3):
            assert port[m, s] == pytest.approx(sum(E[m, i] * pnl[s, i] for i in range(len(BOOK))), rel=1e-12)
            np.testing.assert_array_equal(contrib[m, s], E[m] * pnl[s])
    one, _ = shock_contributions(pnl, E[1])
    np.testing.assert_array_equal(one, port[1:2])
    with pytest.raises(ValueError, match="exposures"):
        shock_contributions(pnl, E[:, :3])


# ---- historical replays -----------------------------------------------------------------------

def _history(n: int = 60, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-02-03", periods=n)
    return pd.DataFrame({"SPX": rng.normal(0, 0.03, n), "EURUSD": rng.normal(0, 0.008, n),
                         "USD_par": rng.normal(0, 0.001, n), "SPX_vol": rng.normal(0, 0.1, n)}, index=dates)


def test_history_rows_become_shocks():
    df = _history()
    shocks = history_shocks(df, ["2020-02-05", 0, -1], returns={"SPX": "simple", "EURUSD": "log", "USD_par": "change"})
    assert [s.name for s in shocks] == ["2020-02-05", "2020-02-03", df.index[-1].strftime("%Y-%m-%d")]
    assert shocks[0].moves["SPX"] == pytest.approx(math.log1p(df["SPX"].iloc[2]), rel=1e-15)
    assert shocks[0].moves["USD_par"] == df["USD_par"].iloc[2] and shocks[1].moves["EURUSD"] == df["EURUSD"].iloc[0]
    assert not shocks[0].as_simple and set(shocks[2].moves) == set(df.columns)
    plain = history_shocks(df.reset_index(drop=True), [3], columns=["SPX"])
    assert plain[0].name == "row 3" and plain[0].moves == {"SPX": df["SPX"].iloc[3]}
    with pytest.raises(ValueError, match="'2019-01-01' is not in the history"):
        history_shocks(df, ["2019-01-01"])
    with pytest.raises(ValueError, match="out of range"):
        history_shocks(df, [60])
    with pytest.raises(ValueError, match="selected twice"):
        history_shocks(df, [2, "2020-02-05"])


@pytest.mark.parametrize("propagate", ["none", "conditional"])
def test_worst_history_rows_are_the_largest_losses(space, propagate):
    df = _history().drop(columns=["SPX_vol"])  # the vol is not in the history: propagated
    e = np.array([0.6, 0.4, 0.5, -0.2, 0.3, 0.8, -0.5, 0.2])
    k = 5
    worst = worst_history_shocks(df, k, BOOK, e, space, propagate)
    losses = []
    for t in range(len(df)):  # brute force: each row priced alone, instrument by instrument
        x = np.zeros(len(NAMES))
        s = [NAMES.index(c) for c in df.columns]
        x[s] = df.iloc[t].to_numpy()
        if propagate == "conditional":
            x = _precision_conditional(space.mean, space.cov, s, x[s])
        scen = DriverScenarios(NAMES, x[None, :], H)
        losses.append((sum(ei * instrument_pnl(inst, scen)[0] for ei, inst in zip(e, BOOK)), t))
    expected = [df.index[t].strftime("%Y-%m-%d") for _, t in sorted(losses)[:k]]
    assert [s.name for s in worst] == expected
    assert len({s.name for s in worst}) == k
    with pytest.raises(ValueError, match="k must be in 1..60"):
        worst_history_shocks(df, 61, BOOK, e, space)


def test_worst_rows_ties_in_row_order():
    np.testing.assert_array_equal(worst_rows(np.array([0.1, -0.2, -0.2, 0.0, -0.5]), 3), [4, 1, 2])
    with pytest.raises(ValueError, match="k must be in 1..5"):
        worst_rows(np.zeros(5), 0)


def test_imports_in_either_order():
    """tasks.scenarios imports the repricing, which imports tasks.scenarios: no partial-import error."""
    for first, second in (("tasks.instruments", "tasks.scenarios"), ("tasks.scenarios", "tasks.instruments")):
        code = f"import {first}, {second}; from tasks.scenarios import shock_pnl; print(shock_pnl.__module__)"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert done.returncode == 0, done.stderr
