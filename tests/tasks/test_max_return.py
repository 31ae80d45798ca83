"""MaxRet to full precision (issue 12, item 14), checked against independent methods: a greedy
fill of the box (the exact maximum of ``mu^T e`` over ``0 <= e <= hi``, ``sum e = 1``), scipy's
``linprog`` (HiGHS) on the Rockafellar-Uryasev LP of a CVaR cap, and the closed form of the
maximum return under a standard-deviation cap."""

import math

import numpy as np
import pytest
from scipy.optimize import linprog

from tasks.optimization import Constraints, PortfolioProblem, efficient_frontier, frontier_targets
from tasks.optimization._max_return import ACCEPT_RTOL, is_lp, lift_weight, return_scale

RTOL = 1e-9  # the requirement


def _daily(s=750, n=10, seed=3):
    """Daily-like P&L: expected returns of order 1e-4 .. 1e-3, vols of order 1e-2."""
    rng = np.random.default_rng(seed)
    mu = np.linspace(1e-4, 9e-4, n)[rng.permutation(n)]
    vol = np.linspace(0.008, 0.02, n)
    C = 0.3 + 0.7 * np.eye(n)
    Z = rng.standard_normal((s, n)) @ np.linalg.cholesky(C).T
    return mu + Z * vol


def _greedy_max(mu, hi):
    """Exact max of mu^T e over 0 <= e <= hi, sum e = 1 (fill the best returns first)."""
    e, left = np.zeros_like(mu), 1.0
    for i in np.argsort(-mu, kind="stable"):
        e[i] = min(hi[i], left)
        left -= e[i]
    assert left == 0.0
    return float(mu @ e)


@pytest.mark.parametrize("rm", ["CVaR", "MV", "MAD", "WR"])
def test_max_return_is_the_exact_maximum(rm):
    R = _daily()
    n = R.shape[1]
    hi = np.full(n, 0.3)
    prob = PortfolioProblem(R, rm=rm, bounds=(0.0, hi))
    res = prob.max_return()
    exact = _greedy_max(prob.mu, hi)
    assert res.status == "optimal"
    assert abs(res.expected_return - exact) <= RTOL * abs(exact), (res.expected_return, exact)
    assert res.exposures.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(res.exposures >= -1e-9) and np.all(res.exposures <= hi + 1e-9)
    # the frontier ends at the exact maximum (its limits are the same solves)
    lo, top = prob.frontier_limits()
    assert abs(top.expected_return - exact) <= RTOL * abs(exact)
    t = frontier_targets(lo.expected_return, top.expected_return, 5)
    assert abs(t[-1] - exact) <= RTOL * abs(exact)


def test_max_return_against_linprog_with_shorts_and_group_limits():
    R = _daily(seed=11)
    n = R.shape[1]
    v = np.linspace(0.5, 1.5, n)
    lo, hi = np.full(n, -0.4), np.full(n, 0.8)
    groups = {"G": [f"a{i}" for i in range(4)]}
    cons = Constraints(sht=True, groups=groups, group_bounds={"G": (None, 0.5)})
    names = [f"a{i}" for i in range(n)]
    prob = PortfolioProblem(R, v=v, rm="CVaR", bounds=(lo, hi), constraints=cons, names=names)
    res = prob.max_return()
    mu = prob.mu
    A_ub = np.r_[np.ones(4), np.zeros(n - 4)][None]
    ref = linprog(-mu, A_ub=A_ub, b_ub=[0.5], A_eq=v[None], b_eq=[1.0], bounds=list(zip(lo, hi)),
                  method="highs", options={"primal_feasibility_tolerance": 1e-10,
                                           "dual_feasibility_tolerance": 1e-10})
    assert ref.status == 0
    assert abs(res.expected_return + ref.fun) <= RTOL * abs(ref.fun), (res.expected_return, -ref.fun)
    assert v @ res.exposures == pytest.approx(1.0, abs=1e-9)


def test_ties_take_the_least_risky_maximiser_without_losing_return():
    """Two instruments share the top expected return: the least-variance mix of them is returned,
    at the maximum return (closed form: two-asset minimum variance)."""
    rng = np.random.default_rng(5)
    s = 2000
    Z = rng.standard_normal((s, 3))
    Z -= Z.mean(axis=0)
    R = np.column_stack([8e-4 + 0.010 * Z[:, 0], 8e-4 + 0.015 * Z[:, 1], 2e-4 + 0.02 * Z[:, 2]])
    R[:, :2] -= R[:, :2].mean(axis=0) - 8e-4  # exactly equal means
    prob = PortfolioProblem(R, rm="MV", bounds=(0.0, 1.0))
    res = prob.max_return()
    assert abs(res.expected_return - 8e-4) <= RTOL * 8e-4
    S = np.cov(R[:, :2].T, bias=True)
    w = (S[1, 1] - S[0, 1]) / (S[0, 0] + S[1, 1] - 2 * S[0, 1])
    assert res.exposures[:2] == pytest.approx([w, 1 - w], abs=1e-6)
    assert res.risk <= min(math.sqrt(S[0, 0]), math.sqrt(S[1, 1]))


