"""The command line: run → show → report, and exit codes."""

import copy
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from pipeline.cli import main


@pytest.mark.cluster
def test_run_show_report_cycle(case_dict, tmp_path, capsys):
    d = copy.deepcopy(case_dict)
    d["scenarios"].update(count=600, block_size=300)
    d["optimization"].update(points=3)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(d))
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", str(cfg), "--out", str(out), "--workers", "1",
                           "--report"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    assert "dashboard http://127.0.0.1:" in text            # dashboard URL printed at start
    status = pd.read_parquet(out / "frontier.parquet")["status"]
    n, ok = len(status), int(status.isin(["optimal", "optimal_inaccurate"]).sum())
    assert ok >= n - 2  # an extra constraint set may not reach a target: recorded infeasible, the run goes on
    assert f"portfolios: {ok} of {n} optimal" in text         # end-of-run summary
    assert f"{(status == 'infeasible').sum()} infeasible" in text
    assert f"outputs written to {out}" in proc.stdout
    assert (out / "report.html").is_file()

    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "dm_equity_turbulence" in shown and "CVaR" in shown

    assert main(["report", str(out)]) == 0
    assert "report written to" in capsys.readouterr().out


def test_show_and_report_need_a_run_folder(tmp_path, capsys):
    assert main(["show", str(tmp_path)]) == 2
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "not a finished run folder" in capsys.readouterr().err


def test_quiet_prints_only_the_output_folder(case_dict, tmp_path):
    d = copy.deepcopy(case_dict)
    d["scenarios"].update(count=300, block_size=300)
    d["optimization"].update(points=2, risk_measures=["MV"])
    d["views"] = []
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(d))
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", str(cfg), "--out", str(tmp_path / "r"),
                           "--workers", "1", "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == [f"outputs written to {tmp_path / 'r'}"]
