"""The CVaR oracle of the cutting planes: its selection against a brute-force full sort."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.optimization import Constraints, PortfolioProblem, frontier_targets
from tasks.optimization._tail_oracle import TailOracle, tail_cut, tail_weights


def brute_cvar(loss: np.ndarray, q: np.ndarray, alpha: float) -> float:
    """CVaR by a full sort: mass q on the largest losses until alpha, the last one cut."""
    order = np.argsort(-loss, kind="stable")
    cum = np.cumsum(q[order])
    before = np.r_[0.0, cum[:-1]]
    take = np.clip(alpha - before, 0.0, q[order])
    return float(take @ loss[order]) / alpha


def _posterior(rng: np.random.Generator, S: int, concentrated: bool) -> np.ndarray:
    q = rng.random(S) ** (12 if concentrated else 1)
    return q / q.sum()


@pytest.mark.parametrize("concentrated", [False, True])
@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.5])
def test_tail_weights_match_a_full_sort(concentrated, alpha):
    rng = np.random.default_rng(3)
    S = 30_000
    q = _posterior(rng, S, concentrated)
    loss = rng.standard_t(4, S)
    loss[:500] = loss[500:1000]  # ties
    for guess in (10, int(alpha * S), S):
        w, s = tail_weights(loss, q, alpha, guess)
        assert w.sum() == pytest.approx(alpha, rel=1e-12)
        assert np.all(w >= 0) and np.all(w <= q + 1e-18)
        assert float(w @ loss) / alpha == pytest.approx(brute_cvar(loss, q, alpha), rel=1e-12)
        assert np.all(loss[w > 0] >= loss[s]) and np.all(loss[(w == 0)] <= loss[s])


@pytest.mark.parametrize("concentrated", [False, True])
def test_oracle_along_a_path_equals_the_cold_cut_and_is_a_valid_lower_bound(concentrated):
    rng = np.random.default_rng(5)
    S, N, alpha = 20_000, 6, 0.1
    X = rng.standard_normal((S, N)) * np.array([0.01, 0.02, 0.05, 0.1, 0.3, 1.0])
    q = _posterior(rng, S, concentrated)
    oracle = TailOracle(X, q, alpha)
    y = rng.standard_normal(N)
    steps = np.r_[np.full(20, 0.3), np.geomspace(0.1, 1e-6, 40)]  # big jumps, then converging steps
    for step in steps:
        y = y + step * rng.standard_normal(N)
        risk, g = oracle(y)
        cold_risk, cold_g, _ = tail_cut(X, q, y, alpha, 64)
        assert risk == pytest.approx(brute_cvar(-(X @ y), q, alpha), rel=1e-12)
        np.testing.assert_allclose(g, cold_g, rtol=1e-10, atol=1e-14)
        assert g @ y == pytest.approx(risk, rel=1e-12)
        for _ in range(3):  # a cut never exceeds the CVaR anywhere
            z = rng.standard_normal(N)
            assert g @ z <= brute_cvar(-(X @ z), q, alpha) + 1e-12
    assert oracle.full_selections < len(steps) / 2  # the bracket did most selections


def test_a_frontier_sweep_with_kept_cuts_matches_cold_solves():
    rng = np.random.default_rng(11)
    S, N = 20_000, 8
    R = rng.standard_normal((S, N)) * np.linspace(0.01, 0.08, N) + np.linspace(0.0, 0.01, N)
    q = _posterior(rng, S, True)
    kw = dict(rm="CVaR", alpha=0.1, demean=True, bounds=(0.0, 0.5), constraints=Constraints(sht=False))
    prob = PortfolioProblem(R, q, cvar_method="cuts", **kw)
    lo, hi = prob.min_risk(), prob.max_return()
    targets = frontier_targets(lo.expected_return, hi.expected_return, 8)[1:]
    cold = [prob.min_risk(float(t)) for t in targets]
    prob.cuts.begin_sweep()
    warm = [prob.min_risk(float(t)) for t in targets]
    prob.cuts.reset()
    again = [prob.min_risk(float(t)) for t in targets]
    for a, b, c in zip(cold, warm, again):
        assert a.status == b.status == "optimal"
        assert b.risk == pytest.approx(a.risk, rel=1e-7)
        assert c.risk == a.risk and np.array_equal(c.exposures, a.exposures)  # reset: cold again, bit for bit
