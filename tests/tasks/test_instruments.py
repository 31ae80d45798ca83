import numpy as np
import pytest
from scipy.stats import norm

from tasks.instruments import Cash, EuropeanOption, instrument_pnl, market_value, pnl_matrix


def _black76(F, K, T, s, call):
    d1 = (np.log(F / K) + 0.5 * s * s * T) / (s * np.sqrt(T))
    d2 = d1 - s * np.sqrt(T)
    return F * norm.cdf(d1) - K * norm.cdf(d2) if call else K * norm.cdf(-d2) - F * norm.cdf(-d1)


CASE = [("Put_90", "put", 0.90, 0.160), ("Put_95", "put", 0.95, 0.155), ("Put_ATMF", "put", 1.0, 0.150),
        ("Call_ATMF", "call", 1.0, 0.150), ("Call_105", "call", 1.05, 0.145), ("Call_110", "call", 1.10, 0.140)]


@pytest.mark.parametrize("name,kind,k,vol", CASE)
def test_case_study_premia_match_black76(name, kind, k, vol):
    opt = EuropeanOption(name, "DM", kind, k, 1.0, vol)
    assert market_value(opt) == pytest.approx(_black76(1.0, k, 1.0, vol, kind == "call"), abs=1e-12)


def test_atmf_put_equals_call():
    put = market_value(EuropeanOption("p", "DM", "put", 1.0, 1.0, 0.15))
    call = market_value(EuropeanOption("c", "DM", "call", 1.0, 1.0, 0.15))
    assert put == pytest.approx(call, abs=1e-15)
    assert call == pytest.approx(0.059785, abs=1e-6)


def test_option_pnl_at_expiry_is_payoff_minus_premium():
    x = np.log(np.array([0.7, 0.9, 1.0, 1.2]))
    opt = EuropeanOption("p", "DM", "put", 0.95, 1.0, 0.155, spot=1.0)
    pnl = instrument_pnl(opt, x, horizon=1.0)
    assert np.allclose(pnl, np.maximum(0.95 - np.exp(x), 0) - market_value(opt), atol=1e-15)


def test_option_before_expiry_repriced_with_remaining_maturity():
    opt = EuropeanOption("c", "S", "call", 110.0, 0.5, 0.2, rate=0.03, dividend=0.01, spot=100.0)
    x = np.array([-0.1, 0.0, 0.1])
    pnl = instrument_pnl(opt, x, horizon=0.25)
    sh = 100 * np.exp(x)
    fh = sh * np.exp(0.02 * 0.25)
    vh = np.exp(-0.03 * 0.25) * _black76(fh, 110.0, 0.25, 0.2, True)
    v0 = np.exp(-0.03 * 0.5) * _black76(100 * np.exp(0.02 * 0.5), 110.0, 0.5, 0.2, True)
    assert np.allclose(pnl, (vh - v0) / 100.0, atol=1e-13)
    assert market_value(opt) == pytest.approx(v0 / 100.0, abs=1e-14)


def test_cash_pnl_and_matrix():
    x = np.array([[0.1, -0.2], [0.0, 0.05]])
    insts = [Cash("A", "a"), Cash("B", "b"), EuropeanOption("c", "a", "call", 1.0, 1.0, 0.2)]
    m = pnl_matrix(insts, ["a", "b"], x, 1.0)
    assert np.allclose(m[:, 0], np.expm1(x[:, 0]))
    assert np.allclose(m[:, 1], np.expm1(x[:, 1]))
    assert market_value(insts[0]) == 1.0


# ---- issue #5: more kinds, shocked vols and curves, FX -------------------------------------------

import math  # noqa: E402

from tasks.instruments import (  # noqa: E402
    Bond,
    Future,
    FxForward,
    VarianceSwap,
    ZeroCurve,  # noqa: E402
    pnl_paths,
    scenario_pnl,
)
from tasks.scenarios import (  # noqa: E402
    Driver,
    DriverModel,
    DriverScenarios,
    chunk_blocks,  # noqa: E402
    simulate_drivers,
)

