"""Opening the interval store's file for a command-line tool, with a clear error."""

from __future__ import annotations

from pathlib import Path

import duckdb

from openami.storage.duckdb_interval import DuckIntervalStore


class IntervalStoreUnavailable(OSError):
    """The interval store's file cannot be opened (most often: another process holds it)."""


def open_interval_store(path: Path) -> DuckIntervalStore:
    """The store in ``path``; :class:`IntervalStoreUnavailable` when DuckDB cannot open it."""
    try:
        return DuckIntervalStore(path)
    except duckdb.IOException as exc:
        raise IntervalStoreUnavailable(
            f"cannot open {path} (is another openami process using it?): {exc}"
        ) from None
