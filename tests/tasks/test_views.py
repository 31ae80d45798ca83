import numpy as np
import pytest

from tasks.entropy_pooling import solve_entropy_pooling
from tasks.views import View, attained, moment, original_rows


@pytest.fixture
def sample():
    rng = np.random.default_rng(42)
    z = rng.standard_normal((20000, 2))
    x = np.expm1(0.05 + 0.15 * z[:, 0])                     # lognormal simple return
    y = 0.5 * x + 0.05 * z[:, 1]
    return np.column_stack([x, y]), np.full(20000, 1 / 20000)


def _solve(X, p, views, cols=("X", "Y")):
    rows = original_rows(X, list(cols), p, views)
    return solve_entropy_pooling(p, rows.A, rows.b, rows.G, rows.h, names=rows.names).posterior, rows


def test_turbulence_view_attained(sample):
    X, p = sample
    views = [View("mean", "X", "=", "prior"), View("vol", "X", "=", 0.20),
             View("skew", "X", "=", -0.1), View("kurt", "X", "=", 2.75)]
    q, rows = _solve(X, p, views)
    x = X[:, 0]
    assert moment(x, q, "mean") == pytest.approx(moment(x, p, "mean"), abs=1e-10)
    assert moment(x, q, "vol") == pytest.approx(0.20, abs=1e-8)
    assert moment(x, q, "skew") == pytest.approx(-0.1, abs=1e-8)
    assert moment(x, q, "kurt") == pytest.approx(2.75, abs=1e-8)
    assert len(rows.names) == 4 and q.min() >= 0 and q.sum() == pytest.approx(1, abs=1e-14)


def test_nonlinear_view_pins_untargeted_moments(sample):
    X, p = sample
    q, rows = _solve(X, p, [View("skew", "X", "=", 0.0)])
    x = X[:, 0]
    assert rows.eq_names[0].startswith("mean(X) pinned") and rows.eq_names[1].startswith("var(X) pinned")
    assert moment(x, q, "mean") == pytest.approx(moment(x, p, "mean"), abs=1e-10)
    assert moment(x, q, "vol") == pytest.approx(moment(x, p, "vol"), abs=1e-10)
    assert moment(x, q, "skew") == pytest.approx(0.0, abs=1e-8)


def test_inequality_views(sample):
    X, p = sample
    prior_vol = moment(X[:, 1], p, "vol")
    q, rows = _solve(X, p, [View("vol", "Y", "<=", 0.5 * prior_vol), View("mean", "X", ">=", 0.0)])
    assert len(rows.in_names) == 2 and len(rows.eq_names) == 1  # Y's mean pinned, two inequalities
    assert attained(X[:, 1], q, View("vol", "Y", "<=", 0)) <= 0.5 * prior_vol + 1e-10
    # a non-binding inequality leaves the prior untouched
    q2, _ = _solve(X, p, [View("mean", "X", ">=", -0.5)])
    assert np.allclose(q2, p, atol=1e-15)


def test_unknown_variable(sample):
    X, p = sample
    with pytest.raises(KeyError):
        original_rows(X, ["X", "Y"], p, [View("mean", "Z", "=", 0.0)])


def test_moments_match_numpy(sample):
    X, p = sample
    x = X[:, 0]
    from scipy.stats import kurtosis, skew
    assert moment(x, p, "vol") == pytest.approx(np.std(x), rel=1e-12)
    assert moment(x, p, "skew") == pytest.approx(skew(x), rel=1e-10)
    assert moment(x, p, "kurt") == pytest.approx(kurtosis(x, fisher=False), rel=1e-10)