USD = ZeroCurve("USD", [0.5, 1.0, 2.0, 5.0], [0.04, 0.042, 0.038, 0.035], "USD_par", "USD_slope")
NAMES = ["S", "S_vol", "USD_par", "USD_slope", "FX"]


def _scen(h, **cols):
    n = max(np.size(v) for v in cols.values()) if cols else 1
    vals = np.zeros((n, len(NAMES)))
    for k, v in cols.items():
        vals[:, NAMES.index(k)] = v
    return DriverScenarios(NAMES, vals, h)


def _z(t):  # independent linear interpolation of USD
    tn, rn = [0.5, 1.0, 2.0, 5.0], [0.04, 0.042, 0.038, 0.035]
    if t <= tn[0]:
        return rn[0]
    for a, b, ra, rb in zip(tn, tn[1:], rn, rn[1:]):
        if t <= b:
            return ra + (rb - ra) * (t - a) / (b - a)
    return rn[-1]


@pytest.mark.parametrize("model", ["black_scholes", "black76"])
@pytest.mark.parametrize("kind", ["call", "put"])
def test_option_at_expiry_is_payoff_with_all_shocks(model, kind):
    opt = EuropeanOption("o", "S", kind, 100.0, 0.5, 0.25, dividend=0.01, spot=100.0, model=model,
                         skew=-0.2, vol_driver="S_vol", curve=USD, fx_driver="FX")
    x = np.log([0.8, 0.95, 1.0, 1.07, 1.3])
    s = _scen(0.5, S=x, S_vol=[0.5, -0.3, 0.0, 0.2, 1.0], USD_par=0.01, USD_slope=-0.005, FX=0.05)
    payoff = np.maximum((1 if kind == "call" else -1) * (100 * np.exp(x) - 100.0), 0.0)
    v0 = market_value(opt) * 100.0
    assert np.allclose(instrument_pnl(opt, s), (np.exp(0.05) * payoff - v0) / 100.0, atol=1e-13)


def test_option_repriced_with_its_own_shocked_vol_and_rate():
    k, t, h, s0, q, skew, vol = 110.0, 1.0, 0.25, 100.0, 0.015, -0.15, 0.22
    opt = EuropeanOption("c", "S", "call", k, t, vol, dividend=q, spot=s0, skew=skew,
                         vol_driver="S_vol", curve=USD)
    x, xv, par, slo = np.array([-0.1, 0.05]), np.array([0.3, -0.2]), np.array([0.01, -0.004]), np.array([0.002, 0.0])
    pnl = instrument_pnl(opt, _scen(h, S=x, S_vol=xv, USD_par=par, USD_slope=slo))
    f0 = s0 * math.exp((_z(t) - q) * t)
    atm0 = vol - skew * math.log(k / f0)
    tau = t - h
    w = (min(max(tau, 2.0), 5.0) - 2.0) / 3.0 - 0.5
    rh = _z(tau) + par + slo * w
    fh = s0 * np.exp(x) * np.exp((rh - q) * tau)
    sig = atm0 * np.exp(xv) + skew * np.log(k / fh)
    vh = np.exp(-rh * tau) * _black76(fh, k, tau, sig, True)
    v0 = math.exp(-_z(t) * t) * _black76(f0, k, t, vol, True)
    assert np.allclose(pnl, (vh - v0) / s0, atol=1e-13)
    assert market_value(opt) == pytest.approx(v0 / s0, abs=1e-14)


def test_option_vol_floor():
    opt = EuropeanOption("c", "S", "call", 1.0, 1.0, 0.2, vol_driver="S_vol", vol_floor=0.05)
    pnl = instrument_pnl(opt, _scen(0.5, S_vol=[-5.0]))  # atm 0.2 e^-5 = 0.0013 -> floored
    vh = _black76(1.0, 1.0, 0.5, 0.05, True)
    assert pnl[0] == pytest.approx(vh - market_value(opt), abs=1e-14)


