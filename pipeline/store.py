"""Run folder: atomic Parquet/JSON writes, batched parts for resume, and reading a run back.

Layout of a run folder::

    RUN/
      manifest.json            config, seed, versions, timings, row counts (written last)
      instruments.parquet  views.parquet  view_checks.parquet  probabilities.parquet
      frontier.parquet  stress.parquet  greeks.parquet  marginals.parquet  moments.parquet
      correlations.parquet  [scenarios.parquet]
      [book.parquet  shocks.parquet  shock_moves.parquet  limits.parquet  trades.parquet]
                               the user's book, its shocks, limits and rebalancing trade (when given)
      .parts/                  only while a run is unfinished (removed by RunStore.finish)
        CONFIG_SHA256          the config the parts belong to (a resume checks it)
        <table>/b000001.parquet   a batch: many parts, one row each, keyed by a ``_part`` column
        <table>/<key>.parquet     one per-key part (view sets: each holds an (S,) posterior)

Every file is written to a temporary name in the same folder, flushed, fsync'ed and renamed
(``os.replace`` is atomic on POSIX), so a reader never sees a half-written file and a crash
leaves at most a stray ``.tmp-*`` file or folder, which is ignored and cleaned on the next run.

Parts let ``--resume`` skip finished work. Portfolio rows are small and many, so they are saved
in batches (:meth:`RunStore.write_part_batch`, file names from :func:`batch_name` and
:meth:`RunStore.next_batch_id`, so a resumed run never overwrites an earlier batch) rather than one
file each; :meth:`RunStore.read_part_batches` reads them back, a later batch winning on a repeated
key. View sets keep the per-key API (few parts, each large). After a successful run
:meth:`RunStore.finish` removes ``.parts``; on failure or interruption it stays for ``--resume``.

Final tables are split into row groups of at most :data:`ROW_GROUP_ROWS` rows.
``probabilities.parquet`` (S scenarios x view sets rows, up to 1e7) is streamed by
:meth:`RunStore.write_table_batches`, one batch (and so one row group, while S <= ROW_GROUP_ROWS)
per view set, never holding all of them in memory. Each row group carries min/max statistics of
``view_set``, so a reader that filters one view set (pyarrow ``filters=``, DuckDB ``WHERE``) reads
that row group and skips the others.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["RunStore", "read_run", "package_versions", "atomic_write_bytes", "atomic_write_parquet",
           "atomic_write_parquet_batches", "parquet_metadata", "TABLES", "CHECK_COLUMNS", "ROW_GROUP_ROWS",
           "view_part", "portfolio_part", "batch_name"]

TABLES = ("instruments", "views", "view_checks", "probabilities", "marginals", "moments", "correlations", "frontier",
          "stress", "greeks", "scenarios", "book", "shocks", "shock_moves", "limits", "trades")
_META_PREFIX = b"stressfrontier."
#: most rows in one Parquet row group of a final table
ROW_GROUP_ROWS = 1_048_576
#: column of a batch file that holds each row's part key
PART_COLUMN = "_part"
_BATCH_ID = re.compile(r"b(\d+)")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
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
    with _atomic_file(path) as fh:
        fh.write(data)


@contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` only if the ``with`` block ends without an error: a
    temporary file in the same folder, fsync'ed and renamed over ``path`` (``os.replace`` is atomic);
    on an error it is removed and an existing ``path`` is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex}"
    try:
        with open(tmp, "wb") as fh:
            yield fh
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
    """Write a DataFrame as Parquet atomically, with JSON key-value metadata ``stressfrontier.*``.

    Row groups hold at most :data:`ROW_GROUP_ROWS` rows.
    """
    sink = pa.BufferOutputStream()
    pq.write_table(_to_table(df, metadata), sink, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with the columns, order and types of ``schema`` (``ValueError`` if the columns differ)."""
    if set(table.column_names) != set(schema.names) or len(table.column_names) != len(schema.names):
        raise ValueError(f"batch columns {table.column_names} differ from the first batch's {schema.names}")
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(f"batch does not fit the first batch's schema: {exc}") from exc


