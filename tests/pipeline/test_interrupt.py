"""Ctrl-C: one line with what was saved and the exact resume command, exit 130, no traceback from the
client or the workers; ``show`` on the unfinished folder says how to resume; the printed command
finishes the run with the saved work reused."""

import copy
import os
import re
import shlex
import signal
import subprocess
import sys

import pytest
import yaml

import pipeline
from pipeline.cli import main
from pipeline.runner import saved_parts
from tests.pipeline.procs import start, wait_for

pytestmark = pytest.mark.cluster

LINE = re.compile(r"^interrupted: (\d+) view sets? and (\d+) portfolios? saved in (\S+); resume with: (.+)$")
#: what a clean Ctrl-C must not print (the client's and the workers' tracebacks and log noise)
NOISE = ("Traceback", "KeyboardInterrupt", "Error", "WARNING", "distributed.", "asyncio")


def test_ctrl_c_prints_one_line_and_the_printed_command_resumes(case_dict, tmp_path, capsys):
    d = copy.deepcopy(case_dict)
    d["name"] = "interrupt"
    d["scenarios"].update(count=3000, chunks=3, block_size=500)
    d["optimization"].update(points=12)
    config = tmp_path / "interrupt.yaml"
    config.write_text(yaml.safe_dump(d))
    out = tmp_path / "run"
    log = tmp_path / "first.log"
    # a terminal's Ctrl-C signals the whole foreground process group: the client and its workers
    proc = start([sys.executable, "-m", "pipeline", "run", str(config), "--out", str(out), "--workers", "2"], log,
                 default_sigint=True)
    try:
        wait_for(lambda: (saved_parts(out) or {}).get("portfolios", 0) >= 8, 180, "8 saved portfolios")
        os.killpg(proc.pid, signal.SIGINT)
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    text = log.read_text()
    assert rc == 130, text
    for word in NOISE:
        assert word not in text, text
    last = text.strip().splitlines()[-1]
    m = LINE.match(last)
    assert m, last
    saved = saved_parts(out)
    assert (int(m[1]), int(m[2])) == (saved["views"], saved["portfolios"]) and saved["portfolios"] >= 8
    assert m[3] == str(out / ".parts")
    command = shlex.split(m[4])
    assert command[-1] == "--resume" and str(config) in command and str(out) in command
    assert not (out / "manifest.json").exists()

    # show (and report) on the unfinished folder: what is saved and the same command
    assert main(["show", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unfinished run" in err and f"{saved['portfolios']} portfolios" in err
    assert f"finish it with: {shlex.join(command)}" in err
    assert main(["report", str(out)]) == 2
    assert shlex.join(command) in capsys.readouterr().err

    # the printed command, as printed, finishes the run and reuses what was saved
    res = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    counts = pipeline.read_run(out)["manifest"]["status_counts"]
    assert counts["reused_from_parts"] == {"views": saved["views"], "portfolios": saved["portfolios"]}
    assert not (out / ".parts").exists()
    done = re.search(r"scenario chunks: 3/3 \(100%\), done in (\d+\.\d) s", res.stdout + res.stderr)
    assert done and float(done[1]) > 0.0  # the stage is timed from its submission (not 0.0 s)
