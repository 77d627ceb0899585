"""Operator accounts of the dashboard: name, role, password hash, whether disabled.

The store keeps hashes only; hashing and checking passwords (argon2id) is the hub's
(:mod:`openami.hub.operators`), which never hands a password to storage. A name is unique;
adding an existing one raises :class:`openami.storage.sql.AlreadyExists`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as


@dataclass(frozen=True)
class OperatorAccount:
    name: str
    role: str
    password_hash: str
    created_at: float
    disabled: bool


_COLUMNS = (
    t.operators.c.name,
    t.operators.c.role,
    t.operators.c.password_hash,
    t.operators.c.created_at,
    t.operators.c.disabled,
)


def _account(row: Sequence[Any]) -> OperatorAccount:
    name, role, password_hash, created_at, disabled = row
    return OperatorAccount(name, role, password_hash, float(created_at), bool(disabled))


class OperatorStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, name: str, role: str, password_hash: str, now_s: float) -> OperatorAccount:
        with self.database.write() as connection, refusals_as(f"operator {name}"):
            connection.execute(
                t.operators.insert().values(
                    name=name,
                    role=role,
                    password_hash=password_hash,
                    created_at=now_s,
                    disabled=False,
                )
            )
        return OperatorAccount(name, role, password_hash, now_s, False)

    def get(self, name: str) -> OperatorAccount | None:
        with self.database.read() as connection:
            row = connection.execute(sa.select(*_COLUMNS).where(t.operators.c.name == name)).first()
        return None if row is None else _account(row)

    def all(self) -> list[OperatorAccount]:
        with self.database.read() as connection:
            rows = connection.execute(sa.select(*_COLUMNS).order_by(t.operators.c.name)).all()
        return [_account(r) for r in rows]

    def update(
        self,
        name: str,
        *,
        role: str | None = None,
        password_hash: str | None = None,
        disabled: bool | None = None,
    ) -> bool:
        """Change what is given; False if there is no such operator."""
        values: dict[str, object] = {}
        if role is not None:
            values["role"] = role
        if password_hash is not None:
            values["password_hash"] = password_hash
        if disabled is not None:
            values["disabled"] = disabled
        if not values:
            return self.get(name) is not None
        with self.database.write() as connection, refusals_as(f"operator {name}"):
            result = connection.execute(
                t.operators.update().where(t.operators.c.name == name).values(**values)
            )
        return bool(result.rowcount)
