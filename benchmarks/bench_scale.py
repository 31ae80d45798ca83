"""Benchmark: CVaR frontier points at scale, under the prior and a crash posterior (issue 11).

Usage::

    python benchmarks/bench_scale.py [--quick] [--points 20] [--run]

Data: the case-study book (``configs/derivatives_case.yaml``, 16 instruments, 90 % CVaR of
demeaned P&L, its bounds) at S in {1e4, 1e5, 1e6} scenarios (``--quick``: S <= 1e5), under the
prior and under a Sequential-EP crash view set (DM mean -12 %, vol 28 %, corr(EM, DM) 0.85,
CVaR10% >= 32 %; effective scenarios ~0.11 of S).

Per (S, posterior), for the limits and every frontier point, each solved cold (as the pipeline
does): seconds (median, max), rounds (median, max) and statuses of

* ``ours``: the level-bundle aggregated cuts (``cvar_method="cuts"``);
* ``prev``: the previous scenario-pool cutting planes (from git commit 87f895f, cold start, 500
  rounds at most), where it finishes, at S <= 1e5 and on at most 4 points (it takes 15-30 s a
  point on the crash posterior);
* ``lp``: the exact Rockafellar-Uryasev LP solved by HiGHS (through cvxpy), at S <= 1e5, on
  ``--lp-points`` points (4; about 4 minutes each at 1e5), with the largest relative CVaR
  difference of ours to it.

``--run`` also times the whole pipeline (2 local workers: start-up, scenarios, views, CVaR and MV
frontiers of ``--points`` points under prior + crash, outputs) at each S.
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

import numpy as np

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
    return f"{np.median(xs):8.3f} {max(xs):8.3f}" if xs else f"{'-':>8} {'-':>8}"


def bench_points(S: int, points: int, prev_cls, posteriors: list[str], lp_points: int) -> None:
    plan, scen, qs = scenarios_and_posteriors(S)
    for name, q in qs.items():
        if name not in posteriors:
            continue
        ours = _problem(plan, scen, q, "cuts")
        lo, hi = ours.min_risk(), ours.max_return()
        targets = frontier_targets(lo.expected_return, hi.expected_return, points)
        res = [lo] + [ours.min_risk(float(t)) for t in targets[1:]]
        secs, rounds = [r.seconds for r in res], [r.iterations for r in res]
        statuses = {r.status: sum(x.status == r.status for x in res) for r in res}
        notes = {r.message for r in res if r.message}
        line = (f"{S:>8d} {name:>6}  ours {_stats(secs)}  rounds {int(np.median(rounds)):4d} {max(rounds):4d}  "
                f"{statuses}")
        sample = [0, points // 3, 2 * points // 3, points - 1]
        if S <= 100_000:
            exact = _problem(plan, scen, q, "lp")
            lp_s, rel = [], []
            for k in sample[:lp_points]:
                t0 = time.perf_counter()
                ref = exact.min_risk(None if k == 0 else float(targets[k]))
                lp_s.append(time.perf_counter() - t0)
                rel.append(abs(res[k].risk - ref.risk) / abs(ref.risk))
            line += f"  lp {_stats(lp_s)}  max rel diff {max(rel):.1e}"
        if prev_cls is not None and S <= 100_000:
            prev_s, prev_st = [], []
            for k in sample:
                solver = prev_cls(ours.data, ours.cc, ours.v, alpha=plan.settings.alpha)
                t0 = time.perf_counter()
                out = solver.solve("MinRisk", floor=None if k == 0 else float(targets[k]))
                prev_s.append(time.perf_counter() - t0)
                prev_st.append(out.status)
            line += f"  prev {_stats(prev_s)} {dict((s, prev_st.count(s)) for s in set(prev_st))}"
        print(line + (f"  notes: {notes}" if notes else ""), flush=True)


def bench_run(S: int, points: int) -> None:
    import pipeline

    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse_config(case_config(S, points, tmp + "/out"), base_dir=ROOT / "configs")
        t0 = time.perf_counter()
        out = pipeline.run(cfg, workers=2, log=lambda m: None)
        wall = time.perf_counter() - t0
        fr = pipeline.read_run(out)["frontier"]
        print(f"{S:>8d} whole run (prior + crash, CVaR + MV, {points} points, 2 workers): {wall:6.1f} s wall, "
              f"{fr['status'].value_counts().to_dict()}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="S <= 1e5")
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--run", action="store_true", help="also time whole pipeline runs")
    ap.add_argument("--sizes", type=int, nargs="*", help="scenario counts (default: by --quick)")
    ap.add_argument("--posteriors", nargs="*", default=["prior", "crash"])
    ap.add_argument("--lp-points", type=int, default=4, help="exact-LP reference points (~4 min each at 1e5)")
    args = ap.parse_args()
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
    prev_cls = previous_solver()
    print(f"# CVaR frontier points, cold solves (seconds: median max); {os.cpu_count()} CPUs")
    for S in sizes:
        bench_points(S, args.points, prev_cls, args.posteriors, args.lp_points)
    if args.run:
        for S in sizes:
            bench_run(S, args.points)


if __name__ == "__main__":
    main()
