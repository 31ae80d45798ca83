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


# ---- Student-t --------------------------------------------------------------------------------

@pytest.fixture
def t_model():
    corr = np.array([[1.0, 0.5, -0.2], [0.5, 1.0, 0.3], [-0.2, 0.3, 1.0]])
    return sc.StudentTModel(np.array([0.05, 0.07, 0.02]), np.array([0.1, 0.2, 0.05]), corr, 0.5, nu=5.0)


def test_student_t_moment_matching_is_exact(t_model):
    x = sc.simulate_log_returns(t_model, 6000, seed=4, block_size=700)
    assert np.abs(x.mean(axis=0) - t_model.log_mean).max() < 1e-14
    assert np.abs(np.cov(x.T, ddof=0) - t_model.log_cov).max() < 1e-14


def test_student_t_unmatched_is_scaled_to_the_target_covariance(t_model):
    # raw draws z * sqrt((nu - 2) / chi2) have identity covariance: check the sample against it
    y = np.concatenate([sc.draw_block(9, b, 20000, 3, 5.0) for b in range(10)])
    assert np.abs(np.cov(y.T, ddof=0) - np.eye(3)).max() < 0.03
    x = sc.simulate_log_returns(t_model, 100000, seed=9, moment_matching=False)
    rel = np.abs(np.cov(x.T, ddof=0) - t_model.log_cov) / np.outer(t_model.sigma, t_model.sigma) / 0.5
    assert rel.max() < 0.05


def test_student_t_tails_are_heavier_than_normal(t_model):
    corr = t_model.corr
    normal = sc.LognormalModel(t_model.mu, t_model.sigma, corr, 0.5)
    xt = sc.simulate_log_returns(t_model, 200000, seed=1, block_size=4096)
    xn = sc.simulate_log_returns(normal, 200000, seed=1, block_size=4096)
    zt = (xt - xt.mean(0)) / xt.std(0)
    zn = (xn - xn.mean(0)) / xn.std(0)
    kurt_t, kurt_n = (zt**4).mean(0), (zn**4).mean(0)
    assert np.all(kurt_n < 3.1) and np.all(kurt_t > 5.0)  # theory: 3 and 3 + 6/(nu-4) = 9
    # same variance, but more mass beyond 4 standard deviations and a fatter 0.1 % quantile
    assert np.all(np.mean(np.abs(zt) > 4, axis=0) > 5 * np.mean(np.abs(zn) > 4, axis=0))
    assert np.all(np.quantile(zt, 0.001, axis=0) < np.quantile(zn, 0.001, axis=0) - 0.3)


def test_student_t_mixing_is_per_scenario_and_shared_by_drivers():
    z = sc.draw_standard_normals(3, 2, 50, 4)
    y = sc.draw_block(3, 2, 50, 4, nu=6.0)
    ratio = y / z
    assert np.allclose(ratio, ratio[:, :1])  # one scale per row
    assert np.allclose(ratio[:, 0], sc.mixing_scales(3, 2, 50, 6.0), rtol=1e-14)
    assert np.array_equal(sc.draw_block(3, 2, 50, 4, None), z)


def test_student_t_needs_nu_above_two():
    with pytest.raises(ValueError):
        sc.StudentTModel(np.zeros(1), np.ones(1), np.eye(1), 1.0, nu=2.0)


@pytest.mark.parametrize("n_chunks", [1, 3, 9])
def test_student_t_identical_for_any_chunk_count(t_model, n_chunks):
    ref = sc.simulate_log_returns(t_model, 4321, seed=11, block_size=500)
    groups = sc.chunk_blocks(4321, 500, n_chunks)
    stats = [s for g in groups for s in sc.chunk_statistics(11, 4321, 500, g, 3, t_model.nu)]
    tr = sc.moment_matching_transform(stats, t_model.log_mean, t_model.log_cov)
    got = np.concatenate([sc.log_returns_chunk(t_model, 11, 4321, 500, g, tr) for g in groups])
    assert np.array_equal(ref, got)


# ---- paths ------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["normal", "student_t"])
def test_path_terminals_equal_one_period_scenarios(model, t_model, which):
    m = model if which == "normal" else t_model
    x = sc.simulate_log_returns(m, 3000, seed=5, block_size=400)
    term, paths = sc.simulate_paths(m, 3000, seed=5, n_steps=12, block_size=400)
    assert paths.shape == (3000, 12, 3)
    assert np.array_equal(term, x)
    assert np.array_equal(paths[:, -1, :], x)
    steps = np.diff(paths, axis=1, prepend=0.0)
    assert np.allclose(steps.sum(axis=1), x, atol=1e-14)  # step log-returns sum to the one-period draw


def test_paths_have_brownian_moments(model):
    _, paths = sc.simulate_paths(model, 40000, seed=2, n_steps=4, block_size=5000)
    for k, f in enumerate([0.25, 0.5, 0.75, 1.0]):
        pk = paths[:, k, :]
        assert np.allclose(pk.mean(0), f * model.log_mean, atol=4 * 0.2 / np.sqrt(40000))
        # Var(X_t) = f * Sigma H and increments are uncorrelated in time
        assert np.allclose(np.cov(pk.T, ddof=0), f * model.log_cov, rtol=0.05, atol=2e-4)
    inc = np.diff(paths[:, :, 1], axis=1, prepend=0.0)
    c = np.corrcoef(inc.T)
    assert np.abs(c - np.eye(4)).max() < 0.03


def test_paths_identical_for_any_chunk_count(t_model):
    term, ref = sc.simulate_paths(t_model, 2500, seed=8, n_steps=5, block_size=300)
    groups = sc.chunk_blocks(2500, 300, 4)
    stats = [s for g in groups for s in sc.chunk_statistics(8, 2500, 300, g, 3, t_model.nu)]
    tr = sc.moment_matching_transform(stats, t_model.log_mean, t_model.log_cov)
    got = np.concatenate([sc.paths_chunk(t_model, 8, 2500, 300, g, 5, tr)[1] for g in groups])
    assert np.array_equal(ref, got)


def test_step_times_end_exactly_at_the_horizon():
    t = sc.step_times(0.3, 7)
    assert t[-1] == 0.3 and np.allclose(np.diff(t), 0.3 / 7)
