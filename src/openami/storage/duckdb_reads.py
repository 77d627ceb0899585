"""Read-only queries with named parameters (``$name``) on the interval store."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from openami.storage.duckdb_interval import DuckIntervalStore


def read_query(
    store: DuckIntervalStore, sql: str, params: Mapping[str, object], **tables: pa.Table
) -> pa.Table:
    """Run ``sql`` with ``params`` and the Arrow ``tables`` registered under their names,
    holding the store's lock (no write of this process interleaves)."""
    with store.locked():
        cur = store.cursor()
        try:
            for name, table in tables.items():
                cur.register(name, table)
            return cur.sql(sql, params=dict(params)).to_arrow_table()
        finally:
            cur.close()
