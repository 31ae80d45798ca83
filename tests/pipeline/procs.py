"""Helpers for tests that start real Dask processes (scheduler, workers, CLI runs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def dask_cmd() -> list[str]:
    exe = BIN / "dask"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "distributed.cli.dask_spec"]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(cmd: list[str], log: Path, default_sigint: bool = False) -> subprocess.Popen:
    """Start a process in its own session (so killpg reaches its children) with output to log.

    With ``default_sigint`` the process starts with SIGINT at its default, as from a terminal, even
    when this test process inherited it ignored (a test suite started in the background by a
    shell without job control: Python then installs no KeyboardInterrupt handler in the child).
    """
    fh = open(log, "wb")
    return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=_default_sigint if default_sigint else None)


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def wait_for(pred, timeout: float = 60.0, what: str = "condition") -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def scheduler_address(scheduler_file: Path, timeout: float = 60.0) -> str:
    wait_for(lambda: scheduler_file.exists() and scheduler_file.stat().st_size > 0, timeout, "scheduler file")
    return json.loads(scheduler_file.read_text())["address"]


def n_workers(address: str, security=None) -> int:
    from distributed import Client

    with Client(address, timeout="20s", security=security) if security else Client(address, timeout="20s") as c:
        return len(c.scheduler_info()["workers"])
