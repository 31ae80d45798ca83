"""The run folder's data plane: batched parts, finish(), streamed tables and their row groups."""

import math
import struct

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.store import ROW_GROUP_ROWS, RunStore, batch_name, parquet_metadata, read_run

META = {"config": {"name": "store"}, "config_sha256": "abc", "versions": {"numpy": np.__version__}}


@pytest.fixture
def store(tmp_path) -> RunStore:
    s = RunStore(tmp_path / "run", META)
    s.prepare(resume=False, config_sha256="abc")
    return s


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _rows() -> list[dict]:
    return [
        {"view_set": "prior", "point": 0, "risk": 0.1 + 0.2, "target": float("nan"), "status": "optimal",
         "message": None},
        {"view_set": "crash", "point": 1, "risk": 1e-310, "target": -0.0, "status": "error", "message": "boom"},
        {"view_set": "crash", "point": 2, "risk": np.nextafter(1.0, 2.0), "target": 1 / 3, "status": "optimal",
         "message": ""},
    ]


def _same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k, v in b.items():
        if isinstance(v, float):
            assert isinstance(a[k], float) and (math.isnan(v) and math.isnan(a[k]) or _bits(a[k]) == _bits(v)), k
        else:
            assert a[k] == v and type(a[k]) is type(v), k


# ---- batched parts ------------------------------------------------------------------------------

def test_batch_round_trip_is_exact(store):
    rows = _rows()
    store.write_part_batch("frontier", batch_name(1), pd.DataFrame(rows), ["k0", "k1", "k2"])
    assert (store.root / ".parts" / "frontier" / "b000001.parquet").is_file()
    back = store.read_part_batches("frontier")
    assert list(back) == ["k0", "k1", "k2"]
    for key, row in zip(back, rows):
        _same(back[key], row)
    assert "_part" not in back["k0"]


def test_later_batch_wins_and_tmp_files_are_ignored(store):
    rows = _rows()
    store.write_part_batch("frontier", batch_name(1), pd.DataFrame(rows[:2]), ["a", "b"])
    store.write_part_batch("frontier", batch_name(2), pd.DataFrame(rows[2:]), ["b"])
    folder = store.root / ".parts" / "frontier"
    (folder / ".tmp-b000003.parquet-0123").write_bytes(b"half a file")
    pd.DataFrame(rows[:1]).assign(_part="a").to_parquet(folder / ".tmp-b000009.parquet-4567")
    back = store.read_part_batches("frontier")
    assert set(back) == {"a", "b"}
    _same(back["a"], rows[0])
    _same(back["b"], rows[2])
    assert store.next_batch_id("frontier") == 3


def test_batches_are_read_in_numeric_order(store):
    store.write_part_batch("frontier", batch_name(999_999), pd.DataFrame({"x": [1.0]}), ["k"])
    store.write_part_batch("frontier", batch_name(1_000_000), pd.DataFrame({"x": [2.0]}), ["k"])
    assert store.read_part_batches("frontier") == {"k": {"x": 2.0}}
    assert store.next_batch_id("frontier") == 1_000_001


def test_batches_and_per_key_parts_live_side_by_side(store):
    store.write_part("frontier", "0-CVaR-0-frontier3", pd.DataFrame([{"x": 1.0}]))
    store.write_part_batch("frontier", batch_name(0), pd.DataFrame({"x": [2.0]}), ["0-CVaR-0-frontier4"])
    assert store.read_part_batches("frontier") == {"0-CVaR-0-frontier4": {"x": 2.0}}
    assert [k for k, _ in store.iter_parts("frontier")] == ["0-CVaR-0-frontier3"]
    assert store.has_part("frontier", "0-CVaR-0-frontier3")


def test_batch_rejects_bad_input(store):
    df = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match="keys"):
        store.write_part_batch("frontier", "b000001", df, ["only-one"])
    with pytest.raises(ValueError, match="reserved"):
        store.write_part_batch("frontier", "b000001", df.assign(_part="x"), ["a", "b"])
    for bad in ("../escape", ".tmp-b1", "", "a/b"):
        with pytest.raises(ValueError, match="safe file name"):
            store.write_part_batch("frontier", bad, df, ["a", "b"])
    assert store.read_part_batches("frontier") == {}


