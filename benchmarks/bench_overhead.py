"""Scheduler overhead of the pipeline, measured in one run.

1. Per-task overhead: N trivial tasks with deterministic keys on a LocalCluster (submit → result),
   against calling the same function N times in-process (the baseline).
2. On a real config (default: configs/derivatives_case.yaml): wall time of the run, the summed
   time workers spent inside task bodies (from the scheduler's task stream), and the fraction of
   worker-time spent outside tasks (scheduling, transfers, client I/O, idle).

    python benchmarks/bench_overhead.py [--config CONFIG] [--workers 2] [--tasks 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from distributed import Client, LocalCluster, get_task_stream, wait

import pipeline


def _noop(i: int) -> int:
    return i


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "configs" / "derivatives_case.yaml"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tasks", type=int, default=2000)
    args = ap.parse_args()

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        client.submit(_noop, -1, key="warm").result()
        t0 = time.perf_counter()
        futs = [client.submit(_noop, i, key=f"noop-{i}") for i in range(args.tasks)]
        wait(futs)
        dask_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(args.tasks):
            _noop(i)
        direct_s = time.perf_counter() - t0
        del futs
        print(f"per-task overhead: {dask_s / args.tasks * 1e3:.3f} ms/task over {args.tasks} trivial tasks "
              f"on {args.workers} workers (direct call {direct_s / args.tasks * 1e6:.3f} µs/task; "
              f"ratio {dask_s / max(direct_s, 1e-12):.0f}x)")

        with tempfile.TemporaryDirectory() as tmp, get_task_stream(client) as ts:
            t0 = time.perf_counter()
            pipeline.run(args.config, scheduler=cluster.scheduler_address, out=Path(tmp) / "run", log=lambda m: None)
            wall = time.perf_counter() - t0
        busy = 0.0
        n = 0
        for rec in ts.data:
            for part in rec.get("startstops", ()):
                if part["action"] == "compute":
                    busy += part["stop"] - part["start"]
            n += 1
        capacity = wall * args.workers
        print(f"{Path(args.config).name}: wall {wall:.2f} s, {n} tasks, {busy:.2f} s inside task bodies "
              f"over {args.workers} workers → {100 * (1 - busy / capacity):.1f} % of worker-time outside tasks; "
              f"mean {busy / max(n, 1) * 1e3:.1f} ms per task")


if __name__ == "__main__":
    main()
