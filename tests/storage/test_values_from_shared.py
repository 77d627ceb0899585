"""An MDMS without a working store of its own (the hub process of the cluster) answers
``current_values`` from the shared interval store: the values a worker's store published,
the highest version of each slot, with their quality; nothing before anything is
published."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from openami.clock import JST, ManualClock
from openami.clock.slots import day_first_slot
from openami.mdms import Mdms
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_mdms import append_values
from openami.storage.point_read import CURRENT_VALUES_SCHEMA
from openami.storage.repositories import open_database
from openami.storage.shared_values import SharedValueStore
from openami.storage.values_from_shared import SharedCurrentValues

FIRST = day_first_slot(date(2026, 12, 1))


def versions(store: DuckIntervalStore, rows: list[tuple[int, int, int, int, int]]) -> None:
    """(supply point, slot, import Wh, quality code, version) rows into a working store."""
    key, slot, imp, qcode, version = (np.array(c) for c in zip(*rows, strict=True))
    table = pa.table(
        {
            "supply_point_key": pa.array(key, pa.int64()),
            "slot": pa.array(slot, pa.int64()),
            "import_wh": pa.array(imp, pa.int64()),
            "export_wh": pa.array(np.zeros(len(rows)), pa.int64()),
            "qcode": pa.array(qcode.astype(np.uint8)),
            "version": pa.array(version.astype(np.int32)),
            "vee_flags": pa.array(np.zeros(len(rows), dtype=np.int32)),
        }
    )
    with store.transaction() as cur:
        append_values(cur, table, time.time(), "register difference")


def test_current_values_come_from_what_the_workers_published(tmp_path: Path) -> None:
    uri = tmp_path / "shared"
    registry = Registry(open_database(":memory:"))
    hub_store = DuckIntervalStore(tmp_path / "hub.duckdb")
    mdms = Mdms(hub_store, registry, ManualClock(datetime(2026, 12, 2, tzinfo=JST)))
    mdms.values_source = SharedCurrentValues(uri, refresh_s=0.0)
    assert mdms.current_values(7, FIRST, FIRST + 47).num_rows == 0  # no table yet

    worker = DuckIntervalStore(tmp_path / "p07.duckdb")
    shared = SharedValueStore(uri)
    versions(worker, [(7, FIRST, 310, 0, 1), (7, FIRST + 1, 0, 3, 1), (8, FIRST, 99, 0, 1)])
    versions(worker, [(7, FIRST + 1, 275, 1, 2)])  # an estimate over the missing mark
    assert shared.publish_new(worker, "p07") == 4

    got = mdms.current_values(7, FIRST, FIRST + 47)
    assert got.schema == CURRENT_VALUES_SCHEMA
    assert got.select(["slot", "import_wh", "quality", "version"]).to_pylist() == [
        {"slot": FIRST, "import_wh": 310, "quality": "measured", "version": 1},
        {"slot": FIRST + 1, "import_wh": 275, "quality": "estimated", "version": 2},
    ]
    assert hub_store.query("SELECT count(*) AS n FROM half_hour_values")["n"][0].as_py() == 0
    assert mdms.current_values(7, FIRST + 2, FIRST + 47).num_rows == 0
    worker.close()
    hub_store.close()
