"""Named settings of the system (e.g. the key of the opaque ESPI ids), one text value each."""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.upsert import insert_if_absent


class SettingsStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, name: str) -> str | None:
        s = t.settings
        with self.database.read() as connection:
            value = connection.execute(sa.select(s.c.value).where(s.c.name == name)).scalar()
        return None if value is None else str(value)

    def get_or_set(self, name: str, value: str) -> str:
        """The stored value of ``name``; stores ``value`` first if there is none (the first
        writer wins when several race)."""
        with self.database.write() as connection:
            insert_if_absent(connection, t.settings, {"name": name, "value": value}, ("name",))
            stored = connection.execute(
                sa.select(t.settings.c.value).where(t.settings.c.name == name)
            ).scalar_one()
        return str(stored)
