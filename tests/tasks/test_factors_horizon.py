"""Multi-period factor scenarios: ``k alpha + B x + sum of k resampled residual rows``.

Cross-checks: the draws are recomputed per scenario from the seeded block streams by hand, the
k = 1 case equals :func:`factor_scenarios`, chunking never changes a bit, and the sample
covariance of the residual sum is ``k`` times the residual covariance (``k`` times its diagonal
for per-asset draws).
"""

import numpy as np
import pytest

from tasks.scenarios import (
    RESIDUAL_BLOCK,
    factor_horizon_scenarios,
    factor_loadings,
    factor_scenarios,
    residual_indices,
    residual_sum_indices,
)


def _model(t=300, seed=1):
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((t, 2)) * [0.01, 0.02]
    e = rng.multivariate_normal([0, 0, 0], [[1, 0.6, 0], [0.6, 1, -0.3], [0, -0.3, 1]], t) * 0.005
    x = 0.0004 + f @ np.array([[1.2, 0.1], [0.5, -0.7], [0.0, 0.3]]).T + e
    return factor_loadings(x, f, assets=["a", "b", "c"], factors=["m", "r"])


def _by_hand(xf, lo, k, seed, start, mode):
    """Scenario by scenario from the block streams (independent of the vectorised code)."""
    out = np.empty((xf.shape[0], lo.n_assets))
    e = lo.residuals
    for i in range(xf.shape[0]):
        g = start + i
        b, r = divmod(g, RESIDUAL_BLOCK)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(b, 3))))
        shape = (RESIDUAL_BLOCK, k) if mode == "rows" else (RESIDUAL_BLOCK, k, lo.n_assets)
        idx = rng.integers(0, e.shape[0], shape)[r]
        row = k * lo.alpha + lo.B @ xf[i]
        if mode == "rows":
            row = row + e[idx].sum(axis=0)
        elif mode == "assets":
            row = row + np.array([e[idx[:, a], a].sum() for a in range(lo.n_assets)])
        out[i] = row
    return out


@pytest.mark.parametrize("mode", ["rows", "assets", "none"])
def test_matches_hand_computation(mode):
    lo = _model()
    xf = np.random.default_rng(5).standard_normal((40, 2)) * 0.1
    got = factor_horizon_scenarios(xf, lo, periods=5, seed=11, start=RESIDUAL_BLOCK - 20, residuals=mode)
    np.testing.assert_allclose(got, _by_hand(xf, lo, 5, 11, RESIDUAL_BLOCK - 20, mode), rtol=0, atol=1e-14)


def test_one_period_is_factor_scenarios():
    lo = _model()
    xf = np.random.default_rng(2).standard_normal((50, 2)) * 0.02
    for mode, flag in (("rows", "rows"), ("none", False)):
        np.testing.assert_allclose(
            factor_horizon_scenarios(xf, lo, periods=1, seed=4, start=7, residuals=mode),
            factor_scenarios(xf, lo, seed=4, start=7, residuals=flag), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(residual_sum_indices(4, 7, 50, 300, 1)[:, 0],
                                  residual_indices(4, 7, 50, 300))


@pytest.mark.parametrize("mode", ["rows", "assets"])
def test_chunk_invariant_bit_for_bit(mode):
    lo = _model()
    s = 2 * RESIDUAL_BLOCK + 300
    xf = np.random.default_rng(3).standard_normal((s, 2)) * 0.05
    whole = factor_horizon_scenarios(xf, lo, periods=3, seed=9, residuals=mode)
    cuts = [0, 1000, RESIDUAL_BLOCK + 17, s]
    parts = [factor_horizon_scenarios(xf[a:b], lo, periods=3, seed=9, start=a, residuals=mode)
             for a, b in zip(cuts[:-1], cuts[1:])]
    np.testing.assert_array_equal(np.vstack(parts), whole)


@pytest.mark.parametrize("mode", ["rows", "assets"])
def test_residual_sum_covariance_is_k_times(mode):
    lo = _model()
    k, s = 4, 60_000
    got = factor_horizon_scenarios(np.zeros((s, 2)), lo, periods=k, seed=21, residuals=mode)
    resid_sum = got - k * lo.alpha
    e = lo.residuals - lo.residuals.mean(axis=0)
    full = e.T @ e / e.shape[0]
    want = k * (full if mode == "rows" else np.diag(np.diag(full)))
    np.testing.assert_allclose(resid_sum.mean(axis=0), 0.0, atol=4 * np.sqrt(k * np.diag(full).max() / s))
    np.testing.assert_allclose(np.cov(resid_sum.T, bias=True), want, rtol=0, atol=0.03 * want.max())


def test_factor_part_is_linear_in_the_horizon():
    lo = _model()
    xf = np.random.default_rng(8).standard_normal((10, 2))
    got = factor_horizon_scenarios(xf, lo, periods=21, seed=0, residuals="none")
    np.testing.assert_allclose(got, 21 * lo.alpha + xf @ lo.B.T, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("bad", [0, 2.5, -1])
def test_periods_must_be_whole(bad):
    with pytest.raises(ValueError, match="periods"):
        factor_horizon_scenarios(np.zeros((2, 2)), _model(), periods=bad, seed=0)


def test_unknown_residual_mode():
    with pytest.raises(ValueError, match="residuals"):
        factor_horizon_scenarios(np.zeros((2, 2)), _model(), periods=1, seed=0, residuals="full")
