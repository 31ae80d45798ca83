import numpy as np
import pytest

from tasks.instruments import ZeroCurve, flat_curve


@pytest.fixture
def curve():
    return ZeroCurve("USD", [0.5, 1.0, 2.0, 10.0], [0.05, 0.045, 0.04, 0.042], "p", "s")


def test_linear_interpolation_and_flat_extrapolation(curve):
    assert curve.zero(1.5) == pytest.approx(0.0425, abs=1e-15)
    assert curve.zero(6.0) == pytest.approx(0.04 + 0.002 * 4 / 8, abs=1e-15)
    assert curve.zero(0.1) == 0.05 and curve.zero(30.0) == 0.042
    assert curve.discount(2.0) == pytest.approx(np.exp(-0.08), abs=1e-15)


def test_forward_rate_is_derivative_of_log_discount(curve):
    for t in [0.3, 0.7, 1.5, 4.0, 12.0]:
        h = 1e-6
        fd = (curve.zero(t + h) * (t + h) - curve.zero(t - h) * (t - h)) / (2 * h)
        assert curve.forward(t) == pytest.approx(fd, rel=1e-8)


def test_parallel_and_slope_shocks(curve):
    t = np.array([0.5, 2.0, 6.0, 10.0, 20.0])
    p = np.array([0.01, 0.0])
    s = np.array([0.0, 0.02])
    z = curve.shocked_zero(t, p, s)
    assert z.shape == (2, 5)
    assert np.allclose(z[0] - curve.zero(t), 0.01, atol=1e-15)
    d = z[1] - curve.zero(t)
    assert d[3] - d[1] == pytest.approx(0.02, abs=1e-15)  # the 10y - 2y spread moves by s
    assert d[2] == pytest.approx(0.0, abs=1e-15)  # midpoint 6y fixed
    assert d[0] == d[1] and d[4] == d[3]  # flat outside [2y, 10y]
    assert curve.shocked_zero(3.0, p, s).shape == (2,)


def test_validation():
    with pytest.raises(ValueError):
        ZeroCurve("X", [1.0, 1.0], [0.01, 0.02])
    with pytest.raises(ValueError):
        ZeroCurve("X", [1.0], [0.01, 0.02])
    assert flat_curve("X", 0.03).zero(7.0) == 0.03
