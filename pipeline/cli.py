"""Command line: ``stressfrontier run|validate CONFIG`` (also ``python -m pipeline``).

Exit codes: 0 success, 1 the run failed, 2 bad input (config or data) — nothing was started.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

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
    r.add_argument("--tls-ca-file", help="CA certificate of a TLS cluster (with --tls-cert/--tls-key)")
    r.add_argument("--tls-cert", help="client certificate for a TLS cluster")
    r.add_argument("--tls-key", help="client private key for a TLS cluster")
    r.add_argument("--quiet", action="store_true", help="print only errors and the output folder")
    v = sub.add_parser("validate", help="check a config without running it")
    v.add_argument("config")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
    except ConfigError as exc:
        print(f"config error: {args.config}: {exc}", file=sys.stderr)
        return 2
    if args.command == "validate":
        print(f"{args.config}: ok ({len(cfg.instruments)} instruments, {len(cfg.views)} view sets)")
        return 0
    from pipeline.cluster import tls_security

    try:
        security = tls_security(args.tls_ca_file, args.tls_cert, args.tls_key)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log = (lambda _m: None) if args.quiet else (lambda m: print(m, flush=True))
    try:
        out = run(cfg, scheduler=args.scheduler, out=args.out, workers=args.workers, log=log,
                  resume=args.resume, security=security)
    except ConfigError as exc:
        print(f"config error: {args.config}: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, TimeoutError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"outputs written to {out}")
    return 0
