"""What the HES did, as Arrow tables: command outcomes, alarms, daily clock checks and
outages suspected from mass missed reads.

The KPI module reads these for remote-operation success and clock compliance; the bus
carries the same tables (topics ``hes.commands``, ``hes.events``). Kept in memory: one
append per batch, never one object per reading.
"""

from __future__ import annotations

import threading

import pyarrow as pa

from openami.bus.messages import COMMAND_SCHEMA, EVENT_SCHEMA

CLOCK_DAY_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("meter_id", pa.int64()),
        ("clock_checked", pa.bool_()),
        ("clock_ok", pa.bool_()),
        ("last_offset_s", pa.float64()),
    ]
)


SEGMENT_ALARM_SCHEMA = pa.schema(
    [
        ("segment", pa.int64()),  # concentrator number, or cell (is_cell)
        ("is_cell", pa.bool_()),
        ("boundary", pa.int64()),
        ("meters", pa.int64()),
        ("missed", pa.int64()),
        ("detected_at", pa.float64()),
    ]
)


class HesJournal:
    """Append-only, thread-safe collections of the HES's outcome tables."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commands: list[pa.Table] = []
        self._events: list[pa.Table] = []
        self._clock_days: list[pa.Table] = []
        self._segment_alarms: list[pa.Table] = []

    def add_commands(self, table: pa.Table) -> None:
        with self._lock:
            self._commands.append(table.cast(COMMAND_SCHEMA))

    def add_events(self, table: pa.Table) -> None:
        with self._lock:
            self._events.append(table.cast(EVENT_SCHEMA))

    def add_clock_day(self, table: pa.Table) -> None:
        with self._lock:
            self._clock_days.append(table.cast(CLOCK_DAY_SCHEMA))

    def add_segment_alarms(self, table: pa.Table) -> None:
        with self._lock:
            self._segment_alarms.append(table.cast(SEGMENT_ALARM_SCHEMA))

    @staticmethod
    def _concat(parts: list[pa.Table], schema: pa.Schema) -> pa.Table:
        return pa.concat_tables(parts) if parts else schema.empty_table()

    def commands(self) -> pa.Table:
        with self._lock:
            return self._concat(self._commands, COMMAND_SCHEMA)

    def events(self) -> pa.Table:
        with self._lock:
            return self._concat(self._events, EVENT_SCHEMA)

    def segment_alarms(self) -> pa.Table:
        """Suspected outages inferred from mass missed reads (segment, boundary)."""
        with self._lock:
            return self._concat(self._segment_alarms, SEGMENT_ALARM_SCHEMA)

    def clock_days(self) -> pa.Table:
        with self._lock:
            return self._concat(self._clock_days, CLOCK_DAY_SCHEMA)
