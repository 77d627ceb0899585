"""The engine fixture gives each engine, empty and at head."""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.repositories import Database


def test_each_engine_starts_empty_at_head(database: Database) -> None:
    assert database.dialect in ("sqlite", "postgresql")
    with database.read() as connection:
        names = set(sa.inspect(connection).get_table_names())
        assert {"supply_points", "audit_log", "alembic_version", "settings"} <= names
        assert connection.execute(sa.text("SELECT COUNT(*) FROM supply_points")).scalar() == 0
