import cvxpy as cp
import numpy as np
import pandas as pd
import pytest

from tasks.optimization import Constraints, Portfolio, PortfolioProblem, optimize
from tasks.scenarios import factor_loadings, factor_scenarios
from tasks.views import black_litterman

NAMES = ["Gov", "Credit", "Equity", "Put_90"]


def _data(seed=3, s=400):
    rng = np.random.default_rng(seed)
    R = rng.normal(0.0, 1.0, size=(s, 4)) * [0.02, 0.04, 0.12, 0.06] + [0.003, 0.006, 0.012, -0.004]
    R[:, 3] -= 0.4 * R[:, 2]
    p = rng.uniform(0.5, 1.0, s)
    return pd.DataFrame(R, columns=NAMES), p / p.sum()


def _moments(R, p):
    mu = p @ R
    return mu, (R - mu).T @ ((R - mu) * p[:, None])


def _views():
    P = pd.DataFrame([[0.0, 0.0, 1.0, 0.0], [0.0, 1.0, -1.0, 0.0]], columns=NAMES)
    Q = pd.DataFrame([[0.004], [0.006]])
    return P, Q


def _min_variance(cov):
    w = cp.Variable(cov.shape[0])
    scaled = cov * cov.shape[0] / np.trace(cov)  # O(1) objective: the solver's tolerances bite
    cp.Problem(cp.Minimize(cp.quad_form(w, cp.psd_wrap(scaled))), [cp.sum(w) == 1, w >= 0]).solve(
        solver="CLARABEL")
    return w.value


def _max_sharpe(mu, cov, rf):
    """Charnes-Cooper by hand: min y' C y s.t. (mu - rf)' y = 1, y >= 0; w = y / sum(y)."""
    y = cp.Variable(mu.size)
    scaled = cov * cov.shape[0] / np.trace(cov)
    cp.Problem(cp.Minimize(cp.quad_form(y, cp.psd_wrap(scaled))), [(mu - rf) @ y == 1, y >= 0]).solve(
        solver="CLARABEL")
    return y.value / y.value.sum()


def test_blacklitterman_stats_follows_riskfolio_conventions():
    df, p = _data()
    R = df.to_numpy()
    mu, S = _moments(R, p)
    w = np.array([0.4, 0.3, 0.2, 0.1])
    P, Q = _views()
    port = Portfolio(df, p, benchweights=w)
    rf = 0.0005
    port.blacklitterman_stats(P, Q, rf=rf)
    # by hand: tau = 1/T, delta = (mu'w - rf) / w'Sw, Pi = delta S w, Omega = diag(P tau S P'),
    # precision form, rf added back
    tau, Pm, Qv = 1.0 / len(R), P.to_numpy(), Q.to_numpy().ravel()
    delta = (mu @ w - rf) / (w @ S @ w)
    pi = delta * S @ w
    om = np.diag(np.diag(Pm @ (tau * S) @ Pm.T))
    tSi = np.linalg.inv(tau * S)
    M = np.linalg.inv(tSi + Pm.T @ np.linalg.inv(om) @ Pm)
    assert np.allclose(port.mu_bl.to_numpy(), M @ (tSi @ pi + Pm.T @ np.linalg.inv(om) @ Qv) + rf, rtol=1e-10)
    assert np.allclose(port.cov_bl.to_numpy(), S + M, rtol=1e-10)
    assert list(port.mu_bl.index) == NAMES and list(port.cov_bl.columns) == NAMES
    # eq=False: the scenario means are the prior; a view on columns given by name in another order
    port.blacklitterman_stats(P[["Equity", "Credit"]], Q, eq=False, tau=0.1, confidences=[0.5, 0.5])
    ref = black_litterman(S, Pm, Qv, tau=0.1, prior_mu=mu, confidences=[0.5, 0.5])
    assert np.allclose(port.mu_bl.to_numpy(), ref.mu, rtol=1e-12)


