import numpy as np
import pytest
from scipy.optimize import brentq

from tasks.views import (
    ViewsInfeasible,
    black_litterman,
    black_litterman_probabilities,
    idzorek_omega,
)


def test_closed_form_against_hand_computation():
    # 2 assets, one absolute view, every number checkable by hand:
    # tau S = [[.004, .001], [.001, .009]], P tau S P' = .004, A = .008, Q - P Pi = .03
    S = np.array([[0.04, 0.01], [0.01, 0.09]])
    bl = black_litterman(S, [[1.0, 0.0]], [0.05], tau=0.1, prior_mu=[0.02, 0.03], omega=[[0.004]])
    assert np.allclose(bl.mu, [0.035, 0.03375], atol=1e-15)
    # M = tau S - tSP tSP' / A = [[.002, .0005], [.0005, .008875]]
    assert np.allclose(bl.cov, [[0.042, 0.0105], [0.0105, 0.098875]], atol=1e-15)
    assert np.allclose(bl.prior_mu, [0.02, 0.03]) and bl.tau == 0.1


def test_closed_form_against_precision_form_and_riskfolio_conventions():
    rng = np.random.default_rng(4)
    L = rng.normal(size=(3, 3))
    S = L @ L.T / 10 + 0.01 * np.eye(3)
    P = np.array([[1.0, -1.0, 0.0], [0.0, 0.5, 0.5]])
    Q = np.array([0.01, 0.03])
    w, delta, tau, rf = np.array([0.5, 0.3, 0.2]), 2.5, 0.04, 0.002
    om = np.diag([0.001, 0.002])
    bl = black_litterman(S, P, Q, tau=tau, weights=w, delta=delta, omega=om, rf=rf)
    # independent route: the precision-weighted form (Riskfolio's), equilibrium Pi = delta S w
    pi = delta * S @ w
    tSi = np.linalg.inv(tau * S)
    M = np.linalg.inv(tSi + P.T @ np.linalg.inv(om) @ P)
    assert np.allclose(bl.mu, M @ (tSi @ pi + P.T @ np.linalg.inv(om) @ Q) + rf, rtol=1e-12, atol=1e-14)
    assert np.allclose(bl.cov, S + M, rtol=1e-12, atol=1e-15)
    assert np.allclose(bl.prior_mu, pi + rf)
    # default Omega is diag(P tau S P'); historical prior subtracts rf, then adds it back
    d = black_litterman(S, P, Q, tau=tau, prior_mu=pi + rf, rf=rf)
    assert np.allclose(d.omega, np.diag(np.diag(P @ (tau * S) @ P.T)))
    om_d = d.omega
    M_d = np.linalg.inv(tSi + P.T @ np.linalg.inv(om_d) @ P)
    assert np.allclose(d.mu, M_d @ (tSi @ pi + P.T @ np.linalg.inv(om_d) @ Q) + rf, rtol=1e-12)


def _one_view_case():
    S = np.array([[0.04, 0.012, 0.006], [0.012, 0.09, 0.02], [0.006, 0.02, 0.0625]])
    w, delta, tau = np.array([0.4, 0.35, 0.25]), 3.0, 0.05
    P = np.array([[0.0, 1.0, -1.0]])
    Q = np.array([0.04])
    return S, w, delta, tau, P, Q


