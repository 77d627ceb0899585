"""The meter-kind repository on SQLite and PostgreSQL: meter types and multipliers, supply
point classes, manual reads stored in one transaction after the caller's choice."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from openami.storage.repositories.meter_kinds import MeterKindStore
from openami.storage.sql import AlreadyExists, Database, MissingReference


def _registry_rows(database: Database) -> None:
    registry = database.registry
    registry.add_supply_points([("0300000000000000000001", "03")])
    registry.add_meters([(m, "M", f"S{m}", 30, "mesh", None, date(2030, 1, 1)) for m in (1, 2)])


def test_kinds_and_classes_are_stored_and_changed(database: Database) -> None:
    _registry_rows(database)
    store = MeterKindStore(database)
    store.set_meter_kinds([(1, "conventional", 1), (2, "smart", 40)])
    store.set_meter_kinds([(2, "smart", 60)])  # a changed CT ratio
    assert store.meter_kinds_table().to_pylist() == [
        {"meter_id": 1, "meter_type": "conventional", "multiplier": 1},
        {"meter_id": 2, "meter_type": "smart", "multiplier": 60},
    ]
    store.set_point_classes([(1, "high", "industrial")])
    assert store.point_classes_table().to_pylist() == [
        {"supply_point_key": 1, "voltage_class": "high", "load_shape": "industrial"}
    ]
    with pytest.raises(MissingReference):
        store.set_meter_kinds([(99, "smart", 1)])
    assert store.known_meters([1, 2, 99]) == {1, 2}


def test_manual_reads_in_one_transaction(database: Database) -> None:
    _registry_rows(database)
    store = MeterKindStore(database)
    seen: list[int] = []

    def take_all(stored: pa.Table) -> list[tuple[int, str, int, str, float]]:
        seen.append(stored.num_rows)
        return [(1, "2026-10-01", 1000, "R7", 1.0), (1, "2026-11-01", 1500, "R7", 2.0)]

    assert store.add_manual_reads([1], "2026-10-01", take_all) == 2
    assert store.manual_reads_table([1]).column("import_register_wh").to_pylist() == [1000, 1500]

    def refuse(stored: pa.Table) -> list[tuple[int, str, int, str, float]]:
        seen.append(stored.num_rows)
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        store.add_manual_reads([1], "2026-12-01", refuse)
    assert seen == [0, 1]  # the second choice saw the latest read before its first day
    with pytest.raises(AlreadyExists):
        store.add_manual_reads([1], "2026-11-01", lambda _: [(1, "2026-11-01", 1600, "R8", 3.0)])
    assert store.manual_reads_table().num_rows == 2  # nothing of the refused ones
