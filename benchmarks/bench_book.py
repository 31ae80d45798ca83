"""The daily book check: how long `stressfrontier book` takes, and the rebalancing trade's CVaR caps
by cutting planes against the Rockafellar-Uryasev LP, measured in the same process.

Usage::

    python benchmarks/bench_book.py                       # 20,000 and 100,000 scenarios
    python benchmarks/bench_book.py --sizes 20000 --lp     # also the full LP (slow: ~30 s at 20,000)
    python benchmarks/bench_book.py --run                  # also the whole `book` command, wall clock

Prints, per size: the seconds of the book's limits + rebalance task with CVaR caps by cuts (and by
the full LP with ``--lp``), their ratio and the two least costs (they must agree), then the wall
time of ``stressfrontier book configs/book_risk.yaml`` at each size with ``--run``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tasks.optimization._rebalance as rebalance_module  # noqa: E402
from pipeline import book_stages, stages  # noqa: E402
from pipeline.resolve import build_plan  # noqa: E402
from pipeline.runner import resolve_config  # noqa: E402

CONFIG = ROOT / "configs" / "book_risk.yaml"


def _scenarios(size: int):
    """The plan and scenario set of book_risk.yaml at ``size`` scenarios, and every view outcome."""
    plan = build_plan(resolve_config(CONFIG, {"scenarios.count": size, "scenarios.block_size": 5000}))
    sim = plan.scenarios
    groups = [list(g) for g in sim.block_groups]
    transform = stages.moment_transform(sim, *[stages.chunk_statistics(sim, g) for g in groups])
    scen = stages.assemble_scenarios(plan.book, *[stages.chunk_scenarios(sim, plan.book, g, transform)
                                                  for g in groups])
    views = [stages.prior_outcome(scen)] + [stages.solve_views(scen, vs) for vs in plan.view_sets]
    return plan, scen, views


def _limits(plan, scen, views, method: str) -> tuple[float, float, str]:
    """Seconds, least cost and status of the limits + rebalance task with CVaR caps by ``method``."""
    real = rebalance_module._cvar_oracles
    rebalance_module._cvar_oracles = lambda limits, _m: real(limits, method)
    try:
        t0 = time.perf_counter()
        out = book_stages.book_limits(plan.limits, plan.book, scen, *views)
        seconds = time.perf_counter() - t0
    finally:
        rebalance_module._cvar_oracles = real
    cost = float(np.nansum(out.rates * np.abs(out.target - out.current)))
    return seconds, cost, str(out.status)


def _book_command(size: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        text = CONFIG.read_text().replace("count: 20000", f"count: {size}").replace(
            "block_size: 2500", "block_size: 5000").replace("file: data/", f"file: {CONFIG.parent}/data/")
        cfg = Path(tmp) / "book_risk.yaml"
        cfg.write_text(text)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pipeline", "book", str(cfg), "--out", str(Path(tmp) / "out"),
                        "--quiet"], check=True, cwd=ROOT)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    ap.add_argument("--lp", action="store_true", help="also time the full Rockafellar-Uryasev LP")
    ap.add_argument("--run", action="store_true", help="also time the whole book command")
    args = ap.parse_args()
    print(f"{'S':>8} {'cuts s':>8} {'LP s':>8} {'LP/cuts':>8} {'cost cuts':>12} {'cost LP':>12} status")
    for size in args.sizes:
        plan, scen, views = _scenarios(size)
        t_cut, c_cut, status = _limits(plan, scen, views, "cuts")
        line = f"{size:>8} {t_cut:>8.2f}"
        if args.lp:
            t_lp, c_lp, _ = _limits(plan, scen, views, "lp")
            line += f" {t_lp:>8.2f} {t_lp / t_cut:>8.1f} {c_cut:>12.9f} {c_lp:>12.9f}"
        else:
            line += f" {'-':>8} {'-':>8} {c_cut:>12.9f} {'-':>12}"
        print(line + f" {status}", flush=True)
    if args.run:
        for size in args.sizes:
            print(f"stressfrontier book at S={size}: {_book_command(size):.1f} s wall (incl. cluster start)", flush=True)


if __name__ == "__main__":
    main()
