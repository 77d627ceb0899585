"""The slot-file source of hub replicas (storage/slot_files_shared.py): the (point, slot)
pairs committed after a table version, also those of tick files compacted away since, and
every point's current version of a slot, as the working store has it."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from openami.clock.slots import day_first_slot
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.interval_appends import append_values
from openami.storage.shared_read import SharedValuesReader
from openami.storage.shared_values import SharedValueStore
from openami.storage.slot_files_shared import SharedSlotSource

DAY = date(2026, 12, 1)
FIRST = day_first_slot(DAY)
RNG = np.random.default_rng(7)


def _tick(store: DuckIntervalStore, slot: int, keys: list[int], version: int) -> None:
    n = len(keys)
    values = pa.table(
        {
            "supply_point_key": pa.array(keys, pa.int64()),
            "slot": pa.array(np.full(n, slot), pa.int64()),
            "import_wh": pa.array(RNG.integers(0, 900, n), pa.int64()),
            "export_wh": pa.array(RNG.integers(0, 50, n), pa.int64()),
            "qcode": pa.array(np.full(n, 0 if version == 1 else 1, dtype=np.uint8)),
            "version": pa.array(np.full(n, version, dtype=np.int32)),
            "vee_flags": pa.array(np.zeros(n, dtype=np.int32)),
        }
    )
    with store.transaction() as cur:
        append_values(cur, values, time.time(), "register difference")


def _pairs(table: pa.Table) -> set[tuple[int, int]]:
    return set(
        zip(*(table.column(c).to_pylist() for c in ("supply_point_key", "slot")), strict=True)
    )


def test_changes_by_table_version_and_current_versions(tmp_path: Path) -> None:
    store = DuckIntervalStore(tmp_path / "work.duckdb")
    shared = SharedValueStore(str(tmp_path / "shared"))
    source = SharedSlotSource(SharedValuesReader(tmp_path / "shared"))
    _tick(store, FIRST, [1, 2, 3], 1)
    shared.publish_new(store, "w0")
    first = source.version()
    assert _pairs(source.changes(-1, first)) == {(1, FIRST), (2, FIRST), (3, FIRST)}
    _tick(store, FIRST, [2], 2)  # a later version of one point
    _tick(store, FIRST + 1, [1, 3], 1)
    shared.publish_new(store, "w0")
    shared.compact_day(DAY)  # the new tick files are compacted away at once
    now = source.version()
    assert now > first
    assert _pairs(source.changes(first, now)) == {(2, FIRST), (1, FIRST + 1), (3, FIRST + 1)}
    assert source.changes(now, now).num_rows == 0
    values = source.versions(FIRST, time.time(), None, None).sort_by("supply_point_key")
    expected = store.query(
        """SELECT supply_point_key, version, import_wh, export_wh, quality
           FROM half_hour_values WHERE slot = ?
           QUALIFY row_number() OVER (PARTITION BY supply_point_key ORDER BY version DESC) = 1
           ORDER BY supply_point_key""",
        [FIRST],
    )
    assert values.drop_columns(["recorded_at"]).to_pylist() == expected.to_pylist()
    assert values.column("recorded_at").null_count == values.num_rows  # not kept there
    only = source.versions(FIRST, time.time(), None, pa.table({"supply_point_key": [3]}))
    assert only.column("supply_point_key").to_pylist() == [3]


def test_no_table_yet_means_no_version_and_no_values(tmp_path: Path) -> None:
    source = SharedSlotSource(SharedValuesReader(tmp_path / "nothing"))
    assert source.version() == -1
    assert source.versions(FIRST, time.time(), None, None).num_rows == 0
    with pytest.raises(NotImplementedError):
        source.changed_slots(0.0, 1.0)
