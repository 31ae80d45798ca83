"""The risk-factor model: loadings, stepwise selection, factor moments and factor scenarios.

Every number is cross-checked against an independent route: ``numpy.linalg.lstsq`` for the
coefficients, the nested-model F-test (``t**2 = F``) and ``scipy.stats.linregress`` for the
p-values, a stepwise selection re-run here on those F-test p-values, ``numpy.cov`` and the OLS
identity ``Cov(X) = B Sigma_f B' + Cov(e)`` for the moments, and the sample moments of many
simulated scenarios.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tasks.scenarios import (
    RESIDUAL_BLOCK,
    FactorLoadings,
    factor_loadings,
    factor_scenarios,
    factor_stats,
    ols_fit,
    residual_indices,
)


def _case(t=240, seed=0, orthogonal=False):
    """Four factors; asset a on f0 and f2, asset b on f1 weakly, asset c on f3 only.

    ``orthogonal``: the noise is projected off the constant and the factors, so the OLS
    estimates are the true loadings and the unused factors get coefficients ~1e-17 (p ~ 1).
    """
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((t, 4)) * [0.04, 0.03, 0.05, 0.02]
    noise = rng.standard_normal((t, 3)) * 0.01
    if orthogonal:
        z = np.column_stack([np.ones(t), f])
        noise -= z @ np.linalg.lstsq(z, noise, rcond=None)[0]
    x = np.column_stack([
        0.001 + 0.9 * f[:, 0] - 0.5 * f[:, 2],
        -0.002 + 0.06 * f[:, 1] + 0.3 * f[:, 3],
        0.5 * f[:, 3],
    ]) + noise
    return x, f


# ---------------------------------------------------------------- OLS and p-values


def _rss(y, z):
    coef = np.linalg.lstsq(z, y, rcond=None)[0]
    r = y - z @ coef
    return float(r @ r)


def _ftest_pvalues(y, f, cols, intercept=True):
    """p-value of each factor in ``cols`` by the nested-model F-test (drop it, compare RSS)."""
    def design(c):
        parts = ([np.ones(len(y))] if intercept else []) + [f[:, j] for j in c]
        return np.column_stack(parts) if parts else np.empty((len(y), 0))

    full = design(cols)
    dof = len(y) - full.shape[1]
    rss = _rss(y, full)
    out = []
    for j in cols:
        reduced = design([c for c in cols if c != j])
        rss_r = _rss(y, reduced) if reduced.shape[1] else float(y @ y)
        out.append(stats.f.sf((rss_r - rss) / (rss / dof), 1, dof))
    return np.array(out)


@pytest.mark.parametrize("intercept", [True, False])
def test_ols_loadings_match_lstsq(intercept):
    x, f = _case()
    ld = factor_loadings(x, f, intercept=intercept)
    z = np.column_stack([np.ones(len(f)), f]) if intercept else f
    coef = np.linalg.lstsq(z, x, rcond=None)[0]
    if intercept:
        assert np.allclose(ld.alpha, coef[0], rtol=0, atol=1e-13)
        coef = coef[1:]
    else:
        assert np.array_equal(ld.alpha, np.zeros(3))
    assert np.allclose(ld.B, coef.T, rtol=0, atol=1e-12)
    assert np.allclose(ld.residuals, x - ld.alpha - f @ ld.B.T, rtol=0, atol=1e-14)
    assert ld.selected == (("factor0", "factor1", "factor2", "factor3"),) * 3
    assert ld.assets == ("asset0", "asset1", "asset2") and ld.n_factors == 4


def test_pvalues_match_the_nested_f_test_and_the_covariance_formula():
    x, f = _case()
    ld = factor_loadings(x, f)
    z = np.column_stack([np.ones(len(f)), f])
    dof = len(f) - z.shape[1]
    inv = np.linalg.inv(z.T @ z)
    for i in range(3):
        assert np.allclose(ld.pvalues[i], _ftest_pvalues(x[:, i], f, [0, 1, 2, 3]), rtol=1e-8, atol=1e-14)
        coef = inv @ z.T @ x[:, i]
        resid = x[:, i] - z @ coef
        se = np.sqrt(resid @ resid / dof * np.diag(inv))
        p = 2 * stats.t.sf(np.abs(coef / se), dof)
        assert np.allclose(ld.pvalues[i], p[1:], rtol=1e-8, atol=1e-14)
    # the true model: asset0 loads on f0, f2 only, asset2 on f3 only
    assert ld.pvalues[0, [0, 2]].max() < 1e-20 and ld.pvalues[2, 3] < 1e-20


def test_single_factor_pvalues_match_linregress():
    x, f = _case(t=60, seed=4)
    res = stats.linregress(f[:, 1], x[:, 1])
    coef, pv, resid = ols_fit(x[:, 1], np.column_stack([np.ones(60), f[:, 1]]))
    assert coef == pytest.approx([res.intercept, res.slope], rel=1e-10)
    assert pv[1] == pytest.approx(res.pvalue, rel=1e-8)
    p_int = 2 * stats.t.sf(abs(res.intercept / res.intercept_stderr), 58)
    assert pv[0] == pytest.approx(p_int, rel=1e-8)
    assert np.allclose(resid, x[:, 1] - res.intercept - res.slope * f[:, 1], atol=1e-14)


# ---------------------------------------------------------------- stepwise selection


def _hand_forward(y, f, threshold):
    """Forward selection re-run on F-test p-values (Riskfolio's pvalue criterion)."""
    chosen = []
    while len(chosen) < f.shape[1]:
        cands = []
        for j in range(f.shape[1]):
            if j not in chosen:
                pv = _ftest_pvalues(y, f, chosen + [j])
                if pv.max() <= threshold:
                    cands.append((pv[-1], j))
        if not cands:
            return chosen
        chosen.append(min(cands)[1])
    return chosen


def _hand_backward(y, f, threshold):
    cols = list(range(f.shape[1]))
    while cols:
        pv = _ftest_pvalues(y, f, cols)
        if pv.max() <= threshold:
            break
        cols.pop(int(np.argmax(pv)))
    return cols


def test_stepwise_picks_the_true_factors():
    x, f = _case(orthogonal=True)
    for method in ("forward", "backward"):
        ld = factor_loadings(x, f, method=method, factors=["mkt", "val", "mom", "size"])
        assert set(ld.selected[0]) == {"mkt", "mom"}
        assert set(ld.selected[2]) == {"size"}
        assert np.all(ld.B[0, [1, 3]] == 0) and np.all(np.isnan(ld.pvalues[0, [1, 3]]))
        # the final fit is the OLS on the kept factors only
        sel = [0, 2]
        coef = np.linalg.lstsq(np.column_stack([np.ones(len(f)), f[:, sel]]), x[:, 0], rcond=None)[0]
        assert np.allclose([ld.alpha[0], *ld.B[0, sel]], coef, atol=1e-13)
        assert np.allclose(ld.residuals[:, 0], x[:, 0] - f[:, sel] @ coef[1:] - coef[0], atol=1e-14)
    # forward enters the strongest factor first: f0 (0.9 * 4 %) before f2 (-0.5 * 5 %)
    assert factor_loadings(x, f, method="forward").selected[0] == ("factor0", "factor2")


def test_threshold_drops_a_weak_factor():
    x, f = _case(orthogonal=True)
    # asset1's loading on f1 is weak: its p-value in the true model lies between the thresholds
    p_weak = _ftest_pvalues(x[:, 1], f, [1, 3])[0]
    assert 1e-4 < p_weak < 0.05
    for method in ("forward", "backward"):
        keep = factor_loadings(x, f, method=method, threshold=0.05)
        drop = factor_loadings(x, f, method=method, threshold=p_weak / 2)
        assert set(keep.selected[1]) == {"factor1", "factor3"}
        assert drop.selected[1] == ("factor3",)
        assert drop.B[1, 1] == 0 and keep.B[1, 1] == pytest.approx(0.06, rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("threshold", [0.05, 0.2])
def test_stepwise_matches_a_hand_run_on_random_cases(seed, threshold):
    rng = np.random.default_rng(100 + seed)
    t, k, n = 50, 5, 6
    f = rng.standard_normal((t, k)) @ (np.eye(k) + 0.4 * rng.standard_normal((k, k)))  # correlated
    loads = rng.standard_normal((n, k)) * (rng.random((n, k)) < 0.5) * rng.choice([0.1, 0.3, 1.0], (n, k))
    x = f @ loads.T + rng.standard_normal((t, n))
    fwd = factor_loadings(x, f, method="forward", threshold=threshold)
    bwd = factor_loadings(x, f, method="backward", threshold=threshold)
    for i in range(n):
        assert fwd.selected[i] == tuple(f"factor{j}" for j in _hand_forward(x[:, i], f, threshold))
        assert bwd.selected[i] == tuple(f"factor{j}" for j in _hand_backward(x[:, i], f, threshold))
        kept = ~np.isnan(bwd.pvalues[i])
        assert np.all(bwd.pvalues[i, kept] <= threshold) and np.all(fwd.pvalues[i][~np.isnan(fwd.pvalues[i])] <= threshold)


def test_nothing_selected_leaves_the_mean_as_alpha():
    rng = np.random.default_rng(7)
    f = rng.standard_normal((80, 2))
    y = 0.3 + rng.standard_normal((80, 1))
    for method in ("forward", "backward"):
        ld = factor_loadings(y, f, method=method, threshold=1e-6)
        assert ld.selected == ((),) and np.all(ld.B == 0)
        assert ld.alpha[0] == pytest.approx(y.mean(), abs=1e-14)
        assert np.allclose(ld.residuals[:, 0], y[:, 0] - y.mean(), atol=1e-14)


# ---------------------------------------------------------------- moments


def test_factor_stats_match_direct_formulas():
    x, f = _case()
    ld = factor_loadings(x, f, method="forward")
    p = np.random.default_rng(1).random(len(f))
    p /= p.sum()
    mu, cov = factor_stats(ld, f, p=p)
    sigma_f = np.cov(f.T, aweights=p, bias=True)
    assert np.allclose(mu, ld.alpha + ld.B @ (p @ f), rtol=0, atol=1e-15)
    d = np.diag(np.var(ld.residuals, axis=0))
    assert np.allclose(cov, ld.B @ sigma_f @ ld.B.T + d, rtol=1e-12, atol=1e-18)
    _, c_none = factor_stats(ld, f, p=p, residual="none")
    assert np.allclose(c_none, ld.B @ sigma_f @ ld.B.T, rtol=1e-12, atol=1e-18)
    w = np.linspace(1, 2, len(f))
    _, c_w = factor_stats(ld, f, p=p, residual="full", residual_p=w)
    e_cov = np.cov(ld.residuals.T, aweights=w, bias=True)
    assert np.allclose(c_w, ld.B @ sigma_f @ ld.B.T + e_cov, rtol=1e-12, atol=1e-18)


def test_ols_factor_stats_reproduce_the_sample_moments():
    # in-sample OLS residuals are orthogonal to the factors, so B Sf B' + Cov(e) = Cov(X) exactly
    x, f = _case()
    ld = factor_loadings(x, f)
    mu, cov = factor_stats(ld, f, residual="full")
    assert np.allclose(mu, x.mean(axis=0), rtol=0, atol=1e-15)
    assert np.allclose(cov, np.cov(x.T, bias=True), rtol=1e-10, atol=1e-18)
    # Riskfolio's divisor T - 1 differs by T / (T - 1) only
    _, diag = factor_stats(ld, f)
    assert np.allclose(np.diag(diag), np.diag(np.cov(x.T, bias=True)), rtol=1e-10)


def test_dataframes_are_matched_by_name():
    x, f = _case()
    fx = pd.DataFrame(f, columns=["a", "b", "c", "d"])
    ld = factor_loadings(pd.DataFrame(x, columns=["x", "y", "z"]), fx)
    assert ld.assets == ("x", "y", "z") and ld.factors == ("a", "b", "c", "d")
    mu, cov = factor_stats(ld, fx[["d", "b", "a", "c"]])
    mu2, cov2 = factor_stats(ld, f)
    assert np.allclose(mu, mu2, atol=1e-16) and np.allclose(cov, cov2, atol=1e-18)
    assert np.allclose(factor_scenarios(fx[["c", "a", "b", "d"]], ld, seed=1),
                       factor_scenarios(f, ld, seed=1), atol=1e-16)


# ---------------------------------------------------------------- scenarios


def _correlated_residual_case():
    """History whose residuals share a missing common factor, so rows and assets differ."""
    rng = np.random.default_rng(11)
    t = 300
    f = rng.standard_normal((t, 2)) * [0.05, 0.03]
    common = rng.standard_normal(t) * 0.02
    x = np.column_stack([0.8 * f[:, 0] + common, 0.4 * f[:, 0] - 0.6 * f[:, 1] + common,
                         0.2 * f[:, 1]]) + rng.standard_normal((t, 3)) * 0.01
    return factor_loadings(x, f)


def test_factor_part_without_residuals_is_alpha_plus_f_b():
    ld = _correlated_residual_case()
    fs = np.random.default_rng(2).standard_normal((1000, 2)) * 0.05
    assert np.allclose(factor_scenarios(fs, ld, seed=0, residuals=False), ld.alpha + fs @ ld.B.T,
                       rtol=0, atol=1e-16)


@pytest.mark.parametrize(("mode", "residual"), [("rows", "full"), (True, "full"), ("assets", "diag")])
def test_scenario_moments_match_factor_stats(mode, residual):
    ld = _correlated_residual_case()
    rng = np.random.default_rng(3)
    s = 200_000
    fs = 0.01 + rng.standard_normal((s, 2)) @ np.array([[0.05, 0.0], [0.01, 0.03]])
    r = factor_scenarios(fs, ld, seed=9, residuals=mode)
    mu, cov = factor_stats(ld, fs, residual=residual)
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert np.all(np.abs(r.mean(axis=0) - mu) < 5 * np.sqrt(np.diag(cov) / s))
    assert np.all(np.abs(np.cov(r.T, bias=True) - cov) < 0.015 * scale)
    # the residual cross-covariance is large enough for the two modes to be told apart
    _, other = factor_stats(ld, fs, residual="diag" if residual == "full" else "full")
    assert np.abs(np.cov(r.T, bias=True) - other).max() > 0.1 * scale[0, 1]


@pytest.mark.parametrize("mode", ["rows", "assets"])
def test_scenarios_are_chunk_invariant(mode):
    ld = _correlated_residual_case()
    s = 2 * RESIDUAL_BLOCK + 1500
    fs = np.random.default_rng(5).standard_normal((s, 2)) * 0.04
    whole = factor_scenarios(fs, ld, seed=42, residuals=mode)
    for cuts in ([5000], [RESIDUAL_BLOCK], [1, 4095, 4097, 9000], [s - 1]):
        bounds = [0, *cuts, s]
        parts = [factor_scenarios(fs[a:b], ld, seed=42, start=a, residuals=mode)
                 for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        assert np.array_equal(np.concatenate(parts), whole)
    assert not np.array_equal(factor_scenarios(fs, ld, seed=43, residuals=mode), whole)


def test_residual_indices_are_uniform_and_respect_weights():
    idx = residual_indices(1, 0, 100_000, 10)
    counts = np.bincount(idx, minlength=10)
    assert idx.shape == (100_000,) and np.all(np.abs(counts - 10_000) < 500)
    w = np.array([0.0, 1.0, 0.0, 3.0])
    idx = residual_indices(1, 123, 20_000, 4, n_assets=3, weights=w)
    assert idx.shape == (20_000, 3) and set(np.unique(idx)) == {1, 3}
    assert np.mean(idx == 3) == pytest.approx(0.75, abs=0.01)
    assert residual_indices(1, 5, 0, 4).shape == (0,)
    assert residual_indices(1, 5, 0, 4, n_assets=2).shape == (0, 2)
    # the draw of scenario i depends on (seed, i) only
    assert np.array_equal(residual_indices(8, 4000, 200, 7)[100:], residual_indices(8, 4100, 100, 7))


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"X": np.zeros(30)}, "2-D"),
    ({"F": np.zeros((29, 2))}, "same rows"),
    ({"X": np.full((30, 2), np.nan)}, "NaN"),
    ({"X": np.zeros((3, 2)), "F": np.ones((3, 2))}, "too few rows"),
    ({"method": "lasso"}, "method"),
    ({"threshold": 0.0}, "threshold"),
    ({"assets": ["a"]}, "asset names"),
    ({"factors": ["f", "f"]}, "unique"),
])
def test_bad_loadings_inputs(kwargs, match):
    rng = np.random.default_rng(0)
    args = {"X": rng.standard_normal((30, 2)), "F": rng.standard_normal((30, 2))} | kwargs
    with pytest.raises(ValueError, match=match):
        factor_loadings(args.pop("X"), args.pop("F"), **args)


