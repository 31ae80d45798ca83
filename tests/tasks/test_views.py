import numpy as np
import pytest

from tasks.views import View, attained, moment, original_rows, solve_entropy_pooling


@pytest.fixture
def sample():
    rng = np.random.default_rng(42)
    z = rng.standard_normal((20000, 2))
    x = np.expm1(0.05 + 0.15 * z[:, 0])                     # lognormal simple return
    y = 0.5 * x + 0.05 * z[:, 1]
    return np.column_stack([x, y]), np.full(20000, 1 / 20000)


def _solve(X, p, views, cols=("X", "Y")):
    rows = original_rows(X, list(cols), p, views)
    return solve_entropy_pooling(p, rows.A, rows.b, rows.G, rows.h, names=rows.names).posterior, rows


def test_turbulence_view_attained(sample):
    X, p = sample
    views = [View("mean", "X", "=", "prior"), View("vol", "X", "=", 0.20),
             View("skew", "X", "=", -0.1), View("kurt", "X", "=", 2.75)]
    q, rows = _solve(X, p, views)
    x = X[:, 0]
    assert moment(x, q, "mean") == pytest.approx(moment(x, p, "mean"), abs=1e-10)
    assert moment(x, q, "vol") == pytest.approx(0.20, abs=1e-8)
    assert moment(x, q, "skew") == pytest.approx(-0.1, abs=1e-8)
    assert moment(x, q, "kurt") == pytest.approx(2.75, abs=1e-8)
    assert len(rows.names) == 4 and q.min() >= 0 and q.sum() == pytest.approx(1, abs=1e-14)


def test_nonlinear_view_pins_untargeted_moments(sample):
    X, p = sample
    q, rows = _solve(X, p, [View("skew", "X", "=", 0.0)])
    x = X[:, 0]
    assert rows.eq_names[0].startswith("mean(X) pinned") and rows.eq_names[1].startswith("var(X) pinned")
    assert moment(x, q, "mean") == pytest.approx(moment(x, p, "mean"), abs=1e-10)
    assert moment(x, q, "vol") == pytest.approx(moment(x, p, "vol"), abs=1e-10)
    assert moment(x, q, "skew") == pytest.approx(0.0, abs=1e-8)


def test_inequality_views(sample):
    X, p = sample
    prior_vol = moment(X[:, 1], p, "vol")
    q, rows = _solve(X, p, [View("vol", "Y", "<=", 0.5 * prior_vol), View("mean", "X", ">=", 0.0)])
    assert len(rows.in_names) == 2 and len(rows.eq_names) == 1  # Y's mean pinned, two inequalities
    assert attained(X[:, 1], q, View("vol", "Y", "<=", 0)) <= 0.5 * prior_vol + 1e-10
    # a non-binding inequality leaves the prior untouched
    q2, _ = _solve(X, p, [View("mean", "X", ">=", -0.5)])
    assert np.allclose(q2, p, atol=1e-15)


def test_unknown_variable(sample):
    X, p = sample
    with pytest.raises(KeyError):
        original_rows(X, ["X", "Y"], p, [View("mean", "Z", "=", 0.0)])


def test_moments_match_numpy(sample):
    X, p = sample
    x = X[:, 0]
    from scipy.stats import kurtosis, skew
    assert moment(x, p, "vol") == pytest.approx(np.std(x), rel=1e-12)
    assert moment(x, p, "skew") == pytest.approx(skew(x), rel=1e-10)
    assert moment(x, p, "kurt") == pytest.approx(kurtosis(x, fisher=False), rel=1e-10)


# ------------------------------------------------------------------------------------------------
# view language: parser, validation, statistics, rows
# ------------------------------------------------------------------------------------------------
import math  # noqa: E402

from tasks.measures import conditional_value_at_risk, value_at_risk  # noqa: E402
from tasks.views import (  # noqa: E402
    ViewsInfeasible,  # noqa: E402
    parse_expression,
    parse_linear,
    statistic,
    target_value,
    view_data,
    view_row,
    violation,
)


