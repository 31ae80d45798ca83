import numpy as np
import pandas as pd
import pytest

from tasks.scenarios import (
    bootstrap_chunk,
    bootstrap_scenarios,
    chunk_blocks,
    exponential_decay_probabilities,
    frame_values,
    historical_pnl,
    historical_scenarios,
    prior_probabilities,
    uniform_probabilities,
)


@pytest.mark.parametrize("half_life", [1, 5, 30])
def test_exponential_decay_halves_every_half_life(half_life):
    p = exponential_decay_probabilities(100, half_life)
    assert p.sum() == pytest.approx(1.0, abs=1e-15)
    assert np.all(np.diff(p) > 0)  # most recent (last) row weighs most
    assert np.allclose(p[:-half_life] / p[half_life:], 0.5, rtol=1e-13)


def test_uniform_and_prior_dispatch():
    assert np.array_equal(uniform_probabilities(4), np.full(4, 0.25))
    assert np.array_equal(prior_probabilities(7, "exponential", 3), exponential_decay_probabilities(7, 3))
    with pytest.raises(ValueError):
        prior_probabilities(7, "exponential")


def test_historical_scenarios_convert_returns_and_weights():
    df = pd.DataFrame({"eq": [0.1, -0.05, 0.02], "rate": [0.001, -0.002, 0.0], "w": [1.0, 1.0, 2.0]})
    s, p = historical_scenarios(df, 1 / 12, returns={"eq": "simple", "rate": "change"},
                                probability_column="w")
    assert s.names == ["eq", "rate"] and s.horizon == 1 / 12
    assert np.allclose(s.column("eq"), np.log1p([0.1, -0.05, 0.02]))
    assert np.array_equal(s.column("rate"), [0.001, -0.002, 0.0])
    assert np.allclose(p, [0.25, 0.25, 0.5])
    _, p2 = historical_scenarios(df[["eq"]], 1.0, prior="exponential", half_life=1)
    assert np.allclose(p2, np.array([1, 2, 4]) / 7)
    with pytest.raises(ValueError):
        frame_values(pd.DataFrame({"a": [-1.5]}), returns="simple")


def test_historical_pnl():
    df = pd.DataFrame({"A": [0.1, 0.2], "B": [-0.1, 0.0]})
    r, p = historical_pnl(df, ["B", "A"])
    assert np.array_equal(r, [[-0.1, 0.1], [0.0, 0.2]]) and np.array_equal(p, [0.5, 0.5])


def _history(t=60, d=2):
    # row t of driver j is 1000 j + t: every sampled value reveals its source row
    return np.arange(t)[:, None] + 1000.0 * np.arange(d)[None, :]


def test_bootstrap_uses_consecutive_blocks_and_terminal_is_the_sum():
    h = _history()
    s = bootstrap_scenarios(h, ["a", "b"], 500, seed=3, n_steps=10, block_length=4, step_dt=1 / 252,
                            block_size=64)
    assert s.paths.shape == (500, 10, 2) and s.horizon == pytest.approx(10 / 252)
    steps = np.diff(s.paths, axis=1, prepend=0.0)
    rows = steps[:, :, 0]
    assert np.array_equal(steps[:, :, 1] - rows, np.full(rows.shape, 1000.0))  # drivers move together
    for k in (1, 2, 3, 5, 6, 7, 9):  # within a block of 4 the history rows are consecutive
        assert np.array_equal(rows[:, k], rows[:, k - 1] + 1)
    assert np.array_equal(s.values, s.paths[:, -1])
    assert np.array_equal(s.values, steps.sum(axis=1))  # integers: exact
    assert rows.min() >= 0 and rows.max() <= 59


def test_bootstrap_weights_restrict_starts():
    h = _history()
    w = np.zeros(60)
    w[[10, 40]] = 1.0
    s = bootstrap_scenarios(h, ["a", "b"], 200, seed=1, n_steps=6, block_length=3, step_dt=1.0, weights=w)
    starts = np.diff(s.paths, axis=1, prepend=0.0)[:, ::3, 0]
    assert set(np.unique(starts)) == {10.0, 40.0}


@pytest.mark.parametrize("n_chunks", [1, 3, 8])
def test_bootstrap_identical_for_any_chunk_count(n_chunks):
    rng = np.random.default_rng(0)
    h = rng.standard_normal((250, 3)) * 0.01
    ref = bootstrap_scenarios(h, list("xyz"), 1000, 9, 21, 5, 1 / 252, block_size=128)
    parts = [bootstrap_chunk(h, list("xyz"), 9, 1000, 128, g, 21, 5, 1 / 252)
             for g in chunk_blocks(1000, 128, n_chunks)]
    assert np.array_equal(ref.paths, np.concatenate([p.paths for p in parts]))
