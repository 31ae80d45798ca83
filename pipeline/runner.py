"""One run end to end: validate, connect, execute the graph, write tables and the manifest."""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from pipeline.cluster import connect, scheduler_address
from pipeline.config import ConfigError, RunConfig, load_config, parse_config, safe_load, yaml_error_line
from pipeline.graph import RunResult, execute
from pipeline.memory import MemoryEstimate, check, estimate_memory, format_bytes
from pipeline.resolve import build_plan
from pipeline.store import RunStore, package_versions

__all__ = ["run", "resolve_config"]


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
    """
    cfg = resolve_config(config, overrides)  # raises ConfigError before any work
    plan = build_plan(cfg)  # the run's objects, built once; raises ConfigError too
    out_dir = Path(out).resolve() if out is not None else cfg.output_dir()
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError("output.dir", f"{out_dir} exists and is not a folder")
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    versions = package_versions()
    meta = {"config": cfg.canonical(), "config_sha256": plan.config_sha256, "versions": versions}
    store = RunStore(out_dir, meta)
    if resume and store.parts_config() not in (None, meta["config_sha256"]):
        raise ConfigError("--resume", f"{out_dir} holds parts of a different config; "
                                      "run without --resume to start afresh")
    n_workers = workers or cfg.cluster.workers
    estimate = estimate_memory(plan)
    with connect(scheduler, workers=n_workers, threads_per_worker=cfg.cluster.threads_per_worker,
                 security=security, log=log) as client:
        memory = _memory_guard(client, estimate, force, log)  # raises ConfigError before any work
        store.prepare(resume=resume, config_sha256=meta["config_sha256"])
        result = execute(plan, client, store, log=log, progress=progress, resume=resume)
        rows = _write_tables(store, result)
        n_live = len(client.scheduler_info()["workers"])
        memory["peak_rss"] = _peak_rss(client)
    manifest = {
        "name": cfg.name,
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