@pytest.mark.parametrize("text, env, expected", [
    ("prior * 1.2", {"prior": 0.5}, 0.6),
    ("prior + 0.01", {"prior": 0.5}, 0.51),
    ("prior - 0.5*prior_vol", {"prior": 0.1, "prior_vol": 0.2}, 0.0),
    ("(prior + 1) * 2 / 4", {"prior": 3.0}, 2.0),
    ("-prior + -2 * -3", {"prior": 1.0}, 5.0),
    ("2 - 3 - 4", {}, -5.0),             # left associative
    ("8 / 4 / 2", {}, 1.0),
    ("1 + 2 * 3", {}, 7.0),              # precedence
    ("1.5e-2 + .5", {}, 0.515),
])
def test_expression_parser(text, env, expected):
    assert parse_expression(text).evaluate(env) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("text", [
    "prior ** 2", "prior *", "(prior", "prior)", "", "prior; 1", "__import__('os')", "prior.real",
    "prior prior", "2prior",
])
def test_expression_parser_rejects(text):
    with pytest.raises(ValueError):
        parse_expression(text, ["prior", "prior_mean", "prior_vol"])


def test_linear_parser():
    assert parse_linear("2*SPX - Bond/2 + SPX") == {"SPX": 3.0, "Bond": -0.5}
    assert parse_linear("-(A - 2*B) * 3") == {"A": -3.0, "B": 6.0}
    for bad in ("SPX * Bond", "SPX / Bond", "SPX + 1", "2 * 3"):
        with pytest.raises(ValueError):
            parse_linear(bad)


@pytest.mark.parametrize("kwargs, match", [
    (dict(stat="VAR", on="X", op="=", value=0.1), "did you mean 'var' or 'VaR'"),
    (dict(stat="cvar", on="X", op="=", value=0.1, alpha=0.05), "did you mean 'CVaR'"),
    (dict(stat="mean", on="X", op="==", value=0.1), "unknown operator"),
    (dict(stat="mean", on="X", op="=", value="prior * y"), "unknown name"),
    (dict(stat="mean", on="X", op="=", value=float("nan")), "finite"),
    (dict(stat="mean", on="X", op="=", value=True), "number"),
    (dict(stat="CVaR", on="X", op="=", value=0.1), "needs alpha"),
    (dict(stat="VaR", on="X", op="=", value=0.1, alpha=1.0), "alpha must be in"),
    (dict(stat="mean", on="X", op="=", value=0.1, alpha=0.05), "alpha applies"),
    (dict(stat="prob", on="X", op="=", value=0.1), "needs threshold"),
    (dict(stat="mean", on="X", op="=", value=0.1, threshold=0.0), "threshold applies"),
    (dict(stat="mean", on="X", op="=", value=0.1, confidence=0.0), "confidence"),
    (dict(stat="mean", on="X", op="=", value=0.1, confidence=1.5), "confidence"),
    (dict(stat="corr", on="X", op="=", value=0.1), "pair"),
    (dict(stat="corr", on=("X", "X"), op="=", value=0.1), "distinct"),
    (dict(stat="corr", on=("X", "Y"), op="=", value="prior_vol"), "only 'prior'"),
    (dict(stat="mean", on=("X", "Y"), op="=", value=0.1), "one variable"),
    (dict(stat="linear", on="X * Y", op="=", value=0.1), "not linear"),
    (dict(stat="linear", on={"X": 0.0}, op="=", value=0.1), "non-zero"),
])
def test_view_validation_fails_fast(kwargs, match):
    with pytest.raises(ValueError, match=match):
        View(**kwargs)


def test_view_normalisation_and_labels():
    v = View("linear", "2*SPX - Bond", ">=", 0.01)
    assert v.on == (("SPX", 2.0), ("Bond", -1.0)) and v.variables == ("SPX", "Bond")
    assert v == View("linear", {"SPX": 2, "Bond": -1}, ">=", 0.01) and hash(v) == hash(
        View("linear", [("SPX", 2.0), ("Bond", -1.0)], ">=", 0.01))
    assert v.label == "linear(2*SPX - Bond) >= 0.01"
    assert View("corr", ["A", "B"], "=", -0.3).on == ("A", "B")
    assert View("CVaR", "X", "<=", "prior*1.2", alpha=0.05).label == "CVaR[0.05](X) <= prior*1.2"
    assert View("prob", "X", "=", 0.1, threshold=-0.05).label == "prob(X <= -0.05) = 0.1"
    assert View("mean", "X", "=", 0.1, confidence=0.5).label == "mean(X) = 0.1 (confidence 0.5)"
    assert [View(s, "X", "=", 1.0).stage for s in ("mean", "vol", "skew")] == [0, 1, 2]


