"""Tests for the Entropy Pooling solver core (tasks/views/_entropy_pooling.py, _newton.py, _certificates.py).

Every reference here is computed by an independent method: a scalar root-finder for
the exponential tilt, the KKT conditions evaluated directly, an exponential-cone
solver (cvxpy + CLARABEL) and SLSQP on the primal, exact combinatorial answers for
edge-of-feasibility cases.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq, minimize
from scipy.special import softmax

from tasks.views import (
    EntropyPoolingResult,
    ViewsInfeasible,
    effective_number_of_scenarios,
    entropy_pooling,
    relative_entropy,
    solve_entropy_pooling,
)

# ----------------------------------------------------------------------------- helpers


def _tilt(x: np.ndarray, p: np.ndarray, m: float) -> tuple[np.ndarray, float]:
    """Exponential tilt q ∝ p exp(t x) with E_q[x] = m, t from brentq (independent)."""
    logp = np.log(p)

    def mean_err(t: float) -> float:
        return float(softmax(logp + t * x) @ x - m)

    lo, hi = -1.0, 1.0
    while mean_err(lo) > 0:
        lo *= 2
    while mean_err(hi) < 0:
        hi *= 2
    t = brentq(mean_err, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    return softmax(logp + t * x), t


def _mixed_problem(S: int = 200, seed: int = 1):
    """Means, a variance row, one binding and one slack inequality; non-uniform prior."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((S, 3)) @ np.array([[1.0, 0.4, 0.2], [0.0, 0.9, 0.3], [0.0, 0.0, 0.8]])
    p = rng.dirichlet(np.full(S, 5.0))
    m0 = 0.15
    A = np.vstack([x[:, 0], (x[:, 0] - m0) ** 2, x[:, 2]])
    b = np.array([m0, 0.8 * np.var(x[:, 0]), -0.05])
    # E[x1] >= 0.25 (binding: prior mean ~0), E[x1] <= 2.0 (slack)
    G = np.vstack([-x[:, 1], x[:, 1]])
    h = np.array([-0.25, 2.0])
    return p, A, b, G, h


def _kkt_check(res: EntropyPoolingResult, p, A, b, G, h, atol: float = 1e-10) -> None:
    k_eq = A.shape[0]
    lam, nu = res.multipliers[:k_eq], res.multipliers[k_eq:]
    q = res.posterior
    # stationarity: q = softmax(log p - A^T lam - G^T nu) with the ORIGINAL-unit multipliers
    q_kkt = softmax(np.log(p) - A.T @ lam - G.T @ nu)
    np.testing.assert_allclose(q, q_kkt, rtol=1e-9, atol=0)
    # dual feasibility
    assert np.all(nu >= 0)
    # primal feasibility
    assert np.max(np.abs(A @ q - b)) <= atol
    assert np.max(G @ q - h) <= atol
    assert abs(q.sum() - 1.0) <= 1e-14 and np.all(q >= 0)
    # complementarity
    assert np.max(nu * np.abs(h - G @ q)) <= atol


# ----------------------------------------------------------- closed form (exponential tilt)


