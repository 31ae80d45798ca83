"""Run folder: atomic Parquet/JSON writes, per-piece parts for resume, and reading a run back.

Layout of a run folder::

    RUN/
      manifest.json            config, seed, versions, timings, row counts (written last)
      instruments.parquet  views.parquet  view_checks.parquet  probabilities.parquet
      frontier.parquet  stress.parquet  [scenarios.parquet]
      .parts/<table>/<key>.parquet   one file per finished task result (resume)

Every file is written to a temporary name in the same folder, flushed, fsync'ed and renamed
(``os.replace`` is atomic on POSIX), so a reader never sees a half-written file and a crash
leaves at most a stray ``.tmp-*`` file, which is ignored and cleaned on the next run.
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["RunStore", "read_run", "package_versions", "atomic_write_bytes", "TABLES", "CHECK_COLUMNS",
           "view_part", "portfolio_part"]

TABLES = ("instruments", "views", "view_checks", "probabilities", "frontier", "stress", "scenarios")
_META_PREFIX = b"stressfrontier."
#: columns of view_checks.parquet
CHECK_COLUMNS = ["view_set", "view", "stat", "on", "op", "target", "prior_value", "attained", "violation",
                 "confidence", "attained_unblended"]


def package_versions() -> dict[str, str]:
    """Versions of Python and the numerical stack, for the manifest and Parquet metadata."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("stressfrontier", "numpy", "scipy", "pandas", "pyarrow", "cvxpy", "clarabel",
                "highspy", "dask", "distributed", "pydantic"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _to_table(df: pd.DataFrame, metadata: dict[str, Any] | None) -> pa.Table:
    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        meta = dict(table.schema.metadata or {})
        for k, v in metadata.items():
            meta[_META_PREFIX + k.encode()] = json.dumps(v, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(meta)
    return table


def atomic_write_parquet(path: Path, df: pd.DataFrame, metadata: dict[str, Any] | None = None) -> None:
    """Write a DataFrame as Parquet atomically, with JSON key-value metadata ``stressfrontier.*``."""
    sink = pa.BufferOutputStream()
    pq.write_table(_to_table(df, metadata), sink, compression="zstd")
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def view_part(i: int) -> str:
    """Part key of view set ``i`` (0 = the prior)."""
    return f"v{i}"


def portfolio_part(view: int, rm: str, cset: int, kind: str, point: int) -> str:
    """Part key of one portfolio: view set index, measure, constraint set index, kind and point."""
    return f"{view}-{rm}-{cset}-{kind}{point}"


class RunStore:
    """The output folder of one run."""

    def __init__(self, root: Path, metadata: dict[str, Any] | None = None) -> None:
        self.root = Path(root)
        self.metadata = metadata or {}

    def parts_config(self) -> str | None:
        """Config hash the saved parts belong to (None if there are none)."""
        f = self.root / ".parts" / "CONFIG_SHA256"
        return f.read_text().strip() if f.is_file() else None

    def prepare(self, resume: bool, config_sha256: str) -> None:
        """Create the folder and its parts area.

        Without ``resume`` earlier parts are dropped. With ``resume`` they are kept only if they
        belong to the same config (else ``ValueError``). Stray temp files are always removed.
        """
        parts = self.root / ".parts"
        if resume and parts.exists() and self.parts_config() not in (None, config_sha256):
            raise ValueError(f"{self.root} holds parts of a different config; run without --resume "
                             "to start afresh")
        self.root.mkdir(parents=True, exist_ok=True)
        for tmp in self.root.rglob(".tmp-*"):
            tmp.unlink(missing_ok=True)
        if not resume and parts.exists():
            for f in sorted(parts.rglob("*"), reverse=True):
                f.unlink() if f.is_file() else f.rmdir()
        atomic_write_bytes(parts / "CONFIG_SHA256", config_sha256.encode())

    # -- parts -------------------------------------------------------------------------------
    def part_path(self, table: str, key: str) -> Path:
        return self.root / ".parts" / table / f"{key}.parquet"

    def has_part(self, table: str, key: str) -> bool:
        return self.part_path(table, key).is_file()

    def write_part(self, table: str, key: str, df: pd.DataFrame) -> None:
        atomic_write_parquet(self.part_path(table, key), df)

    def read_part(self, table: str, key: str) -> pd.DataFrame:
        return pq.read_table(self.part_path(table, key)).to_pandas()

    def iter_parts(self, table: str) -> Iterator[tuple[str, pd.DataFrame]]:
        folder = self.root / ".parts" / table
        if folder.is_dir():
            for f in sorted(folder.glob("*.parquet")):
                yield f.stem, pq.read_table(f).to_pandas()

    # -- view sets (resume) ------------------------------------------------------------------
    def save_view(self, i: int, row: dict[str, Any], q: Any, checks: list[dict[str, Any]]) -> None:
        """Save view set ``i``: posterior ``q`` (S,) or None, check rows, then its ``views`` row (last:
        the row marks the view set done)."""
        part = view_part(i)
        if q is not None:
            probs = pd.DataFrame({"scenario": np.arange(len(q)), "view_set": row["view_set"], "probability": q})
        else:
            probs = pd.DataFrame({"scenario": np.array([], dtype=np.int64), "view_set": np.array([], dtype=object),
                                  "probability": np.array([], dtype=float)})
        self.write_part("probabilities", part, probs)
        self.write_part("view_checks", part, pd.DataFrame(checks, columns=CHECK_COLUMNS))
        self.write_part("views", part, pd.DataFrame([row]))

    def load_view(self, i: int) -> tuple[dict[str, Any], Any, list[dict[str, Any]]] | None:
        """(``views`` row, posterior or None, check rows) saved for view set ``i``, or None."""
        part = view_part(i)
        if not (self.has_part("views", part) and self.has_part("probabilities", part)):
            return None
        row = self.read_part("views", part).iloc[0].to_dict()
        q = self.read_part("probabilities", part)["probability"].to_numpy() if row["status"] == "ok" else None
        checks = self.read_part("view_checks", part) if self.has_part("view_checks", part) else pd.DataFrame()
        return row, q, checks.to_dict("records")

    # -- final tables ------------------------------------------------------------------------
    def write_table(self, table: str, df: pd.DataFrame) -> Path:
        path = self.root / f"{table}.parquet"
        atomic_write_parquet(path, df, {**self.metadata, "table": table})
        return path

    def write_manifest(self, manifest: dict[str, Any]) -> Path:
        path = self.root / "manifest.json"
        atomic_write_bytes(path, json.dumps(manifest, indent=2, sort_keys=True, default=str).encode())
        return path


def read_run(path: str | Path) -> dict[str, Any]:
    """Read every table of a run folder.

    Returns
    -------
    dict mapping table name (``frontier``, ``views``, ...) to a pandas DataFrame, plus
    ``"manifest"`` mapping to the manifest dict.
    """
    root = Path(path)
    if not (root / "manifest.json").is_file():
        raise FileNotFoundError(f"{root} is not a finished run folder (no manifest.json)")
    out: dict[str, Any] = {"manifest": json.loads((root / "manifest.json").read_text())}
    for f in sorted(root.glob("*.parquet")):
        out[f.stem] = pq.read_table(f).to_pandas()
    return out


def parquet_metadata(path: str | Path) -> dict[str, Any]:
    """The ``stressfrontier.*`` key-value metadata of a Parquet file, JSON-decoded."""
    meta = pq.read_schema(path).metadata or {}
    return {k[len(_META_PREFIX):].decode(): json.loads(v) for k, v in meta.items()
            if k.startswith(_META_PREFIX)}