def test_black76_driver_is_the_forward():
    opt = EuropeanOption("c", "S", "put", 95.0, 1.0, 0.2, rate=0.03, dividend=0.5, spot=100.0, model="black76")
    x = np.array([-0.2, 0.1])
    pnl = instrument_pnl(opt, x, horizon=0.5)  # dividend ignored: no carry on a forward
    vh = math.exp(-0.015) * _black76(100 * np.exp(x), 95.0, 0.5, 0.2, False)
    v0 = math.exp(-0.03) * _black76(100.0, 95.0, 1.0, 0.2, False)
    assert np.allclose(pnl, (vh - v0) / 100, atol=1e-13)


def test_bond_price_is_the_cash_flow_sum():
    b = Bond("b", 2.3, coupon=0.05, frequency=2, curve=USD, spread=0.01)
    times = [0.3, 0.8, 1.3, 1.8, 2.3]
    flows = [0.025, 0.025, 0.025, 0.025, 1.025]
    hand = sum(c * math.exp(-(_z(t) + 0.01) * t) for t, c in zip(times, flows))
    assert market_value(b) == pytest.approx(hand, abs=1e-15)
    t, a = b.cash_flows()
    assert np.allclose(t, times) and np.allclose(a, flows)
    zc = Bond("z", 3.0, curve=USD)
    assert market_value(zc) == pytest.approx(math.exp(-_z(3.0) * 3.0), abs=1e-15)


def test_bond_horizon_value_with_coupons_and_shocks():
    b = Bond("b", 2.3, coupon=0.05, frequency=2, curve=USD, spread=0.01)
    par, slo, h = np.array([0.0, 0.01]), np.array([0.0, 0.004]), 0.5
    pnl = instrument_pnl(b, _scen(h, USD_par=par, USD_slope=slo))
    for i in range(2):
        vh = 0.025  # the 0.3y coupon, held as cash
        for t, c in zip([0.8, 1.3, 1.8, 2.3], [0.025, 0.025, 0.025, 1.025]):
            tau = t - h
            w = (min(max(tau, 2.0), 5.0) - 2.0) / 3.0 - 0.5
            vh += c * math.exp(-(_z(tau) + par[i] + slo[i] * w + 0.01) * tau)
        assert pnl[i] == pytest.approx(vh - market_value(b), abs=1e-14)
    assert pnl[1] < pnl[0]  # rates up: bond down


def test_variance_swap_on_a_deterministic_path():
    vs = VarianceSwap("vs", "S", maturity=1.0, vol=0.15)
    assert market_value(vs) == 0.0
    # at expiry: 4 steps of +-10 % give realised variance 0.04 (20 % vol): pays 0.04 - 0.0225
    steps = np.array([[0.1, -0.1, 0.1, -0.1]])
    paths = np.zeros((1, 4, len(NAMES)))
    paths[:, :, 0] = np.cumsum(steps, axis=1)
    s = DriverScenarios(NAMES, paths[:, -1], 1.0, paths, [0.25, 0.5, 0.75, 1.0])
    assert instrument_pnl(vs, s)[0] == pytest.approx(0.0175, abs=1e-15)
    # at a quarter: realised 0.0016 over 0.25y (8 % vol) < implied 15 %: a loss, discounted
    calm = np.cumsum(np.array([[0.02, -0.02, 0.02, -0.02]]), axis=1)
    paths[:, :, 0] = calm
    s = DriverScenarios(NAMES, paths[:, -1], 0.25, paths, [0.0625, 0.125, 0.1875, 0.25])
    vs_r = VarianceSwap("vs", "S", maturity=1.0, vol=0.15, rate=0.04)
    expected = math.exp(-0.04 * 0.75) * (0.0016 + 0.75 * 0.0225 - 0.0225)
    assert instrument_pnl(vs_r, s)[0] == pytest.approx(expected, abs=1e-15) and expected < 0
    # implied vol up 30 % (vol driver) with the same path: gains vega
    vs_v = VarianceSwap("vs", "S", maturity=1.0, vol=0.15, vol_driver="S_vol")
    paths[:, :, 1] = 0.3
    s = DriverScenarios(NAMES, paths[:, -1], 0.25, paths, [0.0625, 0.125, 0.1875, 0.25])
    assert instrument_pnl(vs_v, s)[0] == pytest.approx(0.0016 + 0.75 * (0.15 * math.exp(0.3)) ** 2 - 0.0225,
                                                        abs=1e-15)
    # without paths the horizon is one step: RV = x^2
    one = instrument_pnl(vs, _scen(0.25, S=[0.1]))
    assert one[0] == pytest.approx(0.01 + 0.75 * 0.0225 - 0.0225, abs=1e-15)
    with pytest.raises(ValueError):
        instrument_pnl(VarianceSwap("v", "S", 0.2, 0.2), _scen(0.25, S=[0.0]))


