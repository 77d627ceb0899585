"""Current values read back from the shared interval store in the columns of
``Mdms.current_values``: the same values, qualities, versions and final flags as the
working store (what a hub replica serves), provenance columns empty."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from openami.clock import RealClock
from openami.clock.slots import day_first_slot
from openami.mdms.shared_values import SharedValuesMdms
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.interval_appends import append_values
from openami.storage.mdms_schema import upgrade_mdms_schema
from openami.storage.point_read import CURRENT_VALUES_SCHEMA, current_values
from openami.storage.repositories import open_database
from openami.storage.shared_current import shared_current_values, shared_values_of_points
from openami.storage.shared_read import SharedValuesReader
from openami.storage.shared_values import SharedValueStore

FIRST = day_first_slot(date(2026, 11, 2))
POINTS = np.arange(1, 21, dtype=np.int64)


def _tick(store: DuckIntervalStore, slot: int, keys: np.ndarray, version: int, qcode: int) -> None:
    n = len(keys)
    values = pa.table(
        {
            "supply_point_key": pa.array(keys, pa.int64()),
            "slot": pa.array(np.full(n, slot), pa.int64()),
            "import_wh": pa.array(keys * 10 + slot % 7 + version, pa.int64()),
            "export_wh": pa.array(np.zeros(n, dtype=np.int64)),
            "qcode": pa.array(np.full(n, qcode, dtype=np.uint8)),
            "version": pa.array(np.full(n, version, dtype=np.int32)),
            "vee_flags": pa.array(np.zeros(n, dtype=np.int32)),
        }
    )
    with store.transaction() as cur:
        append_values(cur, values, time.time(), "register difference")


def test_the_shared_store_serves_what_the_working_store_holds(tmp_path: Path) -> None:
    store = DuckIntervalStore(tmp_path / "p01.duckdb")
    upgrade_mdms_schema(store)  # (final periods: none declared)
    try:
        for slot in range(FIRST, FIRST + 6):
            _tick(store, slot, POINTS, 1, 0)
        _tick(store, FIRST + 2, POINTS[::3], 2, 1)  # estimates over some values
        SharedValueStore(tmp_path / "table").publish_new(store, "p01")
        mdms = SharedValuesMdms(
            str(tmp_path / "table"), Registry(open_database(":memory:")), RealClock()
        )
        compared = ["slot", "import_wh", "export_wh", "quality", "version", "final"]
        for key in (1, 4, 20, 999):
            shared = mdms.current_values(key, FIRST, FIRST + 47)
            assert shared.schema == CURRENT_VALUES_SCHEMA
            working = current_values(store, key, FIRST, FIRST + 47)
            assert shared.select(compared).to_pylist() == working.select(compared).to_pylist()
            assert shared.column("recorded_at").null_count == shared.num_rows
        assert mdms.current_values(4, FIRST + 2, FIRST + 2).column("quality").to_pylist() == [
            "estimated"
        ]
        many = shared_values_of_points(
            SharedValuesReader(tmp_path / "table"), [20, 1, 1], FIRST, FIRST + 47
        )
        assert many.column("supply_point_key").to_pylist() == [1] * 6 + [20] * 6
        assert many.num_columns == 1 + len(CURRENT_VALUES_SCHEMA)
    finally:
        store.close()


def test_no_values_before_any_worker_has_published(tmp_path: Path) -> None:
    """A hub replica started before the first publication answers "no values", not an error."""
    reader = SharedValuesReader(tmp_path / "not-yet", refresh_s=0.0)
    got = shared_current_values(reader, 7, 0, 47)
    assert got.num_rows == 0 and got.schema == CURRENT_VALUES_SCHEMA
