"""The book's part of the task graph: submit the book's tasks, and build its tables from them.

Tasks (keys ``sf-book-<stage>[-<view set>]-<config hash>``)::

    shocks ─────────────────────────────► shocks.parquet, shock_moves.parquet (needs no scenarios)
    scenarios, view[caps] ─► limits ─► frame ─┬─► contributions[v] ─► book.parquet
    (limits + rebalance)       (book,         └─► stress[v] ─► book rows of stress.parquet
                                rebalanced)

Every result is small (one row per shock, limit, instrument or book portfolio); the scenario
matrix stays on the workers. Used by :func:`pipeline.graph.execute`, whose ``_Run`` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from distributed import Future

from pipeline.book_stages import book_contributions, book_limits, book_stress, reprice_shocks
from pipeline.book_tables import (
    book_frame,
    book_table,
    breached_count,
    limits_table,
    shock_moves_table,
    shock_table,
    trades_table,
)

__all__ = ["BookFutures", "BookResult", "submit_book", "collect_book"]


@dataclass
class BookFutures:
    """The futures of the book's tasks (None / empty where they do not apply)."""

    shocks: Future | None = None
    limits: Future | None = None
    frame: Future | None = None
    contributions: list[Future] = field(default_factory=list)
    stress: list[Future] = field(default_factory=list)

    def all(self) -> list[Future]:
        """Every future, for the progress stage ``book``."""
        one = [f for f in (self.shocks, self.limits) if f is not None]
        return one + self.contributions + self.stress


@dataclass
class BookResult:
    """What the book adds to a run: its portfolios frame (IDENTITY + e_), its stress rows per view
    set, its tables (book, shocks, shock_moves, limits, trades: those that apply) and counts."""

    frame: pd.DataFrame
    stress: list[pd.DataFrame]
    tables: dict[str, pd.DataFrame]
    counts: dict[str, Any]


def submit_book(run: Any) -> BookFutures:
    """Submit the book's tasks of ``run`` (a :class:`pipeline.graph._Run` whose scenarios and view
    outcomes are submitted): shocks with a shock plan; with a book, its limits and rebalance (with
    a limits plan), its portfolios, and per view set its contributions and stress rows."""
    plan, bf = run.plan, BookFutures()
    if plan.shocks is not None:
        bf.shocks = run.submit(reprice_shocks, plan.shocks, plan.book, key=run.key("book-shocks"))
    if plan.book.holdings is None:
        return bf
    if plan.limits is not None:
        names = list(dict.fromkeys(name for name, _, _ in plan.limits.view_caps))
        bf.limits = run.submit(book_limits, plan.limits, plan.book, run.scen,
                               *[run.view_future(n) for n in names], key=run.key("book-limits"))
    bf.frame = run.submit(book_frame, plan.book, bf.limits, key=run.key("book-frame"))
    alpha, value = plan.settings.alpha, plan.book.value
    for j, name in enumerate(plan.view_names):
        vf = run.view_future(name)
        bf.contributions.append(run.submit(book_contributions, alpha, run.scen, vf, bf.frame, value,
                                           key=run.key("book-contributions", j)))
        bf.stress.append(run.submit(book_stress, alpha, run.scen, vf, bf.frame, key=run.key("book-stress", j)))
    return bf


def collect_book(run: Any, bf: BookFutures, frontier: pd.DataFrame) -> BookResult:
    """The book's tables from its finished futures and the frontier table (for the shocks of every
    ok frontier portfolio); also writes one line on the limits and the rebalance to the progress."""
    plan = run.plan
    instruments = list(plan.book.names)
    frame = bf.frame.result() if bf.frame is not None else book_frame(plan.book)
    tables: dict[str, pd.DataFrame] = {}
    counts: dict[str, Any] = {}
    if bf.contributions:
        tables["book"] = book_table([f.result() for f in bf.contributions], plan.book.value)
    if bf.shocks is not None:
        shocks = bf.shocks.result()
        tables["shocks"] = shock_table(shocks, frame, frontier, instruments, plan.book.value)
        tables["shock_moves"] = shock_moves_table(shocks)
    if bf.limits is not None:
        lim = bf.limits.result()
        tables["limits"] = limits_table(lim)
        counts["limits_breached"] = breached_count(lim)
        text = f"book: {counts['limits_breached']} of {len(lim.book)} limits breached"
        if lim.status is not None:
            tables["trades"] = trades_table(lim, instruments)
            counts["rebalance"] = {lim.status: 1}
            cost = float(tables["trades"]["cost"].sum()) if lim.ok else float("nan")
            text += (f"; rebalance {lim.status} (cost {cost:.4%} of the book's value)" if lim.ok
                     else f"; rebalance {lim.status}: {lim.message}")
        run.progress.message(text)
    return BookResult(frame, [f.result() for f in bf.stress], tables, counts)
