"""Build the run's Dask task graph from the run plan, and collect results as they complete.

Graph (keys are ``sf-<stage>-<ids>-<config hash>``, so identical configs give identical keys)::

    stats[c] ──► transform ──► chunk[c] ──► scenarios ─┬─► view[prior], view[v] ─► limits[v,rm,s]
    (per chunk: draws + per-block moments)             │        │                   └► point[v,rm,s,k]
                                                       │        │                   └► target[v,rm,s,i]
                                                       │        ├► marginals[v] (histograms of the
                                                       │        │  viewed variables under view v)
                                                       │        └► moments[v] (every view variable's
                                                       │           moments, drivers' correlations)
                                                       └─► stress[v,rm,s,j] (a finished problem's
                                                           portfolios under view set j)

With a book (``book:``), shocks or limits, the book's tasks join (:mod:`pipeline.graph_book`): the
shock repricing, the limits and rebalance, and per view set the book's contributions and stress
rows (listed first in ``stress.parquet`` and ``greeks.parquet``). ``plan.book_only``
(``stressfrontier book``) submits no portfolio at all: ``frontier.parquet`` has no rows.

The scenario matrix is the result of the ``scenarios`` task and stays on the workers; the client
only receives small results (posteriors, frontier rows, stress tables) and writes each one to the
store as soon as its future completes. Stages receive plan pieces (:mod:`pipeline.plan`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from distributed import Client, Future, as_completed

from pipeline import stages
from pipeline.graph_book import BookFutures, BookResult, collect_book, submit_book
from pipeline.plan import ConstraintSetPlan, HistoryPlan, RunPlan
from pipeline.progress import LogProgress
from pipeline.store import CHECK_COLUMNS, ROW_GROUP_ROWS, RunStore, batch_name, portfolio_part
from pipeline.tables import (
    empty_marginals,
    frontier_table,
    greeks_table,
    instrument_table,
    marginal_table,
    moment_tables,
    scenario_block,
    viewed_variables,
    views_row,
)
from tasks.vocabulary import OK_STATUSES, PortfolioKind, Status

__all__ = ["execute", "RunResult"]

Log = Callable[[str], None]


@dataclass
class RunResult:
    """What :func:`execute` hands back to the caller for the manifest and the summary."""

    tables: dict[str, pd.DataFrame]
    timings: dict[str, float]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    #: big tables as batches (one row group each) to stream to Parquet while the client is connected
    streams: dict[str, Iterator[pd.DataFrame]] = field(default_factory=dict)


@dataclass
class _Run:
    """State of one execution: the plan, the client, the store and what has been submitted."""

    plan: RunPlan
    client: Client
    store: RunStore
    progress: Any
    resume: bool
    scen: Future | None = None
    chunks: list[Future] = field(default_factory=list)
    outcomes: dict[str, stages.ViewOutcome] = field(default_factory=dict)
    view_futures: dict[str, Future | None] = field(default_factory=dict)
    portfolio_futures: dict[Future, dict[str, Any]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    reused: dict[str, int] = field(default_factory=lambda: {"views": 0, "portfolios": 0})
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: per problem (view set index, measure, constraint set index): portfolios still running and rows
    problems: dict[tuple[int, str, int], dict[str, Any]] = field(default_factory=dict)
    stress_futures: list[Future] = field(default_factory=list)
    marginal_futures: list[Future] = field(default_factory=list)
    moment_futures: list[Future] = field(default_factory=list)
    pending_rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    book: BookFutures = field(default_factory=BookFutures)
    book_pending: set[Future] = field(default_factory=set)
    next_batch: int = 0
    last_flush: float = 0.0

    def key(self, *parts: Any) -> str:
        return "sf-" + "-".join(str(p) for p in parts) + "-" + self.plan.config_sha256[:16]

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> Future:
        return self.client.submit(fn, *args, key=key)

    def view_future(self, name: str) -> Future:
        """The future of a view outcome (a restored one is scattered on first use)."""
        vf = self.view_futures[name]
        return vf if vf is not None else self.client.scatter(self.outcomes[name], hash=False)


def execute(plan: RunPlan, client: Client, store: RunStore, *, log: Log = print,
            progress: Any = None, resume: bool = False) -> RunResult:
    """Submit the whole run, write every result as it completes, and return the final tables.

    With ``resume`` the view sets and portfolios already saved in the store's parts by an earlier
    run of the same config are read back instead of being recomputed.
    """
    run = _Run(plan, client, store, progress or LogProgress(log), resume)
    t_start = time.perf_counter()
    _submit_scenarios(run)
    side = {"instruments": run.submit(instrument_table, plan.book, run.scen, key=run.key("instruments"))}
    new_views = _submit_views(run)
    _submit_marginals(run)
    _submit_moments(run)
    run.book = submit_book(run)
    if not plan.book_only:
        _submit_portfolios(run)
    _announce(run)
    _collect(run, new_views)
    timings = {"views_and_optimisation": time.perf_counter() - t_start}
    t0 = time.perf_counter()
    frontier = frontier_table(run.rows, plan)
    book = collect_book(run, run.book, frontier)
    stress = _stress(run, frontier, book)
    timings["stress"] = time.perf_counter() - t0
    tables = _tables(run, frontier, stress, side, book)
    timings["total_graph"] = time.perf_counter() - t_start
    counts = {
        "views": tables["views"]["status"].value_counts().to_dict(),
        "portfolios": frontier["status"].value_counts().to_dict(),
        "reused_from_parts": run.reused,
        "computed": {"views": len(new_views), "portfolios": len(run.portfolio_futures)},
        **book.counts,
    }
    streams = {"probabilities": _probabilities(run)}
    if plan.write_scenarios:
        streams["scenarios"] = _scenario_blocks(run)
    return RunResult(tables, timings, counts, streams)


# ---- submit -------------------------------------------------------------------------------------

def _submit_scenarios(run: _Run) -> None:
    """Scenario chunks (with the moment-matching reduction) and their assembly, or the user's file."""
    plan, key = run.plan, run.key
    sim = plan.scenarios
    if isinstance(sim, HistoryPlan):
        history = run.client.scatter(sim, hash=False)
        run.scen = run.submit(stages.load_scenarios, history, plan.book, key=key("scenarios"))
        run.chunks = [run.scen]
        return
    transform: Future | None = None
    groups = [list(g) for g in sim.block_groups]
    if sim.moment_matching:
        stats = [run.submit(stages.chunk_statistics, sim, g, key=key("stats", i)) for i, g in enumerate(groups)]
        transform = run.client.submit(stages.moment_transform, sim, *stats, key=key("transform"))
    run.chunks = [run.submit(stages.chunk_scenarios, sim, plan.book, g, transform, key=key("chunk", i))
                  for i, g in enumerate(groups)]
    run.scen = run.client.submit(stages.assemble_scenarios, plan.book, *run.chunks, key=key("scenarios"))