def test_statistics_match_independent_formulas(sample):
    X, _ = sample
    S = X.shape[0]
    q = np.random.default_rng(3).dirichlet(np.full(S, 2.0))
    cols = ["X", "Y"]
    corr = View("corr", ("X", "Y"), "=", 0.0)
    c = np.cov(X.T, aweights=q, bias=True)
    assert statistic(view_data(X, cols, corr), q, corr) == pytest.approx(c[0, 1] / math.sqrt(c[0, 0] * c[1, 1]),
                                                                         abs=1e-12)
    prob = View("prob", "X", "=", 0.0, threshold=-0.1)
    assert statistic(X[:, 0], q, prob) == pytest.approx(q[X[:, 0] <= -0.1].sum(), abs=1e-14)
    rank = View("rank", ("X", "Y"), ">=", 0.0)
    lin = View("linear", "2*X - Y/2", ">=", 0.0)
    mx, my = np.average(X, axis=0, weights=q)
    assert statistic(view_data(X, cols, rank), q, rank) == pytest.approx(mx - my, abs=1e-14)
    assert statistic(view_data(X, cols, lin), q, lin) == pytest.approx(2 * mx - my / 2, abs=1e-14)
    # CVaR by sorting the losses and taking the worst alpha mass (atom at VaR fractionally)
    loss, alpha = -X[:, 0], 0.05
    o = np.argsort(-loss)
    cum = np.cumsum(q[o])
    k = int(np.searchsorted(cum, alpha))
    tail = q[o][:k] @ loss[o][:k] + (alpha - (cum[k - 1] if k else 0.0)) * loss[o][k]
    cv = View("CVaR", "X", "=", 0.0, alpha=alpha)
    assert statistic(X[:, 0], q, cv) == pytest.approx(tail / alpha, abs=1e-12)
    assert statistic(X[:, 0], q, View("VaR", "X", "=", 0.0, alpha=alpha)) == loss[o][k]


def test_relative_targets_refer_to_the_given_prior(sample):
    X, p = sample
    x = X[:, 0]
    mu, sd = np.mean(x), np.std(x)
    assert target_value(x, p, View("vol", "X", "=", "prior * 1.2")) == pytest.approx(1.2 * sd, rel=1e-12)
    assert target_value(x, p, View("mean", "X", "=", "prior - 0.5*prior_vol")) == pytest.approx(mu - 0.5 * sd, abs=1e-14)
    assert target_value(x, p, View("mean", "X", "=", "prior_mean + 0.01")) == pytest.approx(mu + 0.01, abs=1e-14)
    lin = View("linear", {"X": 1.0, "Y": -1.0}, ">=", "prior + prior_vol")
    d = X[:, 0] - X[:, 1]
    assert target_value(X, p, lin) == pytest.approx(d.mean() + d.std(), abs=1e-14)
    cv = View("CVaR", "X", "<=", "prior * 0.9", alpha=0.05)
    assert target_value(x, p, cv) == pytest.approx(0.9 * conditional_value_at_risk(x, p, 0.05), rel=1e-12)


@pytest.mark.parametrize("view", [
    View("vol", "X", "=", "prior - 10*prior_vol"),
    View("corr", ("X", "Y"), "=", 1.2),
    View("prob", "X", "=", 1.5, threshold=0.0),
    View("kurt", "X", "=", 0.5),
    View("mean", "X", "=", "prior / (prior_vol - prior_vol)"),
])
def test_out_of_range_targets_are_infeasible(sample, view):
    X, p = sample
    with pytest.raises(ViewsInfeasible) as err:
        original_rows(X, ["X", "Y"], p, [view])
    assert err.value.views == [view.label]


def test_violation_sign_conventions():
    assert violation("=", 1.0, 0.7) == pytest.approx(0.3)
    assert violation("<=", 1.0, 0.7) == 0.0 and violation("<=", 1.0, 1.2) == pytest.approx(0.2)
    assert violation(">=", 1.0, 1.2) == 0.0 and violation(">=", 1.0, 0.7) == pytest.approx(0.3)


