"""Statements prepared once per backend and run on the driver's cursor: the fast path of
the few statements every API request runs (token lookups, the audit chain's head and
append, supply point lookups).

SQLAlchemy Core still builds and compiles each statement (once per backend, cached here);
what is skipped is its per-call work (statement caching keys, parameter and result
processing, result objects), which costs more than the query itself for a one-row lookup
on SQLite. Use it only where parameters and results need no type conversion, or convert
them yourself (JST days come back as ISO text from SQLite, as ``date`` from PostgreSQL:
:func:`as_date`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler


class Prepared:
    """One Core statement, compiled once per backend."""

    def __init__(self, statement: sa.ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _for(self, dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect))
            order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
            defaults = {name: bind.effective_value for name, bind in compiled.binds.items()}
            found = (str(compiled), order, defaults)
            self._compiled[dialect.name] = found
        return found

    def _bound(self, dialect: sa.Dialect, params: Mapping[str, Any]) -> tuple[str, Any]:
        sql, order, defaults = self._for(dialect)
        values = {**defaults, **params}
        return sql, tuple(values[name] for name in order) if order is not None else values

    def rows(self, connection: Any, dialect: sa.Dialect, **params: Any) -> list[tuple[Any, ...]]:
        """The rows of the statement run on a driver connection."""
        sql, bound = self._bound(dialect, params)
        cursor = connection.cursor()
        try:
            cursor.execute(sql, bound)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def run_many(
        self, connection: Any, dialect: sa.Dialect, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Run the statement once per parameter set (e.g. an INSERT of many rows)."""
        bound = [self._bound(dialect, row)[1] for row in rows]
        cursor = connection.cursor()
        try:
            cursor.executemany(self._for(dialect)[0], bound)
        finally:
            cursor.close()


def day_param(dialect: sa.Dialect, day: date) -> date | str:
    """A JST day as a parameter of a prepared statement (ISO text on SQLite)."""
    return day.isoformat() if dialect.name == "sqlite" else day


def as_date(value: date | str) -> date:
    """A JST day as the driver returned it (ISO text on SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(value)