def _restored_view(run: _Run, i: int) -> stages.ViewOutcome | None:
    saved = run.store.load_view(i) if run.resume else None
    if saved is None:
        return None
    row, q, checks = saved
    return stages.ViewOutcome(str(row["view_set"]), str(row["method"]), str(row["status"]), q,
                              float(row["relative_entropy"]), float(row["effective_scenarios"]),
                              float(row["max_residual"]), int(row["n_views"]), float(row["seconds"]),
                              str(row["message"]), checks, int(row["n_stages"]))


def _submit_views(run: _Run) -> dict[str, Future]:
    """The prior and one task per view set (or their outcomes restored from parts)."""
    new: dict[str, Future] = {}
    for vs in [None, *run.plan.view_sets]:
        i, name = (0, "prior") if vs is None else (vs.index, vs.name)
        restored = _restored_view(run, i)
        if restored is not None:
            run.outcomes[name] = restored
            run.view_futures[name] = run.client.scatter(restored, hash=False) if restored.q is not None else None
            run.reused["views"] += 1
        elif vs is None:
            run.view_futures[name] = new[name] = run.submit(stages.prior_outcome, run.scen, key=run.key("view", 0))
        else:
            run.view_futures[name] = new[name] = run.submit(stages.solve_views, run.scen, vs, key=run.key("view", i))
    return new


