"""``openami`` with a pause inside the MDMS tick's transaction, for the failover test:
``python worker_pausing.py serve mdms --worker …`` with ``OPENAMI_TEST_PAUSE_FILE`` set.

The first tick transaction that marks values missing stops after its statements, just
before COMMIT: it creates the pause file and sleeps, so that the test can ``kill -9`` the
worker inside the transaction. Everything else is the real command.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from openami.cli.main import main
from openami.storage.duckdb_interval import DuckIntervalStore

PAUSE_FILE = Path(os.environ["OPENAMI_TEST_PAUSE_FILE"])
_mark = DuckIntervalStore.mark_missing_points
_cursor = DuckIntervalStore._cursor


class _Relation:
    def __init__(self, relation: Any, owner: _PausingCursor) -> None:
        self._relation, self._owner = relation, owner

    def to_arrow_table(self) -> pa.Table:
        table: pa.Table = self._relation.to_arrow_table()
        self._owner.marked += table.num_rows
        return table


class _PausingCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor, self.marked = cursor, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def sql(self, *args: Any, **kwargs: Any) -> _Relation:
        return _Relation(self._cursor.sql(*args, **kwargs), self)

    def execute(self, statement: str, *args: Any) -> Any:
        if statement == "COMMIT" and self.marked and not PAUSE_FILE.exists():
            PAUSE_FILE.write_text(str(os.getpid()))
            time.sleep(3600)  # killed here, inside the transaction
        return self._cursor.execute(statement, *args)


def _marking(self: DuckIntervalStore, *args: Any, **kwargs: Any) -> pa.Table:
    self._cursor = lambda: _PausingCursor(_cursor(self))  # type: ignore[method-assign]
    try:
        return _mark(self, *args, **kwargs)
    finally:
        del self._cursor


DuckIntervalStore.mark_missing_points = _marking  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
