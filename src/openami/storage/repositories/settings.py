"""Named settings of the system (e.g. the key of the opaque ESPI ids), one text value each.

Settings that are secrets (:data:`SECRET_SETTINGS`) are sealed at rest under the master
key (:mod:`openami.storage.secrets`, the setting's name bound as additional data); values
an earlier version stored in clear are sealed when a store is first opened on the database.
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.secrets import SEALED_PREFIX, SecretBox, secret_box
from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.upsert import insert_if_absent

#: settings kept sealed
SECRET_SETTINGS = frozenset({"espi_id_key"})


def _what(name: str) -> str:
    return f"setting/{name}"


class SettingsStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._box: SecretBox | None = None
        self._seal_clear_values()

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = secret_box(self.database)
        return self._box

    def _seal_clear_values(self) -> None:
        s = t.settings
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(s.c.name, s.c.value).where(
                    s.c.name.in_(sorted(SECRET_SETTINGS)), s.c.value.not_like(f"{SEALED_PREFIX}%")
                )
            ).all()
        if not rows:
            return
        with self.database.write() as connection:
            for name, value in rows:
                connection.execute(
                    s.update()
                    .where(s.c.name == name, s.c.value == value)
                    .values(value=self.box.seal(str(value), _what(str(name))))
                )

    def _clear(self, name: str, stored: str) -> str:
        return self.box.open(stored, _what(name)) if name in SECRET_SETTINGS else stored

    def get(self, name: str) -> str | None:
        s = t.settings
        with self.database.read() as connection:
            value = connection.execute(sa.select(s.c.value).where(s.c.name == name)).scalar()
        return None if value is None else self._clear(name, str(value))

    def get_or_set(self, name: str, value: str) -> str:
        """The stored value of ``name``; stores ``value`` first if there is none (the first
        writer wins when several race)."""
        if name in SECRET_SETTINGS:
            value = self.box.seal(value, _what(name))
        with self.database.write() as connection:
            insert_if_absent(connection, t.settings, {"name": name, "value": value}, ("name",))
            stored = connection.execute(
                sa.select(t.settings.c.value).where(t.settings.c.name == name)
            ).scalar_one()
        return self._clear(name, str(stored))

    def put(self, name: str, value: str) -> None:
        """Store ``value`` under ``name`` (a job's progress, not a secret), replacing it."""
        if name in SECRET_SETTINGS:
            raise ValueError(f"{name} is a secret setting: it is set once (get_or_set)")
        with self.database.write() as connection:
            insert_if_absent(connection, t.settings, {"name": name, "value": value}, ("name",))
            connection.execute(
                t.settings.update().where(t.settings.c.name == name).values(value=value)
            )
