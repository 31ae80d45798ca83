"""Lost workers, lost nannies, killed clients, killed writers: the run survives, numbers don't move."""

import copy
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml

import pipeline
from pipeline.store import RunStore
from tests.pipeline.procs import dask_cmd, kill_group, scheduler_address, start, wait_for

pytestmark = pytest.mark.cluster
TABLES = ("instruments", "views", "view_checks", "probabilities", "frontier", "stress")


def assert_same_numbers(a: dict, b: dict) -> None:
    """Identical tables, timing columns aside (rows are in a canonical order by construction)."""
    for t in TABLES:
        cols = [c for c in a[t].columns if c != "seconds"]
        pd.testing.assert_frame_equal(a[t][cols], b[t][cols], check_exact=True, obj=t)


@pytest.fixture(scope="module")
def cfg(case_dict, tmp_path_factory):
    d = copy.deepcopy(case_dict)
    d["name"] = "faults"
    d["scenarios"].update(count=3000, chunks=3, block_size=500)
    d["optimization"].update(points=12)
    return d


@pytest.fixture(scope="module")
def reference(cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    return pipeline.read_run(pipeline.run(cfg, out=out, workers=2, log=lambda m: None))


class KillOnce:
    """Progress reporter that runs ``action`` once after the n-th finished portfolio."""

    def __init__(self, action, after: int = 3) -> None:
        self.action, self.after, self.count, self.fired = action, after, 0, False

    def stage(self, name, total):
        pass

    def message(self, text):
        pass

    def advance(self, name, n=1, failed=False):
        if name == "portfolios":
            self.count += n
            if self.count >= self.after and not self.fired:
                self.fired = True
                self.action()


def test_worker_process_killed_mid_run(cfg, reference, tmp_path):
    from distributed import get_client

    killed = {}

    def kill_a_worker():
        pids = get_client().run(os.getpid)
        addr, pid = sorted(pids.items())[0]
        killed["pid"] = pid
        os.kill(pid, signal.SIGKILL)  # the nanny restarts it; its tasks are rescheduled

    prog = KillOnce(kill_a_worker)
    out = pipeline.run(cfg, out=tmp_path / "run", workers=2, progress=prog, log=lambda m: None)
    assert prog.fired and killed["pid"]
    assert_same_numbers(reference, pipeline.read_run(out))


def test_worker_and_nanny_killed_on_real_scheduler(cfg, reference, tmp_path):
    sched_file = tmp_path / "scheduler.json"
    sched = start(dask_cmd() + ["scheduler", "--host", "127.0.0.1", "--port", "0",
                                "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(sched_file)],
                  tmp_path / "scheduler.log")
    workers = []
    try:
        address = scheduler_address(sched_file)
        for i in range(2):
            workers.append(start(dask_cmd() + ["worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                                               "--dashboard-address", "127.0.0.1:0"], tmp_path / f"worker{i}.log"))
        from tests.pipeline.procs import n_workers
        wait_for(lambda: n_workers(address) == 2, 60, "2 workers")
        prog = KillOnce(lambda: kill_group(workers[0]))  # nanny and worker process both gone
        out = pipeline.run(cfg, out=tmp_path / "run", scheduler=address, progress=prog, log=lambda m: None)
        assert prog.fired and workers[0].poll() is not None
        assert_same_numbers(reference, pipeline.read_run(out))
    finally:
        for w in workers:
            kill_group(w)
        kill_group(sched)


def test_client_killed_then_resume(cfg, reference, tmp_path):
    config = tmp_path / "faults.yaml"
    config.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "pipeline", "run", str(config), "--out", str(out), "--workers", "2"]
    proc = start(cmd, tmp_path / "first.log")
    store = RunStore(out)
    parts = out / ".parts" / "frontier"

    def saved() -> int:
        return len(store.read_part_batches("frontier")) if parts.is_dir() else 0

    try:
        wait_for(lambda: saved() >= 12, 120, "12 finished portfolios")
    finally:
        kill_group(proc)  # the client and its embedded cluster die mid-run
    assert not (out / "manifest.json").exists()
    done = len(store.read_part_batches("frontier"))
    batches = {p.name: p.stat().st_mtime_ns for p in parts.glob("b*.parquet")}
    assert len(batches) < done  # parts are batched, not one file per portfolio
    views_done = len(list((out / ".parts" / "views").glob("*.parquet")))
    total = len(reference["frontier"])
    assert 12 <= done < total

    first_batch = RunStore(out).next_batch_id("frontier")
    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    run = pipeline.read_run(out)
    counts = run["manifest"]["status_counts"]
    # finished pieces were read back, not recomputed: the resumed run computed only the rest
    assert counts["reused_from_parts"]["portfolios"] == done
    assert counts["computed"]["portfolios"] == total - done
    assert counts["reused_from_parts"]["views"] == views_done
    assert first_batch == len(batches) and not (out / ".parts").exists()  # finished: parts removed
    assert_same_numbers(reference, run)


def test_resume_refuses_parts_of_another_config(cfg, tmp_path):
    out = tmp_path / "run"
    pipeline.run(cfg, out=out, workers=1, log=lambda m: None)
    sha = pipeline.read_run(out)["manifest"]["config_sha256"]
    RunStore(out).prepare(resume=False, config_sha256=sha)  # the parts an interrupted run would leave
    other = copy.deepcopy(cfg)
    other["seed"] = 99
    with pytest.raises(pipeline.ConfigError, match="different config"):
        pipeline.run(other, out=out, workers=1, resume=True, log=lambda m: None)


WRITER = """
import sys, numpy as np, pandas as pd
from pathlib import Path
from pipeline.store import atomic_write_parquet
path = Path(sys.argv[1])
i = 0
while True:
    df = pd.DataFrame({"k": np.full(400_000, i), "x": np.arange(400_000, dtype=float)})
    atomic_write_parquet(path, df)
    i += 1
"""


def test_sigkill_during_write_leaves_no_half_written_file(tmp_path):
    target = tmp_path / "table.parquet"
    rng = np.random.default_rng(0)
    for _trial in range(6):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)])
        time.sleep(0.8 + rng.uniform(0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        visible = [p for p in tmp_path.glob("*.parquet")]
        assert visible == [target] or visible == []
        if target.exists():
            df = pd.read_parquet(target)  # never half-written
            assert len(df) == 400_000 and df["k"].nunique() == 1
    # what a reader globbing *.parquet sees never includes temp files
    assert all(not p.name.startswith(".tmp") for p in tmp_path.glob("*.parquet"))
