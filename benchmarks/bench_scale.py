"""Benchmark: CVaR frontiers and whole runs at scale, under the prior and a crash posterior (issue 11).

Usage::

    python benchmarks/bench_scale.py [--quick] [--sizes S ...] [--points 20] [--run]
                                     [--lp-points 4] [--prev-points 4] [--posteriors prior crash]

Data: the case-study book (``configs/derivatives_case.yaml``, 16 instruments, 90 % CVaR of
demeaned P&L, its bounds) at S in {1e4, 1e5, 1e6} scenarios (``--quick``: S <= 1e5), under the
prior and under a Sequential-EP crash view set (DM mean -12 %, vol 28 %, corr(EM, DM) 0.85,
CVaR10% >= 32 %; effective scenarios ~0.11 of S).

Points (in this process, one thread per BLAS call as on a worker): the frontier limits and every
frontier point of ``--points``, per (S, posterior):

* ``cold``: the level-bundle aggregated cuts as the pipeline runs them, every point solved from
  scratch in its own task (seconds median / max, bundle rounds median / max, statuses);
* ``sweep``: the same points swept in order by one task that keeps its cuts
  (:meth:`CvarCutSolver.begin_sweep`): total seconds against the cold total, median rounds;
* ``prev``: the previous scenario-pool cutting planes (git commit 87f895f, cold, 500 rounds at
  most) on ``--prev-points`` points, at S <= 1e5 (15-30 s a point on the crash posterior);
* ``lp``: the exact Rockafellar-Uryasev LP by HiGHS (through cvxpy) on ``--lp-points`` points at
  S <= 1e5 (about 4 minutes a point at 1e5), and the largest relative CVaR difference of ours to it.

``--run`` also runs the whole pipeline at each S in a fresh process on its own 2-worker
LocalCluster (start-up, scenarios, views, CVaR and MV frontiers of ``--points`` points under prior
and crash, stress, outputs): wall seconds by phase, statuses, the scenario data the workers
fetched from each other (bytes, seconds, share of the wall time; from Dask's transfer logs), and
the peak resident memory of each worker and of the client against the run's own estimate
(``pipeline.memory``; the ratio must stay within 2x).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread, as on a Dask worker
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import stages  # noqa: E402
from pipeline.config import parse_config, safe_load  # noqa: E402
from pipeline.resolve import build_plan  # noqa: E402
from tasks.optimization import PortfolioProblem, frontier_targets  # noqa: E402

CRASH = {"name": "crash", "method": "H1", "views": [
    {"stat": "mean", "on": "DM_Equity", "op": "=", "value": -0.12},
    {"stat": "vol", "on": "DM_Equity", "op": "=", "value": 0.28},
    {"stat": "corr", "on": ["EM_Equity", "DM_Equity"], "op": "=", "value": 0.85},
    {"stat": "CVaR", "on": "DM_Equity", "op": ">=", "value": 0.32, "alpha": 0.10}]}


def case_config(S: int, points: int, out: str | None = None) -> dict:
    d = safe_load((ROOT / "configs" / "derivatives_case.yaml").read_text())
    d["scenarios"].update(count=S, block_size=min(S, 50_000), chunks=4)
    d["views"] = [CRASH]
    d["optimization"].update(points=points, targets=[], portfolios=[], constraint_sets={})
    if out:
        d["output"] = {"dir": out}
    return d


def scenarios_and_posteriors(S: int):
    """(plan, scenario set, {"prior": p, "crash": q}) computed in-process with the stage functions."""
    plan = build_plan(parse_config(case_config(S, 20), base_dir=ROOT / "configs"))
    sim = plan.scenarios
    groups = [list(g) for g in sim.block_groups]
    tr = stages.moment_transform(sim, *[stages.chunk_statistics(sim, g) for g in groups])
    scen = stages.assemble_scenarios(plan.book, *[stages.chunk_scenarios(sim, plan.book, g, tr) for g in groups])
    crash = stages.solve_views(scen, plan.view_sets[0])
    print(f"# S={S}: crash view set {crash.status}, effective scenarios {crash.effective_scenarios:.3f}",
          file=sys.stderr, flush=True)
    return plan, scen, {"prior": scen.p, "crash": crash.q}


def previous_solver():
    """The scenario-pool cutting planes of commit 87f895f, loaded from git (None if unavailable)."""
    try:
        src = subprocess.run(["git", "-C", str(ROOT), "show", "87f895f:tasks/cvar_cuts.py"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    src = src.replace("from tasks.constraints import", "from tasks.optimization._constraints import")
    src = src.replace("from tasks.risk_models import", "from tasks.optimization._risk_models import")
    mod = types.ModuleType("prev_cvar_cuts")
    sys.modules[mod.__name__] = mod  # its dataclasses look their module up
    exec(compile(src, "87f895f:tasks/cvar_cuts.py", "exec"), mod.__dict__)  # noqa: S102 - our own history
    return mod.CvarCutSolver


def _problem(plan, scen, q, method: str) -> PortfolioProblem:
    st, cs = plan.settings, plan.constraint_sets[0]
    return PortfolioProblem(scen.R, q, v=scen.v, rm="CVaR", alpha=st.alpha, demean=st.demean,
                            bounds=(st.lower, st.upper), constraints=cs.constraints, names=scen.instruments,
                            cvar_method=method, solver="HIGHS")


def _stats(xs: list[float]) -> str:
    return f"{np.median(xs):7.3f} {max(xs):7.3f}" if xs else f"{'-':>7} {'-':>7}"


def _cold(prob: PortfolioProblem, targets: np.ndarray) -> list:
    """The limits' min-risk point and every frontier point, each from scratch (as the pipeline)."""
    return [prob.min_risk()] + [prob.min_risk(float(t)) for t in targets[1:]]


