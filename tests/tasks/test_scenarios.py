import numpy as np
import pytest

from tasks import scenarios as sc


@pytest.fixture
def model():
    corr = np.array([[1.0, 0.5, -0.2], [0.5, 1.0, 0.3], [-0.2, 0.3, 1.0]])
    return sc.LognormalModel(np.array([0.05, 0.07, 0.02]), np.array([0.1, 0.2, 0.05]), corr, 0.5)


def test_moment_matching_is_exact(model):
    x = sc.simulate_log_returns(model, 5000, seed=3, block_size=700)
    assert np.abs(x.mean(axis=0) - model.log_mean).max() < 1e-14
    assert np.abs(np.cov(x.T, ddof=0) - model.log_cov).max() < 1e-14
    # horizon scaling: log mean (mu - sigma^2/2) h, covariance Sigma h
    assert np.allclose(model.log_mean, (model.mu - model.sigma**2 / 2) * 0.5)


def test_without_moment_matching_moments_are_only_approximate(model):
    x = sc.simulate_log_returns(model, 20000, seed=3, moment_matching=False)
    err = np.abs(x.mean(axis=0) - model.log_mean).max()
    assert 1e-8 < err < 5 * 0.2 * np.sqrt(0.5) / np.sqrt(20000)


@pytest.mark.parametrize("n_chunks", [1, 2, 3, 7, 50])
def test_identical_for_any_chunk_count(model, n_chunks):
    ref = sc.simulate_log_returns(model, 4321, seed=11, block_size=500)
    groups = sc.chunk_blocks(4321, 500, n_chunks)
    assert [b for g in groups for b in g] == list(range(9))
    stats = [s for g in groups for s in sc.chunk_statistics(11, 4321, 500, g, 3)]
    tr = sc.moment_matching_transform(stats, model.log_mean, model.log_cov)
    got = np.concatenate([sc.log_returns_chunk(model, 11, 4321, 500, g, tr) for g in groups])
    assert np.array_equal(ref, got)  # bit-identical


def test_seed_changes_draws(model):
    a = sc.simulate_log_returns(model, 1000, seed=1)
    b = sc.simulate_log_returns(model, 1000, seed=2)
    assert not np.allclose(a, b)


def test_singular_correlation_is_supported():
    corr = np.array([[1.0, 1.0], [1.0, 1.0]])
    m = sc.LognormalModel(np.array([0.0, 0.0]), np.array([0.1, 0.1]), corr, 1.0)
    x = sc.simulate_log_returns(m, 2000, seed=0)
    assert np.allclose(x[:, 0], x[:, 1], atol=1e-12)
