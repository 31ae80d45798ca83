"""The memory guard: an estimate from the plan, printed, recorded, and a refusal before any work."""

import copy
import json
import subprocess
import sys

import pytest
import yaml

from pipeline.config import parse_config
from pipeline.memory import PROCESS_BYTES, MemoryEstimate, check, estimate_memory, format_bytes
from pipeline.resolve import build_plan


def _plan(case_dict, tmp_path, **scen):
    d = copy.deepcopy(case_dict)
    d["scenarios"].update(scen)
    return build_plan(parse_config(d, base_dir=str(tmp_path)))


def test_estimate_grows_with_the_scenarios(case_dict, tmp_path):
    small = estimate_memory(_plan(case_dict, tmp_path, count=100_000, block_size=10_000))
    big = estimate_memory(_plan(case_dict, tmp_path, count=1_000_000, block_size=10_000))
    for part in ("scenario set", "posteriors"):  # held whole: linear in S
        assert big.parts[part] == 10 * small.parts[part]
    assert big.worker - PROCESS_BYTES > 5 * (small.worker - PROCESS_BYTES)  # transient phases are bounded
    assert big.client > small.client > PROCESS_BYTES
    # the scenario set alone: R (S, N) and the view variables, 8 bytes each
    assert big.parts["scenario set"] >= 1_000_000 * 2 * len(case_dict["instruments"]) * 8 * 0.9
    assert sum(big.parts.values()) == big.worker


def test_check_names_what_to_change():
    fits = MemoryEstimate(2 * 2**30, 2**30, {"process": PROCESS_BYTES, "scenario set": 2 * 2**30 - PROCESS_BYTES})
    assert check(fits, worker_limit=4 * 2**30, client_available=8 * 2**30, n_workers=2) is None
    assert check(fits, worker_limit=None, client_available=None, n_workers=2) is None
    msg = check(fits, worker_limit=2**30, client_available=8 * 2**30, n_workers=2)
    assert "2.0 GB" in msg and "1.0 GB" in msg and "scenario set" in msg
    assert "scenarios.count" in msg and "50%" in msg and "--force" in msg
    assert format_bytes(1536) == "1.5 KB"


@pytest.mark.cluster
def test_a_run_that_does_not_fit_exits_2_before_any_work(case_dict, tmp_path):
    d = copy.deepcopy(case_dict)
    d["scenarios"].update(count=100_000_000, block_size=1_000_000)
    cfg = tmp_path / "huge.yaml"
    cfg.write_text(yaml.safe_dump(d))
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", str(cfg), "--out", str(out), "--workers", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "memory estimate:" in proc.stdout + proc.stderr
    err = proc.stderr
    assert "scenarios.count" in err and "does not fit in memory" in err and "--force" in err
    assert not out.exists()


@pytest.mark.cluster
def test_manifest_records_estimate_and_measured_peaks(case_dict, tmp_path):
    import pipeline

    d = copy.deepcopy(case_dict)
    d["scenarios"].update(count=600, block_size=300)
    d["optimization"].update(points=2)
    out = pipeline.run(d, out=tmp_path / "run", workers=1, log=lambda m: None)
    mem = json.loads((out / "manifest.json").read_text())["memory"]
    assert mem["estimate"]["worker"] > PROCESS_BYTES and mem["worker_limit"] > 0
    peaks = list(mem["peak_rss"]["workers"].values())
    assert len(peaks) == 1 and peaks[0] > 50 * 2**20 and mem["peak_rss"]["client"] > 50 * 2**20
    # at this size the process dominates: the estimate is within 2x of the measured peak
    assert 0.5 < mem["estimate"]["worker"] / peaks[0] < 2.0


def test_dask_sees_the_size_of_task_results(case_dict, tmp_path):
    """Dask's memory accounting and transfer decisions use sizeof: a scenario set must report its arrays."""
    from dask.sizeof import sizeof

    from pipeline import stages

    plan = _plan(case_dict, tmp_path, count=4000, block_size=1000)
    sim = plan.scenarios
    chunks = [stages.chunk_scenarios(sim, plan.book, list(g), None) for g in sim.block_groups]
    scen = stages.assemble_scenarios(plan.book, *chunks)
    arrays = scen.R.nbytes + scen.X.nbytes + scen.p.nbytes
    assert arrays <= sizeof(scen) <= 1.2 * arrays + 10_000
    assert sizeof(stages.prior_outcome(scen)) >= scen.p.nbytes
