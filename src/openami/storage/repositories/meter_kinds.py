"""Meter types, CT/VT multipliers, voltage and load-shape classes, and the manual reads of
conventional meters. Each method is one transaction; see
:mod:`openami.storage.sql.conventional_tables`. The rules live in
:mod:`openami.registry.kinds`; this module only stores and reads rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from openami.storage.sql import tables as t
from openami.storage.sql.bulk import insert_rows, select_table
from openami.storage.sql.conventional_tables import manual_reads, meter_kinds, supply_point_classes
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as
from openami.storage.sql.upsert import insert_statement

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
_MANY = 2_000  # more keys than this: one range scan instead of IN lists


class MeterKindStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def set_meter_kinds(self, rows: Sequence[MeterKindRow]) -> None:
        """Create or change the type and multiplier of meters (all or nothing)."""
        names = ("meter_id", "meter_type", "multiplier")
        with self.database.write() as connection, refusals_as("setting meter types"):
            _upsert(connection, meter_kinds, names, rows)

    def set_point_classes(self, rows: Sequence[PointClassRow]) -> None:
        """Create or change the voltage and load-shape class of supply points."""
        names = ("supply_point_key", "voltage_class", "load_shape")
        with self.database.write() as connection, refusals_as("setting supply point classes"):
            _upsert(connection, supply_point_classes, names, rows)

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
        with self.database.read() as connection:
            return _of_keys(connection, base, column, values, schema).sort_by(column.key)

    def known_meters(self, meter_ids: Sequence[int]) -> set[int]:
        """The meters among ``meter_ids`` that the registry holds."""
        m = t.meters
        base = sa.select(m.c.meter_id)
        schema = pa.schema([("meter_id", pa.int64())])
        with self.database.read() as connection:
            found = _of_keys(connection, base, m.c.meter_id, meter_ids, schema)
        return set(found.column("meter_id").to_pylist())

    def manual_reads_table(self, meter_ids: Sequence[int] | None = None) -> pa.Table:
        """Stored manual reads (of ``meter_ids``, or all), by meter and day."""
        with self.database.read() as connection:
            return _reads(connection, meter_ids)

    def add_manual_reads(
        self,
        meter_ids: Sequence[int],
        first_day: str,
        choose: Callable[[pa.Table], Sequence[ManualReadRow]],
    ) -> int:
        """In one transaction: hand ``choose`` the stored reads of ``meter_ids`` that new
        reads from ``first_day`` (ISO) on can meet — each meter's latest read before that
        day and all from it on — take the rows it returns (it raises to refuse; nothing is
        stored then) and store them. Returns how many were stored."""
        columns = ("meter_id", "read_on", "import_register_wh", "reader", "recorded_at")
        with self.database.write() as connection:
            rows = choose(_reads_around(connection, meter_ids, first_day))
            if not rows:
                return 0
            with refusals_as("adding manual reads"):
                insert_rows(connection, manual_reads, columns, rows)
        return len(rows)


def _upsert(
    connection: sa.Connection,
    table: sa.Table,
    names: tuple[str, ...],
    rows: Sequence[tuple[object, ...]],
) -> None:
    """Insert the rows, or update the non-key columns of those whose key (the first name)
    is stored: one statement executed for all rows."""
    if not rows:
        return
    statement = insert_statement(connection, table)
    statement = statement.on_conflict_do_update(
        index_elements=[names[0]], set_={n: statement.excluded[n] for n in names[1:]}
    )
    connection.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])


def _reads(connection: sa.Connection, meter_ids: Sequence[int] | None) -> pa.Table:
    r = manual_reads
    base = sa.select(r.c.meter_id, r.c.read_on, r.c.import_register_wh, r.c.reader)
    if meter_ids is None:
        statement = base.order_by(r.c.meter_id, r.c.read_on)
        return select_table(connection, statement, MANUAL_READS_SCHEMA)
    found = _of_keys(connection, base, r.c.meter_id, meter_ids, MANUAL_READS_SCHEMA)
    return found.sort_by([("meter_id", "ascending"), ("read_on", "ascending")])


def _reads_around(connection: sa.Connection, meter_ids: Sequence[int], first_day: str) -> pa.Table:
    """Of each meter: its latest read before ``first_day`` and every read from it on."""
    r = manual_reads
    columns = (r.c.meter_id, r.c.read_on, r.c.import_register_wh, r.c.reader)
    latest = (
        sa.select(r.c.meter_id, sa.func.max(r.c.read_on).label("read_on"))
        .where(r.c.read_on < first_day)
        .group_by(r.c.meter_id)
        .subquery()
    )
    before = sa.select(*columns).join_from(
        r, latest, sa.and_(r.c.meter_id == latest.c.meter_id, r.c.read_on == latest.c.read_on)
    )
    after = sa.select(*columns).where(r.c.read_on >= first_day)
    found = pa.concat_tables(
        [
            _of_keys(connection, before, r.c.meter_id, meter_ids, MANUAL_READS_SCHEMA),
            _of_keys(connection, after, r.c.meter_id, meter_ids, MANUAL_READS_SCHEMA),
        ]
    )
    return found.sort_by([("meter_id", "ascending"), ("read_on", "ascending")])


def _of_keys(
    connection: sa.Connection,
    base: sa.Select[Any],
    column: sa.ColumnElement[Any],
    keys: Sequence[int],
    schema: pa.Schema,
) -> pa.Table:
    """The rows of ``base`` whose ``column`` is one of ``keys``: a few keys by IN lists, many
    by one range scan filtered in Arrow (hundreds of IN lists cost more)."""
    unique = sorted({int(k) for k in keys})
    if not unique:
        return schema.empty_table()
    if len(unique) > _MANY:
        statement = base.where(column.between(unique[0], unique[-1]))
        rows = select_table(connection, statement, schema)
        return rows.filter(pc.is_in(rows.column(0), value_set=pa.array(unique, pa.int64())))
    parts = [schema.empty_table()]
    for i in range(0, len(unique), _CHUNK):
        statement = base.where(column.in_(unique[i : i + _CHUNK]))
        parts.append(select_table(connection, statement, schema))
    return pa.concat_tables(parts)