@pytest.mark.parametrize("c", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_idzorek_confidence_scales_the_tilt(c):
    S, w, delta, tau, P, Q = _one_view_case()
    bl = black_litterman(S, P, Q, tau=tau, weights=w, delta=delta, confidences=[c])
    pi = delta * S @ w
    full = black_litterman(S, P, Q, tau=tau, weights=w, delta=delta, omega=[[0.0]])
    assert float(P[0] @ full.mu) == pytest.approx(Q[0], abs=1e-14)  # 100 %: the view is met exactly
    assert np.allclose(bl.mu - pi, c * (full.mu - pi), rtol=1e-12, atol=1e-16)
    if c == 0.0:
        assert np.allclose(bl.mu, pi) and np.allclose(bl.cov, S + tau * S)
    if c == 1.0:
        assert float(P[0] @ bl.mu) == pytest.approx(Q[0], abs=1e-14)
    if c == 0.5:
        assert float(P[0] @ bl.mu - P[0] @ pi) == pytest.approx(0.5 * float(Q[0] - P[0] @ pi), abs=1e-14)


def test_idzorek_omega_equals_a_root_find_on_the_weights_tilt():
    """Idzorek's procedure run by hand: per view, find omega so that the unconstrained weights
    (delta S)^-1 mu move by c times their 100 % move (brentq), and compare with the closed form."""
    S, w, delta, tau, _, _ = _one_view_case()
    P = np.array([[0.0, 1.0, -1.0], [1.0, 0.0, 0.0]])
    Q = np.array([0.04, 0.02])
    conf = np.array([0.3, 0.8])
    pi = delta * S @ w
    expected = []
    for k in range(2):
        p_k, q_k = P[k:k + 1], Q[k:k + 1]
        w100 = np.linalg.solve(delta * S, black_litterman(S, p_k, q_k, tau=tau, prior_mu=pi, omega=[[0]]).mu)
        target = w + conf[k] * (w100 - w)

        def gap(log_om, p_k=p_k, q_k=q_k, target=target):
            mu = black_litterman(S, p_k, q_k, tau=tau, prior_mu=pi, omega=[[np.exp(log_om)]]).mu
            tilt = np.linalg.solve(delta * S, mu) - w
            return float(np.linalg.norm(tilt) - np.linalg.norm(target - w))

        expected.append(np.exp(brentq(gap, -40.0, 10.0, xtol=1e-14)))
    got = np.diag(idzorek_omega(S, P, conf, tau))
    assert np.allclose(got, expected, rtol=1e-9)
    bl = black_litterman(S, P, Q, tau=tau, weights=w, delta=delta, confidences=conf)
    ref = black_litterman(S, P, Q, tau=tau, weights=w, delta=delta, omega=np.diag(expected))
    assert np.allclose(bl.mu, ref.mu, rtol=1e-8)


def _scenarios(s=4000, seed=7):
    rng = np.random.default_rng(seed)
    z = rng.standard_t(6, size=(s, 3)) @ np.array([[0.02, 0.0, 0.0], [0.01, 0.03, 0.0], [0.0, 0.015, 0.05]])
    X = z + [0.003, 0.005, 0.008]
    p = rng.uniform(0.5, 1.5, s)
    return X, p / p.sum()


@pytest.mark.parametrize("match_cov", [False, True])
def test_entropy_pooling_probabilities_reproduce_the_posterior(match_cov):
    X, p = _scenarios()
    mu = X.T @ p
    S = (X - mu).T @ ((X - mu) * p[:, None])
    P = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    bl = black_litterman(S, P, [-0.002, 0.009], tau=0.1, prior_mu=mu, confidences=[0.6, 0.4])
    res = black_litterman_probabilities(X, p, bl.mu, bl.cov if match_cov else None, names=["a", "b", "c"])
    q = res.posterior
    assert res.converged and q.min() >= 0 and q.sum() == pytest.approx(1.0, abs=1e-14)
    assert np.abs(X.T @ q - bl.mu).max() < 1e-8
    if match_cov:
        m = X.T @ q
        C = (X - m).T @ ((X - m) * q[:, None])
        assert np.abs(C - bl.cov).max() < 1e-8
        assert res.residuals.size == 3 + 6
    assert 0 < res.effective_scenarios < 1 and res.relative_entropy > 0


def test_probabilities_out_of_reach_and_bad_inputs():
    X, p = _scenarios(s=200)
    with pytest.raises(ViewsInfeasible):
        black_litterman_probabilities(X, p, X.max(axis=0) + 1.0)
    S = np.eye(2) * 0.04
    with pytest.raises(ValueError, match="P must have shape"):
        black_litterman(S, [[1.0, 0.0, 0.0]], [0.1], prior_mu=[0, 0])
    with pytest.raises(ValueError, match="Q must have"):
        black_litterman(S, [[1.0, 0.0]], [0.1, 0.2], prior_mu=[0, 0])
    with pytest.raises(ValueError, match="confidences"):
        black_litterman(S, [[1.0, 0.0]], [0.1], prior_mu=[0, 0], confidences=[1.5])
    with pytest.raises(ValueError, match="both weights and delta"):
        black_litterman(S, [[1.0, 0.0]], [0.1], weights=[0.5, 0.5])
    with pytest.raises(ValueError, match="redundant"):
        black_litterman(S, [[1.0, 0.0], [2.0, 0.0]], [0.1, 0.2], prior_mu=[0, 0], confidences=[1, 1])
    with pytest.raises(ValueError, match="symmetric"):
        black_litterman([[0.04, 0.01], [0.0, 0.04]], [[1.0, 0.0]], [0.1], prior_mu=[0, 0])
