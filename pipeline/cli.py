"""Command line: ``stressfrontier run|validate|show|report`` (also ``python -m pipeline``).

Exit codes: 0 success, 1 the run failed, 2 bad input (config, data or arguments) — nothing was
started and no output folder was created.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.config import ConfigError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="stressfrontier",
                                 description="Stress tests and efficient frontiers for portfolios with derivatives.")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a config end to end and write Parquet")
    r.add_argument("config", help="YAML config file")
    r.add_argument("--out", help="output folder (default: output.dir of the config, else runs/<name>)")
    r.add_argument("--scheduler", help="address of an existing Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, "
                                       "else an embedded LocalCluster on 127.0.0.1)")
    r.add_argument("--workers", type=int, help="worker processes of the embedded cluster")
    r.add_argument("--chunks", type=int, help="override scenarios.chunks")
    r.add_argument("--seed", type=int, help="override seed")
    r.add_argument("--resume", action="store_true",
                   help="reuse the view sets and portfolios an interrupted run of the same config saved")
    r.add_argument("--force", action="store_true",
                   help="start even if the memory estimate exceeds what the workers or the client have")
    r.add_argument("--report", action="store_true", help="also write report.html and PNGs into the run folder")
    r.add_argument("--tls-ca-file", help="CA certificate of a TLS cluster (with --tls-cert/--tls-key)")
    r.add_argument("--tls-cert", help="client certificate for a TLS cluster")
    r.add_argument("--tls-key", help="client private key for a TLS cluster")
    noise = r.add_mutually_exclusive_group()
    noise.add_argument("--quiet", action="store_true", help="print only errors and the output folder")
    noise.add_argument("--verbose", action="store_true", help="also print per-task details")
    v = sub.add_parser("validate", help="check a config without running it")
    v.add_argument("config")
    s = sub.add_parser("show", help="print a finished run's headline tables")
    s.add_argument("run_dir")
    s.add_argument("--width", type=int, help="terminal width (default: detected)")
    rep = sub.add_parser("report", help="write report.html and PNGs for a finished run")
    rep.add_argument("run_dir")
    return ap


def _run_dir(arg: str) -> Path | None:
    path = Path(arg)
    if not (path / "manifest.json").is_file():
        print(f"error: {path} is not a finished run folder (no manifest.json)", file=sys.stderr)
        return None
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "show":
        from pipeline.show import show_run

        path = _run_dir(args.run_dir)
        if path is None:
            return 2
        show_run(path, width=args.width)
        return 0
    if args.command == "report":
        from pipeline.report import write_report

        path = _run_dir(args.run_dir)
        if path is None:
            return 2
        print(f"report written to {write_report(path)}")
        return 0

    from pipeline.resolve import build_plan
    from pipeline.runner import resolve_config, run

    overrides: dict[str, Any] = {}
    if getattr(args, "chunks", None) is not None:
        overrides["scenarios.chunks"] = args.chunks
    if getattr(args, "seed", None) is not None:
        overrides["seed"] = args.seed
    if getattr(args, "workers", None) is not None and args.workers < 1:
        print("error: --workers must be >= 1", file=sys.stderr)
        return 2
    try:
        cfg = resolve_config(args.config, overrides)
        if args.command == "validate":
            build_plan(cfg)  # the checks that need the built objects (budget, Greeks, views, file values)
    except ConfigError as exc:
        print(f"config error: {args.config}: {exc}", file=sys.stderr)
        return 2
    if args.command == "validate":
        print(f"{args.config}: ok ({len(cfg.instruments)} instruments, {len(cfg.views)} view sets)")
        return 0

    from pipeline.cluster import tls_security
    from pipeline.progress import Progress

    try:
        security = tls_security(args.tls_ca_file, args.tls_cert, args.tls_key)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    progress = Progress(mode="quiet" if args.quiet else "auto", verbose=args.verbose)
    t0 = time.perf_counter()
    try:
        out = run(cfg, scheduler=args.scheduler, out=args.out, workers=args.workers,
                  log=progress.message, progress=progress, resume=args.resume, security=security,
                  force=args.force)
    except ConfigError as exc:
        progress.close()
        print(f"config error: {args.config}: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, TimeoutError) as exc:
        progress.close()
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    progress.summary(out, out_dir=out, wall_seconds=time.perf_counter() - t0)
    if args.report:
        from pipeline.report import write_report

        report = write_report(out)
        if not args.quiet:
            print(f"report written to {report}")
    print(f"outputs written to {out}")
    return 0