def test_read_batches_of_a_missing_table(store):
    assert store.read_part_batches("stress") == {}


def test_next_batch_id(store):
    assert store.next_batch_id("frontier") == 0
    assert batch_name(0) == "b000000" and batch_name(7) == "b000007"
    for i in (1, 7):
        store.write_part_batch("frontier", batch_name(i), pd.DataFrame({"x": [float(i)]}), [f"k{i}"])
    store.write_part_batch("frontier", "extra", pd.DataFrame({"x": [0.0]}), ["e"])
    store.write_part("frontier", "b12x", pd.DataFrame({"x": [0.0]}))
    assert store.next_batch_id("frontier") == 8
    assert batch_name(store.next_batch_id("frontier")) == "b000008"
    assert store.next_batch_id("views") == 0
    with pytest.raises(ValueError):
        batch_name(-1)


def test_batch_names_sort_by_id():
    names = [batch_name(i) for i in (0, 2, 10, 99, 100_000)]
    assert sorted(names) == names


# ---- finish -------------------------------------------------------------------------------------

def _finished(store: RunStore) -> RunStore:
    store.write_part_batch("frontier", batch_name(0), pd.DataFrame({"x": [1.0]}), ["k"])
    store.save_view(0, {"view_set": "prior", "status": "ok"}, np.full(4, 0.25), [])
    store.write_table("frontier", pd.DataFrame({"x": [1.0]}))
    store.write_manifest({"name": "store", "rows": {"frontier": 1}})
    return store


def test_finish_removes_parts_and_keeps_tables(store):
    _finished(store)
    before = {p.name: p.read_bytes() for p in store.root.iterdir() if p.is_file()}
    store.finish()
    assert not (store.root / ".parts").exists()
    assert not list(store.root.glob(".tmp-*"))
    assert {p.name: p.read_bytes() for p in store.root.iterdir()} == before
    assert store.parts_config() is None and store.read_part_batches("frontier") == {}
    store.finish()  # again: nothing to do
    run = read_run(store.root)
    assert run["manifest"]["name"] == "store" and run["frontier"]["x"].tolist() == [1.0]


def test_finish_without_parts_folder(tmp_path):
    s = RunStore(tmp_path / "run")
    s.write_manifest({"name": "x"})
    s.finish()
    assert (tmp_path / "run" / "manifest.json").is_file()


def test_finish_before_manifest_keeps_parts(store):
    store.write_part_batch("frontier", batch_name(0), pd.DataFrame({"x": [1.0]}), ["k"])
    with pytest.raises(RuntimeError, match="manifest"):
        store.finish()
    assert store.read_part_batches("frontier") == {"k": {"x": 1.0}}


def test_prepare_cleans_a_leftover_of_an_interrupted_finish(store):
    trash = store.root / ".tmp-parts-dead"
    (trash / "frontier").mkdir(parents=True)
    (trash / "frontier" / "b000000.parquet").write_bytes(b"x")
    (trash / "CONFIG_SHA256").write_text("abc")
    store.prepare(resume=True, config_sha256="abc")
    assert not trash.exists() and store.parts_config() == "abc"


# ---- streamed tables and row groups -------------------------------------------------------------

def _probabilities(names: list[str], sizes: list[int]) -> list[pd.DataFrame]:
    rng = np.random.default_rng(0)
    return [pd.DataFrame({"scenario": np.arange(n, dtype=np.int64), "view_set": name,
                          "probability": rng.dirichlet(np.ones(n))}) for name, n in zip(names, sizes)]


def test_write_table_batches_one_row_group_per_batch(store):
    batches = _probabilities(["prior", "crash", "rally"], [50, 7, 23])
    path = store.write_table_batches("probabilities", iter(batches))
    assert path == store.root / "probabilities.parquet"
    pf = pq.ParquetFile(path)
    assert pf.metadata.num_row_groups == 3
    assert [pf.metadata.row_group(i).num_rows for i in range(3)] == [50, 7, 23]
    back = pd.read_parquet(path)
    expect = pd.concat(batches, ignore_index=True)
    assert back["scenario"].tolist() == expect["scenario"].tolist()
    assert back["view_set"].tolist() == expect["view_set"].tolist()
    assert np.array_equal(back["probability"].to_numpy(), expect["probability"].to_numpy())
    meta = parquet_metadata(path)
    assert meta["table"] == "probabilities" and meta["config"] == {"name": "store"}
    assert meta == parquet_metadata(store.write_table("probabilities_one", expect)) | {"table": "probabilities"}
    assert not list(store.root.glob(".tmp-*"))


