"""marginals.parquet: per-view-set histograms of the viewed variables, built on the workers,
checked against a brute-force count; and the report's smoothing of them."""

import numpy as np
import pytest

from pipeline.plan import ViewSetPlan
from pipeline.report_views import smooth_histogram
from pipeline.stages import ScenarioSet, ViewOutcome
from pipeline.tables import MARGINAL_COLUMNS, marginal_table, viewed_variables
from tasks.views import View
from tasks.vocabulary import SEPMethod


def _scenarios(S=5000, seed=3):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.standard_t(3, S) * 0.1, rng.normal(0.02, 0.05, S), np.full(S, 0.25)])
    R = X[:, :2].copy()
    return ScenarioSet(R, X, ["A", "B", "C"], ["A", "B"], ["A", "B", "C"], np.full(S, 1.0 / S), np.ones(2))


def test_histograms_match_a_brute_force_count_and_keep_every_scenario():
    scen = _scenarios()
    S = scen.X.shape[0]
    q = np.random.default_rng(1).random(S)
    q /= q.sum()
    df = marginal_table(scen, ViewOutcome("stress", "H1", "ok", q), ["B", "A", "C", "missing"], bins=50)
    assert list(df.columns) == MARGINAL_COLUMNS
    assert list(dict.fromkeys(df["variable"])) == ["B", "A", "C"]
    for j, name in enumerate(["A", "B", "C"]):
        x = scen.X[:, j]
        part = df[df["variable"] == name].sort_values("bin")
        assert len(part) == 50 and (part["view_set"] == "stress").all()
        lower, upper = part["lower"].to_numpy(), part["upper"].to_numpy()
        # every scenario inside: no tail is cut
        assert lower[0] <= x.min() and upper[-1] >= x.max()
        assert part["probability"].sum() == pytest.approx(1.0, abs=1e-12)
        # brute force: the mass of the scenarios in each half-open bin (the last one closed)
        for b in (0, 7, 25, 49):
            inside = (x >= lower[b]) & ((x < upper[b]) if b < 49 else (x <= upper[b]))
            assert part["probability"].iloc[b] == pytest.approx(q[inside].sum(), abs=1e-15)
        mean = np.average(x, weights=q)
        assert part["mean"].iloc[0] == pytest.approx(mean, rel=1e-12, abs=1e-15)
        assert part["std"].iloc[0] == pytest.approx(np.sqrt(np.average((x - mean) ** 2, weights=q)), abs=1e-12)


def test_no_posterior_gives_no_rows_and_the_same_columns():
    df = marginal_table(_scenarios(100), ViewOutcome("bad", "H1", "infeasible", None), ["A"])
    assert df.empty and list(df.columns) == MARGINAL_COLUMNS


def test_viewed_variables_in_first_use_order():
    sets = (ViewSetPlan(1, "a", SEPMethod.H1, (View("mean", "SPX", "=", 0.1),
                                               View("corr", ["SX5E", "SPX"], "=", 0.9)), None),
            ViewSetPlan(2, "b", SEPMethod.H1, (View("linear", "2*Bond - SPX", "=", 0.0),), None))
    assert viewed_variables(sets) == ["SPX", "SX5E", "Bond"]


def test_smoothed_histogram_integrates_to_one_follows_the_weights_and_reaches_the_tails():
    x = np.linspace(-1, 1, 2001)
    w = np.where(x > 0, 3.0, 1.0)
    w /= w.sum()
    edges = np.linspace(-1, 1, 201)
    mass, _ = np.histogram(x, bins=edges, weights=w)
    h = 0.05
    grid, f = smooth_histogram(edges, mass, h)
    step = grid[1] - grid[0]
    assert f.sum() * step == pytest.approx(1.0, abs=1e-9)
    ratio = f[(grid > 0.3) & (grid < 0.9)].mean() / f[(grid < -0.3) & (grid > -0.9)].mean()
    assert ratio == pytest.approx(3.0, rel=0.02)
    assert grid[0] <= -1 - 3.9 * h and grid[-1] >= 1 + 3.9 * h  # past both ends, not clipped
    # a bandwidth below one bin: the histogram itself; a common extension gives a common grid
    g2, f2 = smooth_histogram(edges, mass, 0.001, extend=4 * h)
    assert np.allclose(g2, grid) and f2[len(grid) // 2 + 50] == pytest.approx(mass[150] / step)
