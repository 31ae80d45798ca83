"""The book's tasks in the Dask graph, end to end on an embedded LocalCluster: the index-options
example at test size with a book, shocks, limits with a rebalance and a reverse stress test added
to its plan. Every new table is written with the spec's columns, the book's rows come first in
stress and greeks, the manifest counts the limits and the rebalance; ``book_only`` runs no
portfolio and writes into ``<output.dir>-book``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import pipeline
import pipeline.runner
from pipeline.book_tables import LIMIT_TABLE_COLUMNS, SHOCK_IDENTITY, SHOCK_MOVE_COLUMNS, TRADE_TABLE_COLUMNS
from pipeline.plan import LimitsPlan, ViewSetPlan
from pipeline.progress import final_summary
from pipeline.tables import FRONTIER_COLUMNS, IDENTITY
from tasks.optimization import Constraints, GreekLimits
from tasks.views import View
from tasks.vocabulary import SEPMethod
from tests.pipeline.test_book_stages import CONFIG, SMALL, holdings, shock_plan

pytestmark = pytest.mark.cluster


def _with_book(plan):
    """The plan with a held book (value 2.5m), shocks, limits + rebalance and a reverse stress test."""
    book = dataclasses.replace(plan.book, holdings=holdings(plan.book), value=2.5e6)
    greeks = GreekLimits(book.greeks.T, book.greek_keys, {("vega", "SPX"): (-0.02, None)})
    limits = LimitsPlan(Constraints(bounds=(plan.settings.lower, plan.settings.upper), greeks=greeks,
                                    upperCVaR=0.09),
                        (("equity_selloff", "CVaR", 0.2), ("book_loses", "CVaR", 0.3)), 0.05, 0.0, False,
                        np.full(len(book.names), 0.001))
    reverse = ViewSetPlan(len(plan.view_sets) + 1, "book_loses", SEPMethod.H1,
                          (View("mean", "book", "<=", -0.05),), None)
    return dataclasses.replace(plan, book=book, shocks=shock_plan(plan.scenarios.model), limits=limits,
                               view_sets=(*plan.view_sets, reverse))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    original = pipeline.runner.build_plan
    mp.setattr(pipeline.runner, "build_plan", lambda cfg: _with_book(original(cfg)))
    tmp = tmp_path_factory.mktemp("book_graph")
    try:
        over = {**SMALL, "output.dir": str(tmp / "out")}
        full = pipeline.run(CONFIG, overrides=over, workers=1, log=lambda m: None)
        book = pipeline.run(CONFIG, overrides=over, workers=1, log=lambda m: None, book_only=True)
    finally:
        mp.undo()
    return full, pipeline.read_run(full), book, pipeline.read_run(book)


def test_every_book_table_is_written_with_its_columns(runs):
    _, run, _, _ = runs
    names = run["instruments"]["name"].tolist()
    assert run["book"].columns.tolist() == ["view_set", "status", "portfolio", "instrument", "exposure",
                                            "expected_pnl", "vol_contribution", "cvar_contribution",
                                            "expected_pnl_ccy", "cvar_contribution_ccy"]
    views = run["views"]["view_set"].tolist()
    assert run["book"]["view_set"].unique().tolist() == views
    assert run["book"]["portfolio"].unique().tolist() == ["book", "book/rebalanced"]
    assert run["shocks"].columns.tolist() == SHOCK_IDENTITY + ["pnl", "pnl_ccy"] + [f"c_{n}" for n in names]
    assert run["shock_moves"].columns.tolist() == SHOCK_MOVE_COLUMNS
    assert run["limits"].columns.tolist() == LIMIT_TABLE_COLUMNS
    assert run["trades"].columns.tolist() == TRADE_TABLE_COLUMNS
    assert (run["trades"]["status"] == "optimal").all()
    lim = run["limits"]
    assert not lim.loc[lim["portfolio"] == "book/rebalanced", "breached"].any()
    m = run["manifest"]
    assert m["mode"] == "run"
    assert m["status_counts"]["rebalance"] == {"optimal": 1}
    assert m["status_counts"]["limits_breached"] == int(lim.loc[lim["portfolio"] == "book", "breached"].sum()) > 0
    assert "book:" in final_summary(runs[0])
    mom = run["moments"]
    assert mom.loc[mom["variable"] == "book", "kind"].unique().tolist() == ["book"]


def test_book_rows_come_first_in_stress_greeks_and_shocks(runs):
    _, run, _, _ = runs
    stress = run["stress"]
    for view, part in stress.groupby("eval_view_set", sort=False):
        assert part["portfolio"].tolist()[:2] == ["book", "book/rebalanced"], view
        assert (part["portfolio"].iloc[2:] != "book").all()
    greeks = run["greeks"]
    for und, part in greeks.groupby("underlying", sort=False):
        assert part["kind"].tolist()[:2] == ["book", "rebalanced"], und
    shocks = run["shocks"]
    ports = shocks["portfolio"].drop_duplicates().tolist()
    ok = run["frontier"].query("status in ['optimal', 'optimal_inaccurate']")["portfolio"].tolist()
    assert ports == ["book", "book/rebalanced"] + ok
    # the book's shock P&L per instrument sums to its P&L and matches the book's exposures
    book = shocks[shocks["portfolio"] == "book"]
    c = book[[c for c in shocks.columns if c.startswith("c_")]].to_numpy()
    np.testing.assert_allclose(c.sum(axis=1), book["pnl"], rtol=1e-12, atol=1e-15)


def test_book_only_runs_no_portfolio(runs):
    full, run, path, book = runs
    assert path.name == "out-book" and full.name == "out"
    assert book["manifest"]["mode"] == "book"
    fr = book["frontier"]
    assert len(fr) == 0
    assert fr.columns.tolist() == IDENTITY + FRONTIER_COLUMNS + [f"e_{n}" for n in run["instruments"]["name"]]
    assert set(book["stress"]["portfolio"]) == {"book", "book/rebalanced"}
    assert set(book["shocks"]["portfolio"]) == {"book", "book/rebalanced"}
    # the book's numbers do not depend on the mode
    for table in ("book", "limits", "trades", "shock_moves"):
        np.testing.assert_allclose(book[table].select_dtypes("number").to_numpy(dtype=float),
                                   run[table].select_dtypes("number").to_numpy(dtype=float), rtol=1e-10, atol=1e-12,
                                   err_msg=table)
    assert "portfolios" not in book["manifest"]["status_counts"] or not book["manifest"]["status_counts"]["portfolios"]


def test_book_only_tables_have_the_column_types_of_a_full_run(runs):
    """The book has no view set, measure or constraint set; its text columns are still strings, so
    readers see the same schema whether or not frontier portfolios sit beside it."""
    import pyarrow.parquet as pq

    full, _, path, _ = runs
    for table in ("stress", "greeks", "shocks", "book", "limits", "trades"):
        assert pq.read_schema(path / f"{table}.parquet").remove_metadata() == \
            pq.read_schema(full / f"{table}.parquet").remove_metadata(), table
