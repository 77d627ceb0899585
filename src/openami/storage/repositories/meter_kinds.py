"""Meter types, CT/VT multipliers, voltage and load-shape classes, and the manual reads of
conventional meters. Each method is one transaction; see
:mod:`openami.storage.sql.conventional_tables`. The rules live in
:mod:`openami.registry.kinds`; this module only stores and reads rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from openami.storage.sql import tables as t
from openami.storage.sql.bulk import insert_rows, select_table
from openami.storage.sql.conventional_tables import manual_reads, meter_kinds, supply_point_classes
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as
from openami.storage.sql.upsert import insert_or_update

MeterKindRow = tuple[int, str, int]
"""meter_id, meter_type, multiplier"""
PointClassRow = tuple[int, str, str]
"""supply_point_key, voltage_class, load_shape"""
ManualReadRow = tuple[int, str, int, str, float]
"""meter_id, read_on (ISO day), import_register_wh, reader, recorded_at"""

KINDS_SCHEMA = pa.schema(
    [("meter_id", pa.int64()), ("meter_type", pa.string()), ("multiplier", pa.int64())]
)
CLASSES_SCHEMA = pa.schema(
    [
        ("supply_point_key", pa.int64()),
        ("voltage_class", pa.string()),
        ("load_shape", pa.string()),
    ]
)
MANUAL_READS_SCHEMA = pa.schema(
    [
        ("meter_id", pa.int64()),
        ("read_on", pa.string()),
        ("import_register_wh", pa.int64()),
        ("reader", pa.string()),
    ]
)
_CHUNK = 500  # keys per IN (...) list


class MeterKindStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def set_meter_kinds(self, rows: Sequence[MeterKindRow]) -> None:
        """Create or change the type and multiplier of meters (all or nothing)."""
        with self.database.write() as connection, refusals_as("setting meter types"):
            for meter_id, meter_type, multiplier in rows:
                values = {"meter_id": meter_id, "meter_type": meter_type, "multiplier": multiplier}
                insert_or_update(connection, meter_kinds, values, ("meter_id",))

    def set_point_classes(self, rows: Sequence[PointClassRow]) -> None:
        """Create or change the voltage and load-shape class of supply points."""
        with self.database.write() as connection, refusals_as("setting supply point classes"):
            for key, voltage_class, load_shape in rows:
                values = {
                    "supply_point_key": key,
                    "voltage_class": voltage_class,
                    "load_shape": load_shape,
                }
                insert_or_update(connection, supply_point_classes, values, ("supply_point_key",))

    def meter_kinds_table(self) -> pa.Table:
        """The stored rows (meters without one are smart, multiplier 1), by meter."""
        k = meter_kinds
        statement = sa.select(k.c.meter_id, k.c.meter_type, k.c.multiplier).order_by(k.c.meter_id)
        with self.database.read() as connection:
            return select_table(connection, statement, KINDS_SCHEMA)

    def point_classes_table(self) -> pa.Table:
        """The stored rows (points without one are low voltage, residential), by key."""
        c = supply_point_classes
        statement = sa.select(c.c.supply_point_key, c.c.voltage_class, c.c.load_shape).order_by(
            c.c.supply_point_key
        )
        with self.database.read() as connection:
            return select_table(connection, statement, CLASSES_SCHEMA)

    def meter_kinds_of(self, meter_ids: Sequence[int]) -> pa.Table:
        """The stored rows of ``meter_ids`` (those without one are left out), by meter."""
        k = meter_kinds
        base = sa.select(k.c.meter_id, k.c.meter_type, k.c.multiplier)
        return self._chunked(base, k.c.meter_id, meter_ids, KINDS_SCHEMA)

    def point_classes_of(self, supply_point_keys: Sequence[int]) -> pa.Table:
        """The stored rows of ``supply_point_keys`` (those without one left out), by key."""
        c = supply_point_classes
        base = sa.select(c.c.supply_point_key, c.c.voltage_class, c.c.load_shape)
        return self._chunked(base, c.c.supply_point_key, supply_point_keys, CLASSES_SCHEMA)

    def _chunked(
        self,
        base: sa.Select[Any],
        column: sa.ColumnElement[Any],
        values: Sequence[int],
        schema: pa.Schema,
    ) -> pa.Table:
        unique = sorted({int(v) for v in values})
        parts = [schema.empty_table()]
        with self.database.read() as connection:
            for i in range(0, len(unique), _CHUNK):
                statement = base.where(column.in_(unique[i : i + _CHUNK])).order_by(column)
                parts.append(select_table(connection, statement, schema))
        return pa.concat_tables(parts)

    def known_meters(self, meter_ids: Sequence[int]) -> set[int]:
        """The meters among ``meter_ids`` that the registry holds."""
        m = t.meters
        found: set[int] = set()
        unique = sorted(set(meter_ids))
        with self.database.read() as connection:
            for i in range(0, len(unique), _CHUNK):
                chunk = unique[i : i + _CHUNK]
                rows = connection.execute(sa.select(m.c.meter_id).where(m.c.meter_id.in_(chunk)))
                found.update(int(r[0]) for r in rows)
        return found

    def manual_reads_table(self, meter_ids: Sequence[int] | None = None) -> pa.Table:
        """Stored manual reads (of ``meter_ids``, or all), by meter and day."""
        with self.database.read() as connection:
            return _reads(connection, meter_ids)

    def add_manual_reads(
        self, meter_ids: Sequence[int], choose: Callable[[pa.Table], Sequence[ManualReadRow]]
    ) -> int:
        """In one transaction: hand the stored reads of ``meter_ids`` to ``choose``, which
        returns the rows to store (or raises to refuse; nothing is stored then); store them.
        Returns how many were stored."""
        columns = ("meter_id", "read_on", "import_register_wh", "reader", "recorded_at")
        with self.database.write() as connection:
            rows = choose(_reads(connection, sorted(set(meter_ids))))
            if not rows:
                return 0
            with refusals_as("adding manual reads"):
                insert_rows(connection, manual_reads, columns, rows)
        return len(rows)


def _reads(connection: sa.Connection, meter_ids: Sequence[int] | None) -> pa.Table:
    r = manual_reads
    base = sa.select(r.c.meter_id, r.c.read_on, r.c.import_register_wh, r.c.reader)
    if meter_ids is None:
        return select_table(
            connection, base.order_by(r.c.meter_id, r.c.read_on), MANUAL_READS_SCHEMA
        )
    parts = []
    for i in range(0, len(meter_ids), _CHUNK):
        chunk = list(meter_ids[i : i + _CHUNK])
        statement = base.where(r.c.meter_id.in_(chunk)).order_by(r.c.meter_id, r.c.read_on)
        parts.append(select_table(connection, statement, MANUAL_READS_SCHEMA))
    return pa.concat_tables(parts) if parts else MANUAL_READS_SCHEMA.empty_table()
