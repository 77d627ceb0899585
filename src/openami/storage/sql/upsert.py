"""INSERT ... ON CONFLICT for both engines (SQLite and PostgreSQL spell it the same way,
SQLAlchemy has one construct per dialect)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert_statement(connection: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT of ``table``, which has ``on_conflict_do_*``."""
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def insert_or_update(
    connection: sa.Connection,
    table: sa.Table,
    values: Mapping[str, Any],
    key: Sequence[str],
) -> None:
    """Insert the row, or update its non-key columns where a row with that key exists."""
    statement = insert_statement(connection, table).values(**values)
    changed = {k: statement.excluded[k] for k in values if k not in key}
    connection.execute(statement.on_conflict_do_update(index_elements=list(key), set_=changed))


def insert_if_absent(
    connection: sa.Connection,
    table: sa.Table,
    values: Mapping[str, Any],
    key: Sequence[str],
) -> bool:
    """Insert the row unless one with that key exists; True if inserted (told by RETURNING:
    psycopg's rowcount of ``ON CONFLICT DO NOTHING`` says 1 either way)."""
    statement = insert_statement(connection, table).values(**values)
    statement = statement.on_conflict_do_nothing(index_elements=list(key))
    return connection.execute(statement.returning(table.c[key[0]])).first() is not None