def _ru_max_return(R, p, alpha, cap, lo, hi):
    """max mu^T e s.t. CVaR_alpha(R e) <= cap (Rockafellar-Uryasev), sum e = 1: x = [e, z, u]."""
    s, n = R.shape
    mu = R.T @ p
    c = np.r_[-mu, 0.0, np.zeros(s)]
    A_ub = np.vstack([np.hstack([-R, -np.ones((s, 1)), -np.eye(s)]),
                      np.r_[np.zeros(n), 1.0, p / alpha][None]])
    b_ub = np.r_[np.zeros(s), cap]
    A_eq = np.r_[np.ones(n), 0.0, np.zeros(s)][None]
    bounds = list(zip(lo, hi)) + [(None, None)] + [(0, None)] * s
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=[1.0], bounds=bounds, method="highs",
                  options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    assert res.status == 0
    return -res.fun


def test_cvar_capped_max_return_matches_linprog():
    R = _daily(s=400, n=6, seed=7)
    p = np.full(R.shape[0], 1.0 / R.shape[0])
    lo, hi = np.zeros(6), np.ones(6)
    cap = 0.02
    cons = Constraints(upperCVaR=cap)
    prob = PortfolioProblem(R, p, rm="CVaR", alpha=0.05, bounds=(lo, hi), constraints=cons)
    assert is_lp(prob.cc)
    res = prob.max_return()
    ref = _ru_max_return(R, p, 0.05, cap, lo, hi)
    assert res.status == "optimal"
    assert abs(res.expected_return - ref) <= RTOL * abs(ref), (res.expected_return, ref)
    assert res.risk <= cap * (1 + 1e-8)


def test_volatility_capped_max_return_matches_closed_form():
    """max mu^T e s.t. sum e = 1, sd(e) <= c, shorts free: ``e = e_g + lam d`` with the global
    minimum-variance portfolio ``e_g`` and ``d = S^-1 (mu - (B/A) 1)``."""
    R = _daily(s=1000, n=5, seed=2)
    n = R.shape[1]
    p = np.full(R.shape[0], 1.0 / R.shape[0])
    mu = R.T @ p
    S = (R - mu).T @ ((R - mu) * p[:, None])
    Si = np.linalg.inv(S)
    one = np.ones(n)
    A, B = one @ Si @ one, one @ Si @ mu
    d = Si @ (mu - B / A * one)
    cap = 1.3 * math.sqrt(1 / A)
    lam = math.sqrt((cap**2 - 1 / A) / (d @ S @ d))
    e_ref = Si @ one / A + lam * d
    ref = float(mu @ e_ref)
    prob = PortfolioProblem(R, p, rm="MV", constraints=Constraints(sht=True, upperdev=cap))
    assert not is_lp(prob.cc)
    res = prob.max_return()
    assert res.ok
    assert abs(res.expected_return - ref) <= RTOL * abs(ref), (res.expected_return, ref)
    assert res.risk <= cap * (1 + 1e-9)


def test_a_tie_break_short_of_the_maximum_is_lifted_onto_it(monkeypatch):
    """If the least-risk solve meets its return floor only to the solver's tolerance, the result
    is moved along the segment to the max-return vertex until it reaches the maximum."""
    R = _daily(seed=4)
    n = R.shape[1]
    prob = PortfolioProblem(R, rm="CVaR", bounds=(0.0, np.full(n, 0.3)))
    exact = _greedy_max(prob.mu, np.full(n, 0.3))
    real_min_risk = prob.min_risk

    def sloppy(floor=None):  # a floor met to 1e-6 relative only, as an interior-point solve may
        return real_min_risk(None if floor is None else floor - 1e-6 * abs(floor))

    monkeypatch.setattr(prob, "min_risk", sloppy)
    res = prob.max_return()
    assert res.objective == "MaxRet" and "lifted" in res.message
    assert exact - res.expected_return <= ACCEPT_RTOL * 1.01 * abs(exact)
    assert res.exposures.sum() == pytest.approx(1.0, abs=1e-9)
    assert res.risk == pytest.approx(prob.evaluate_risk(res.exposures), abs=0.0)


def test_lift_weight_and_return_scale():
    assert lift_weight(0.9, 1.0, 0.99) == pytest.approx(0.9)
    assert lift_weight(1.0, 1.0, 1.0) == 1.0  # no gap: the vertex
    assert lift_weight(0.99, 1.0, 0.5) == 0.0  # already above the goal
    assert return_scale(-2e-3, np.array([1e-3, -2e-3])) == 2e-3
    assert return_scale(0.0, np.array([1e-3, -2e-3])) == pytest.approx(2e-9)


def test_cut_frontier_ends_at_the_exact_maximum():
    R = _daily(s=6000, n=6, seed=9)
    hi = np.full(6, 0.4)
    table = efficient_frontier(R, points=4, rm="CVaR", bounds=(0.0, hi), cvar_method="cuts")
    exact = _greedy_max(R.T @ np.full(R.shape[0], 1.0 / R.shape[0]), hi)
    assert (table["status"] == "optimal").all()
    span = table["target"].iloc[-1] - table["target"].iloc[0]
    # the last floor is the exact maximum, backed off by 1e-9 of the frontier's span
    assert abs(table["target"].iloc[-1] - exact) <= RTOL * max(abs(exact), span)
    assert abs(table["expected_return"].iloc[-1] - exact) <= 2 * RTOL * max(abs(exact), span)