def atomic_write_parquet_batches(path: Path, batches: Iterable[pd.DataFrame], metadata: dict[str, Any] | None = None,
                                 row_group_size: int | None = None) -> None:
    """Stream DataFrames into one Parquet file, atomically, without holding them all in memory.

    Parameters
    ----------
    path : Path
        Target file; written as a temporary file in the same folder, fsync'ed, then renamed over
        ``path``. If anything fails (the ``batches`` iterator included) the temporary file is
        removed and an existing ``path`` is left as it was.
    batches : iterable of DataFrame
        At least one (else ``ValueError``). The first fixes the schema (columns, order, Arrow
        types); later ones are reordered and cast to it (``ValueError`` if they do not fit).
        Each non-empty batch becomes its own row group(s); empty batches add no row group.
    metadata : dict, optional
        JSON key-value metadata, stored as ``stressfrontier.<key>`` in the schema.
    row_group_size : int, optional
        Most rows per row group (a batch is split at it); default :data:`ROW_GROUP_ROWS`.
    """
    if row_group_size is not None and row_group_size < 1:
        raise ValueError(f"row_group_size must be positive, got {row_group_size}")
    rows = row_group_size or ROW_GROUP_ROWS
    it = iter(batches)
    first = next(it, None)
    if first is None:
        raise ValueError(f"{path.name}: no batches to write (at least one is needed to know the schema)")
    table = _to_table(first, metadata)
    schema = table.schema
    with _atomic_file(path) as fh, pq.ParquetWriter(fh, schema, compression="zstd") as writer:
        while table is not None:
            if table.num_rows:
                writer.write_table(table, row_group_size=rows)
            df = next(it, None)
            table = None if df is None else _conform(_to_table(df, None), schema)


def _table_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows of an Arrow table as dicts of Python values: floats exact, NaN kept, other nulls None."""
    cols = {}
    for name, col in zip(table.column_names, table.columns):
        if pa.types.is_floating(col.type):
            cols[name] = col.to_numpy().tolist()  # nulls (NaN written by pandas) back to NaN
        else:
            cols[name] = col.to_pylist()
    if not cols:
        return [{} for _ in range(table.num_rows)]
    return [dict(zip(cols, values)) for values in zip(*cols.values())]


def _natural(name: str) -> tuple[list[Any], str]:
    """Sort key: digit runs compared as numbers (``b999999`` before ``b1000000``), then the name."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)], name