def test_future_and_forward_pnl():
    fut = Future("f", "S", 0.75, spot=50.0, rate=0.03, dividend=0.01, margin=0.1)
    x = np.array([-0.1, 0.0, 0.2])
    f0 = 50 * math.exp(0.02 * 0.75)
    fh = 50 * np.exp(x) * math.exp(0.02 * 0.5)
    assert np.allclose(instrument_pnl(fut, x, horizon=0.25), (fh - f0) / 50, atol=1e-15)
    assert market_value(fut) == 0.1
    fwd = Future("w", "S", 0.75, spot=50.0, rate=0.03, dividend=0.01, strike=48.0, kind="forward")
    v0 = math.exp(-0.03 * 0.75) * (f0 - 48.0)
    vh = math.exp(-0.03 * 0.5) * (fh - 48.0)
    assert market_value(fwd) == pytest.approx(v0 / 50, abs=1e-15)
    assert np.allclose(instrument_pnl(fwd, x, horizon=0.25), (vh - v0) / 50, atol=1e-15)
    at_exp = Future("e", "S", 0.25, spot=50.0)
    assert np.allclose(instrument_pnl(at_exp, x, horizon=0.25), np.expm1(x), atol=1e-15)


def test_fx_conversion_to_base_currency():
    x, fx = np.array([0.1, -0.05]), np.array([-0.02, 0.03])
    s = _scen(0.5, S=x, FX=fx)
    eq = Cash("e", "S", fx_driver="FX")
    assert np.allclose(instrument_pnl(eq, s), np.exp(x + fx) - 1, atol=1e-15)
    local = EuropeanOption("c", "S", "call", 1.0, 1.0, 0.2, rate=0.02)
    foreign = EuropeanOption("c", "S", "call", 1.0, 1.0, 0.2, rate=0.02, fx_driver="FX")
    v = market_value(foreign)
    assert v == market_value(local)
    assert np.allclose(instrument_pnl(foreign, s), np.exp(fx) * (instrument_pnl(local, s) + v) - v, atol=1e-15)
    fut = Future("f", "S", 1.0, fx_driver="FX")
    assert np.allclose(instrument_pnl(fut, s), np.exp(fx) * np.expm1(x), atol=1e-15)
    b = Bond("b", 1.0, rate=0.03, fx_driver="FX")
    assert np.allclose(instrument_pnl(b, s), np.exp(fx) * math.exp(-0.015) - math.exp(-0.03), atol=1e-15)


def test_fx_forward():
    f = FxForward("fx", "FX", 1.0, spot=1.1, rate=0.04, foreign_rate=0.02)
    k = 1.1 * math.exp(0.02)
    assert f.delivery == pytest.approx(k) and market_value(f) == pytest.approx(0.0, abs=1e-15)
    fx = np.array([-0.05, 0.1])
    vh = 1.1 * np.exp(fx) * math.exp(-0.02 * 0.5) - k * math.exp(-0.04 * 0.5)
    assert np.allclose(instrument_pnl(f, _scen(0.5, FX=fx)), vh / 1.1, atol=1e-15)