@pytest.mark.parametrize("hist", [False, True])
def test_bl_mean_variance_equals_a_direct_solve_on_the_bl_moments(hist):
    df, p = _data()
    R = df.to_numpy()
    P, Q = _views()
    port = Portfolio(df, p, benchweights={"Gov": 0.4, "Credit": 0.3, "Equity": 0.2, "Put_90": 0.1})
    port.blacklitterman_stats(P, Q, tau=0.05)
    mu_bl, cov_bl = port.mu_bl.to_numpy(), port.cov_bl.to_numpy()
    cov = cov_bl if not hist else _moments(R, p)[1]  # Riskfolio: hist=True keeps the history's cov
    w_min = port.optimization(model="BL", rm="MV", obj="MinRisk", hist=hist)["weights"].to_numpy()
    assert port.result.status == "optimal"
    assert np.allclose(w_min, _min_variance(cov), atol=2e-6)
    assert port.result.risk == pytest.approx(np.sqrt(w_min @ cov @ w_min), rel=1e-12)
    assert port.result.expected_return == pytest.approx(mu_bl @ w_min, rel=1e-12)
    rf = 0.001
    w_sr = port.optimization(model="BL", rm="MV", obj="Sharpe", rf=rf, hist=hist)["weights"].to_numpy()
    assert port.result.status == "optimal"
    ref = _max_sharpe(mu_bl, cov, rf)
    ratio = lambda x: (mu_bl @ x - rf) / np.sqrt(x @ cov @ x)  # noqa: E731
    # the ratio is flat at its maximum: weights to ~1e-4, the ratio itself to 1e-8
    assert ratio(w_sr) == pytest.approx(ratio(ref), rel=1e-8) and np.allclose(w_sr, ref, atol=1e-4)
    if (ref > 1e-6).all():  # long-only inactive: the closed-form tangency C^-1 (mu - rf), normalised
        t = np.linalg.solve(cov, mu_bl - rf)
        assert np.allclose(ref, t / t.sum(), atol=1e-7)
    # the BL mean moved the tangency portfolio away from the Classic one
    w_cl = port.optimization(model="Classic", rm="MV", obj="Sharpe", rf=rf)["weights"].to_numpy()
    assert np.abs(w_cl - w_sr).max() > 1e-3


def test_bl_as_scenario_probabilities_reaches_every_measure():
    df, p = _data()
    R = df.to_numpy()
    P, Q = _views()
    port = Portfolio(df, p, benchweights=np.array([0.4, 0.3, 0.2, 0.1]), alpha=0.1)
    port.blacklitterman_stats(P, Q, tau=0.05)
    res = port.blacklitterman_probabilities()
    assert np.abs(R.T @ port.p_bl - port.mu_bl.to_numpy()).max() < 1e-8 and res.converged
    w = port.optimization(model="BL", rm="CVaR", obj="Sharpe", rf=0.001, hist="EP")["weights"].to_numpy()
    ref = optimize(R, port.p_bl, rm="CVaR", obj="Sharpe", alpha=0.1, rf=0.001,
                   constraints=Constraints(sht=False), names=NAMES)
    assert np.allclose(w, ref.exposures, atol=1e-9)
    assert port.result.expected_return == pytest.approx(port.mu_bl.to_numpy() @ w, abs=1e-10)
    # Riskfolio's BL (hist=True) keeps the historical CVaR: a different portfolio
    w_rf = port.optimization(model="BL", rm="CVaR", obj="Sharpe", rf=0.001, hist=True)["weights"].to_numpy()
    assert np.abs(w - w_rf).max() > 1e-4
    # covariance matched too
    port.blacklitterman_probabilities(match_cov=True)
    _, C = _moments(R, port.p_bl)
    assert np.abs(C - port.cov_bl.to_numpy()).max() < 1e-8


