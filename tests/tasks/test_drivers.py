import numpy as np
import pytest

from tasks import scenarios as sc
from tasks.scenarios import (
    Driver,
    DriverModel,
    DriverScenarios,
    concat_scenarios,
    driver_statistics,
    driver_transform,
    drivers_chunk,
    simulate_drivers,
)

CORR = np.array([
    [1.0, -0.7, 0.1, 0.0, 0.2],
    [-0.7, 1.0, 0.0, 0.0, 0.0],
    [0.1, 0.0, 1.0, 0.3, 0.0],
    [0.0, 0.0, 0.3, 1.0, 0.0],
    [0.2, 0.0, 0.0, 0.0, 1.0],
])
DRIVERS = [Driver("SPX", "spot", 0.06, 0.2), Driver("SPX_vol", "vol", 0.0, 0.9),
           Driver("USD_par", "rate", 0.002, 0.01), Driver("USD_slope", "rate", 0.0, 0.006),
           Driver("EURUSD", "fx", 0.0, 0.08)]


@pytest.fixture(params=["normal", "student_t"])
def model(request):
    return DriverModel(DRIVERS, CORR, 0.25, request.param, 6.0 if request.param == "student_t" else None)


def test_means_by_kind(model):
    lm = model.log_mean
    assert lm[0] == pytest.approx((0.06 - 0.02) * 0.25)  # log kinds: (mu - sigma^2/2) H
    assert lm[1] == pytest.approx(-0.5 * 0.81 * 0.25)
    assert lm[2] == pytest.approx(0.002 * 0.25)  # additive rate kind: mu H
    assert np.allclose(np.diag(model.log_cov), np.array([0.2, 0.9, 0.01, 0.006, 0.08]) ** 2 * 0.25)


def test_moment_matching_exact_with_named_drivers(model):
    s = simulate_drivers(model, 5000, seed=3, block_size=512)
    assert s.names == model.names and s.values.shape == (5000, 5)
    assert np.abs(s.values.mean(0) - model.log_mean).max() < 1e-14
    assert np.abs(np.cov(s.values.T, ddof=0) - model.log_cov).max() < 1e-14
    assert np.array_equal(s.column("SPX_vol"), s.values[:, 1])
    assert s.get(None) == 0.0
    with pytest.raises(KeyError, match="nope"):
        s.column("nope")


def test_spot_vol_correlation_is_imposed(model):
    s = simulate_drivers(model, 20000, seed=1)
    assert np.corrcoef(s.column("SPX"), s.column("SPX_vol"))[0, 1] == pytest.approx(-0.7, abs=1e-12)


@pytest.mark.parametrize("n_chunks", [1, 2, 5])
def test_chunks_bit_identical_including_paths(model, n_chunks):
    ref = simulate_drivers(model, 3000, seed=7, block_size=256, n_steps=6)
    groups = sc.chunk_blocks(3000, 256, n_chunks)
    stats = [s for g in groups for s in driver_statistics(model, 7, 3000, 256, g)]
    tr = driver_transform(model, stats)
    got = concat_scenarios([drivers_chunk(model, 7, 3000, 256, g, tr, n_steps=6) for g in groups])
    assert np.array_equal(ref.values, got.values) and np.array_equal(ref.paths, got.paths)
    assert np.array_equal(ref.paths[:, -1, :], ref.values)
    assert np.array_equal(ref.step_times, sc.step_times(0.25, 6))


def test_drivers_equal_plain_scenario_functions():
    m = sc.StudentTModel(np.array([0.06, 0.0]), np.array([0.2, 0.9]), CORR[:2, :2], 0.25, nu=6.0)
    dm = DriverModel(DRIVERS[:2], CORR[:2, :2], 0.25, "student_t", 6.0)
    assert np.array_equal(simulate_drivers(dm, 2000, 5).values, sc.simulate_log_returns(m, 2000, 5))


def test_at_step_and_increments():
    paths = np.cumsum(np.arange(24, dtype=float).reshape(2, 4, 3), axis=1)
    s = DriverScenarios(["a", "b", "c"], paths[:, -1], 1.0, paths, [0.25, 0.5, 0.75, 1.0])
    assert np.array_equal(s.increments("b"), np.arange(24, dtype=float).reshape(2, 4, 3)[:, :, 1])
    s1 = s.at_step(1)
    assert s1.horizon == 0.5 and s1.paths.shape == (2, 2, 3)
    assert np.array_equal(s1.values, paths[:, 1])
    one = DriverScenarios(["a"], np.array([[0.1], [0.2]]), 1.0)
    assert np.array_equal(one.increments("a"), np.array([[0.1], [0.2]]))


def test_validation():
    with pytest.raises(ValueError):
        DriverModel(DRIVERS, CORR, 1.0, "student_t", 2.0)
    with pytest.raises(ValueError):
        DriverModel(DRIVERS[:2], CORR, 1.0)
    with pytest.raises(ValueError):
        Driver("x", "bogus")
    with pytest.raises(ValueError):
        DriverScenarios(["a", "a"], np.zeros((1, 2)), 1.0)
