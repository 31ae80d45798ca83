"""docker-compose.yml, tested for real without Docker: each service's command runs as a local
process on 127.0.0.1 (service host names mapped to 127.0.0.1, the ./runs volume to a temp folder)."""

import re
import shlex
import socket
import sys
from pathlib import Path

import pytest
import yaml

import pipeline
from tests.pipeline.procs import kill_group, start, wait_for

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
BIN = Path(sys.executable).parent


def test_compose_structure():
    services = COMPOSE["services"]
    assert set(services) >= {"scheduler", "worker", "runner"}
    images = {s.get("image") for s in services.values()}
    assert len(images) == 1, "scheduler, workers and client must share one image"
    assert "build" in services["scheduler"]
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    sched = services["scheduler"]["command"]
    assert sched[:2] == ["dask", "scheduler"]  # not the removed dask-scheduler
    worker = services["worker"]["command"]
    assert worker[:2] == ["dask", "worker"] and "tcp://scheduler:8786" in worker
    assert worker[worker.index("--nthreads") + 1] == "1"
    run = services["runner"]["command"]
    assert run[:2] == ["stressfrontier", "run"] and run[run.index("--scheduler") + 1] == "tcp://scheduler:8786"
    assert any(v.endswith(":/runs") for v in services["runner"]["volumes"])
    assert (ROOT / run[2]).is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in dockerfile


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _localize(cmd: list[str], ports: dict[str, int], runs: Path) -> list[str]:
    """Map a service command onto this machine: hosts → 127.0.0.1, ports → free ones, /runs → runs."""
    text = shlex.join(cmd)
    text = text.replace("0.0.0.0", "127.0.0.1")
    text = re.sub(r"tcp://scheduler:8786", f"tcp://127.0.0.1:{ports['8786']}", text)
    text = re.sub(r"--port 8786", f"--port {ports['8786']}", text)
    text = re.sub(r"--dashboard-address :8787", f"--dashboard-address 127.0.0.1:{ports['8787']}", text)
    text = text.replace("/runs", str(runs))
    out = shlex.split(text)
    exe = {"dask": str(BIN / "dask"), "stressfrontier": str(BIN / "stressfrontier")}
    out[0] = exe.get(out[0], out[0])
    return out


@pytest.mark.cluster
def test_compose_topology_runs_for_real(tmp_path):
    ports = {"8786": _free_port(), "8787": _free_port()}
    runs = tmp_path / "runs"
    svc = COMPOSE["services"]
    procs = []
    try:
        procs.append(start(_localize(svc["scheduler"]["command"], ports, runs), tmp_path / "scheduler.log"))
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", ports["8786"])) == 0, 60, "scheduler port")
        for i in range(2):  # docker compose up --scale worker=2
            procs.append(start(_localize(svc["worker"]["command"], ports, runs), tmp_path / f"worker{i}.log"))
        runner = start(_localize(svc["runner"]["command"], ports, runs), tmp_path / "runner.log")
        rc = runner.wait(timeout=600)
        log = (tmp_path / "runner.log").read_text()
        assert rc == 0, log
        out = runs / "derivatives_case"
        run = pipeline.read_run(out)
        assert run["manifest"]["scheduler"] == f"tcp://127.0.0.1:{ports['8786']}"
        assert run["manifest"]["workers"] == 2
        fr = run["frontier"]
        assert (fr[fr["kind"] != "target"]["status"] == "optimal").all()
        # a target the extra constraint set cannot reach is recorded with the attainable range
        missed = fr[(fr["kind"] == "target") & (fr["status"] != "optimal")]
        assert missed["message"].str.contains("not attainable").all()
        assert f"outputs written to {out}" in log
    finally:
        for p in procs:
            kill_group(p)
