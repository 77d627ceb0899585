"""The head-end's stored state: its command queue and its journal, as Arrow tables.

Rows go in and out as Arrow tables of the :mod:`openami.bus.messages` schemas (one
statement per batch, never an object per meter on the way). Each method is one transaction;
:meth:`HesRecordStore.add_outcomes` removes the finished commands from the queue in the
same transaction, so a command is always in exactly one of the two tables.
Re-written records (a boundary or a day the HES ran again after a restart) replace or keep
the stored row: nothing is duplicated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from openami.bus.messages import (
    CLOCK_DAY_SCHEMA,
    COMMAND_ARGUMENT_SCHEMA,
    COMMAND_QUEUE_SCHEMA,
    COMMAND_SCHEMA,
    COMMISSION_SCHEMA,
    EVENT_SCHEMA,
    SEGMENT_ALARM_SCHEMA,
)
from openami.storage.sql.bulk import select_table
from openami.storage.sql.database import Database
from openami.storage.sql.hes_tables import (
    hes_clock_days,
    hes_command_arguments,
    hes_command_outcomes,
    hes_command_queue,
    hes_commission,
    hes_events,
    hes_segment_alarms,
    simulation_state,
)
from openami.storage.sql.upsert import insert_or_update, insert_statement

_KEYS: dict[str, tuple[str, ...]] = {
    hes_command_outcomes.name: ("correlation_id",),
    hes_command_arguments.name: ("correlation_id",),
    hes_command_queue.name: ("correlation_id",),
    hes_events.name: ("meter_id", "event", "occurred_at"),
    hes_clock_days.name: ("day", "meter_id"),
    hes_segment_alarms.name: ("segment", "is_cell", "boundary"),
    hes_commission.name: ("meter_id",),
}


def _rows(table: pa.Table, schema: pa.Schema) -> list[dict[str, Any]]:
    """The batch as parameter rows (Python scalars; nulls as None)."""
    batch = table.select(schema.names).cast(schema)
    return batch.to_pylist()


class HesRecordStore:
    """Queue and journal of one head-end (one per database)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # -- writing ----------------------------------------------------------------------------
    def _put(
        self, connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], replace: bool
    ) -> None:
        if not rows:
            return
        statement = insert_statement(connection, table)
        key = list(_KEYS[table.name])
        if replace:
            statement = statement.on_conflict_do_update(
                index_elements=key,
                set_={c: statement.excluded[c] for c in rows[0] if c not in key},
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=key)
        connection.execute(statement, rows)

    def queue_commands(self, queued: pa.Table, arguments: pa.Table | None = None) -> None:
        """Commands just accepted (:data:`COMMAND_QUEUE_SCHEMA`), with their journaled
        arguments (:data:`COMMAND_ARGUMENT_SCHEMA`) if any."""
        with self.database.write() as connection:
            self._put(connection, hes_command_queue, _rows(queued, COMMAND_QUEUE_SCHEMA), False)
            if arguments is not None:
                rows = _rows(arguments, COMMAND_ARGUMENT_SCHEMA)
                self._put(connection, hes_command_arguments, rows, False)

    def add_arguments(self, arguments: pa.Table) -> None:
        with self.database.write() as connection:
            rows = _rows(arguments, COMMAND_ARGUMENT_SCHEMA)
            self._put(connection, hes_command_arguments, rows, False)

    def add_outcomes(self, outcomes: pa.Table) -> None:
        """Terminal outcomes (:data:`COMMAND_SCHEMA`); their commands leave the queue."""
        rows = _rows(outcomes, COMMAND_SCHEMA)
        if not rows:
            return
        ids = [row["correlation_id"] for row in rows]
        with self.database.write() as connection:
            self._put(connection, hes_command_outcomes, rows, False)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                connection.execute(
                    hes_command_queue.delete().where(hes_command_queue.c.correlation_id.in_(chunk))
                )

    def add_events(self, events: pa.Table) -> None:
        """Alarms (:data:`EVENT_SCHEMA`); one received again is kept once."""
        with self.database.write() as connection:
            self._put(connection, hes_events, _rows(events, EVENT_SCHEMA), False)

    def add_clock_days(self, clock_days: pa.Table) -> None:
        """Daily clock checks (:data:`CLOCK_DAY_SCHEMA`); a day closed again replaces it."""
        with self.database.write() as connection:
            self._put(connection, hes_clock_days, _rows(clock_days, CLOCK_DAY_SCHEMA), True)

    def add_segment_alarms(self, alarms: pa.Table) -> None:
        with self.database.write() as connection:
            rows = _rows(alarms, SEGMENT_ALARM_SCHEMA)
            self._put(connection, hes_segment_alarms, rows, True)

    def commission(self, records: pa.Table) -> None:
        """Each meter's switch and limiter when the HES first met it (kept, never replaced)."""
        with self.database.write() as connection:
            self._put(connection, hes_commission, _rows(records, COMMISSION_SCHEMA), False)

    # -- reading ----------------------------------------------------------------------------
    def _load(self, table: sa.Table, schema: pa.Schema, order: Sequence[str]) -> pa.Table:
        statement = sa.select(*(table.c[name] for name in schema.names)).order_by(
            *(table.c[name] for name in order)
        )
        with self.database.read() as connection:
            return select_table(connection, statement, schema)

    def queued(self) -> pa.Table:
        """Commands not yet finished, in correlation order (:data:`COMMAND_QUEUE_SCHEMA`)."""
        return self._load(hes_command_queue, COMMAND_QUEUE_SCHEMA, ("correlation_id",))

    def outcomes(self) -> pa.Table:
        return self._load(hes_command_outcomes, COMMAND_SCHEMA, ("completed_at", "correlation_id"))

    def arguments(self) -> pa.Table:
        return self._load(hes_command_arguments, COMMAND_ARGUMENT_SCHEMA, ("correlation_id",))

    def events(self) -> pa.Table:
        return self._load(hes_events, EVENT_SCHEMA, ("received_at", "meter_id"))

    def clock_days(self) -> pa.Table:
        return self._load(hes_clock_days, CLOCK_DAY_SCHEMA, ("day", "meter_id"))

    def segment_alarms(self) -> pa.Table:
        return self._load(hes_segment_alarms, SEGMENT_ALARM_SCHEMA, ("boundary", "segment"))

    def commissioned(self) -> pa.Table:
        return self._load(hes_commission, COMMISSION_SCHEMA, ("meter_id",))

    def last_correlation_id(self) -> int:
        """The highest correlation ID ever handed out (queued or finished), 0 if none."""
        with self.database.read() as connection:
            values = [
                connection.execute(sa.select(sa.func.max(t.c.correlation_id))).scalar()
                for t in (hes_command_queue, hes_command_outcomes, hes_command_arguments)
            ]
        return int(max((v for v in values if v is not None), default=0))


class SimulationStore:
    """The simulated city's configuration and position, as named JSON texts."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, name: str) -> str | None:
        s = simulation_state
        with self.database.read() as connection:
            value = connection.execute(sa.select(s.c.value).where(s.c.name == name)).scalar()
        return None if value is None else str(value)

    def put(self, name: str, value: str) -> None:
        with self.database.write() as connection:
            insert_or_update(
                connection, simulation_state, {"name": name, "value": value}, ("name",)
            )