def _submit_marginals(run: _Run) -> None:
    """One task per probability vector: histograms of every viewed variable (``marginals.parquet``,
    what the report's density panels need, so they never need the (S, N) matrix on the client)."""
    variables = viewed_variables(run.plan.view_sets)
    for j, name in enumerate(run.plan.view_names):
        run.marginal_futures.append(run.submit(marginal_table, run.scen, run.view_future(name), variables,
                                               key=run.key("marginals", j)))


def _submit_moments(run: _Run) -> None:
    """One task per probability vector: posterior and prior moments of every view variable and
    the drivers' correlations (``moments.parquet``, ``correlations.parquet``)."""
    for j, name in enumerate(run.plan.view_names):
        run.moment_futures.append(run.submit(moment_tables, run.scen, run.view_future(name),
                                             key=run.key("moments", j)))


def _idents(run: _Run, cset: ConstraintSetPlan) -> list[tuple[str, int]]:
    """(kind, point) of every portfolio of one (view set, measure) under constraint set ``cset``:
    the frontier points, the headline targets and the single portfolios (every set gets all)."""
    st = cset.settings
    return ([(PortfolioKind.frontier.value, k) for k in range(st.points)]
            + [(PortfolioKind.target.value, j) for j in range(len(st.targets))]
            + [(obj.value, 0) for obj in st.portfolios])


def _submit_portfolios(run: _Run) -> None:
    """Frontier limits, points, targets and single portfolios of every (view set, constraint set, measure)."""
    run.done = run.store.read_part_batches("frontier") if run.resume else {}
    run.next_batch = run.store.next_batch_id("frontier")
    run.last_flush = time.perf_counter()
    for i, name in enumerate(run.plan.view_names):
        for cset in run.plan.constraint_sets:
            for rm in cset.measures:
                todo, pk = [], (i, str(rm), cset.index)
                run.problems[pk] = {"rows": [], "left": 0}
                for kind, k in _idents(run, cset):
                    part = portfolio_part(i, rm, cset.index, kind, k)
                    if part in run.done:
                        run.rows.append(run.done[part])
                        run.problems[pk]["rows"].append(run.done[part])
                        run.reused["portfolios"] += 1
                    else:
                        todo.append((kind, k))
                run.problems[pk]["left"] = len(todo)
                if todo:
                    _submit_problem(run, i, name, cset, rm, todo)
                else:
                    _submit_stress(run, pk)


def _submit_problem(run: _Run, i: int, name: str, cset: ConstraintSetPlan, rm: str,
                    todo: list[tuple[str, int]]) -> None:
    """The portfolios ``todo`` of one compiled problem (view set ``i``, measure ``rm``, set ``cset``)."""
    key, si = run.key, cset.index
    vf = run.view_future(name)
    pkey = key("problem", i, rm, si)
    lim = None
    for kind, k in todo:
        if kind == PortfolioKind.frontier:
            if lim is None:
                lim = run.submit(stages.frontier_limits, pkey, cset, run.scen, vf, rm, key=key("limits", i, rm, si))
            f = run.submit(stages.frontier_point, pkey, cset, run.scen, vf, rm, lim, k,
                           key=key("point", i, rm, si, k))
        elif kind == PortfolioKind.target:
            f = run.submit(stages.target_portfolio, pkey, cset, run.scen, vf, rm, k, key=key("target", i, rm, si, k))
        else:
            f = run.submit(stages.single_portfolio, pkey, cset, run.scen, vf, rm, kind, key=key(kind, i, rm, si))
        run.portfolio_futures[f] = {
            "view_set": name, "risk_measure": str(rm), "constraint_set": cset.name, "kind": kind, "point": k,
            "portfolio": stages.portfolio_id(name, rm, cset.name, kind, k),
            "part": portfolio_part(i, rm, si, kind, k), "problem": (i, str(rm), si)}