def _factor_data(seed=11, t=300):
    rng = np.random.default_rng(seed)
    F = rng.normal(0.0, 1.0, size=(t, 3)) * [0.03, 0.02, 0.01] + [0.004, 0.001, 0.0]
    B = np.array([[0.2, 0.1, 0.0], [0.5, 0.6, 0.0], [1.2, 0.0, 0.0], [-0.4, 0.2, 0.0]])
    X = 0.001 + F @ B.T + rng.normal(0.0, 0.01, size=(t, 4))
    return pd.DataFrame(X, columns=NAMES), pd.DataFrame(F, columns=["mkt", "credit", "noise"])


def test_factor_model_stats_and_optimization():
    X, F = _factor_data()
    port = Portfolio(X, factors=F)
    fl = port.factors_stats(dict_risk={"stepwise": None})
    Z = np.c_[np.ones(len(F)), F.to_numpy()]
    coef = np.linalg.lstsq(Z, X.to_numpy(), rcond=None)[0]  # (1 + K, N)
    assert np.allclose(fl.B, coef[1:].T, atol=1e-10) and np.allclose(fl.alpha, coef[0], atol=1e-12)
    mu_f, S_f = _moments(F.to_numpy(), np.full(len(F), 1.0 / len(F)))
    resid = X.to_numpy() - Z @ coef
    assert np.allclose(port.mu_fm.to_numpy(), coef[0] + coef[1:].T @ mu_f, atol=1e-12)
    assert np.allclose(port.cov_fm.to_numpy(), coef[1:].T @ S_f @ coef[1:] + np.diag(resid.var(axis=0)),
                       atol=1e-12)
    assert np.allclose(port.returns_fm.to_numpy(), coef[0] + F.to_numpy() @ coef[1:], atol=1e-12)
    # MV on the factor covariance (hist=False) against a direct solve
    w = port.optimization(model="FM", rm="MV", obj="MinRisk", hist=False)["weights"].to_numpy()
    assert np.allclose(w, _min_variance(port.cov_fm.to_numpy()), atol=2e-6)
    # hist=False: the scenario measures see returns_fm; hist=True: the history
    w_c = port.optimization(model="FM", rm="CVaR", obj="MinRisk", hist=False)["weights"].to_numpy()
    ref = optimize(port.returns_fm.to_numpy(), None, rm="CVaR", obj="MinRisk",
                   constraints=Constraints(sht=False), names=NAMES)
    assert np.allclose(w_c, ref.exposures, atol=1e-8)
    w_s = port.optimization(model="FM", rm="MV", obj="Sharpe", hist=True)["weights"].to_numpy()
    cov_hist = _moments(X.to_numpy(), np.full(len(X), 1 / len(X)))[1]
    ref_s = _max_sharpe(port.mu_fm.to_numpy(), cov_hist, 0.0)
    sr = lambda x: port.mu_fm.to_numpy() @ x / np.sqrt(x @ cov_hist @ x)  # noqa: E731
    assert sr(w_s) == pytest.approx(sr(ref_s), rel=1e-8) and np.allclose(w_s, ref_s, atol=1e-4)
    # Riskfolio's default: forward stepwise selection on p-values (threshold 0.05)
    fl2 = port.factors_stats()
    ref_fl = factor_loadings(X, F, method="forward", threshold=0.05)
    assert fl2.selected == ref_fl.selected and np.array_equal(fl2.B, ref_fl.B)
    fl3 = port.factors_stats(dict_risk={"stepwise": "Backward", "threshold": 0.001})
    assert all("noise" not in sel for sel in fl3.selected) and (fl3.B[:, 2] == 0).all()
    assert np.allclose(port.mu_fm.to_numpy(), fl3.alpha + fl3.B @ mu_f, atol=1e-12)