@pytest.mark.parametrize("m", [0.3, -0.7, 1.5])
def test_single_mean_view_is_exponential_tilt(m):
    rng = np.random.default_rng(42)
    S = 5000
    x = rng.standard_normal(S)
    p = np.full(S, 1.0 / S)
    res = solve_entropy_pooling(p, x[None, :], [m])
    q_ref, t = _tilt(x, p, m)
    assert res.converged
    np.testing.assert_allclose(res.posterior, q_ref, rtol=1e-10, atol=0)
    # q ∝ p exp(-lambda x): the multiplier is minus the tilt, in original units
    np.testing.assert_allclose(res.multipliers[0], -t, rtol=1e-9)
    assert abs(res.posterior @ x - m) <= 1e-12
    re_ref = float(q_ref @ (np.log(q_ref) - np.log(p)))
    np.testing.assert_allclose(res.relative_entropy, re_ref, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(res.effective_scenarios, np.exp(-re_ref), rtol=1e-10)


def test_tilt_approaches_gaussian_tilt_for_large_sample():
    rng = np.random.default_rng(7)
    S = 400_000
    x = 0.5 + 2.0 * rng.standard_normal(S)
    p = np.full(S, 1.0 / S)
    mean, var = x.mean(), x.var()
    m = mean + 0.2
    res = solve_entropy_pooling(p, x[None, :], [m])
    t_gauss = (m - mean) / var  # exact for a normal distribution
    assert res.converged
    np.testing.assert_allclose(-res.multipliers[0], t_gauss, rtol=2e-2)
    # Gaussian tilt preserves the variance
    var_q = res.posterior @ (x - m) ** 2
    np.testing.assert_allclose(var_q, var, rtol=2e-2)
    # and the relative entropy is (m - mean)^2 / (2 var)
    np.testing.assert_allclose(res.relative_entropy, (m - mean) ** 2 / (2 * var), rtol=3e-2)


def test_scale_and_offset_of_rows_do_not_matter():
    """Preconditioning: a view on 1e6 * x + 1e4 gives the same posterior as on x."""
    rng = np.random.default_rng(3)
    S = 3000
    x = rng.standard_normal(S)
    p = rng.dirichlet(np.ones(S))
    q1 = solve_entropy_pooling(p, x[None, :], [0.4]).posterior
    res2 = solve_entropy_pooling(p, (1e6 * x + 1e4)[None, :], [1e6 * 0.4 + 1e4])
    np.testing.assert_allclose(res2.posterior, q1, rtol=1e-9, atol=0)
    assert abs(res2.residuals[0]) <= 1e-10 * 1e6


# ---------------------------------------------------------------------------------- KKT


def test_kkt_conditions_mixed_views():
    p, A, b, G, h = _mixed_problem(S=3000, seed=5)
    res = solve_entropy_pooling(p, A, b, G, h, names=["m0", "v0", "m2", "m1>=", "m1<="])
    assert res.converged
    _kkt_check(res, p, A, b, G, h)
    nu = res.multipliers[A.shape[0] :]
    assert nu[0] > 1e-3  # the binding inequality carries a positive multiplier
    assert nu[1] == 0.0  # the slack one none
    np.testing.assert_allclose(G[0] @ res.posterior, h[0], atol=1e-12)
    assert res.max_residual <= 1e-10
    np.testing.assert_allclose(res.residuals[: A.shape[0]], A @ res.posterior - b, atol=1e-16)


def test_residuals_and_entropy_fields_are_consistent():
    p, A, b, G, h = _mixed_problem(S=500, seed=11)
    res = solve_entropy_pooling(p, A, b, G, h)
    q = res.posterior
    expected = np.concatenate([A @ q - b, np.maximum(G @ q - h, 0.0)])
    np.testing.assert_allclose(res.residuals, expected, atol=1e-15)
    assert res.max_residual == pytest.approx(np.max(np.abs(expected)), abs=1e-15)
    re = float(q @ np.log(q / p))
    np.testing.assert_allclose(res.relative_entropy, re, rtol=1e-11)
    np.testing.assert_allclose(relative_entropy(q, p), re, rtol=1e-12)
    np.testing.assert_allclose(effective_number_of_scenarios(q, p), np.exp(-re), rtol=1e-12)
    assert 0 < res.effective_scenarios <= 1
    np.testing.assert_array_equal(entropy_pooling(p, A, b, G, h), q)


# -------------------------------------------------------------- independent solvers


def test_matches_exponential_cone_solver():
    import cvxpy as cp  # a hard dependency, as is CLARABEL

    p, A, b, G, h = _mixed_problem(S=200, seed=1)
    res = solve_entropy_pooling(p, A, b, G, h)
    assert res.multipliers[3] > 0 and res.multipliers[4] == 0  # one binding, one slack
    q = cp.Variable(p.size)
    cons = [A @ q == b, G @ q <= h, cp.sum(q) == 1]
    prob = cp.Problem(cp.Minimize(cp.sum(cp.rel_entr(q, p))), cons)
    prob.solve(
        solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=500
    )
    assert prob.status == "optimal"
    np.testing.assert_allclose(res.posterior, q.value, atol=1e-7, rtol=0)
    np.testing.assert_allclose(res.relative_entropy, prob.value, atol=1e-7)
    # duals: cvxpy's multipliers of A q == b and G q <= h are our lambda and nu
    np.testing.assert_allclose(res.multipliers[:3], cons[0].dual_value, atol=1e-5)
    np.testing.assert_allclose(res.multipliers[3:], cons[1].dual_value, atol=1e-5)


def test_matches_slsqp_on_the_primal():
    p, A, b, G, h = _mixed_problem(S=80, seed=2)
    res = solve_entropy_pooling(p, A, b, G, h)
    assert res.multipliers[3] > 0 and res.multipliers[4] == 0  # one binding, one slack
    floor = 1e-300

    def f(q):
        qc = np.maximum(q, floor)
        return float(qc @ (np.log(qc) - np.log(p)))

    def grad(q):
        return np.log(np.maximum(q, floor)) - np.log(p) + 1.0

    cons = [
        {"type": "eq", "fun": lambda q: A @ q - b, "jac": lambda q: A},
        {
            "type": "eq",
            "fun": lambda q: np.array([q.sum() - 1.0]),
            "jac": lambda q: np.ones((1, q.size)),
        },
        {"type": "ineq", "fun": lambda q: h - G @ q, "jac": lambda q: -G},
    ]
    sol = minimize(
        f,
        p.copy(),
        jac=grad,
        constraints=cons,
        bounds=[(0.0, 1.0)] * p.size,
        method="SLSQP",
        options={"ftol": 1e-16, "maxiter": 1000},
    )
    assert np.max(np.abs(A @ sol.x - b)) < 1e-9
    np.testing.assert_allclose(res.posterior, sol.x, atol=1e-7, rtol=0)
    np.testing.assert_allclose(res.relative_entropy, f(sol.x), atol=1e-8)


# ---------------------------------------------------------------- redundant rows


def test_row_of_ones_is_harmless_and_wrong_sum_is_infeasible():
    p, A, b, G, h = _mixed_problem(S=400, seed=3)
    ref = solve_entropy_pooling(p, A, b, G, h)
    ones = np.ones((1, p.size))
    with_ones = solve_entropy_pooling(p, np.vstack([A, ones]), np.append(b, 1.0), G, h)
    np.testing.assert_allclose(with_ones.posterior, ref.posterior, rtol=1e-12, atol=0)
    assert with_ones.multipliers[A.shape[0]] == 0.0
    # a scaled row of ones with matching target, as an inequality too
    twos = solve_entropy_pooling(
        p, np.vstack([A, 2 * ones]), np.append(b, 2.0), np.vstack([G, ones]), np.append(h, 1.0)
    )
    np.testing.assert_allclose(twos.posterior, ref.posterior, rtol=1e-12, atol=0)
    with pytest.raises(ViewsInfeasible) as err:
        solve_entropy_pooling(
            p,
            np.vstack([A, ones]),
            np.append(b, 0.9),
            G,
            h,
            names=["a", "b", "c", "sum", "g0", "g1"],
        )
    assert err.value.views == ["sum"]
    assert "'sum'" in str(err.value)


def test_duplicated_rows_are_harmless():
    p, A, b, G, h = _mixed_problem(S=400, seed=4)
    ref = solve_entropy_pooling(p, A, b, G, h)
    A2 = np.vstack([A, A[0], 3.0 * A[1]])
    b2 = np.concatenate([b, [b[0], 3.0 * b[1]]])
    G2 = np.vstack([G, G[0]])
    h2 = np.append(h, h[0])
    res = solve_entropy_pooling(p, A2, b2, G2, h2)
    assert res.converged
    np.testing.assert_allclose(res.posterior, ref.posterior, rtol=1e-10, atol=0)
    assert res.max_residual <= 1e-10
    lam, nu = res.multipliers[:5], res.multipliers[5:]
    # multipliers of duplicated rows add up to the original one
    np.testing.assert_allclose(lam[0] + lam[3], ref.multipliers[0], rtol=1e-7)
    np.testing.assert_allclose(lam[1] + 3 * lam[4], ref.multipliers[1], rtol=1e-7)
    np.testing.assert_allclose(nu[0] + nu[2], ref.multipliers[3], rtol=1e-7)
    _kkt_check(res, p, A2, b2, G2, h2)


# ---------------------------------------------------------------- inequality views


def test_non_binding_inequality_leaves_prior_unchanged():
    rng = np.random.default_rng(8)
    S = 1000
    x = rng.standard_normal(S)
    p = rng.dirichlet(np.ones(S))
    prior_mean = p @ x
    res = solve_entropy_pooling(p, G=x[None, :], h=[prior_mean + 0.5])
    np.testing.assert_array_equal(res.multipliers, [0.0])
    np.testing.assert_allclose(res.posterior, p, rtol=1e-15, atol=0)
    assert res.relative_entropy == pytest.approx(0.0, abs=1e-15)
    assert res.effective_scenarios == pytest.approx(1.0, abs=1e-15)


def test_binding_inequality_holds_with_equality():
    rng = np.random.default_rng(9)
    S = 2000
    x = rng.standard_normal(S)
    p = np.full(S, 1.0 / S)
    res = solve_entropy_pooling(p, G=x[None, :], h=[-0.2])  # E[x] <= -0.2, prior mean ~0
    assert res.multipliers[0] > 0
    assert abs(res.posterior @ x + 0.2) <= 1e-12
    # same as the equality view
    eq = solve_entropy_pooling(p, x[None, :], [-0.2])
    np.testing.assert_allclose(res.posterior, eq.posterior, rtol=1e-10, atol=0)


# ---------------------------------------------------------------- infeasible views


def test_mean_above_largest_value_is_infeasible():
    rng = np.random.default_rng(10)
    x = rng.standard_normal(500)
    p = np.full(500, 1 / 500)
    other = rng.standard_normal(500)
    with pytest.raises(ViewsInfeasible) as err:
        solve_entropy_pooling(
            p, np.vstack([other, x]), [0.0, x.max() + 0.01], names=["ok", "mean_x"]
        )
    assert err.value.views == ["mean_x"]
    assert "mean_x" in str(err.value)
    assert isinstance(err.value, ValueError)
    # same as an inequality E[x] >= max + 0.01
    with pytest.raises(ViewsInfeasible) as err:
        solve_entropy_pooling(p, G=-x[None, :], h=[-(x.max() + 0.01)], names=["x_floor"])
    assert err.value.views == ["x_floor"]


def test_contradictory_inequalities_are_infeasible():
    rng = np.random.default_rng(11)
    x = rng.standard_normal(800)
    p = np.full(800, 1 / 800)
    G = np.vstack([-x, x])  # E[x] >= 0.1 and E[x] <= 0.0
    h = np.array([-0.1, 0.0])
    with pytest.raises(ViewsInfeasible) as err:
        solve_entropy_pooling(p, G=G, h=h, names=["mean>=0.1", "mean<=0"])
    assert sorted(err.value.views) == ["mean<=0", "mean>=0.1"]
    assert "mean>=0.1" in str(err.value) and "mean<=0" in str(err.value)


def test_conflict_identifies_the_conflicting_rows_only():
    rng = np.random.default_rng(12)
    S = 600
    x = rng.standard_normal((S, 2))
    p = np.full(S, 1 / S)
    A = np.vstack([x[:, 0], x[:, 0], x[:, 1]])  # same row, two different targets
    b = np.array([0.1, 0.2, 0.0])
    with pytest.raises(ViewsInfeasible) as err:
        solve_entropy_pooling(p, A, b, names=["x0=0.1", "x0=0.2", "x1=0"])
    assert sorted(err.value.views) == ["x0=0.1", "x0=0.2"]


# ---------------------------------------------------------------- edge of feasibility


def test_mean_equal_to_maximum_concentrates_on_the_ties():
    rng = np.random.default_rng(13)
    S = 1000
    x = rng.standard_normal(S)
    top = np.argsort(x)[-3:]
    x[top] = x.max()  # three tied maxima
    p = rng.dirichlet(np.ones(S))
    for res in (
        solve_entropy_pooling(p, x[None, :], [x.max()]),
        solve_entropy_pooling(p, G=-x[None, :], h=[-x.max()]),  # E[x] >= max
    ):
        q = res.posterior
        assert res.converged
        assert set(np.flatnonzero(q)) == set(top)
        np.testing.assert_allclose(q[top], p[top] / p[top].sum(), rtol=1e-13)
        assert abs(q @ x - x.max()) <= 1e-12
        np.testing.assert_allclose(res.relative_entropy, -np.log(p[top].sum()), rtol=1e-12)


def test_edge_of_joint_feasibility_is_solved_exactly_via_lp():
    """Each view is inside its own range, jointly they sit on a face of the hull."""
    rng = np.random.default_rng(14)
    # interior of the triangle (0,0), (1,0), (0,1) plus points exactly on x + y = 1
    n_in = 400
    u = rng.random((n_in, 2))
    inside = u[u.sum(1) < 0.95]
    edge_x = np.array([0.0, 0.125, 0.25, 0.5, 0.625, 0.75, 1.0])
    pts = np.vstack([inside, np.column_stack([edge_x, 1.0 - edge_x])])
    S = pts.shape[0]
    p = rng.dirichlet(np.ones(S))
    on_edge = np.arange(inside.shape[0], S)
    A = pts.T.copy()  # E[x] = 0.4, E[y] = 0.6  -> E[x + y] = 1: only the edge points
    b = np.array([0.4, 0.6])
    res = solve_entropy_pooling(p, A, b)
    q = res.posterior
    assert res.converged
    assert np.all(q[: inside.shape[0]] == 0.0)
    assert np.all(q[on_edge] > 0)
    assert np.max(np.abs(A @ q - b)) <= 1e-12
    # exact answer: exponential tilt of the prior restricted to the edge
    q_ref, _ = _tilt(pts[on_edge, 0], p[on_edge] / p[on_edge].sum(), 0.4)
    np.testing.assert_allclose(q[on_edge], q_ref, rtol=1e-9)


def test_certificate_lp_and_textbook_max_support_lp_agree():
    """The two LP routes to the maximal support (internal) give the same answer."""
    import tasks.views._certificates as ep

    rng = np.random.default_rng(21)
    u = rng.random((3000, 2))
    inside = u[u.sum(1) < 0.97]
    edge_x = np.linspace(0.0, 1.0, 9)
    pts = np.vstack([inside, np.column_stack([edge_x, 1.0 - edge_x])])
    L = pts.T.copy()
    c = np.array([0.3, 0.7])
    m, sd = L.mean(axis=1), L.std(axis=1)
    Ls = (L - m[:, None]) / sd[:, None]
    cs = (c - m) / sd
    is_in = np.zeros(2, dtype=bool)
    ref = ep._lp_max_support(Ls, cs, is_in)
    # candidate set: the edge plus a band of interior points near it
    score = np.where(pts.sum(1) > 0.9, 0.0, -100.0)
    status, keep, _ = ep._lp_certificate(Ls, cs, is_in, score)
    assert status == "support"
    np.testing.assert_array_equal(keep, ref)
    assert set(np.flatnonzero(keep)) == set(range(inside.shape[0], pts.shape[0]))
    # a candidate set that misses part of the support is not certified
    score_bad = np.where(pts.sum(1) > 0.9, 0.0, -100.0)
    score_bad[-1] = -100.0
    assert ep._lp_certificate(Ls, cs, is_in, score_bad)[0] == "unknown"
    # infeasible views: the Farkas certificate is found with an empty candidate set
    status, _, y = ep._lp_certificate(Ls, np.array([5.0, 5.0]), is_in, score, only_feasibility=True)
    assert status == "infeasible" and np.any(y != 0)


# ---------------------------------------------------------------- prior support


def test_zero_probability_scenarios_stay_zero():
    rng = np.random.default_rng(15)
    S = 2000
    x = rng.standard_normal((S, 2))
    p = rng.dirichlet(np.ones(S))
    zero = rng.random(S) < 0.3
    p[zero] = 0.0
    p /= p.sum()
    A = np.vstack([x[:, 0], (x[:, 0] - 0.2) ** 2])
    b = np.array([0.2, 0.9])
    G = -x[:, 1][None, :]
    h = np.array([-0.3])
    res = solve_entropy_pooling(p, A, b, G, h)
    assert np.all(res.posterior[zero] == 0.0)
    sub = solve_entropy_pooling(p[~zero], A[:, ~zero], b, G[:, ~zero], h)
    np.testing.assert_allclose(res.posterior[~zero], sub.posterior, rtol=1e-12, atol=0)
    assert res.max_residual <= 1e-10
    # the zero-probability scenarios may hold extreme values: they must not matter
    A_wild = A.copy()
    A_wild[0, zero] = 1e6
    res_w = solve_entropy_pooling(p, A_wild, b, G, h)
    np.testing.assert_allclose(res_w.posterior, res.posterior, rtol=1e-12, atol=0)


# ---------------------------------------------------------------- higher moments


def test_variance_and_higher_moment_views_are_attained():
    rng = np.random.default_rng(16)
    S = 50_000
    z = rng.standard_normal((S, 2))
    x1 = z[:, 0]
    x2 = 0.6 * z[:, 0] + 0.8 * z[:, 1]
    p = np.full(S, 1 / S)
    m1, m2 = 0.1, -0.05
    v1, v2, rho = 1.3, 0.7, 0.3
    A = np.vstack(
        [
            x1,
            x2,
            (x1 - m1) ** 2,
            (x2 - m2) ** 2,
            (x1 - m1) * (x2 - m2),
            (x1 - m1) ** 3,
            (x1 - m1) ** 4,
        ]
    )
    b = np.array([m1, m2, v1, v2, rho * np.sqrt(v1 * v2), -0.3, 3.2 * v1**2])
    G = np.vstack([-((x2 - m2) ** 4)])  # kurtosis of x2 at least 3.5
    h = np.array([-3.5 * v2**2])
    res = solve_entropy_pooling(p, A, b, G, h)
    assert res.converged
    assert res.max_residual <= 1e-10
    q = res.posterior
    assert abs(q @ ((x1 - m1) ** 4) - 3.2 * v1**2) <= 1e-10
    assert q @ ((x2 - m2) ** 4) >= 3.5 * v2**2 - 1e-10
    _kkt_check(res, p, A, b, G, h)


def test_moderately_large_problem_reaches_tight_residual(monkeypatch):
    import tasks.views._newton as ep

    rng = np.random.default_rng(17)
    S, n = 300_000, 5
    assert S >= ep._SAMPLE_MIN_N  # the damped phase uses block-sampled Hessians
    x = rng.standard_normal((n, S))
    x[1] = 0.7 * x[0] + 0.3 * x[1]
    p = np.full(S, 1 / S)
    A = np.vstack([x, (x[0] - 0.1) ** 2, (x[1] + 0.05) ** 2])
    b = np.array([0.1, -0.05, 0.0, 0.02, -0.02, 0.9, 0.5])
    G = np.vstack([-(x[2] ** 2), x[3] ** 2])
    h = np.array([-1.2, 0.8])
    res = solve_entropy_pooling(p, A, b, G, h)
    assert res.converged and res.iterations < 30
    assert res.max_residual <= 1e-10
    assert np.all(res.multipliers[7:] > 0)  # both inequalities bind
    _kkt_check(res, p, A, b, G, h)
    # the sampled curvature only changes the path, not the answer
    monkeypatch.setattr(ep, "_SAMPLE_MIN_N", 10**12)
    full = solve_entropy_pooling(p, A, b, G, h)
    np.testing.assert_allclose(res.posterior, full.posterior, rtol=1e-9, atol=0)


# ---------------------------------------------------------------- inputs


def test_input_validation_and_no_views():
    p = np.array([1.0, 2.0, 1.0])  # unnormalised prior is normalised
    res = solve_entropy_pooling(p)
    np.testing.assert_allclose(res.posterior, p / 4)
    assert res.residuals.shape == (0,) and res.max_residual == 0.0 and res.converged
    with pytest.raises(ValueError):
        solve_entropy_pooling(np.array([0.5, -0.1, 0.6]))
    with pytest.raises(ValueError):
        solve_entropy_pooling(p, np.ones((1, 4)), [1.0])
    with pytest.raises(ValueError):
        solve_entropy_pooling(p, np.ones((1, 3)), [1.0, 2.0])
    with pytest.raises(ValueError):
        solve_entropy_pooling(p, np.ones((1, 3)), [1.0], names=["a", "b"])
    with pytest.raises(ValueError):
        solve_entropy_pooling(p, np.array([[1.0, np.nan, 0.0]]), [0.5])
    # a 1-D row and a scalar target are accepted
    r = solve_entropy_pooling(p, np.array([0.0, 1.0, 2.0]), 1.2)
    assert abs(r.posterior @ [0.0, 1.0, 2.0] - 1.2) <= 1e-12


def test_iteration_limit_reports_non_convergence():
    p, A, b, G, h = _mixed_problem(S=300, seed=6)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        res = solve_entropy_pooling(p, A, b, G, h, max_iter=2)
    assert not res.converged and res.iterations == 2
    assert res.max_residual > 1e-8
    assert abs(res.posterior.sum() - 1.0) <= 1e-14 and np.all(res.posterior >= 0)