def _announce(run: _Run) -> None:
    """Stage totals (and what a resume reuses) for the progress display."""
    progress, reused = run.progress, run.reused
    progress.stage("scenario chunks", len(run.chunks))
    progress.stage("view sets", len(run.plan.view_names))
    if not run.plan.book_only:
        progress.stage("portfolios", len(run.portfolio_futures) + reused["portfolios"])
    if run.book.all():
        progress.stage("book", len(run.book.all()))
    if reused["views"]:
        progress.advance("view sets", reused["views"])
    if reused["portfolios"]:
        progress.advance("portfolios", reused["portfolios"])
    if run.resume:
        progress.message(f"resume: reusing {reused['views']} view set(s) and "
                         f"{reused['portfolios']} portfolio(s) from {run.store.root}")


# ---- collect ------------------------------------------------------------------------------------

def _collect(run: _Run, new_views: dict[str, Future]) -> None:
    """Write every view outcome and portfolio row as its future completes."""
    name_of = {f: n for n, f in new_views.items()}
    chunk_set = set(run.chunks)
    book = run.book.all()
    pending = as_completed(list(run.chunks) + list(new_views.values()) + list(run.portfolio_futures) + book)
    run.book_pending = set(book)
    run.chunks = []  # the client lets go of the chunks: the workers free them once they are assembled
    try:
        _drain(run, pending, chunk_set, name_of)
    finally:  # finished portfolios reach the parts even when the run is interrupted
        _flush(run, force=True)


def _drain(run: _Run, pending: Any, chunk_set: set[Future], name_of: dict[Future, str]) -> None:
    for fut in pending:
        if fut in chunk_set:
            run.progress.advance("scenario chunks", failed=fut.status == "error")
            if fut.status == "error":
                fut.result()  # no scenarios, no run: surface the error
            chunk_set.discard(fut)
        elif fut in run.book_pending:  # the book's results are read once everything is done
            run.progress.advance("book", failed=fut.status == "error")
        elif fut in name_of:
            _collect_view(run, name_of[fut], fut.result())  # a failing view task is a bug: let it surface
        else:
            _collect_portfolio(run, fut)


def _collect_view(run: _Run, name: str, outcome: stages.ViewOutcome) -> None:
    run.outcomes[name] = outcome
    run.store.save_view(run.plan.view_names.index(name), views_row(outcome), outcome.q, outcome.checks)
    run.progress.advance("view sets", failed=not outcome.ok)
    run.progress.message(f"view set {name}: {outcome.status}"
                         + (f" (relative entropy {outcome.relative_entropy:.4f}, effective scenarios "
                            f"{outcome.effective_scenarios:.3f})" if outcome.ok else f" — {outcome.message}"))


def _collect_portfolio(run: _Run, fut: Future) -> None:
    ident = run.portfolio_futures[fut]
    try:
        row = fut.result()
    except Exception as exc:  # recorded, the run goes on
        row = {**{k: v for k, v in ident.items() if k not in ("part", "problem")}, "status": Status.error.value,
               "message": f"{type(exc).__name__}: {exc}"}
    run.rows.append(row)
    run.pending_rows.append((ident["part"], row))
    _flush(run)
    problem = run.problems[ident["problem"]]
    problem["rows"].append(row)
    problem["left"] -= 1
    if problem["left"] == 0:  # the problem's stress runs while other problems are still solving
        _submit_stress(run, ident["problem"])
    run.progress.advance("portfolios", failed=row["status"] not in OK_STATUSES)


#: Finished portfolios are saved for --resume in batches of this many rows, or after this many seconds.
FLUSH_ROWS, FLUSH_SECONDS = 64, 2.0


def _flush(run: _Run, force: bool = False) -> None:
    """Save the pending portfolio rows as one batch file of parts."""
    now = time.perf_counter()
    if not run.pending_rows or not (force or len(run.pending_rows) >= FLUSH_ROWS
                                    or now - run.last_flush >= FLUSH_SECONDS):
        return
    keys = [k for k, _ in run.pending_rows]
    run.store.write_part_batch("frontier", batch_name(run.next_batch), pd.DataFrame([r for _, r in run.pending_rows]),
                               keys)
    run.next_batch += 1
    run.pending_rows.clear()
    run.last_flush = now


# ---- stress and tables --------------------------------------------------------------------------

