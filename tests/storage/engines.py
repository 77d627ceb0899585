"""The transactional store on both engines, for the repository tests.

``database``: a fresh, upgraded database per test, once on SQLite (a file in the test's
tmp directory) and once on PostgreSQL (one database per test session, named uniquely and
dropped at the end; its schema is emptied before each test, and its keys are kept in the
test's tmp directory). The PostgreSQL cases skip,
saying why, only when no server answers at ``OPENAMI_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``, the development machine's server).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from openami.storage.repositories import Database, open_database
from openami.storage.secrets import use_key_dir

ADMIN_URL = os.environ.get("OPENAMI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ENGINES = ("sqlite", "postgresql")


def _admin_conninfo() -> str:
    url = make_url(ADMIN_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL database made for this test session (dropped afterwards)."""
    try:
        admin = psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server answers at {make_url(ADMIN_URL).host}: {exc}")
    name = f"openami_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def empty_postgres(url: str) -> None:
    """Drop every table (and the audit trigger function) of the test database."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


def database_url_for(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database's URL or path on ``engine``."""
    if engine == "sqlite":
        return str(tmp_path / "data" / "registry.sqlite")
    url: str = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


@pytest.fixture(params=ENGINES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database at head, on each engine."""
    opened = open_database(database_url_for(request.param, request, tmp_path))
    if request.param == "postgresql":  # keys outside the database, as `openami serve` does
        use_key_dir(opened, tmp_path / "keys")
    try:
        yield opened
    finally:
        opened.close()