def test_model_errors():
    df, p = _data()
    port = Portfolio(df, p)
    with pytest.raises(ValueError, match="blacklitterman_stats"):
        port.optimization(model="BL")
    with pytest.raises(ValueError, match="factors_stats"):
        port.optimization(model="FM")
    with pytest.raises(ValueError, match="hist"):
        port.optimization(model="FM", hist="EP")
    with pytest.raises(ValueError, match="hist must be True"):
        port.optimization(model="Classic", hist=False)
    with pytest.raises(ValueError, match="market weights"):
        port.blacklitterman_stats(*_views())
    with pytest.raises(ValueError, match="unknown instrument"):
        port.blacklitterman_stats(pd.DataFrame([[1.0]], columns=["Gold"]), [0.01], eq=False)
    with pytest.raises(ValueError, match="factors"):
        port.factors_stats()


def test_problem_overrides_are_checked_and_cuts_give_way():
    df, p = _data()
    R = df.to_numpy()
    with pytest.raises(ValueError, match="positive semi-definite"):
        PortfolioProblem(R, p, rm="MV", cov=np.diag([1.0, 1.0, 1.0, -1.0]))
    with pytest.raises(ValueError, match="symmetric"):
        PortfolioProblem(R, p, rm="MV", cov=np.triu(np.ones((4, 4))))
    with pytest.raises(ValueError, match="shape"):
        PortfolioProblem(R, p, rm="MV", mu=np.zeros(3))
    mu = np.array([0.001, 0.002, 0.02, 0.0])
    prob = PortfolioProblem(R, p, rm="CVaR", cvar_method="cuts", mu=mu, constraints=Constraints(sht=False))
    assert prob.cuts is None  # the cutting planes read R's mean: the full LP takes over
    res = prob.solve("MaxRet")
    assert res.ok and res.expected_return == pytest.approx(0.02, abs=1e-9)  # all in Equity, by mu


def test_factors_stats_with_given_loadings_and_resampled_residuals():
    X, F = _factor_data()
    port = Portfolio(X, factors=F)
    B = pd.DataFrame([[0.2, 0.1, 0.0], [0.5, 0.6, 0.0], [1.2, 0.0, 0.0], [-0.4, 0.2, 0.0]],
                     index=NAMES, columns=["mkt", "credit", "noise"])
    fl = port.factors_stats(B=B, dict_risk={"residuals": True, "seed": 5})
    e = X.to_numpy() - F.to_numpy() @ B.to_numpy().T
    assert np.allclose(fl.alpha, e.mean(axis=0), atol=1e-15) and np.allclose(fl.residuals, e - e.mean(axis=0))
    assert np.allclose(port.returns_fm.to_numpy(), factor_scenarios(F.to_numpy(), fl, seed=5, residuals=True))
    assert not np.allclose(port.returns_fm.to_numpy(), fl.alpha + F.to_numpy() @ B.to_numpy().T)


def test_bl_moments_set_by_hand_are_matched_by_name():
    """As in Riskfolio-Lib, mu_bl / cov_bl may be set directly; labels are matched to instruments."""
    df, p = _data()
    port = Portfolio(df, p)
    mu = pd.Series({"Put_90": 0.0, "Equity": 0.03, "Credit": 0.001, "Gov": 0.0005})
    port.mu_bl = mu
    port.cov_bl = pd.DataFrame(np.diag([4e-4, 1.6e-3, 1.44e-2, 3.6e-3]), index=NAMES, columns=NAMES).iloc[::-1, ::-1]
    w = port.optimization(model="BL", rm="MV", obj="MaxRet", hist=False)["weights"]
    assert w["Equity"] == pytest.approx(1.0, abs=1e-8)
    w = port.optimization(model="BL", rm="MV", obj="MinRisk", hist=False)["weights"].to_numpy()
    inv = 1.0 / np.array([4e-4, 1.6e-3, 1.44e-2, 3.6e-3])
    assert np.allclose(w, inv / inv.sum(), atol=1e-6)  # min variance of a diagonal covariance
