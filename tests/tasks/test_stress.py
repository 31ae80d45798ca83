import numpy as np

from tasks.measures import stress_metrics


def test_stress_metrics_by_hand():
    R = np.array([[0.1, 0.0], [-0.2, 0.1], [0.05, -0.1], [0.0, 0.0]])
    q = np.array([0.4, 0.1, 0.3, 0.2])
    E = np.array([[1.0, 0.0], [0.5, 0.5], [np.nan, 1.0]])
    m = stress_metrics(R, E, q, alpha=0.05)
    x = R[:, 0]
    assert np.isclose(m.loc[0, "expected_return"], q @ x)
    assert np.isclose(m.loc[0, "volatility"], np.sqrt(q @ (x - q @ x) ** 2))
    assert np.isclose(m.loc[0, "VaR"], 0.2) and np.isclose(m.loc[0, "CVaR"], 0.2)
    assert np.isclose(m.loc[0, "worst_loss"], 0.2) and np.isclose(m.loc[0, "prob_loss"], 0.1)
    # portfolio 2: pnl = [0.05, -0.05, -0.025, 0]; the 5 % tail lies in the -0.05 scenario
    assert np.isclose(m.loc[1, "CVaR"], 0.05) and np.isclose(m.loc[1, "prob_loss"], 0.4)
    assert m.loc[2].isna().all()
