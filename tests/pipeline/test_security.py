"""Safe by default: loopback binding, TLS to a secured cluster, safe YAML."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import pipeline
from pipeline.cluster import connect, tls_security
from pipeline.config import ConfigError, parse_config, safe_load
from tests.pipeline.procs import dask_cmd, kill_group, scheduler_address, start, wait_for


@pytest.mark.cluster
def test_embedded_cluster_binds_loopback():
    with connect(None, workers=1, log=lambda m: None) as client:
        info = client.scheduler_info()
        assert info["address"].startswith("tcp://127.0.0.1:")
        assert all(addr.startswith("tcp://127.0.0.1:") for addr in info["workers"])
        assert client.dashboard_link.startswith("http://127.0.0.1:")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_certs(d: Path, prefix: str) -> None:
    """A self-signed CA and a certificate for 127.0.0.1 signed by it."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={prefix}-ca",
             "-keyout", f"{prefix}-ca.key", "-out", f"{prefix}-ca.pem", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", f"{prefix}.key", "-out", f"{prefix}.csr", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", f"{prefix}.csr", "-CA", f"{prefix}-ca.pem", "-CAkey", f"{prefix}-ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", f"{prefix}.pem", cwd=d)


@pytest.mark.cluster
def test_tls_cluster_refuses_wrong_certificate_and_runs_with_right_one(case_dict, tmp_path):
    _make_certs(tmp_path, "good")
    _make_certs(tmp_path, "evil")
    tls = ["--tls-ca-file", str(tmp_path / "good-ca.pem"), "--tls-cert", str(tmp_path / "good.pem"),
           "--tls-key", str(tmp_path / "good.key")]
    sched_file = tmp_path / "scheduler.json"
    sched = start(dask_cmd() + ["scheduler", "--protocol", "tls", "--host", "127.0.0.1", "--port", "0",
                                "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(sched_file)] + tls,
                  tmp_path / "scheduler.log")
    worker = None
    try:
        address = scheduler_address(sched_file)
        assert address.startswith("tls://127.0.0.1:")
        worker = start(dask_cmd() + ["worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                                     "--dashboard-address", "127.0.0.1:0"] + tls, tmp_path / "worker.log")
        good = tls_security(str(tmp_path / "good-ca.pem"), str(tmp_path / "good.pem"), str(tmp_path / "good.key"))
        from tests.pipeline.procs import n_workers
        wait_for(lambda: n_workers(address, good) == 1, 60, "TLS worker")

        d = copy.deepcopy(case_dict)
        d["scenarios"].update(count=500, block_size=250)
        d["optimization"].update(points=3, risk_measures=["CVaR"])
        d["views"] = []
        cfg = tmp_path / "tls.yaml"
        cfg.write_text(yaml.safe_dump(d))
        base = [sys.executable, "-m", "pipeline", "run", str(cfg), "--scheduler", address]
        # no certificate at all: refused before any work
        r = subprocess.run(base + ["--out", str(tmp_path / "none")], capture_output=True, text=True, timeout=120)
        assert r.returncode != 0 and not (tmp_path / "none" / "manifest.json").exists()
        # a certificate from another CA: the TLS handshake fails
        evil = ["--tls-ca-file", str(tmp_path / "evil-ca.pem"), "--tls-cert", str(tmp_path / "evil.pem"),
                "--tls-key", str(tmp_path / "evil.key")]
        r = subprocess.run(base + ["--out", str(tmp_path / "evil")] + evil, capture_output=True, text=True,
                           timeout=180)
        assert r.returncode != 0 and not (tmp_path / "evil" / "manifest.json").exists()
        # the right certificate: the run completes
        r = subprocess.run(base + ["--out", str(tmp_path / "good")] + tls, capture_output=True, text=True,
                           timeout=180)
        assert r.returncode == 0, r.stderr
        run = pipeline.read_run(tmp_path / "good")
        assert run["manifest"]["scheduler"] == address and (run["frontier"]["status"] == "optimal").all()
    finally:
        if worker is not None:
            kill_group(worker)
        kill_group(sched)


def test_tls_options_must_come_together(tmp_path):
    with pytest.raises(ValueError, match="together"):
        tls_security(str(tmp_path / "ca.pem"), None, None)
    with pytest.raises(ValueError, match="not found"):
        tls_security("/nonexistent/ca.pem", "/nonexistent/c.pem", "/nonexistent/k.pem")


def test_yaml_is_safe():
    with pytest.raises(yaml.YAMLError):
        safe_load("!!python/object/apply:os.system ['echo pwned']")
    assert safe_load("on: x\nflag: yes") == {"on": "x", "flag": "yes"}  # YAML 1.2 booleans


def test_config_paths_are_resolved_against_the_config_folder(case_dict, tmp_path):
    d = copy.deepcopy(case_dict)
    d["scenarios"] = {"source": "data/none.csv"}
    with pytest.raises(ConfigError) as info:
        parse_config(d, base_dir=tmp_path)
    assert info.value.path == "scenarios.source" and str(tmp_path / "data" / "none.csv") in info.value.reason