def _sweep(prob: PortfolioProblem, targets: np.ndarray) -> tuple[float, list]:
    """The same points in order with the cuts kept from one to the next."""
    prob.cuts.begin_sweep()
    t0 = time.perf_counter()
    res = [prob.min_risk()] + [prob.min_risk(float(t)) for t in targets[1:]]
    total = time.perf_counter() - t0
    prob.cuts.reset()
    return total, res


def _previous(prev_cls, ours: PortfolioProblem, alpha: float, targets: np.ndarray, sample: list[int]) -> str:
    secs, statuses = [], []
    for k in sample:
        solver = prev_cls(ours.data, ours.cc, ours.v, alpha=alpha)
        t0 = time.perf_counter()
        out = solver.solve("MinRisk", floor=None if k == 0 else float(targets[k]))
        secs.append(time.perf_counter() - t0)
        statuses.append(out.status)
    return f"  prev {_stats(secs)} {dict((s, statuses.count(s)) for s in set(statuses))}"


def _exact(plan, scen, q, res: list, targets: np.ndarray, sample: list[int]) -> str:
    exact = _problem(plan, scen, q, "lp")
    secs, rel = [], []
    for k in sample:
        t0 = time.perf_counter()
        ref = exact.min_risk(None if k == 0 else float(targets[k]))
        secs.append(time.perf_counter() - t0)
        rel.append(abs(res[k].risk - ref.risk) / abs(ref.risk))
    return f"  lp {_stats(secs)} max rel diff {max(rel):.1e}"


