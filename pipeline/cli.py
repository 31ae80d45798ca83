"""Command line: ``stressfrontier run|book|validate|show|report`` (also ``python -m pipeline``).

``book`` runs only the work on the user's own book (its stress under every view set and shock, the
reverse stress tests, its limits and the rebalancing trade; no frontiers), into ``runs/<name>-book``.

Exit codes: 0 success, 1 the run failed, 2 bad input (config, data, arguments or an output folder
that is not empty) — nothing was started, and no output folder was created or changed; 130
interrupted (Ctrl-C): one line says what was saved and the exact command that resumes the run.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.config import ConfigError

__all__ = ["main", "EXIT_INTERRUPTED"]

#: exit status after Ctrl-C (128 + SIGINT, as a shell reports it)
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="stressfrontier",
                                 description="Stress tests and efficient frontiers for portfolios with derivatives.")
    sub = ap.add_subparsers(dest="command", required=True)
    _run_arguments(sub.add_parser("run", help="run a config end to end and write Parquet"), "runs/<name>")
    _run_arguments(sub.add_parser("book", help="only your book: its stress under view sets and shocks, reverse "
                                               "stress tests, limits and the rebalancing trade (no frontiers)"),
                   "runs/<name>-book")
    v = sub.add_parser("validate", help="check a config without running it")
    v.add_argument("config", help="YAML config file")
    s = sub.add_parser("show", help="print a finished run's headline tables")
    s.add_argument("run_dir", help="a finished run folder")
    s.add_argument("--width", type=int, help="terminal width (default: detected)")
    rep = sub.add_parser("report", help="write report.html and PNGs for a finished run")
    rep.add_argument("run_dir", help="a finished run folder")
    return ap


def _run_arguments(r: argparse.ArgumentParser, default_out: str) -> None:
    """The options of ``run`` and ``book``."""
    r.add_argument("config", help="YAML config file")
    r.add_argument("--out", help=f"output folder (default: output.dir of the config, else {default_out})")
    r.add_argument("--scheduler", help="address of an existing Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, "
                                       "else an embedded LocalCluster on 127.0.0.1)")
    r.add_argument("--workers", type=int, help="worker processes of the embedded cluster")
    r.add_argument("--chunks", type=int, help="override scenarios.chunks")
    r.add_argument("--seed", type=int, help="override seed")
    again = r.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="finish an interrupted run: reuse the view sets and portfolios it saved in the folder")
    again.add_argument("--overwrite", action="store_true",
                       help="replace the outputs of an earlier run in the folder (else a folder that is not "
                            "empty is refused)")
    r.add_argument("--force", action="store_true",
                   help="start even if the memory estimate exceeds what the workers or the client have")
    r.add_argument("--report", action="store_true", help="also write report.html and PNGs into the run folder")
    r.add_argument("--tls-ca-file", help="CA certificate of a TLS cluster (with --tls-cert/--tls-key)")
    r.add_argument("--tls-cert", help="client certificate for a TLS cluster")
    r.add_argument("--tls-key", help="client private key for a TLS cluster")
    noise = r.add_mutually_exclusive_group()
    noise.add_argument("--quiet", action="store_true", help="print only errors and the output folder")
    noise.add_argument("--verbose", action="store_true",
                       help="also print a line for every view set or portfolio that fails, as it fails (log output)")


def _run_dir(arg: str) -> Path | None:
    path = Path(arg)
    if (path / "manifest.json").is_file():
        return path
    print(f"error: {path} is not a finished run folder (no manifest.json)"
          + (f"; {_unfinished(path)}" if (path / ".parts").is_dir() else ""), file=sys.stderr)
    return None


def _unfinished(path: Path) -> str:
    """What an interrupted run left in ``path`` and the command that finishes it."""
    from pipeline.runner import saved_parts

    saved = saved_parts(path)
    if saved is None:
        return "it holds no saved work of an unfinished run"
    what = f"an unfinished run (interrupted, or still running) saved {_saved_text(saved)}"
    if saved["command"] is None:
        return (f"{what}; finish it with the config and options that started it: "
                f"stressfrontier run CONFIG --out {shlex.quote(str(path))} --resume")
    cmd = shlex.join(saved["command"])
    if saved["cwd"] and Path(saved["cwd"]) != Path.cwd():
        cmd = f"cd {shlex.quote(saved['cwd'])} && {cmd}"
    return f"{what}; finish it with: {cmd}"


def _saved_text(saved: dict[str, Any]) -> str:
    v, p = saved["views"], saved["portfolios"]
    return f"{v} view set{'' if v == 1 else 's'} and {p} portfolio{'' if p == 1 else 's'}"


def _program() -> list[str]:
    """How this command was started, as the user can type it again: the console script (by name when
    it is the one on PATH), else ``python -m pipeline`` with this interpreter."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "stressfrontier":
        on_path = shutil.which("stressfrontier")
        if on_path and Path(on_path).resolve() == script.resolve():
            return ["stressfrontier"]
        return [_short(script)]
    return [_short(Path(sys.executable)), "-m", "pipeline"]


def _short(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    path, cwd = path.absolute(), Path.cwd()
    if not path.is_relative_to(cwd):
        return str(path)
    rel = str(path.relative_to(cwd))
    return rel if "/" in rel else f"./{rel}"  # a bare name would be looked up on PATH


def _resume_command(argv: Sequence[str]) -> list[str]:
    """The command line that resumes this run: the same arguments, ``--resume`` instead of ``--overwrite``."""
    args = [a for a in argv if a not in ("--overwrite", "--resume")]
    return [*_program(), *args, "--resume"]


def _interrupted(out_dir: Path, argv: Sequence[str]) -> str:
    """The one line printed after Ctrl-C: what was saved and the exact command that resumes the run."""
    from pipeline.runner import saved_parts

    saved = saved_parts(out_dir)
    if saved is None:  # stopped before the run folder was prepared: nothing to resume
        return f"interrupted before any work was saved; start again with: {shlex.join([*_program(), *argv])}"
    return (f"interrupted: {_saved_text(saved)} saved in {out_dir / '.parts'}; "
            f"resume with: {shlex.join(_resume_command(argv))}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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

    try:
        return _run_or_validate(args, argv)
    except KeyboardInterrupt:  # before or after the run proper (it handles its own)
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run_or_validate(args: argparse.Namespace, argv: list[str]) -> int:
    from pipeline.resolve import build_plan
    from pipeline.runner import output_dir, resolve_config, run

    overrides: dict[str, Any] = {}
    if getattr(args, "chunks", None) is not None:
        overrides["scenarios.chunks"] = args.chunks
    if getattr(args, "seed", None) is not None:
        overrides["seed"] = args.seed
    if getattr(args, "workers", None) is not None and args.workers < 1:
        print("error: --workers must be >= 1", file=sys.stderr)
        return 2
    book_only = args.command == "book"
    try:
        cfg = resolve_config(args.config, overrides)
        if book_only and cfg.book is None:
            raise ConfigError("book", "`stressfrontier book` works on your own book: add a book: section "
                                      "(holdings, or a positions file)")
        if args.command == "validate":
            plan = build_plan(cfg)  # the checks that need the built objects (budget, Greeks, views, file values)
            if getattr(plan.scenarios, "summary", ""):
                print(f"scenarios: {plan.scenarios.summary}")
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
                  force=args.force, overwrite=args.overwrite, resume_command=_resume_command(argv),
                  book_only=book_only)
    except KeyboardInterrupt:
        progress.close(interrupted=True)
        print(_interrupted(output_dir(cfg, args.out, book_only=book_only), argv), file=sys.stderr)
        return EXIT_INTERRUPTED
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
