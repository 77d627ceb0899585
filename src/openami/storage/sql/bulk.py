"""Fast paths for many rows: bulk inserts and Arrow-returning selects.

SQLAlchemy Core builds every statement; these helpers only skip its per-row work (a dict per
row, a type processor per value) where a table has hundreds of thousands of rows (building
a city, the registry's columnar reads). On SQLite rows go through the driver's
``executemany`` / ``fetchall``; on PostgreSQL inserts use ``COPY``. Values are converted
per backend the way the column types would: JST days are ISO text on SQLite, ``DATE`` on
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import sqlalchemy as sa


def insert_rows(
    connection: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` in the caller's
    transaction."""
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    day_columns = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, sa.Date)]
    if day_columns:
        rows = (_days_as_text(row, day_columns) for row in rows)
    marks = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", list(rows))


def _days_as_text(row: Sequence[Any], day_columns: list[int]) -> tuple[Any, ...]:
    out = list(row)
    for i in day_columns:
        if isinstance(out[i], date):
            out[i] = out[i].isoformat()
    return tuple(out)


def select_table(
    connection: sa.Connection, statement: sa.Select[Any], schema: pa.Schema
) -> pa.Table:
    """Run ``statement`` and return its rows as columns of ``schema`` (same order)."""
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    params = {k: _bind(connection, v) for k, v in compiled.construct_params().items()}
    sql = str(compiled)
    bound: Any = params
    if compiled.positiontup is not None:
        bound = tuple(params[name] for name in compiled.positiontup)
    result = connection.exec_driver_sql(sql, bound)
    rows = result.cursor.fetchall()
    result.close()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = [_column(values, field.type) for values, field in zip(columns, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def _bind(connection: sa.Connection, value: Any) -> Any:
    if connection.dialect.name == "sqlite" and isinstance(value, date):
        return value.isoformat()
    return value


def _column(values: Sequence[Any], arrow_type: pa.DataType) -> pa.Array:
    if pa.types.is_boolean(arrow_type):  # SQLite stores booleans as 0/1
        return pa.array([None if v is None else bool(v) for v in values], arrow_type)
    if pa.types.is_date32(arrow_type) and any(isinstance(v, str) for v in values):
        return pa.array(values, pa.string()).cast(arrow_type)
    if pa.types.is_string(arrow_type) and any(isinstance(v, date) for v in values):
        return pa.array([v.isoformat() if isinstance(v, date) else v for v in values], arrow_type)
    return pa.array(values, arrow_type)
