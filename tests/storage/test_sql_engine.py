"""Naming a database, and integrity errors as domain errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from openami.storage.repositories import (
    AlreadyExists,
    Database,
    InvalidValue,
    MissingReference,
    StorageError,
)
from openami.storage.sql.engine import database_url, is_memory
from openami.storage.sql.errors import refusals_as


def test_database_urls(tmp_path: Path) -> None:
    assert is_memory(database_url(":memory:"))
    file_url = database_url(tmp_path / "x.sqlite")
    assert file_url.get_backend_name() == "sqlite" and file_url.database == str(
        tmp_path / "x.sqlite"
    )
    assert database_url("sqlite:///" + str(tmp_path / "y.sqlite")).database.endswith("y.sqlite")
    pg = database_url("postgresql://u:pw@db.example:5432/openami")
    assert pg.drivername == "postgresql+psycopg" and pg.database == "openami"
    assert "pw" not in pg.render_as_string(hide_password=True)
    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        database_url("mysql://u@h/d")


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        ("INSERT INTO balancing_groups VALUES ('B', 'again')", AlreadyExists),
        ("INSERT INTO retailers VALUES ('R', 'r', 'no-such-group')", MissingReference),
        ("INSERT INTO balancing_groups VALUES ('C', NULL)", InvalidValue),
        (
            "INSERT INTO meters VALUES (1, 'm', 's', 30, 'carrier-pigeon', NULL, '2030-01-01')",
            InvalidValue,
        ),
    ],
)
def test_integrity_errors_become_domain_errors(
    database: Database, statement: str, kind: type[StorageError]
) -> None:
    with database.write() as connection:
        connection.execute(sa.text("INSERT INTO balancing_groups VALUES ('B', 'b')"))
    with (
        pytest.raises(kind, match=r"^adding it: "),
        refusals_as("adding it"),
        database.write() as c,
    ):
        c.execute(sa.text(statement))
    with database.read() as connection:  # the failed transaction left nothing behind
        count = connection.execute(sa.text("SELECT COUNT(*) FROM balancing_groups")).scalar()
    assert count == 1


def test_other_errors_pass_through(database: Database) -> None:
    with pytest.raises(sa.exc.DBAPIError), refusals_as("x"), database.read() as c:
        c.execute(sa.text("SELECT * FROM no_such_table"))