def _submit_stress(run: _Run, pk: tuple[int, str, int]) -> None:
    """The optimal portfolios of one finished problem under every probability vector (one task per
    view set; the portfolios in canonical order, so each task's inputs are fixed by the config)."""
    rows = frontier_table(run.problems[pk]["rows"], run.plan)
    ok = rows[rows["status"].isin([s.value for s in OK_STATUSES])].reset_index(drop=True)
    if not len(ok):
        return
    for j, n in enumerate(run.plan.view_names):
        run.stress_futures.append(run.submit(stages.stress_table, run.plan.settings.alpha, run.scen,
                                             run.view_future(n), ok, key=run.key("stress", *pk, j)))


def _stress(run: _Run, frontier: pd.DataFrame, book: BookResult) -> pd.DataFrame:
    """Every optimal portfolio under every probability vector: the book's stress rows and the
    problems' stress tables, ordered by evaluating view set, then the book's portfolios (book,
    rebalanced), then as the frontier table."""
    if not run.stress_futures and not book.stress:
        return pd.DataFrame()
    parts = pd.concat(book.stress + [f.result() for f in run.stress_futures], ignore_index=True)
    views = {n: i for i, n in enumerate(run.plan.view_names)}
    position = {p: i for i, p in enumerate(list(book.frame["portfolio"]) + list(frontier["portfolio"]))}
    order = pd.DataFrame({"v": parts["eval_view_set"].map(views), "p": parts["portfolio"].map(position)})
    return parts.loc[order.sort_values(["v", "p"]).index].reset_index(drop=True)


def _tables(run: _Run, frontier: pd.DataFrame, stress: pd.DataFrame,
            side: dict[str, Future], book: BookResult) -> dict[str, pd.DataFrame]:
    ordered = [run.outcomes[n] for n in run.plan.view_names]
    held = frontier if not len(book.frame) else (
        pd.concat([book.frame, frontier], ignore_index=True) if len(frontier) else book.frame)
    return {
        "instruments": side["instruments"].result(),
        "views": pd.DataFrame([views_row(o) for o in ordered]),
        "view_checks": pd.DataFrame([c for o in ordered for c in o.checks], columns=CHECK_COLUMNS),
        "frontier": frontier,
        "stress": stress,
        "greeks": greeks_table(run.plan.book, held),
        "marginals": _marginals(run),
        **_moments(run),
        **book.tables,
    }


def _marginals(run: _Run) -> pd.DataFrame:
    """``marginals.parquet``: the per-view-set histograms, in view-set order."""
    parts = [p for p in (f.result() for f in run.marginal_futures) if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else empty_marginals()


def _moments(run: _Run) -> dict[str, pd.DataFrame]:
    """``moments.parquet`` and ``correlations.parquet``: the per-view-set tables, in view-set order
    (each in X's column order), so they are the same for any number of workers."""
    parts = [f.result() for f in run.moment_futures]
    return {t: pd.concat([p[t] for p in parts], ignore_index=True) for t in ("moments", "correlations")}


def _probabilities(run: _Run) -> Iterator[pd.DataFrame]:
    """``probabilities.parquet``, one view set at a time (one row group each)."""
    for name in run.plan.view_names:
        q = run.outcomes[name].q
        if q is not None:
            yield pd.DataFrame({"scenario": np.arange(len(q)), "view_set": name, "probability": q})


def _scenario_blocks(run: _Run) -> Iterator[pd.DataFrame]:
    """``scenarios.parquet`` in blocks of rows built on the workers, fetched one at a time (the
    client never holds the whole (S, N) matrix)."""
    S = run.outcomes["prior"].q.size if run.outcomes["prior"].q is not None else 0
    step = ROW_GROUP_ROWS // 4
    ahead: deque[Future] = deque()
    for a in range(0, S, step):
        ahead.append(run.submit(scenario_block, run.scen, a, min(a + step, S), key=run.key("scenario-block", a)))
        if len(ahead) > 1:  # one block in flight while the client writes the previous one
            yield _take(ahead)
    while ahead:
        yield _take(ahead)


def _take(ahead: deque[Future]) -> pd.DataFrame:
    f = ahead.popleft()
    df = f.result()
    f.release()
    return df
