"""SQLite store for the registry and the C-route clients (embedded default).

Effective-dated links are half-open periods ``[valid_from, valid_to)``; ``valid_to`` NULL
means open-ended. Dates are ISO ``YYYY-MM-DD`` (JST days); instants are Unix seconds.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

SCHEMA = """
CREATE TABLE IF NOT EXISTS balancing_groups (
    balancing_group_id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS retailers (
    retailer_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    balancing_group_id TEXT NOT NULL REFERENCES balancing_groups(balancing_group_id)
);
CREATE TABLE IF NOT EXISTS concentrators (
    concentrator_id TEXT PRIMARY KEY,
    area_code TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS supply_points (
    supply_point_key INTEGER PRIMARY KEY,
    supply_point_id TEXT NOT NULL UNIQUE,
    area_code TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meters (
    meter_id INTEGER PRIMARY KEY,
    maker TEXT NOT NULL,
    serial TEXT NOT NULL,
    contract_amperage_a INTEGER NOT NULL,
    comm_method TEXT NOT NULL CHECK (comm_method IN ('mesh', 'cellular', 'plc')),
    concentrator_id TEXT REFERENCES concentrators(concentrator_id),
    certification_expiry TEXT NOT NULL,
    UNIQUE (maker, serial)
);
CREATE TABLE IF NOT EXISTS meter_installations (
    supply_point_key INTEGER NOT NULL REFERENCES supply_points(supply_point_key),
    meter_id INTEGER NOT NULL REFERENCES meters(meter_id),
    valid_from REAL NOT NULL,
    valid_to REAL,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX IF NOT EXISTS meter_installations_sp ON meter_installations(supply_point_key);
CREATE TABLE IF NOT EXISTS supply_contracts (
    supply_point_key INTEGER NOT NULL REFERENCES supply_points(supply_point_key),
    retailer_id TEXT NOT NULL REFERENCES retailers(retailer_id),
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX IF NOT EXISTS supply_contracts_sp ON supply_contracts(supply_point_key);
CREATE TABLE IF NOT EXISTS api_clients (
    client_id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    party_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS access_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES api_clients(client_id),
    expires_at REAL NOT NULL
);
"""


class SqliteRegistryStore:
    """Thread-safe access to one SQLite file (``:memory:`` for tests)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def insert_many(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Insert rows in one transaction (all or nothing)."""
        placeholders = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(sql, rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query_table(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a query and return its rows as an Arrow table."""
        with self._lock:
            cur = self._conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return pa.table({n: pa.array(list(c)) for n, c in zip(names, columns, strict=True)})
