"""Each supply point's meter-reading day schedule code (計量日; table ``reading_days``).

Setting codes replaces the points' earlier codes in one transaction; unknown supply points
or codes outside 1 … 17 raise the matching
:class:`~openami.storage.sql.errors.StorageError`. The registry service is the one caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import sqlalchemy as sa

from openami.storage.sql import tables as t
from openami.storage.sql.bulk import insert_rows, select_table
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as

#: supply points with their area and reading-day code (NULL: none stored)
READING_DAYS_SCHEMA = pa.schema(
    [
        ("supply_point_key", pa.int64()),
        ("area_code", pa.string()),
        ("reading_day_code", pa.int64()),
    ]
)
_CHUNK = 500  # keys per IN (...) list


class ReadingDayRepository:
    def __init__(self, database: Database) -> None:
        self.database = database

    def set_codes(self, rows: Sequence[tuple[int, int]]) -> None:
        """Rows of (supply_point_key, reading_day_code), replacing earlier codes."""
        r = t.wheeling_tables.reading_days
        keys = [int(k) for k, _ in rows]
        with self.database.write() as connection, refusals_as("setting reading days"):
            for start in range(0, len(keys), _CHUNK):
                connection.execute(
                    r.delete().where(r.c.supply_point_key.in_(keys[start : start + _CHUNK]))
                )
            insert_rows(
                connection,
                r,
                ("supply_point_key", "reading_day_code"),
                [(int(k), int(c)) for k, c in rows],
            )

    def table(self) -> pa.Table:
        """Every supply point with its area and reading-day code, by key."""
        p, r = t.supply_points, t.wheeling_tables.reading_days
        statement = (
            sa.select(p.c.supply_point_key, p.c.area_code, r.c.reading_day_code)
            .join_from(p, r, r.c.supply_point_key == p.c.supply_point_key, isouter=True)
            .order_by(p.c.supply_point_key)
        )
        with self.database.read() as connection:
            return select_table(connection, statement, READING_DAYS_SCHEMA)
