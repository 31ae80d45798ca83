"""Bit-level digests of a run's Parquet tables, to prove a refactor moves no number.

Each table's digest is a SHA-256 over its columns in order: name, Arrow type and the raw values
(numbers as their IEEE bytes, strings as UTF-8). Timing columns (``seconds``) are left out: they
are measured, not computed. The manifest is left out for the same reason.

Usage::

    python -m tests.digests record [--full]   # run the example configs, write the digests file
    python -m tests.digests check  [--full]   # run them again and compare table by table

Without ``--full`` the configs run at test size (:data:`TEST_OVERRIDES`, what
``tests/pipeline/test_digests.py`` checks in ``make test``); with ``--full`` at their own size.
Digests are machine-specific only through BLAS kernels: record them on the machine that checks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ("laptop", "derivatives_case", "index_options_book", "crypto_options", "book_risk", "black_litterman")
TIMING_COLUMNS = frozenset({"seconds"})
TEST_OVERRIDES: dict[str, Any] = {"scenarios.count": 2000, "scenarios.block_size": 500,
                                  "optimization.points": 4}
DIGEST_FILE = {False: ROOT / "tests" / "digests_test_size.json", True: ROOT / "tests" / "digests_full.json"}


def _column_bytes(col: pa.ChunkedArray) -> bytes:
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type) or pa.types.is_boolean(arr.type):
        values = np.asarray(arr.to_numpy(zero_copy_only=False))
        return values.tobytes() + np.asarray(arr.is_null().to_numpy(zero_copy_only=False)).tobytes()
    return json.dumps(arr.to_pylist(), default=str).encode()


def table_digest(path: Path) -> str:
    """SHA-256 of one Parquet table's columns (timing columns excluded)."""
    table = pq.read_table(path)
    h = hashlib.sha256()
    h.update(str(table.num_rows).encode())
    for name in table.column_names:
        if name in TIMING_COLUMNS:
            continue
        col = table.column(name)
        h.update(name.encode() + b"\0" + str(col.type).encode() + b"\0")
        h.update(_column_bytes(col))
    return h.hexdigest()


def run_digests(run_dir: Path) -> dict[str, str]:
    """Digest of every Parquet table in a run folder, by table name."""
    return {p.stem: table_digest(p) for p in sorted(Path(run_dir).glob("*.parquet"))}


def config_digests(name: str, out: Path, full: bool, workers: int = 2) -> dict[str, str]:
    """Run example config ``name`` into ``out`` and digest its tables."""
    import pipeline

    overrides = None if full else dict(TEST_OVERRIDES)
    pipeline.run(ROOT / "configs" / f"{name}.yaml", out=out, workers=workers, overrides=overrides,
                 log=lambda m: None)
    return run_digests(out)


def compare(expected: dict[str, str], got: dict[str, str]) -> list[str]:
    """Names of tables whose digests differ (or that are missing on either side)."""
    return sorted(t for t in set(expected) | set(got) if expected.get(t) != got.get(t))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["record", "check"])
    ap.add_argument("--full", action="store_true", help="the configs at their own size")
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS))
    args = ap.parse_args(argv)
    path = DIGEST_FILE[args.full]
    recorded = json.loads(path.read_text()) if path.exists() else {}
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            got = config_digests(name, Path(tmp) / name, args.full)
            if args.action == "record":
                recorded[name] = got
                print(f"{name}: recorded {len(got)} tables")
                continue
            diff = compare(recorded.get(name, {}), got)
            bad += bool(diff)
            print(f"{name}: {'identical' if not diff else 'DIFFERENT: ' + ', '.join(diff)}")
    if args.action == "record":
        path.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
