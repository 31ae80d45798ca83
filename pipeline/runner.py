"""One run end to end: validate, connect, execute the graph, write tables and the manifest.

The run folder holds the outputs of one run only. A run into a folder that is not empty is
refused (:class:`ConfigError` on ``--out``/``output.dir``, exit 2, before any work) unless it resumes the
interrupted run of the same config that left its parts there (``resume``) or replaces what an
earlier run wrote (``overwrite``); either way the earlier tables, manifest, ``report.html`` and
PNGs are removed before the new run writes anything, so no stale output survives. A folder that
holds files no run writes is never emptied.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import resource
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml

from pipeline.cluster import connect, scheduler_address
from pipeline.config import ConfigError, RunConfig, load_config, parse_config, safe_load, yaml_error_line
from pipeline.graph import RunResult, execute
from pipeline.memory import MemoryEstimate, check, estimate_memory, format_bytes
from pipeline.resolve import build_plan
from pipeline.store import RunStore, atomic_write_bytes, package_versions

__all__ = ["run", "resolve_config", "output_dir", "saved_parts", "RESUME_FILE", "RUN_OUTPUTS"]

#: file in ``RUN/.parts`` with the command (and working directory) that resumes an unfinished run
RESUME_FILE = "RESUME.json"
#: what a run and its report write into the run folder (the only things ``overwrite`` removes)
RUN_OUTPUTS = ("manifest.json", "report.html", "*.parquet", "*.png", ".parts", ".tmp-*")


def resolve_config(config: RunConfig | dict[str, Any] | str | Path,
                   overrides: dict[str, Any] | None = None) -> RunConfig:
    """A validated config from a path, a mapping or a config object, with optional overrides.

    ``overrides`` maps dotted key paths (``"scenarios.chunks"``) to values; they are applied to
    the raw mapping before validation, so they are checked like the file's own keys.
    """
    if isinstance(config, RunConfig) and not overrides:
        return config
    base = "."
    if isinstance(config, RunConfig):
        data, base = config.canonical(), config.base_dir
    elif isinstance(config, dict):
        data = dict(config)
    else:
        path = Path(config)
        if not overrides:
            return load_config(path)
        try:
            data = safe_load(path.read_text())
        except OSError as exc:
            raise ConfigError("", f"cannot read config {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError("", yaml_error_line(exc)) from None
        base = str(path.resolve().parent)
    for dotted, value in (overrides or {}).items():
        node = data
        *head, last = dotted.split(".")
        for h in head:
            node = node.setdefault(h, {}) if isinstance(node, dict) else node
        node[last] = value
    return parse_config(data, base_dir=base)


def run(
    config: RunConfig | dict[str, Any] | str | Path,
    *,
    scheduler: str | None = None,
    out: str | Path | None = None,
    workers: int | None = None,
    overrides: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
    progress: Any = None,
    resume: bool = False,
    security: Any = None,
    force: bool = False,
    overwrite: bool = False,
    resume_command: Sequence[str] | None = None,
    book_only: bool = False,
) -> Path:
    """Run a config end to end and return the output folder.

    Parameters
    ----------
    config : a YAML path, a mapping, or a :class:`RunConfig`.
    scheduler : address of an existing Dask scheduler (else ``DASK_SCHEDULER_ADDRESS``, else an
        embedded LocalCluster on 127.0.0.1).
    out : output folder (default ``output.dir`` of the config, else ``runs/<name>``).
    workers : size of the embedded cluster (default ``cluster.workers``).
    overrides : dotted-key overrides applied before validation.
    log : receives human-readable progress lines.
    progress : optional progress reporter (see :class:`pipeline.progress.LogProgress`).
    resume : reuse the view sets and portfolios an interrupted run of the same config saved.
    security : a :class:`distributed.Security` (TLS) for connecting to ``scheduler``.
    force : start even when the memory estimate exceeds what the workers or the client have.
    overwrite : replace the outputs of an earlier run in ``out`` (refused without it or ``resume``
        when the folder is not empty).
    resume_command : the command that resumes this run if it is interrupted (saved in
        ``RUN/.parts/RESUME.json`` for ``stressfrontier show``).
    book_only : ``stressfrontier book``: only the book's work (its stress under every view set,
        shocks, limits, rebalance; no frontier or single portfolio, ``frontier.parquet`` without
        rows); the default folder is then ``<output.dir or runs/<name>>-book``.

    A Ctrl-C (KeyboardInterrupt) stops the run after saving the finished portfolios; the folder
    then holds the parts for ``resume``. Worker processes of the embedded cluster ignore SIGINT,
    so a Ctrl-C in a terminal (which signals the whole process group) stops the client only and
    the client shuts them down.
    """
    cfg = resolve_config(config, overrides)  # raises ConfigError before any work
    plan = build_plan(cfg)  # the run's objects, built once; raises ConfigError too
    if book_only:
        plan = dataclasses.replace(plan, book_only=True)
    if getattr(plan.scenarios, "summary", ""):
        log(f"scenarios: {plan.scenarios.summary}")  # what was read from the user's file, and how
    out_dir = output_dir(cfg, out, book_only=book_only)
    _check_out_dir(out_dir, plan.config_sha256, resume=resume, overwrite=overwrite, explicit=out is not None)
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    versions = package_versions()
    meta = {"config": cfg.canonical(), "config_sha256": plan.config_sha256, "versions": versions}
    store = RunStore(out_dir, meta)
    n_workers = workers or cfg.cluster.workers
    estimate = estimate_memory(plan)
    with ExitStack() as stack:
        with _children_ignore_sigint(embedded=scheduler_address(scheduler) is None):
            client = stack.enter_context(connect(scheduler, workers=n_workers, security=security, log=log,
                                                 threads_per_worker=cfg.cluster.threads_per_worker))
        memory = _memory_guard(client, estimate, force, log)  # raises ConfigError before any work
        _clear_outputs(out_dir, keep_parts=resume)  # nothing stale survives into the new run
        store.prepare(resume=resume, config_sha256=meta["config_sha256"])
        if resume_command is not None:
            atomic_write_bytes(out_dir / ".parts" / RESUME_FILE, json.dumps(
                {"command": list(resume_command), "cwd": os.getcwd()}).encode())
        if hasattr(progress, "work_started"):
            progress.work_started()  # the stages' clocks start with their tasks
        result = execute(plan, client, store, log=log, progress=progress, resume=resume)
        rows = _write_tables(store, result)
        n_live = len(client.scheduler_info()["workers"])
        memory["peak_rss"] = _peak_rss(client)
    manifest = {
        "name": cfg.name,
        "mode": "book" if book_only else "run",
        "config": cfg.canonical(),
        "config_sha256": plan.config_sha256,
        "seed": cfg.seed,
        "versions": versions,
        "scheduler": scheduler_address(scheduler) or "embedded LocalCluster (127.0.0.1)",
        "workers": n_live,
        "started_utc": started.isoformat(),
        "finished_utc": dt.datetime.now(dt.UTC).isoformat(),
        "timings_seconds": {**result.timings, "wall": time.perf_counter() - t0},
        "rows": rows,
        "status_counts": result.counts,
        "tables": sorted(rows),
        "memory": memory,
    }
    store.write_manifest(manifest)
    store.finish()  # the run is complete: its parts are no longer needed
    return out_dir


def output_dir(cfg: RunConfig, out: str | Path | None = None, *, book_only: bool = False) -> Path:
    """The run folder: ``out`` (resolved), else the config's ``output.dir``, else ``runs/<name>``;
    for a book-only run (``stressfrontier book``) the default gets the suffix ``-book``."""
    if out is not None:
        return Path(out).resolve()
    path = cfg.output_dir()
    return path.with_name(path.name + "-book") if book_only else path


def saved_parts(out_dir: str | Path) -> dict[str, Any] | None:
    """What an unfinished run left in ``out_dir/.parts`` for a resume; None if it left nothing.

    Returns
    -------
    ``{"views": n, "portfolios": m, "command": [...] or None, "cwd": str or None}``: the view sets
    (the prior included) and portfolios saved, and the command that resumes the run and the
    folder to run it from (when the run was started from the command line).
    """
    parts = Path(out_dir) / ".parts"
    if not (parts / "CONFIG_SHA256").is_file():
        return None
    views = [f for f in (parts / "views").glob("*.parquet") if not f.name.startswith(".tmp-")]
    out: dict[str, Any] = {"views": len(views), "portfolios": len(RunStore(Path(out_dir)).read_part_batches("frontier")),
                           "command": None, "cwd": None}
    try:
        saved = json.loads((parts / RESUME_FILE).read_text())
        out["command"], out["cwd"] = [str(a) for a in saved["command"]], str(saved["cwd"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return out


def _outputs(out_dir: Path) -> tuple[list[Path], list[Path]]:
    """(what a run or its report wrote, everything else) in ``out_dir``."""
    ours = {p for pattern in RUN_OUTPUTS for p in out_dir.glob(pattern)}
    entries = sorted(out_dir.iterdir()) if out_dir.is_dir() else []
    return [p for p in entries if p in ours], [p for p in entries if p not in ours]


def _check_out_dir(out_dir: Path, config_sha256: str, *, resume: bool, overwrite: bool, explicit: bool) -> None:
    """Refuse (ConfigError, before any work) a folder that is not empty unless ``resume``/``overwrite`` fit it."""
    key = "--out" if explicit else "output.dir"
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(key, f"{out_dir} exists and is not a folder")
    if resume and overwrite:
        raise ConfigError("--overwrite", "give --resume (finish an interrupted run) or --overwrite (start "
                                         "afresh), not both")
    ours, other = _outputs(out_dir)
    if not [p for p in ours if not p.name.startswith(".tmp-")] and not other:
        return  # missing or empty (stray temp files aside): nothing to protect
    parts = RunStore(out_dir).parts_config()
    if other and (overwrite or not resume):
        names = ", ".join(p.name for p in other[:3]) + (", ..." if len(other) > 3 else "")
        raise ConfigError(key, f"{out_dir} holds files that a run does not write ({names}); choose another "
                               "folder with --out, or empty this one")
    if resume:
        if parts is None:
            finished = " (it holds a finished run)" if (out_dir / "manifest.json").is_file() else ""
            raise ConfigError("--resume", f"{out_dir} has no unfinished run to resume{finished}; use --overwrite "
                                          "to replace it, or another --out")
        if parts != config_sha256:
            raise ConfigError("--resume", f"{out_dir} holds parts of a different config (another file, seed or "
                                          "override); resume with the same config and options, or use --overwrite "
                                          "to start afresh")
        return
    if not overwrite:
        what = ("an unfinished run: add --resume to finish it, --overwrite to start afresh" if parts is not None
                else "the outputs of an earlier run: add --overwrite to replace them")
        raise ConfigError(key, f"{out_dir} is not empty: it holds {what}, or choose another --out")


def _clear_outputs(out_dir: Path, *, keep_parts: bool) -> None:
    """Remove what an earlier run (and its report) wrote into ``out_dir``; ``.parts`` too unless ``keep_parts``."""
    ours, _ = _outputs(out_dir)
    for p in ours:
        if p.name == ".parts" and keep_parts:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)


@contextmanager
def _children_ignore_sigint(embedded: bool) -> Iterator[None]:
    """Processes started inside ignore SIGINT (an ignored signal stays ignored across exec, and
    Python then installs no KeyboardInterrupt handler): the embedded cluster's worker processes
    then neither die nor print tracebacks on a terminal's Ctrl-C; the client stops and shuts them
    down. A Ctrl-C while the cluster starts is ignored. Only in the main thread (signal rules)."""
    if not embedded or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _write_tables(store: RunStore, result: RunResult) -> dict[str, int]:
    """Write every table (streamed ones batch by batch, while the cluster holds their data); row counts."""
    rows = {}
    for name, df in result.tables.items():
        store.write_table(name, df)
        rows[name] = len(df)
    for name, batches in result.streams.items():
        counted = _Counted(batches)
        store.write_table_batches(name, counted)
        rows[name] = counted.rows
    return rows


class _Counted:
    """An iterator of DataFrames that counts the rows it hands out."""

    def __init__(self, batches: Any) -> None:
        self.batches, self.rows = iter(batches), 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        df = next(self.batches)
        self.rows += len(df)
        return df


# ---- memory -------------------------------------------------------------------------------------

def _available_bytes() -> int | None:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with distributed
        return None
    return int(psutil.virtual_memory().available)


def _memory_guard(client: Any, est: MemoryEstimate, force: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """Print the estimate; refuse (ConfigError, exit 2) when it does not fit, unless ``force``."""
    limits = [int(w.get("memory_limit") or 0) for w in client.scheduler_info()["workers"].values()]
    worker_limit = min(limits) if limits and min(limits) > 0 else None
    available = _available_bytes()
    limit_text = f" of {format_bytes(worker_limit)}" if worker_limit else ""
    log(f"memory estimate: {format_bytes(est.worker)} per worker{limit_text}, {format_bytes(est.client)} on the client")
    problem = check(est, worker_limit, available, len(limits))
    if problem and not force:
        raise ConfigError("scenarios.count", f"the run does not fit in memory: {problem}")
    if problem:
        log(f"warning: --force: {problem}")
    return {"estimate": est.as_dict(), "worker_limit": worker_limit, "client_available": available,
            "forced": bool(problem and force)}


def _rss_peak() -> int:
    """This process's peak resident memory in bytes: ``VmHWM`` of ``/proc/self/status`` on Linux
    (``ru_maxrss`` would keep the peak of the parent a process was forked from across ``exec``),
    else ``ru_maxrss`` (KB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _peak_rss(client: Any) -> dict[str, Any]:
    """Peak resident memory of every worker process (since it started) and of the client, in bytes."""
    try:
        workers = client.run(_rss_peak)
    except Exception:  # a worker left: report what can be read
        workers = {}
    return {"workers": {str(k): int(v) for k, v in workers.items()}, "client": _rss_peak()}
