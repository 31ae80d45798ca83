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
