"""Memory guard: estimate a run's peak memory per worker and on the client before any work starts.

The estimate follows what the graph (:mod:`pipeline.graph`) keeps where, in bytes (float64 = 8):

worker
    the process itself (Python, numpy, cvxpy, HiGHS, Dask: :data:`PROCESS_BYTES`); the scenario set
    (``R`` (S, N), view variables ``X`` (S, n_var), prior (S,), P&L paths (S, steps, N)), once; the
    posteriors (S,) of every view set; the largest of the transient phases: assembling the chunks
    (a second copy of drivers, P&L and paths), Entropy Pooling (the view-function matrix and a few
    (S,) work vectors per view), the compiled problems kept by the worker's cache (per measure: a
    centred copy of ``R``, plus the column-major copy of the CVaR cuts or the canonicalised LP of a
    scenario-based measure, :data:`FORMULATION_COPIES`), the stress blocks, and with
    ``scenarios.factor_model`` a chunk's residual draws (one block of k rows per scenario, per
    asset with ``residuals: assets``); the asset drivers count as drivers everywhere.
client
    the process, every posterior (S,) and one view set's ``probabilities`` frame at a time (the
    tables are streamed to Parquet), one scenario chunk when ``scenarios.parquet`` is written.

The estimate is checked against measured peaks by ``benchmarks/bench_scale.py`` (they agree within
2x); :func:`check` turns it into a refusal with what to change.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from pipeline.plan import FactorModelPlan, HistoryPlan, RunPlan, ViewSetPlan
from tasks.optimization import AUTO_CUTS_MIN_SCENARIOS
from tasks.scenarios import RESIDUAL_BLOCK
from tasks.vocabulary import CAP_FIELDS, DRAWDOWN_MEASURES, RiskMeasure

__all__ = ["MemoryEstimate", "estimate_memory", "check", "format_bytes", "PROCESS_BYTES", "STRESS_BLOCK_BYTES"]

_F = 8  # bytes per float64
#: Resident size of a worker or client process with the numerical stack imported (measured ~0.25 GB).
PROCESS_BYTES = 300 * 2**20
#: A stress task evaluates portfolios in blocks whose (S, block) P&L matrix holds at most this much.
STRESS_BLOCK_BYTES = 8 * 2**20
#: Copies of the (S, N) matrix a compiled problem holds, by formulation (besides the shared ``R``).
FORMULATION_COPIES = {"cuts": 2.0, "lp": 8.0, "moments": 0.0, "paths": 8.0}
#: Problems a worker keeps compiled (pipeline.stages keeps at most this many, and fewer when large).
MAX_CACHED_PROBLEMS = 16
#: Byte budget of the worker's cache of compiled problems (at least one problem is always kept).
PROBLEM_CACHE_BYTES = 2 * 2**30


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak resident memory, in bytes.

    Attributes
    ----------
    worker : peak of one worker process.
    client : peak of the client process.
    parts : the worker's peak by component (bytes), for the header and the manifest.
    """

    worker: int
    client: int
    parts: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def format_bytes(n: float) -> str:
    """``1.2 GB``-style size (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


# ---- the pieces ---------------------------------------------------------------------------------

def _shape(plan: RunPlan) -> tuple[int, int, int, int, int]:
    """(S, N, D drivers, n_var view variables, path steps)."""
    book = plan.book
    sc = plan.scenarios
    S = int(sc.p.size) if isinstance(sc, HistoryPlan) else int(sc.count)
    steps = 0 if isinstance(sc, HistoryPlan) else int(sc.steps or 0)
    N, D = len(book.names), len(book.drivers)
    n_var = D + sum(1 for n in book.names if n not in book.drivers) + (book.holdings is not None)
    return S, N, D, n_var, steps


def _formulation(rm: RiskMeasure, plan: RunPlan, S: int) -> str:
    if rm in DRAWDOWN_MEASURES:
        return "paths"
    if rm is RiskMeasure.MV:
        return "moments"
    if rm is RiskMeasure.CVaR:
        method = plan.settings.cvar_method
        if method == "cuts" or (method == "auto" and S >= AUTO_CUTS_MIN_SCENARIOS):
            return "cuts"
    return "lp"


def _problems_bytes(plan: RunPlan, S: int, N: int, steps: int) -> int:
    """The worker's cache of compiled problems at its fullest (none for a book-only run), or the
    book's limits and rebalance (an LP or SOCP over the scenarios) when that is larger."""
    limits = _limits_bytes(plan, S, N, steps)
    if plan.book_only:
        return limits
    sizes = []
    for cset in plan.constraint_sets:
        for rm in cset.measures:
            form = _formulation(rm, plan, S)
            rows = S * max(steps, 1) if form == "paths" else S
            sizes.append(int((1.0 + FORMULATION_COPIES[form]) * rows * N * _F))
    sizes *= len(plan.view_names)
    sizes.sort(reverse=True)
    kept, total = 0, 0
    for b in sizes[:MAX_CACHED_PROBLEMS]:
        if kept and total + b > PROBLEM_CACHE_BYTES:
            break
        kept, total = kept + 1, total + b
    return max(total, limits)