def bench_points(S: int, args: argparse.Namespace, prev_cls) -> None:
    plan, scen, qs = scenarios_and_posteriors(S)
    for name, q in qs.items():
        if name not in args.posteriors:
            continue
        ours = _problem(plan, scen, q, "cuts")
        hi = ours.max_return()
        t0 = time.perf_counter()
        lo = ours.min_risk()
        targets = frontier_targets(lo.expected_return, hi.expected_return, args.points)
        res = _cold(ours, targets)
        cold_total = time.perf_counter() - t0
        secs, rounds = [r.seconds for r in res], [r.iterations for r in res]
        statuses = {r.status: sum(x.status == r.status for x in res) for r in res}
        sweep_total, swept = _sweep(ours, targets)
        worst = max(abs(a.risk - b.risk) / abs(a.risk) for a, b in zip(res, swept))
        line = (f"{S:>8d} {name:>6}  cold {_stats(secs)} rounds {int(np.median(rounds)):3d} {max(rounds):3d} "
                f"{statuses}  total {cold_total:6.2f}  sweep total {sweep_total:6.2f} rounds "
                f"{int(np.median([r.iterations for r in swept])):3d} (max rel diff to cold {worst:.0e})")
        sample = [0, args.points // 3, 2 * args.points // 3, args.points - 1]
        if prev_cls is not None and S <= 100_000 and args.prev_points:
            line += _previous(prev_cls, ours, plan.settings.alpha, targets, sample[: args.prev_points])
        if S <= 100_000 and args.lp_points:
            line += _exact(plan, scen, q, res, targets, sample[: args.lp_points])
        notes = {r.message for r in res if r.message}
        print(line + (f"  notes: {notes}" if notes else ""), flush=True)


# ---- whole runs ---------------------------------------------------------------------------------

def _transfers(client) -> tuple[int, float]:
    """(bytes, seconds) of the scenario set the workers fetched from each other."""
    logs = client.run(lambda dask_worker: list(dask_worker.transfer_incoming_log))
    nbytes, secs = 0, 0.0
    for entries in logs.values():
        for e in entries:
            keys = [k for k in e["keys"] if str(k).startswith("sf-scenarios-")]
            if keys:
                nbytes += sum(e["keys"][k] for k in keys)
                secs += e["duration"]
    return nbytes, secs


def run_one(S: int, points: int) -> None:
    """One whole run on a fresh 2-worker LocalCluster; prints a JSON line (used by --run)."""
    import json

    from distributed import Client, LocalCluster

    import pipeline

    stamps: dict[str, float] = {}
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        for tag in ("view sets", "portfolios"):
            if msg.startswith(tag) and msg.split()[-1].split("/")[0] == msg.split()[-1].split("/")[-1]:
                stamps[tag] = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse_config(case_config(S, points, tmp + "/out"), base_dir=ROOT / "configs")
        with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                          processes=True) as cluster, Client(cluster) as client:
            stamps["start-up"] = time.perf_counter() - t0
            out = pipeline.run(cfg, scheduler=cluster.scheduler_address, log=log)
            wall = time.perf_counter() - t0
            moved, moving = _transfers(client)
        run = pipeline.read_run(out)
    m = run["manifest"]
    print(json.dumps({"S": S, "wall": wall, "stamps": stamps, "timings": m["timings_seconds"],
                      "statuses": run["frontier"]["status"].value_counts().to_dict(), "moved": moved,
                      "moving": moving, "memory": m["memory"]}), flush=True)


def bench_run(S: int, points: int) -> None:
    import json

    proc = subprocess.run([sys.executable, __file__, "--run-one", str(S), "--points", str(points)],
                          capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        print(f"{S:>8d} whole run failed: {proc.stderr[-2000:]}", flush=True)
        return
    r = json.loads(lines[-1])
    st, mem = r["stamps"], r["memory"]
    stress = r["timings"]["stress"]
    peaks = list(mem["peak_rss"]["workers"].values())
    est = mem["estimate"]
    print(f"{S:>8d} whole run {r['wall']:6.1f} s (start-up {st['start-up']:.1f}, views done {st.get('view sets', 0):.1f}, "
          f"portfolios done {st.get('portfolios', 0):.1f}, stress {stress:.1f}) {r['statuses']}; "
          f"scenario data moved {r['moved'] / 2**20:.1f} MB in {r['moving']:.2f} s "
          f"({100 * r['moving'] / r['wall']:.1f} % of wall); peak RSS worker {max(peaks) / 2**20:.0f} MB "
          f"(estimate {est['worker'] / 2**20:.0f}, ratio {est['worker'] / max(peaks):.2f}), client "
          f"{mem['peak_rss']['client'] / 2**20:.0f} MB (estimate {est['client'] / 2**20:.0f}, ratio "
          f"{est['client'] / mem['peak_rss']['client']:.2f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="S <= 1e5")
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--run", action="store_true", help="also time whole pipeline runs")
    ap.add_argument("--only-run", action="store_true", help="whole runs only (implies --run)")
    ap.add_argument("--run-one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--sizes", type=int, nargs="*", help="scenario counts (default: by --quick)")
    ap.add_argument("--posteriors", nargs="*", default=["prior", "crash"])
    ap.add_argument("--lp-points", type=int, default=4, help="exact-LP reference points (~4 min each at 1e5)")
    ap.add_argument("--prev-points", type=int, default=4, help="points of the previous method (S <= 1e5)")
    args = ap.parse_args()
    if args.run_one:
        run_one(args.run_one, args.points)
        return
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
    prev_cls = None if args.only_run else previous_solver()
    if not args.only_run:
        print(f"# CVaR frontier points (seconds: median max); {os.cpu_count()} CPUs")
        for S in sizes:
            bench_points(S, args, prev_cls)
    if args.run or args.only_run:
        print("# whole runs, 2 local workers (prior + crash, CVaR + MV frontiers)")
        for S in sizes:
            bench_run(S, args.points)


if __name__ == "__main__":
    main()