def test_write_table_batches_splits_at_row_group_size(store):
    path = store.write_table_batches("probabilities", _probabilities(["a", "b"], [10, 3]), row_group_size=4)
    md = pq.ParquetFile(path).metadata
    assert [md.row_group(i).num_rows for i in range(md.num_row_groups)] == [4, 4, 2, 3]
    with pytest.raises(ValueError, match="positive"):
        store.write_table_batches("probabilities", _probabilities(["a"], [3]), row_group_size=0)


def test_view_set_statistics_per_row_group(store):
    names = ["prior", "crash", "rally"]
    path = store.write_table_batches("probabilities", _probabilities(names, [5, 6, 7]))
    md = pq.ParquetFile(path).metadata
    j = md.schema.names.index("view_set")
    for i, name in enumerate(names):
        stats = md.row_group(i).column(j).statistics
        assert stats is not None and stats.has_min_max
        assert (stats.min, stats.max) == (name, name)
    got = pq.read_table(path, filters=[("view_set", "=", "crash")]).to_pandas()
    assert set(got["view_set"]) == {"crash"} and len(got) == 6


def test_write_table_batches_casts_later_batches(store):
    first = pd.DataFrame({"scenario": np.arange(3, dtype=np.int64), "view_set": "a", "probability": 1 / 3})
    later = pd.DataFrame({"probability": [0.5, 0.5], "view_set": ["b", "b"],
                          "scenario": np.arange(2, dtype=np.int32)})
    empty = first.iloc[:0]
    path = store.write_table_batches("probabilities", [first, empty, later])
    pf = pq.ParquetFile(path)
    assert pf.metadata.num_row_groups == 2
    back = pf.read().to_pandas()
    assert list(back.columns) == ["scenario", "view_set", "probability"]
    assert back["scenario"].dtype == np.int64 and back["scenario"].tolist() == [0, 1, 2, 0, 1]
    with pytest.raises(ValueError, match="differ"):
        store.write_table_batches("probabilities", [first, later.drop(columns="scenario")])
    with pytest.raises(ValueError, match="schema"):
        store.write_table_batches("probabilities", [first, later.assign(scenario="x")])
    assert len(pd.read_parquet(path)) == 5  # failed writes left the table as it was


def test_write_table_batches_needs_a_batch(store):
    with pytest.raises(ValueError, match="at least one"):
        store.write_table_batches("probabilities", iter([]))
    assert not (store.root / "probabilities.parquet").exists()
    assert not list(store.root.glob(".tmp-*"))


def _failing(batches: list[pd.DataFrame]):
    yield from batches
    raise RuntimeError("worker lost")


def test_failing_iterator_leaves_no_file(store):
    with pytest.raises(RuntimeError, match="worker lost"):
        store.write_table_batches("probabilities", _failing(_probabilities(["a", "b"], [4, 4])))
    assert not (store.root / "probabilities.parquet").exists()
    assert not list(store.root.glob(".tmp-*"))


def test_failing_iterator_keeps_the_old_table(store):
    old = store.write_table_batches("probabilities", _probabilities(["old"], [9]))
    content = old.read_bytes()
    with pytest.raises(RuntimeError, match="worker lost"):
        store.write_table_batches("probabilities", _failing(_probabilities(["new1", "new2"], [4, 4])))
    assert old.read_bytes() == content and not list(store.root.glob(".tmp-*"))
    new = store.write_table_batches("probabilities", _probabilities(["new"], [2]))
    assert pd.read_parquet(new)["view_set"].tolist() == ["new", "new"]


def test_write_table_splits_a_big_frame(store, monkeypatch):
    import pipeline.store as store_module

    assert ROW_GROUP_ROWS == 1_048_576
    monkeypatch.setattr(store_module, "ROW_GROUP_ROWS", 10)
    path = store.write_table("probabilities", _probabilities(["a"], [25])[0])
    md = pq.ParquetFile(path).metadata
    assert [md.row_group(i).num_rows for i in range(md.num_row_groups)] == [10, 10, 5]