def batch_name(i: int) -> str:
    """File name (without ``.parquet``) of batch ``i``: ``b000001``; zero padded, so names sort by ``i``."""
    if i < 0:
        raise ValueError(f"batch id must be >= 0, got {i}")
    return f"b{i:06d}"


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
        for tmp in sorted(self.root.rglob(".tmp-*")):
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
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
        """(key, DataFrame) of every per-key part of ``table``; batch files are skipped."""
        folder = self.root / ".parts" / table
        if folder.is_dir():
            for f in sorted(folder.glob("*.parquet")):
                t = pq.read_table(f)
                if PART_COLUMN not in t.column_names:
                    yield f.stem, t.to_pandas()

    # -- batched parts (many small results per file) -------------------------------------------
    def batch_path(self, table: str, batch: str) -> Path:
        """``RUN/.parts/<table>/<batch>.parquet``."""
        if not _SAFE_NAME.fullmatch(batch):
            raise ValueError(f"batch name {batch!r} is not a safe file name ([A-Za-z0-9][A-Za-z0-9_.-]*)")
        return self.root / ".parts" / table / f"{batch}.parquet"

    def write_part_batch(self, table: str, batch: str, df: pd.DataFrame, keys: Sequence[str]) -> None:
        """Save many parts of ``table`` as one atomic file ``.parts/<table>/<batch>.parquet``.

        Parameters
        ----------
        table : str
            Table the parts belong to (``frontier``, ...).
        batch : str
            File-name-safe batch id chosen by the caller, e.g. ``batch_name(store.next_batch_id(table))``;
            an existing batch of that name is replaced.
        df : DataFrame, shape (n, columns)
            One row per part; must not have a ``_part`` column.
        keys : sequence of str, length n
            Part key of each row, stored in the ``_part`` column.
        """
        keys = [str(k) for k in keys]
        if len(keys) != len(df):
            raise ValueError(f"{len(keys)} keys for {len(df)} rows")
        if PART_COLUMN in df.columns:
            raise ValueError(f"column {PART_COLUMN!r} is reserved for the part key")
        out = df.reset_index(drop=True).assign(**{PART_COLUMN: pd.Series(keys, dtype=object)})
        atomic_write_parquet(self.batch_path(table, batch), out)

    def read_part_batches(self, table: str) -> dict[str, dict[str, Any]]:
        """Every part saved by :meth:`write_part_batch` for ``table``.

        Returns
        -------
        dict
            Part key -> row dict (columns in written order, ``_part`` dropped). Floats come back
            bit-identical, NaN as NaN, missing strings as None. Batch files are read in name order
            (digit runs numerically), so a later batch wins on a repeated key. ``.tmp-*`` files and
            per-key part files (no ``_part`` column) are ignored.
        """
        folder = self.root / ".parts" / table
        out: dict[str, dict[str, Any]] = {}
        if not folder.is_dir():
            return out
        files = [f for f in folder.glob("*.parquet") if not f.name.startswith(".tmp-")]
        for f in sorted(files, key=lambda f: _natural(f.stem)):
            t = pq.read_table(f)
            if PART_COLUMN not in t.column_names:
                continue
            keys = t.column(PART_COLUMN).to_pylist()
            rows = _table_rows(t.drop_columns([PART_COLUMN]))
            out.update(zip(keys, rows))
        return out

    def next_batch_id(self, table: str) -> int:
        """1 + the largest id ``i`` of the batch files ``b<i>.parquet`` of ``table``; 0 if there are none."""
        folder = self.root / ".parts" / table
        ids = [int(m[1]) for f in (folder.glob("b*.parquet") if folder.is_dir() else [])
               if (m := _BATCH_ID.fullmatch(f.stem))]
        return max(ids, default=-1) + 1

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
        """Write final table ``RUN/<table>.parquet`` atomically (row groups of :data:`ROW_GROUP_ROWS` rows)."""
        path = self.root / f"{table}.parquet"
        atomic_write_parquet(path, df, {**self.metadata, "table": table})
        return path

    def write_table_batches(self, table: str, batches: Iterable[pd.DataFrame],
                            row_group_size: int | None = None) -> Path:
        """Stream final table ``RUN/<table>.parquet`` batch by batch, atomically.

        Same metadata as :meth:`write_table`. Each non-empty batch becomes its own row group(s), at
        most ``row_group_size`` (default :data:`ROW_GROUP_ROWS`) rows each; e.g. ``probabilities``
        with one batch of shape (S, 3) per view set, so a reader filtering one view set skips the
        other row groups by their ``view_set`` min/max statistics. At least one batch is needed
        (``ValueError``); later batches are cast to the first one's schema. If the iterator
        raises, no file is left and an existing table stays as it was.
        """
        path = self.root / f"{table}.parquet"
        atomic_write_parquet_batches(path, batches, {**self.metadata, "table": table}, row_group_size)
        return path

    def write_manifest(self, manifest: dict[str, Any]) -> Path:
        """Write ``RUN/manifest.json`` atomically (last: it marks the run finished)."""
        path = self.root / "manifest.json"
        atomic_write_bytes(path, json.dumps(manifest, indent=2, sort_keys=True, default=str).encode())
        return path

    def finish(self) -> None:
        """Remove ``.parts`` (files, subfolders, ``CONFIG_SHA256``) once the run is finished.

        Call after :meth:`write_manifest` (``RuntimeError`` if there is no manifest: the parts would
        be the only record of the work). The folder is first renamed to ``.tmp-parts-*`` (atomic),
        so a crash while deleting leaves no half-removed ``.parts`` for a resume to trust; such a
        leftover is removed by the next :meth:`prepare`. Final tables are not touched; calling it
        again, or with no ``.parts``, does nothing.
        """
        if not (self.root / "manifest.json").is_file():
            raise RuntimeError(f"{self.root}: finish() before write_manifest() would drop the only record "
                               "of the finished work")
        parts = self.root / ".parts"
        if not parts.exists():
            return
        trash = self.root / f".tmp-parts-{uuid.uuid4().hex}"
        os.replace(parts, trash)
        _fsync_dir(self.root)
        shutil.rmtree(trash, ignore_errors=True)


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