def test_collinear_factors_are_refused():
    rng = np.random.default_rng(0)
    f = rng.standard_normal((30, 2))
    with pytest.raises(ValueError, match="collinear"):
        factor_loadings(rng.standard_normal((30, 1)), np.column_stack([f, f[:, 0] - 2 * f[:, 1]]))
    with pytest.raises(ValueError, match="constant factor"):
        factor_loadings(rng.standard_normal((30, 1)), np.column_stack([f, np.ones(30)]))
    assert isinstance(factor_loadings(rng.standard_normal((30, 1)), np.column_stack([f, np.ones(30)]),
                                      intercept=False), FactorLoadings)


def test_bad_stats_and_scenario_inputs():
    x, f = _case()
    ld = factor_loadings(x, f)
    with pytest.raises(ValueError, match="4 columns"):
        factor_stats(ld, f[:, :3])
    with pytest.raises(ValueError, match="p must"):
        factor_stats(ld, f, p=-np.ones(len(f)))
    with pytest.raises(ValueError, match="shape"):
        factor_stats(ld, f, p=np.ones(3))
    with pytest.raises(ValueError, match="residual"):
        factor_stats(ld, f, residual="block")
    with pytest.raises(ValueError, match="NaN"):
        factor_scenarios(np.full((5, 4), np.nan), ld, seed=0)
    with pytest.raises(ValueError, match="residuals must"):
        factor_scenarios(f, ld, seed=0, residuals="bootstrap")
    with pytest.raises(ValueError, match=">= 0"):
        factor_scenarios(f, ld, seed=-1)


