"""Tests for Sequential Entropy Pooling and CVaR views (tasks/views/_sequential.py, _sep_levels.py).

Attained statistics are recomputed independently of tasks.views (numpy weighted moments, a
sort-based CVaR); the CVaR root search is checked against an exponential-cone solve of the convex
'>=' problem (cvxpy + CLARABEL) and against a scan over VaR levels for '<='.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from tasks.measures import conditional_value_at_risk, value_at_risk
from tasks.views import View, ViewsInfeasible, relative_entropy, sequential_entropy_pooling, solve_entropy_pooling

# ----------------------------------------------------------------------------- helpers


def _moments(x: np.ndarray, q: np.ndarray) -> dict[str, float]:
    mu = np.average(x, weights=q)
    var = np.average((x - mu) ** 2, weights=q)
    return {"mean": mu, "var": var, "vol": math.sqrt(var),
            "skew": np.average((x - mu) ** 3, weights=q) / var**1.5,
            "kurt": np.average((x - mu) ** 4, weights=q) / var**2}


def _corr(a: np.ndarray, b: np.ndarray, q: np.ndarray) -> float:
    c = np.cov(np.vstack([a, b]), aweights=q, bias=True)
    return float(c[0, 1] / math.sqrt(c[0, 0] * c[1, 1]))


def _cvar(x: np.ndarray, q: np.ndarray, alpha: float) -> float:
    """Mean loss of the worst alpha mass (sort-based, independent of tasks.measures)."""
    loss = -x[q > 0]
    w = q[q > 0]
    o = np.argsort(-loss)
    loss, w = loss[o], w[o]
    cum = np.cumsum(w)
    k = int(np.searchsorted(cum, alpha))
    head = float(w[:k] @ loss[:k])
    return (head + (alpha - (cum[k - 1] if k else 0.0)) * loss[k]) / alpha


@pytest.fixture(scope="module")
def market() -> tuple[pd.DataFrame, np.ndarray]:
    """3,000 scenarios of three fat-tailed, skewed, correlated returns; uniform prior."""
    rng = np.random.default_rng(2024)
    S = 3000
    z = rng.standard_normal((S, 3))
    t = rng.standard_t(4, S)
    eq = 0.01 + 0.2 * (0.8 * z[:, 0] + 0.2 * t)
    credit = 0.005 + 0.1 * (0.6 * z[:, 0] + 0.8 * z[:, 1]) - 0.02 * np.maximum(-z[:, 0] - 1.0, 0.0)
    bond = 0.01 + 0.03 * z[:, 2] - 0.01 * z[:, 0]
    R = pd.DataFrame({"EQ": eq, "CR": credit, "BD": bond})
    return R, np.full(S, 1.0 / S)


# ----------------------------------------------------------------------- moment views


@pytest.mark.parametrize("method", ["H1", "H2"])
def test_moment_views_attained(market, method):
    R, p = market
    eq, cr = R["EQ"].to_numpy(), R["CR"].to_numpy()
    prior_vol_cr = np.std(cr)
    views = [
        View("mean", "EQ", "=", -0.02),
        View("vol", "EQ", "=", 0.25),
        View("vol", "CR", "<=", "prior * 0.9"),
        View("skew", "EQ", "=", -0.8),
        View("kurt", "EQ", "=", 5.0),
        View("corr", ("EQ", "CR"), "=", -0.35),          # negative; the prior has about +0.6
        View("skew", "CR", ">=", 0.1),
    ]
    res = sequential_entropy_pooling(R, p, views, method=method)
    q = res.posterior
    m_eq, m_cr = _moments(eq, q), _moments(cr, q)
    assert _corr(eq, cr, p) > 0.5
    assert m_eq["mean"] == pytest.approx(-0.02, abs=1e-8)
    assert m_eq["vol"] == pytest.approx(0.25, abs=1e-8)
    assert m_eq["skew"] == pytest.approx(-0.8, abs=1e-8)
    assert m_eq["kurt"] == pytest.approx(5.0, abs=1e-8)
    assert _corr(eq, cr, q) == pytest.approx(-0.35, abs=1e-8)
    assert m_cr["vol"] <= 0.9 * prior_vol_cr + 1e-8
    assert m_cr["skew"] >= 0.1 - 1e-8
    assert [s.name for s in res.stages] == ["C0", "C1", "C2"]
    assert res.max_violation < 1e-8 and res.converged
    assert q.min() >= 0 and q.sum() == pytest.approx(1.0, abs=1e-13)
    # relative entropy and effective scenarios are against the ORIGINAL prior
    assert res.relative_entropy == pytest.approx(float(q @ np.log(q / p)), abs=1e-12)
    assert res.effective_scenarios == pytest.approx(math.exp(-res.relative_entropy), rel=1e-14)
    for st in res.stages:
        assert st.relative_entropy == pytest.approx(relative_entropy(st.posterior, p), abs=1e-14)


def test_h1_equals_h2_on_nested_stages(market):
    R, p = market
    views = [View("mean", "EQ", "=", 0.0), View("linear", "EQ - BD", "=", -0.01),
             View("vol", "EQ", "=", "prior * 1.1"), View("var", "BD", "=", 0.0008),
             View("skew", "EQ", "=", -0.4), View("corr", ("EQ", "CR"), "=", 0.2),
             View("kurt", "CR", "=", 3.5)]
    r1 = sequential_entropy_pooling(R, p, views, method="H1")
    r2 = sequential_entropy_pooling(R, p, views, method="H2")
    assert len(r1.stages) == len(r2.stages) == 3
    for s1, s2 in zip(r1.stages, r2.stages):
        assert s1.constraints == s2.constraints
        np.testing.assert_allclose(s1.posterior, s2.posterior, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(r1.posterior, r2.posterior, rtol=1e-9, atol=1e-15)
    assert r1.relative_entropy == pytest.approx(r2.relative_entropy, rel=1e-10)
    # ... and the stage-2 pins are the stage-1 posterior's values of the newly touched variable
    cr = R["CR"].to_numpy()
    # (BD's mean stays pinned for the carried var(BD) view; EQ's moments are targeted by views)
    pins = [c for c in r1.stages[2].constraints if "pinned" in c]
    assert pins == ["mean(BD) pinned at 0.01 (stage C1 posterior)",
                    f"mean(CR) pinned at {np.average(cr, weights=r1.stages[1].posterior):.6g} (stage C1 posterior)",
                    f"var(CR) pinned at {_moments(cr, r1.stages[1].posterior)['var']:.6g} (stage C1 posterior)"]


def test_h2_solves_from_the_previous_stage(market):
    """A C0 inequality that binds at stage 0 and is slack at stage 1 separates H1 from H2.

    Stage 1 holds E[x] (pinned), E[(x - m)^2] and the slack prob row, so its EP solution is an
    exponential family in (x, x^2) around its starting point: H1 around the prior, H2 around the
    stage-0 posterior (which carries the indicator tilt of the prob view).
    """
    R, p = market
    x = R["EQ"].to_numpy()
    B = np.column_stack([np.ones_like(x), x, x * x])

    def off_family(q: np.ndarray, base: np.ndarray) -> float:  # residual of log(q/base) on span(B)
        y = np.log(q / base)
        return float(np.max(np.abs(B @ np.linalg.lstsq(B, y, rcond=None)[0] - y)))

    views = [View("prob", "EQ", ">=", 0.35, threshold=-0.1), View("vol", "EQ", "=", "prior * 1.5")]
    h1 = sequential_entropy_pooling(R, p, views, method="H1")
    h2 = sequential_entropy_pooling(R, p, views, method="H2")
    q0 = h1.stages[0].posterior
    np.testing.assert_array_equal(q0, h2.stages[0].posterior)
    assert q0[x <= -0.1].sum() == pytest.approx(0.35, abs=1e-10) and p[x <= -0.1].sum() < 0.3
    assert off_family(h1.posterior, p) < 1e-9 and off_family(h1.posterior, q0) > 0.1
    assert off_family(h2.posterior, q0) < 1e-9 and off_family(h2.posterior, p) > 0.1
    for r in (h1, h2):
        assert r.checks["violation"].max() < 1e-10
        assert r.relative_entropy == pytest.approx(relative_entropy(r.posterior, p), abs=1e-14)
    assert h2.relative_entropy > h1.relative_entropy  # H1 is the I-projection of the prior


def test_sep_beats_original_when_a_pinned_moment_moves(market):
    """vol <= 0.8 x prior binds; the original method standardises skew with the PRIOR vol."""
    R, p = market
    eq = R["EQ"].to_numpy()
    s0 = np.std(eq)
    views = [View("vol", "EQ", "<=", "prior * 0.8"), View("skew", "EQ", "=", -0.5)]
    orig = sequential_entropy_pooling(R, p, views, method="original")
    h1 = sequential_entropy_pooling(R, p, views, method="H1")
    mo, mh = _moments(eq, orig.posterior), _moments(eq, h1.posterior)
    # the original method: vol binds at 0.8 s0, so its attained skew is -0.5 * (s0 / vol)^3
    assert mo["vol"] == pytest.approx(0.8 * s0, rel=1e-9)
    assert mo["skew"] == pytest.approx(-0.5 / 0.8**3, rel=1e-8)
    assert abs(mo["skew"] + 0.5) > 0.4
    assert orig.checks.set_index("view").loc["skew(EQ) = -0.5", "violation"] > 0.4
    # H1 hits both
    assert mh["vol"] <= 0.8 * s0 * (1 + 1e-10)
    assert mh["skew"] == pytest.approx(-0.5, abs=1e-8)
    assert mh["mean"] == pytest.approx(np.mean(eq), abs=1e-10)  # pinned at the prior (C0 is empty)
    assert h1.max_violation < 1e-8


def test_custom_stage_order(market):
    R, p = market
    views = [View("vol", "EQ", "=", 0.2), View("skew", "EQ", "=", -0.3), View("mean", "BD", ">=", 0.015)]
    one = sequential_entropy_pooling(R, p, views, stages=[[0, 1, 2]])
    orig = sequential_entropy_pooling(R, p, views, method="original")
    assert [s.name for s in one.stages] == ["stage 0"]
    # one stage pins at the prior exactly as the original method does
    np.testing.assert_allclose(one.posterior, orig.posterior, rtol=1e-9, atol=1e-16)
    rev = sequential_entropy_pooling(R, p, views, stages=[[views[1]], [2, 0]])
    assert [s.views for s in rev.stages] == [("skew(EQ) = -0.3",), ("mean(BD) >= 0.015", "vol(EQ) = 0.2")]
    for bad in ([[0, 1]], [[0, 1], [1, 2]], [[0, 1, 5]], [["x"], [0, 1, 2]]):
        with pytest.raises(ValueError):
            sequential_entropy_pooling(R, p, views, stages=bad)
    with pytest.raises(ValueError, match="original"):
        sequential_entropy_pooling(R, p, views, method="original", stages=[[0, 1, 2]])
    with pytest.raises(ValueError, match="method"):
        sequential_entropy_pooling(R, p, views, method="h1")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        sequential_entropy_pooling(R, p, [View("mean", "XX", "=", 0.0)])


# ------------------------------------------------------------------------------- CVaR views


@pytest.mark.parametrize("op, factor", [("=", 1.25), ("=", 0.8), ("<=", 0.8), (">=", 1.3)])
@pytest.mark.parametrize("method", ["H1", "original"])
def test_cvar_views_attained(market, op, factor, method):
    R, p = market
    x = R["CR"].to_numpy()
    prior = conditional_value_at_risk(x, p, 0.05)
    res = sequential_entropy_pooling(R, p, [View("CVaR", "CR", op, f"prior * {factor}", alpha=0.05)], method=method)
    q = res.posterior
    target = factor * prior
    assert res.checks.loc[0, "target"] == pytest.approx(target, rel=1e-14)
    assert conditional_value_at_risk(x, q, 0.05) == pytest.approx(target, abs=1e-6)
    assert _cvar(x, q, 0.05) == pytest.approx(target, abs=1e-6)
    # the level found is a VaR of the posterior: tail mass condition
    (level,) = res.stages[0].cvar_levels.values()
    assert q[-x > level].sum() <= 0.05 + 1e-9 and q[-x >= level].sum() >= 0.05 - 1e-9


def test_cvar_ge_matches_exponential_cone_solution():
    """CVaR >= c is convex: {q : exists w, 0 <= w <= q/alpha, 1'w = 1, L'w >= c}; solve with cvxpy."""
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(11)
    S, alpha = 600, 0.1
    x = 0.02 + 0.1 * rng.standard_t(5, S)
    p = rng.dirichlet(np.full(S, 20.0))
    c = 1.3 * conditional_value_at_risk(x, p, alpha)
    res = sequential_entropy_pooling(pd.DataFrame({"X": x}), p, [View("CVaR", "X", ">=", c, alpha=alpha)])
    q, w = cp.Variable(S), cp.Variable(S)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.rel_entr(q, p))),
                      [cp.sum(q) == 1, w >= 0, w <= q / alpha, cp.sum(w) == 1, (-x) @ w >= c])
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal"
    assert res.relative_entropy == pytest.approx(prob.value, rel=1e-5, abs=1e-8)
    np.testing.assert_allclose(res.posterior, np.maximum(q.value, 0), atol=2e-6)
    assert conditional_value_at_risk(x, res.posterior, alpha) == pytest.approx(c, abs=1e-9)


def test_cvar_le_is_the_best_var_level():
    """CVaR <= c holds iff some level v has v + E[(L - v)+]/alpha <= c: scan the levels."""
    rng = np.random.default_rng(12)
    S, alpha = 800, 0.05
    x = 0.01 + 0.15 * rng.standard_t(4, S)
    p = np.full(S, 1.0 / S)
    c = 0.75 * conditional_value_at_risk(x, p, alpha)
    res = sequential_entropy_pooling(pd.DataFrame({"X": x}), p, [View("CVaR", "X", "<=", c, alpha=alpha)])
    loss = -x
    best = np.inf
    for v in np.quantile(loss, np.linspace(0.80, 0.99, 39)):
        row = v + np.maximum(loss - v, 0.0) / alpha
        try:
            best = min(best, solve_entropy_pooling(p, G=row, h=[c]).relative_entropy)
        except ViewsInfeasible:  # levels above the target: the row cannot go below v
            assert v > c - 1e-12
    assert res.relative_entropy <= best + 1e-10
    assert res.relative_entropy >= best - 1e-3 * best  # the scan is fine enough to come close
    assert conditional_value_at_risk(x, res.posterior, alpha) == pytest.approx(c, abs=1e-9)


def test_cvar_view_not_binding_leaves_the_prior(market):
    R, p = market
    res = sequential_entropy_pooling(R, p, [View("CVaR", "CR", "<=", "prior * 1.5", alpha=0.05)])
    np.testing.assert_allclose(res.posterior, p, atol=1e-15)
    assert res.stages[0].cvar_levels == {}


def test_cvar_with_moment_views_across_stages(market):
    R, p = market
    cr, eq = R["CR"].to_numpy(), R["EQ"].to_numpy()
    views = [View("CVaR", "CR", "=", "prior * 1.2", alpha=0.05), View("CVaR", "EQ", "<=", "prior * 0.9", alpha=0.1),
             View("vol", "CR", "=", "prior * 1.05"), View("skew", "CR", "=", -0.5)]
    for method in ("H1", "H2"):
        res = sequential_entropy_pooling(R, p, views, method=method)
        q = res.posterior
        assert _cvar(cr, q, 0.05) == pytest.approx(1.2 * _cvar(cr, p, 0.05), abs=1e-6)
        assert _cvar(eq, q, 0.1) <= 0.9 * _cvar(eq, p, 0.1) + 1e-6
        m = _moments(cr, q)
        assert m["vol"] == pytest.approx(1.05 * np.std(cr), abs=1e-8)
        assert m["skew"] == pytest.approx(-0.5, abs=1e-8)
        assert len(res.stages[-1].cvar_levels) >= 1 and res.converged


# -------------------------------------------------------------- VaR, prob, rank, linear


def test_var_prob_rank_linear_views(market):
    R, p = market
    eq, cr, bd = (R[c].to_numpy() for c in ("EQ", "CR", "BD"))
    level = float(np.sort(-eq)[-90])          # a scenario loss in the 3 % tail
    views = [View("VaR", "EQ", "=", level, alpha=0.05), View("prob", "CR", ">=", 0.25, threshold=-0.1),
             View("rank", ("BD", "EQ"), ">=", 0.0), View("linear", "2*EQ - BD", ">=", 0.01),
             View("vol", "EQ", "=", "prior")]
    res = sequential_entropy_pooling(R, p, views)
    q = res.posterior
    assert value_at_risk(eq, q, 0.05) == level
    assert q[cr <= -0.1].sum() == pytest.approx(0.25, abs=1e-10)      # binding: prior ~0.15
    assert p[cr <= -0.1].sum() < 0.2
    m_eq, m_bd = np.average(eq, weights=q), np.average(bd, weights=q)
    assert m_bd - m_eq >= -1e-10 and 2 * m_eq - m_bd >= 0.01 - 1e-10
    assert np.std(eq) == pytest.approx(_moments(eq, q)["vol"], abs=1e-8)
    assert res.max_violation < 1e-8


def test_relative_values_refer_to_the_original_prior(market):
    R, p = market
    eq, bd = R["EQ"].to_numpy(), R["BD"].to_numpy()
    views = [View("mean", "EQ", "=", "prior - 0.5*prior_vol"), View("vol", "EQ", "=", "prior * 1.2"),
             View("mean", "BD", "=", "prior + 0.01"), View("skew", "EQ", "=", "prior - 0.2")]
    res = sequential_entropy_pooling(R, p, views, method="H2")
    m = _moments(eq, res.posterior)
    m0 = _moments(eq, p)
    assert m["mean"] == pytest.approx(m0["mean"] - 0.5 * m0["vol"], abs=1e-10)
    assert m["vol"] == pytest.approx(1.2 * m0["vol"], abs=1e-10)   # not 1.2 x the stage-0 vol
    assert m["skew"] == pytest.approx(m0["skew"] - 0.2, abs=1e-8)
    assert np.average(bd, weights=res.posterior) == pytest.approx(bd.mean() + 0.01, abs=1e-10)
    assert _moments(eq, res.stages[0].posterior)["vol"] != pytest.approx(m0["vol"], rel=1e-3)


# ------------------------------------------------------------------- confidence, support


def test_confidence_blends_with_the_prior(market):
    R, p = market
    full = [View("mean", "EQ", "=", 0.05), View("vol", "EQ", "=", 0.15)]
    part = [View("mean", "EQ", "=", 0.05, confidence=0.6), View("vol", "EQ", "=", 0.15, confidence=0.6)]
    q = sequential_entropy_pooling(R, p, full).posterior
    res = sequential_entropy_pooling(R, p, part)
    np.testing.assert_array_equal(res.unblended, q)
    np.testing.assert_array_equal(res.posterior, 0.6 * q + 0.4 * p)
    assert res.relative_entropy == pytest.approx(relative_entropy(0.6 * q + 0.4 * p, p), abs=1e-15)
    chk = res.checks.set_index("view")
    assert chk.loc[part[0].label, "attained"] == pytest.approx(0.6 * 0.05 + 0.4 * R["EQ"].mean(), abs=1e-12)
    assert chk.loc[part[0].label, "attained_unblended"] == pytest.approx(0.05, abs=1e-12)
    # two levels: 0.5 q(all views) + 0.5 q(views held with confidence 1) + 0 p
    mixed = [View("mean", "EQ", "=", 0.05), View("vol", "EQ", "=", 0.15, confidence=0.5)]
    q_all = sequential_entropy_pooling(R, p, [mixed[0], full[1]]).posterior
    q_one = sequential_entropy_pooling(R, p, mixed[:1]).posterior
    np.testing.assert_allclose(sequential_entropy_pooling(R, p, mixed).posterior, 0.5 * q_all + 0.5 * q_one,
                               rtol=1e-12, atol=0)


def test_zero_probability_scenarios_stay_zero(market):
    R, p = market
    R = R.copy()
    S = len(R)
    dead = np.arange(0, S, 7)
    R.iloc[dead, 1] = -5.0                      # huge losses that must not count anywhere
    p0 = p.copy()
    p0[dead] = 0.0
    p0 /= p0.sum()
    cr = R["CR"].to_numpy()
    views = [View("CVaR", "CR", ">=", "prior * 1.2", alpha=0.05), View("vol", "EQ", "=", "prior * 0.9"),
             View("skew", "CR", "=", 0.0, confidence=0.7)]
    res = sequential_entropy_pooling(R, p0, views)
    assert np.all(res.posterior[dead] == 0.0) and np.all(res.unblended[dead] == 0.0)
    for st in res.stages:
        assert np.all(st.posterior[dead] == 0.0)
    live = np.setdiff1d(np.arange(S), dead)
    target = 1.2 * _cvar(cr[live], p0[live], 0.05)
    assert _cvar(cr, res.unblended, 0.05) == pytest.approx(target, abs=1e-6)
    assert target < 1.0                          # the -5 losses were ignored


# -------------------------------------------------------------------------------- infeasible


def test_mean_above_max_is_infeasible(market):
    R, p = market
    v = View("mean", "BD", "=", float(R["BD"].max()) + 0.01)
    with pytest.raises(ViewsInfeasible) as err:
        sequential_entropy_pooling(R, p, [View("vol", "EQ", "=", 0.2), v])
    assert v.label in err.value.views


def test_cvar_beyond_worst_loss_is_infeasible(market):
    R, p = market
    worst = float((-R["CR"]).max())
    for op in ("=", ">="):
        v = View("CVaR", "CR", op, worst + 0.01, alpha=0.05)
        with pytest.raises(ViewsInfeasible, match="worst") as err:
            sequential_entropy_pooling(R, p, [v])
        assert err.value.views == [v.label]
    # CVaR equal to the worst loss needs 5 % of mass at the worst scenario: attainable
    res = sequential_entropy_pooling(R, p, [View("CVaR", "CR", "=", worst, alpha=0.05)])
    assert conditional_value_at_risk(R["CR"].to_numpy(), res.posterior, 0.05) == pytest.approx(worst, abs=1e-6)


def test_contradictory_views_are_infeasible(market):
    R, p = market
    a, b = View("mean", "EQ", ">=", 0.05), View("mean", "EQ", "<=", 0.0)
    with pytest.raises(ViewsInfeasible) as err:
        sequential_entropy_pooling(R, p, [a, View("vol", "CR", "=", 0.1), b])
    assert sorted(err.value.views) == sorted([a.label, b.label])
    # contradiction across stages: linear view pins E[EQ] - E[BD]; rank view wants the reverse
    c, d = View("linear", "EQ - BD", "=", 0.02), View("rank", ("BD", "EQ"), ">=", 0.0)
    with pytest.raises(ViewsInfeasible) as err:
        sequential_entropy_pooling(R, p, [c, d])
    assert set(err.value.views) == {c.label, d.label}


def test_checks_table(market):
    R, p = market
    views = [View("mean", "EQ", ">=", 0.03), View("vol", "CR", "<=", 0.5)]
    res = sequential_entropy_pooling(R, p, views, method="original")
    chk = res.checks
    assert list(chk.columns) == ["view", "stat", "on", "op", "target", "prior_value", "attained", "violation",
                                 "confidence", "attained_unblended"]
    assert list(chk["view"]) == [v.label for v in views]
    assert chk.loc[0, "prior_value"] == pytest.approx(R["EQ"].mean(), abs=1e-15)
    assert chk.loc[0, "attained"] == pytest.approx(np.average(R["EQ"], weights=res.posterior), abs=1e-15)
    assert (chk["violation"] >= 0).all() and res.max_violation < 1e-10
    assert chk.loc[1, "attained"] == pytest.approx(_moments(R["CR"].to_numpy(), res.posterior)["vol"], abs=1e-14)
    empty = sequential_entropy_pooling(R, p, [])
    np.testing.assert_array_equal(empty.posterior, p)
    assert empty.stages == [] and len(empty.checks) == 0


def test_level_search_steps_around_infeasible_levels():
    """The VaR-level search on a synthetic mismatch with a region where 'EP' is infeasible."""
    from tasks.views._sep_levels import _find_level

    grid = np.arange(100.0)

    def make(root: float, bad: Callable[[float], bool]) -> Callable[[float], float]:
        def f(v: float) -> float:
            if bad(v):
                raise ViewsInfeasible("synthetic", ["row"])
            return root - v
        return f

    assert _find_level(make(40.5, lambda v: v >= 45), grid, 30.0, "v") == pytest.approx(40.5, abs=1e-12)
    assert _find_level(make(17.5, lambda v: v <= 12), grid, 30.0, "v") == pytest.approx(17.5, abs=1e-12)
    assert _find_level(make(17.0, lambda v: False), grid, 90.0, "v") == 17.0       # lands on a grid point
    assert _find_level(make(50.5, lambda v: v < 45), grid, 30.0, "v") == pytest.approx(50.5, abs=1e-12)
    for root, bad in ((60.5, lambda v: v >= 45), (10.5, lambda v: v <= 12), (150.0, lambda v: False)):
        with pytest.raises(ViewsInfeasible, match="no VaR level") as err:
            _find_level(make(root, bad), grid, 30.0, "v")
        assert err.value.views == ["v"]