def _book():
    eur = ZeroCurve("EUR", [1.0, 5.0], [0.02, 0.025])
    opts = [EuropeanOption(f"o{i}", "S", "call" if i % 2 else "put", k, t, 0.2 + 0.01 * i, dividend=0.01,
                           skew=-0.1, vol_driver="S_vol", curve=USD)
            for i, (k, t) in enumerate([(0.9, 0.5), (1.0, 1.0), (1.1, 2.0), (0.95, 0.25)])]
    return opts + [Cash("S", "S"), Future("f", "S", 1.0, curve=USD), VarianceSwap("v", "S", 1.0, 0.2, vol_driver="S_vol"),
                   Bond("b", 3.0, 0.03, 1, USD), FxForward("x", "FX", 1.0, curve=USD, foreign_curve=eur),
                   EuropeanOption("o76", "S", "call", 1.0, 1.0, 0.2, model="black76", fx_driver="FX")]


@pytest.fixture(scope="module")
def scen():
    corr = np.eye(5)
    corr[0, 1] = corr[1, 0] = -0.7
    m = DriverModel([Driver("S", "spot", 0.05, 0.2), Driver("S_vol", "vol", 0.0, 0.8),
                     Driver("USD_par", "rate", 0.0, 0.01), Driver("USD_slope", "rate", 0.0, 0.005),
                     Driver("FX", "fx", 0.0, 0.1)], corr, 0.25, "student_t", 5.0)
    return simulate_drivers(m, 3000, seed=4, block_size=256, n_steps=3)


def test_grouped_repricing_equals_one_by_one(scen):
    book = _book()
    r = scenario_pnl(book, scen)
    one = np.column_stack([instrument_pnl(i, scen) for i in book])
    assert np.array_equal(r, one)


@pytest.mark.parametrize("n_chunks", [2, 5])
def test_pnl_identical_for_any_chunking(scen, n_chunks):
    book = _book()
    ref = scenario_pnl(book, scen)
    parts = []
    for g in chunk_blocks(scen.n, 256, n_chunks):
        rows = slice(g[0] * 256, min((g[-1] + 1) * 256, scen.n))
        parts.append(scenario_pnl(book, scen.subset(rows)))
    assert np.array_equal(ref, np.concatenate(parts))


def test_pnl_paths_end_at_the_one_period_pnl(scen):
    book = _book()
    p = pnl_paths(book, scen)
    assert p.shape == (3000, 3, len(book))
    assert np.array_equal(p[:, -1, :], scenario_pnl(book, scen))
    assert np.array_equal(p[:, 0, :], scenario_pnl(book, scen.at_step(0)))


def test_market_values_per_kind():
    book = _book()
    v = {i.name: market_value(i) for i in book}
    assert v["S"] == 1.0 and v["f"] == 0.0 and v["v"] == 0.0 and v["x"] == pytest.approx(0.0, abs=1e-15)
    assert v["b"] == pytest.approx(sum(c * math.exp(-_z(t) * t) for t, c in [(1, 0.03), (2, 0.03), (3, 1.03)]))
    assert 0 < v["o1"] < 1


def test_invalid_codes_are_rejected():
    with pytest.raises(ValueError, match="option_type"):
        EuropeanOption("o", "S", "straddle", 1.0, 1.0, 0.2)
    with pytest.raises(ValueError, match="model"):
        EuropeanOption("o", "S", "call", 1.0, 1.0, 0.2, model="heston")
    with pytest.raises(ValueError, match="kind"):
        Future("f", "S", 1.0, kind="swap")
    with pytest.raises(ValueError, match="maturity"):
        Bond("b", 0.0)
