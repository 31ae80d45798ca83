"""One run end to end: validate, connect, execute the graph, write tables and the manifest."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from pipeline.cluster import connect, scheduler_address
from pipeline.config import ConfigError, RunConfig, load_config, parse_config, safe_load, yaml_error_line
from pipeline.graph import execute
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
    with connect(scheduler, workers=n_workers, threads_per_worker=cfg.cluster.threads_per_worker,
                 security=security, log=log) as client:
        store.prepare(resume=resume, config_sha256=meta["config_sha256"])
        result = execute(plan, client, store, log=log, progress=progress, resume=resume)
        n_live = len(client.scheduler_info()["workers"])
    rows = {}
    for name, df in result.tables.items():
        store.write_table(name, df)
        rows[name] = len(df)
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
    }
    store.write_manifest(manifest)
    return out_dir
