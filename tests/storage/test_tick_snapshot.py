"""The tick-state snapshot file: complete or absent, tagged, refused when foreign or cut."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from openami.storage.tick_snapshot import (
    SnapshotUnreadable,
    load_snapshot,
    remove_snapshot,
    save_snapshot,
)


def _table(n: int = 1000) -> pa.Table:
    return pa.table({"meter_id": np.arange(n, dtype=np.int64), "x": np.ones(n, np.int16)})


def test_round_trip_keeps_columns_and_tag(tmp_path: Path) -> None:
    path = tmp_path / "state.arrow"
    size = save_snapshot(path, _table(), {"store_writes": 42, "vee": "abc"})
    assert size == path.stat().st_size > 0
    assert path.stat().st_mode & 0o777 == 0o600
    got = load_snapshot(path)
    assert got is not None
    assert got.tag == {"format": 1, "store_writes": 42, "vee": "abc", "rows": 1000}
    assert got.table.equals(_table())
    assert not (tmp_path / "state.arrow.partial").exists()


def test_a_second_save_replaces_the_first(tmp_path: Path) -> None:
    path = tmp_path / "state.arrow"
    save_snapshot(path, _table(10), {"store_writes": 1})
    save_snapshot(path, _table(20), {"store_writes": 2})
    got = load_snapshot(path)
    assert got is not None and got.tag["store_writes"] == 2 and got.table.num_rows == 20


def test_missing_is_none_and_remove_is_quiet(tmp_path: Path) -> None:
    assert load_snapshot(tmp_path / "none.arrow") is None
    remove_snapshot(tmp_path / "none.arrow")


def test_a_cut_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.arrow"
    save_snapshot(path, _table(100_000), {"store_writes": 1})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a crash of something that did not rename
    with pytest.raises(SnapshotUnreadable, match="not a readable Arrow file"):
        load_snapshot(path)


def test_a_foreign_arrow_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, _table().schema) as w:
        w.write_table(_table())
    with pytest.raises(SnapshotUnreadable, match="no openami tick-state tag"):
        load_snapshot(path)


def test_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.arrow"
    table = _table().replace_schema_metadata({b"openami.tick_state": b'{"format": 99}'})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    with pytest.raises(SnapshotUnreadable, match="format"):
        load_snapshot(path)


def test_batches_are_read_one_by_one_and_the_row_count_is_tagged(tmp_path: Path) -> None:
    from openami.storage.tick_snapshot import open_snapshot

    path = tmp_path / "state.arrow"
    # more rows than one batch of the writer (4 Mi rows): at least two batches
    table = _table((1 << 22) + 5)
    save_snapshot(path, table, {"store_writes": 3})
    reader = open_snapshot(path)
    assert reader is not None
    with reader:
        assert reader.tag["rows"] == table.num_rows == reader.num_rows
        sizes = [b.num_rows for b in reader.batches()]
    assert sizes == [1 << 22, 5]
    assert open_snapshot(tmp_path / "none.arrow") is None


def test_a_file_without_a_row_count_is_counted(tmp_path: Path) -> None:
    from openami.storage.tick_snapshot import open_snapshot

    path = tmp_path / "state.arrow"
    table = _table(30).replace_schema_metadata({b"openami.tick_state": b'{"format": 1}'})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table, max_chunksize=7)
    reader = open_snapshot(path)
    assert reader is not None
    with reader:
        assert reader.num_rows == 30
        assert pa.Table.from_batches(list(reader.batches())).equals(_table(30))
