"""Engines of the transactional store, chosen by URL: SQLite (embedded default) or PostgreSQL.

- a path (or ``sqlite:///...``): one SQLite file, created 0600 in a directory created 0700;
  every pooled connection runs in WAL mode with ``synchronous=NORMAL`` (a commit survives a
  killed process; only a power cut may lose the last commits), a busy timeout and foreign
  keys on. Reads begin a deferred transaction (one consistent snapshot), writes ``BEGIN
  IMMEDIATE`` (the write lock up front: no deadlock between two writers);
- ``:memory:``: one shared in-memory SQLite database (tests), used by one thread at a time;
- ``postgresql://...`` / ``postgresql+psycopg://...``: PostgreSQL through psycopg 3, pooled.
"""

from __future__ import annotations

import os
import sqlite3
import time
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "openami_write"  # execution option: this transaction writes


def database_url(url_or_path: str | Path) -> URL:
    """The SQLAlchemy URL of a URL or a SQLite file path (``:memory:`` for a memory DB)."""
    text = str(url_or_path)
    if "://" not in text:
        if text == ":memory:":
            return URL.create("sqlite")
        return URL.create("sqlite", database=str(Path(text).expanduser().resolve()))
    url = make_url(text)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {url.get_backend_name()!r}: sqlite or postgresql")
    return url


def is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create(url: URL, read_only: bool = False) -> sa.Engine:
    """An engine for ``url`` with the settings described in the module docstring;
    ``read_only`` opens an existing database for reading only (checks, forensics)."""
    if url.get_backend_name() == "postgresql":
        options = {"options": "-c default_transaction_read_only=on"} if read_only else {}
        return sa.create_engine(
            url, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args=options
        )
    if read_only:
        return _read_only_sqlite(url)
    if is_memory(url):
        engine = sa.create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        _prepare_file(Path(str(url.database)))
        engine = sa.create_engine(
            url,
            pool_size=8,
            max_overflow=24,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        )
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _read_only_sqlite(url: URL) -> sa.Engine:
    path = Path(str(url.database))
    if is_memory(url) or not path.is_file():
        raise FileNotFoundError(f"no database file at {path}")
    connect = partial(
        sqlite3.connect, path.as_uri() + "?mode=ro", uri=True, check_same_thread=False
    )
    engine = sa.create_engine(url, creator=connect)
    sa.event.listen(engine, "connect", _sqlite_connect_read_only)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _prepare_file(path: Path) -> None:
    """Create the directory (0700) and an empty database file (0600) when missing."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=DIRECTORY_MODE)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE))


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # the driver's own transaction handling is off: _sqlite_begin emits BEGIN itself
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """WAL mode (kept in the file once set). Switching a new file to it needs the file to
    itself, and SQLite answers "database is locked" at once rather than waiting out the busy
    timeout: two processes opening a new data directory together retry until it is done."""
    deadline_s = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline_s:
                raise
            time.sleep(0.01)


def _sqlite_connect_read_only(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def _sqlite_begin(connection: sa.Connection) -> None:
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    driver = connection.connection.driver_connection  # straight to the driver: no overhead
    assert driver is not None
    driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")
