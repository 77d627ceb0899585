"""The interval store opened read-only (hub replicas over a loaded store): several handles
read the same file at once, writes are refused, and the MDMS opens it without changing
its schema (a file lacking MDMS schema steps is refused with a clear error)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from openami.clock import JST, ManualClock
from openami.mdms import Mdms
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore


def test_many_readers_no_writes(tmp_path: Path) -> None:
    path = tmp_path / "interval.duckdb"
    registry = Registry.open(":memory:")
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    writer = DuckIntervalStore(path)
    Mdms(writer, registry, clock)  # makes the MDMS schema
    writer.close()
    first = DuckIntervalStore(path, read_only=True)
    second = DuckIntervalStore(path, read_only=True)
    assert first.read_only and second.read_only
    for store in (first, second):
        mdms = Mdms(store, registry, clock)  # no schema change needed: opens
        assert mdms.current_values(1, 0, 47).num_rows == 0
    with pytest.raises(duckdb.Error, match="read-only"), first.transaction() as cur:
        cur.execute("INSERT INTO store_writes VALUES (1.0)")
    first.close()
    second.close()


def test_a_file_without_the_mdms_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "interval.duckdb"
    DuckIntervalStore(path).close()  # interval tables only, no MDMS steps
    store = DuckIntervalStore(path, read_only=True)
    with pytest.raises(RuntimeError, match="open it once for writing"):
        Mdms(store, Registry.open(":memory:"), ManualClock(datetime(2026, 11, 1, tzinfo=JST)))
    store.close()