def test_empty_and_single_row_chunks():
    ld = _correlated_residual_case()
    fs = np.random.default_rng(6).standard_normal((10, 2)) * 0.04
    for mode in ("rows", "assets", False):
        assert factor_scenarios(fs[:0], ld, seed=1, start=7, residuals=mode).shape == (0, 3)
        whole = factor_scenarios(fs, ld, seed=1, residuals=mode)
        rows = [factor_scenarios(fs[i:i + 1], ld, seed=1, start=i, residuals=mode) for i in range(10)]
        assert np.array_equal(np.concatenate(rows), whole)


def test_stepwise_without_intercept():
    x, f = _case(orthogonal=True)
    x = x - x.mean(axis=0)  # a model through the origin for de-meaned data
    f = f - f.mean(axis=0)
    ld = factor_loadings(x, f, method="backward", intercept=False)
    assert set(ld.selected[0]) == {"factor0", "factor2"} and np.all(ld.alpha == 0)
    coef = np.linalg.lstsq(f[:, [0, 2]], x[:, 0], rcond=None)[0]
    assert np.allclose(ld.B[0, [0, 2]], coef, atol=1e-13)
    assert np.allclose(ld.pvalues[0, [0, 2]], _ftest_pvalues(x[:, 0], f, [0, 2], intercept=False),
                       rtol=1e-8, atol=1e-300)