def _limits_bytes(plan: RunPlan, S: int, N: int, steps: int) -> int:
    """The book's limits and rebalance: one formulation copy per risk cap (view caps included)."""
    lim = plan.limits
    if lim is None:
        return 0
    caps = [rm for rm, f in CAP_FIELDS.items() if getattr(lim.constraints, f, None) is not None]
    caps += [RiskMeasure(rm) for _, rm, _ in lim.view_caps]
    total = 0
    for rm in caps:
        form = _formulation(rm, plan, S)
        rows = S * max(steps, 1) if form == "paths" else S
        total += int((1.0 + FORMULATION_COPIES["lp" if form == "cuts" else form]) * rows * N * _F)
    return total


def _views_bytes(plan: RunPlan, S: int) -> int:
    """Entropy Pooling's working set for the largest view set: its (S, m) view functions (a view on
    a correlation or a tail uses a few columns) and about a dozen (S,) work vectors."""
    if not plan.view_sets:
        return 0
    m = max(_view_rows(vs) for vs in plan.view_sets)
    return int((3 * m + 12) * S * _F)


def _view_rows(vs: ViewSetPlan) -> int:
    """Entropy Pooling rows of a view set: one per view, or for a Black-Litterman set one per
    universe variable (its posterior means), plus ``N(N+1)/2`` with ``match_cov`` (the posterior
    covariance), see :mod:`pipeline.black_litterman_views`."""
    bl = vs.black_litterman
    if bl is None:
        return len(vs.views)
    n = len(bl.universe)
    return n + (n * (n + 1) // 2 if bl.match_cov else 0)


def _factor_bytes(fm: FactorModelPlan, S: int, chunks: int) -> int:
    """A chunk's factor-model assets: one block of residual-row draws (``RESIDUAL_BLOCK`` x k, x N
    for per-asset draws, int64) and the chunk's asset values, residual sums and gathered rows."""
    n = len(fm.assets)
    draws = RESIDUAL_BLOCK * fm.periods * (n if fm.residuals == "assets" else 1) * 8
    return int(draws + 3 * RESIDUAL_BLOCK * n * _F + 2 * (S // max(1, chunks)) * n * _F)


# ---- estimate and check -------------------------------------------------------------------------

def estimate_memory(plan: RunPlan) -> MemoryEstimate:
    """Peak memory of one worker and of the client for ``plan`` (see the module docstring)."""
    S, N, D, n_var, steps = _shape(plan)
    V = len(plan.view_names)
    scenario_set = (N + n_var + 1 + steps * N) * S * _F
    transient = {
        "assembly": (D + N + steps * N) * S * _F,
        "entropy pooling": _views_bytes(plan, S),
        "compiled problems": _problems_bytes(plan, S, N, steps),
        "stress": 3 * STRESS_BLOCK_BYTES if S * _F <= STRESS_BLOCK_BYTES else 3 * S * _F,
    }
    if (fm := getattr(plan.scenarios, "factor_model", None)) is not None:
        transient["factor model"] = _factor_bytes(fm, S, len(getattr(plan.scenarios, "block_groups", ())) or 1)
    phase = max(transient, key=transient.__getitem__)
    parts = {"process": PROCESS_BYTES, "scenario set": scenario_set, "posteriors": V * S * _F,
             phase: transient[phase]}
    chunk = S // max(1, len(getattr(plan.scenarios, "block_groups", ())) or 1)
    client = PROCESS_BYTES + V * S * _F + 3 * S * 3 * _F + (chunk * (N + 1) * _F * 3 if plan.write_scenarios else 0)
    return MemoryEstimate(int(sum(parts.values())), int(client), {k: int(v) for k, v in parts.items()})


def check(est: MemoryEstimate, worker_limit: float | None, client_available: float | None,
          n_workers: int) -> str | None:
    """Why the run does not fit (a message naming what to change), or None if it does.

    Parameters
    ----------
    est : the estimate.
    worker_limit : the smallest worker's memory limit in bytes (None or 0: unknown, not checked).
    client_available : memory available to the client in bytes (None: not checked).
    n_workers : workers in the cluster (for the advice).
    """
    problems = []
    if worker_limit and est.worker > worker_limit:
        big = max(est.parts, key=est.parts.__getitem__)
        problems.append(f"a worker needs about {format_bytes(est.worker)} (largest part: {big}, "
                        f"{format_bytes(est.parts[big])}) but has {format_bytes(worker_limit)}")
    if client_available and est.client > client_available:
        problems.append(f"the client needs about {format_bytes(est.client)} but {format_bytes(client_available)} "
                        "is available")
    if not problems:
        return None
    ratio = max(est.worker / worker_limit if worker_limit else 0.0,
                est.client / client_available if client_available else 0.0)
    fewer = max(1, int(math.floor(_scenarios_that_fit(ratio))))
    return ("; ".join(problems) + ". To fit: lower scenarios.count (about "
            f"{fewer}% of it fits), use workers with more memory (fewer worker processes per machine give "
            f"each more; now {n_workers}), or a leaner method (cvar_method: cuts, fewer view sets or measures). "
            "Run with --force to start anyway.")


def _scenarios_that_fit(ratio: float) -> float:
    """Percentage of the scenarios that fit when the estimate is ``ratio`` times the limit (the
    process's fixed size aside, memory grows linearly in S)."""
    return 100.0 / ratio if ratio > 0 else 100.0