def test_negative_correlation_view_original(sample):
    X, p = sample
    view = View("corr", ("X", "Y"), "=", -0.25)      # prior correlation is about +0.8
    q, rows = _solve(X, p, [view])
    assert [n.split(" pinned")[0] for n in rows.eq_names[:4]] == ["mean(X)", "var(X)", "mean(Y)", "var(Y)"]
    c = np.cov(X.T, aweights=q, bias=True)
    assert c[0, 1] / math.sqrt(c[0, 0] * c[1, 1]) == pytest.approx(-0.25, abs=1e-8)
    np.testing.assert_allclose(np.average(X, axis=0, weights=q), X.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(np.diag(c), X.var(axis=0), rtol=1e-9)


def test_rank_linear_prob_views(sample):
    X, p = sample
    views = [View("rank", ("Y", "X"), ">=", 0.0),            # prior: E[X] > E[Y]
             View("linear", "2*X - Y", "=", 0.05),
             View("prob", "X", "=", 0.3, threshold=0.0)]
    q, _ = _solve(X, p, views)
    mx, my = np.average(X, axis=0, weights=q)
    assert X[:, 0].mean() > X[:, 1].mean() and my - mx >= -1e-12 and my - mx == pytest.approx(0.0, abs=1e-10)
    assert 2 * mx - my == pytest.approx(0.05, abs=1e-10)
    assert q[X[:, 0] <= 0.0].sum() == pytest.approx(0.3, abs=1e-10)


def test_var_views(sample):
    X, p = sample
    x, loss, alpha = X[:, 0], -X[:, 0], 0.05
    prior_var = value_at_risk(x, p, alpha)
    target = float(np.sort(loss)[-700])                    # a scenario loss above the prior VaR
    assert target > prior_var
    q, _ = _solve(X, p, [View("VaR", "X", "=", target, alpha=alpha)])
    assert value_at_risk(x, q, alpha) == target            # exactly: VaR is a scenario loss
    assert q[loss > target].sum() == pytest.approx(alpha, abs=1e-12)
    # a level between two scenario losses: '=' lands on the nearest loss, '<=' / '>=' hold
    u = np.unique(loss)
    k = np.searchsorted(u, prior_var) - 200
    mid = 0.3 * u[k] + 0.7 * u[k + 1]
    q, _ = _solve(X, p, [View("VaR", "X", "=", mid, alpha=alpha)])
    assert value_at_risk(x, q, alpha) == u[k + 1]
    q, _ = _solve(X, p, [View("VaR", "X", "<=", mid, alpha=alpha)])
    assert value_at_risk(x, q, alpha) <= mid and value_at_risk(x, q, alpha) == u[k]
    hi = 0.5 * (u[k + 300] + u[k + 301])
    q, _ = _solve(X, p, [View("VaR", "X", ">=", hi, alpha=alpha)])
    assert value_at_risk(x, q, alpha) >= hi
    with pytest.raises(ViewsInfeasible):
        _solve(X, p, [View("VaR", "X", ">=", loss.max() + 0.01, alpha=alpha)])


def test_cvar_row_at_the_var_level_is_the_cvar(sample):
    X, p = sample
    x = X[:, 0]
    q = np.random.default_rng(5).dirichlet(np.full(x.size, 3.0))
    v = View("CVaR", "X", "=", 0.1, alpha=0.05)
    row = view_row(x, v, 0.1, level=value_at_risk(x, q, 0.05))
    assert row.coef @ q == pytest.approx(conditional_value_at_risk(x, q, 0.05), abs=1e-13)
    with pytest.raises(ValueError, match="VaR level"):
        original_rows(X, ["X", "Y"], p, [v])
    # a row at the level given by the caller
    rows = original_rows(X, ["X", "Y"], p, [v], cvar_levels={0: 0.05})
    assert rows.eq_names == [v.label] and rows.b[0] == 0.1


def test_view_data_shapes_and_unknown_names(sample):
    X, _ = sample
    cols = ["X", "Y"]
    assert view_data(X, cols, View("mean", "Y", "=", 0.0)).shape == (X.shape[0],)
    assert view_data(X, cols, View("corr", ("Y", "X"), "=", 0.0)).shape == (X.shape[0], 2)
    np.testing.assert_array_equal(view_data(X, cols, View("corr", ("Y", "X"), "=", 0.0))[:, 0], X[:, 1])
    with pytest.raises(KeyError, match="Z"):
        view_data(X, cols, View("linear", {"X": 1.0, "Z": 1.0}, "=", 0.0))
    with pytest.raises(ValueError, match="shape"):
        statistic(X, np.full(X.shape[0], 1 / X.shape[0]), View("mean", "X", "=", 0.0))
