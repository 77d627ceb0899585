"""What the HES did, as Arrow tables: command outcomes, alarms, daily clock checks,
outages suspected from mass missed reads, and the state of each meter's switch and limiter.

The KPI module reads these for remote-operation success and clock compliance; the bus
carries the same tables (topics ``hes.commands``, ``hes.events``). Kept in memory as well:
one append per batch, never one object per reading.

Given a store (:class:`HesRecords`), every record is written there as it is added and
read back when the HES starts again, so a restart (even ``kill -9``) loses no command,
outcome, alarm or meter state.

Meter state (:meth:`HesJournal.meter_states`) is what the HES *knows*, never what a meter
model holds: a commissioning record the HES writes for its meters when it starts (switch
and contract amperage as read once then), overlaid by the commands it saw confirmed
(disconnect, reconnect, and amperage settings whose argument was journaled with
:meth:`HesJournal.add_command_arguments`). A switching or amperage command that timed out
leaves that state unknown (the meter may or may not have acted).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import (
    CLOCK_DAY_SCHEMA,
    COMMAND_ARGUMENT_SCHEMA,
    COMMAND_QUEUE_SCHEMA,
    COMMAND_SCHEMA,
    COMMISSION_SCHEMA,
    EVENT_SCHEMA,
    METER_STATE_SCHEMA,
    SEGMENT_ALARM_SCHEMA,
    CommandKind,
    CommandState,
)

_UNKNOWN = -1  # switch (0 open, 1 closed) or amperage [A] not known
_SWITCHING = (CommandKind.DISCONNECT, CommandKind.RECONNECT)
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass
class _StateChange:
    """Changes to one state column, one row per change (``value`` may be ``_UNKNOWN``)."""

    meter_id: I64
    value: I64
    at_s: F64


@dataclass
class MeterStateLedger:
    """Latest known switch state and contract amperage per meter, as sorted columns.

    A change applies only if it is not older than what the ledger holds for that state
    (outcomes may arrive out of order across batches)."""

    meter_id: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    switch: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    switch_at_s: F64 = field(default_factory=lambda: np.zeros(0, np.float64))
    amperage_a: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    amperage_at_s: F64 = field(default_factory=lambda: np.zeros(0, np.float64))

    def _make_room(self, meter_id: I64) -> None:
        new = np.setdiff1d(meter_id, self.meter_id)
        if len(new) == 0:
            return
        ids = np.concatenate([self.meter_id, new])
        order = np.argsort(ids, kind="stable")
        grow = len(new)

        def extended(values: npt.NDArray[np.generic], fill: float) -> npt.NDArray[np.generic]:
            return np.concatenate([values, np.full(grow, fill, dtype=values.dtype)])[order]

        self.switch = extended(self.switch, _UNKNOWN)  # type: ignore[assignment]
        self.switch_at_s = extended(self.switch_at_s, -np.inf)  # type: ignore[assignment]
        self.amperage_a = extended(self.amperage_a, _UNKNOWN)  # type: ignore[assignment]
        self.amperage_at_s = extended(self.amperage_at_s, -np.inf)  # type: ignore[assignment]
        self.meter_id = ids[order]

    def _apply(self, change: _StateChange, values: I64, at_s: F64) -> None:
        """Write the latest change per meter into ``values``/``at_s`` (in place)."""
        if len(change.meter_id) == 0:
            return
        order = np.lexsort((change.at_s, change.meter_id))
        meter, value, at = change.meter_id[order], change.value[order], change.at_s[order]
        last = np.ones(len(meter), dtype=np.bool_)
        last[:-1] = meter[1:] != meter[:-1]
        meter, value, at = meter[last], value[last], at[last]
        pos = np.searchsorted(self.meter_id, meter)
        newer = at >= at_s[pos]
        values[pos[newer]] = value[newer]
        at_s[pos[newer]] = at[newer]

    def record(self, switch: _StateChange, amperage: _StateChange) -> None:
        self._make_room(np.unique(np.concatenate([switch.meter_id, amperage.meter_id])))
        self._apply(switch, self.switch, self.switch_at_s)
        self._apply(amperage, self.amperage_a, self.amperage_at_s)

    def states(self, meter_id: npt.ArrayLike) -> pa.Table:
        """:data:`METER_STATE_SCHEMA` rows of the known meters among ``meter_id``, in order."""
        wanted = np.asarray(meter_id, dtype=np.int64).ravel()
        pos = np.minimum(np.searchsorted(self.meter_id, wanted), max(len(self.meter_id) - 1, 0))
        known = self.meter_id[pos] == wanted if len(self.meter_id) else np.zeros(len(wanted), bool)
        pos = pos[known]
        switch, amps = self.switch[pos], self.amperage_a[pos]
        return pa.table(
            {
                "meter_id": wanted[known],
                "switch_connected": pa.array(switch == 1, mask=switch == _UNKNOWN),
                "contract_amperage_a": pa.array(amps, mask=amps == _UNKNOWN),
                "recorded_at": np.maximum(self.switch_at_s[pos], self.amperage_at_s[pos]),
            },
            schema=METER_STATE_SCHEMA,
        )


def _changes_from_outcomes(outcomes: pa.Table, arguments: pa.Table) -> tuple[_StateChange, ...]:
    """Switch and amperage changes the HES learns from command outcomes: confirmed ones set
    the commanded state, timed-out ones make it unknown."""
    kind = np.asarray(outcomes.column("kind").to_numpy(), dtype=np.int64)
    state = np.asarray(outcomes.column("state").to_numpy(), dtype=np.int64)
    meter = np.asarray(outcomes.column("meter_id").to_numpy(), dtype=np.int64)
    at_s = np.asarray(outcomes.column("completed_at").to_numpy(), dtype=np.float64)
    confirmed = state == CommandState.CONFIRMED
    timed_out = state == CommandState.TIMED_OUT
    switching = np.isin(kind, _SWITCHING) & (confirmed | timed_out)
    switch_value = np.where(timed_out, _UNKNOWN, (kind == CommandKind.RECONNECT).astype(np.int64))
    setting = (kind == CommandKind.SET_AMPERAGE) & (confirmed | timed_out)
    amps = np.full(len(kind), _UNKNOWN, dtype=np.int64)
    if setting.any() and arguments.num_rows:
        position = pc.index_in(
            outcomes.column("correlation_id"),
            value_set=arguments.column("correlation_id").combine_chunks(),
        )
        found = np.asarray(position.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
        index = np.asarray(pc.fill_null(position, 0).to_numpy(), dtype=np.int64)
        argument = np.asarray(arguments.column("argument").to_numpy(), dtype=np.int64)[index]
        amps = np.where(found & confirmed, argument, _UNKNOWN)
    return (
        _StateChange(meter[switching], switch_value[switching], at_s[switching]),
        _StateChange(meter[setting], amps[setting], at_s[setting]),
    )


class HesRecords(Protocol):
    """Where a journal keeps its records so that a restart loses none (the storage layer's
    ``HesRecordStore`` is one); each call is one transaction."""

    def queue_commands(self, queued: pa.Table, arguments: pa.Table | None = None) -> None: ...
    def add_arguments(self, arguments: pa.Table) -> None: ...
    def add_outcomes(self, outcomes: pa.Table) -> None: ...
    def add_events(self, events: pa.Table) -> None: ...
    def add_clock_days(self, clock_days: pa.Table) -> None: ...
    def add_segment_alarms(self, alarms: pa.Table) -> None: ...
    def commission(self, records: pa.Table) -> None: ...
    def queued(self) -> pa.Table: ...
    def outcomes(self) -> pa.Table: ...
    def arguments(self) -> pa.Table: ...
    def events(self) -> pa.Table: ...
    def clock_days(self) -> pa.Table: ...
    def segment_alarms(self) -> pa.Table: ...
    def commissioned(self) -> pa.Table: ...
    def last_correlation_id(self) -> int: ...


class HesJournal:
    """Append-only, thread-safe collections of the HES's outcome tables, and the meter
    state they imply.

    With ``records`` every table is also written there (before it counts here) and the
    journal starts from what ``records`` holds: a HES restarted on the same store knows
    every outcome, alarm and meter state it knew before, and its queued commands
    (:meth:`queued`)."""

    def __init__(self, records: HesRecords | None = None) -> None:
        self._lock = threading.Lock()
        self.records = records
        self._commands: list[pa.Table] = []
        self._events: list[pa.Table] = []
        self._clock_days: list[pa.Table] = []
        self._segment_alarms: list[pa.Table] = []
        self._arguments: list[pa.Table] = []
        self._meter_states = MeterStateLedger()
        self.commissioned = False
        if records is not None:
            self._load(records)

    def _load(self, records: HesRecords) -> None:
        commissioned = records.commissioned()
        if commissioned.num_rows:
            self.commissioned = True
            at = commissioned.column("commissioned_at").to_numpy()
            meters = np.asarray(commissioned.column("meter_id").to_numpy(), np.int64)
            switch = commissioned.column("switch_connected").to_numpy(zero_copy_only=False)
            amps = np.asarray(commissioned.column("contract_amperage_a").to_numpy(), np.int64)
            self._meter_states.record(
                _StateChange(meters, np.asarray(switch, np.int64), at),
                _StateChange(meters, amps, at),
            )
        self._arguments.append(records.arguments())
        outcomes = records.outcomes()
        self._commands.append(outcomes)
        self._meter_states.record(*_changes_from_outcomes(outcomes, self._arguments[0]))
        self._events.append(records.events())
        self._clock_days.append(records.clock_days())
        self._segment_alarms.append(records.segment_alarms())

    def add_commands(self, table: pa.Table) -> None:
        """Command outcomes; confirmed (or timed-out) switching and amperage commands update
        the meter state."""
        outcomes = table.cast(COMMAND_SCHEMA)
        if self.records is not None:
            self.records.add_outcomes(outcomes)
        with self._lock:
            self._commands.append(outcomes)
            arguments = self._concat(self._arguments, COMMAND_ARGUMENT_SCHEMA)
            self._meter_states.record(*_changes_from_outcomes(outcomes, arguments))

    def commission(
        self,
        meter_id: npt.ArrayLike,
        switch_connected: npt.ArrayLike,
        contract_amperage_a: npt.ArrayLike,
        at_s: float,
    ) -> None:
        """The HES's record of its meters when it starts: switch and contract amperage as
        read from them once, at ``at_s``."""
        meters = np.asarray(meter_id, dtype=np.int64).ravel()
        switch = np.asarray(switch_connected, np.int64).ravel()
        amps = np.asarray(contract_amperage_a, np.int64).ravel()
        when = np.full(len(meters), float(at_s))
        if self.records is not None:
            self.records.commission(
                pa.table(
                    {
                        "meter_id": meters,
                        "switch_connected": switch.astype(np.bool_),
                        "contract_amperage_a": amps,
                        "commissioned_at": when,
                    },
                    schema=COMMISSION_SCHEMA,
                )
            )
        with self._lock:
            self.commissioned = True
            self._meter_states.record(
                _StateChange(meters, switch, when), _StateChange(meters, amps, when)
            )

    def queue(self, queued: pa.Table, arguments: pa.Table | None = None) -> None:
        """Commands just accepted (:data:`COMMAND_QUEUE_SCHEMA`) and, where their submitter
        gave them, their arguments (stored together: one transaction)."""
        if self.records is not None:
            self.records.queue_commands(queued, arguments)
        if arguments is not None and arguments.num_rows:
            with self._lock:
                self._arguments.append(arguments.cast(COMMAND_ARGUMENT_SCHEMA))

    def queued(self) -> pa.Table:
        """Commands stored as queued (none without ``records``)."""
        if self.records is None:
            return COMMAND_QUEUE_SCHEMA.empty_table()
        return self.records.queued()

    def last_correlation_id(self) -> int:
        return 0 if self.records is None else self.records.last_correlation_id()

    def correlation_of(self, reference: str) -> int | None:
        """The correlation ID of the command submitted under ``reference``, if any."""
        with self._lock:
            arguments = self._concat(self._arguments, COMMAND_ARGUMENT_SCHEMA)
        found = arguments.filter(pc.equal(arguments.column("reference"), reference))
        return int(found.column("correlation_id")[0].as_py()) if found.num_rows else None

    def add_command_arguments(self, table: pa.Table) -> None:
        """Arguments of submitted commands (:data:`COMMAND_ARGUMENT_SCHEMA`), so a confirmed
        amperage setting tells which amperage the meter now has."""
        arguments = table.cast(COMMAND_ARGUMENT_SCHEMA)
        if self.records is not None:
            self.records.add_arguments(arguments)
        with self._lock:
            self._arguments.append(arguments)

    def arguments(self) -> pa.Table:
        """Arguments of submitted commands (:data:`COMMAND_ARGUMENT_SCHEMA`)."""
        with self._lock:
            return self._concat(self._arguments, COMMAND_ARGUMENT_SCHEMA)

    def meter_states(self, meter_id: npt.ArrayLike) -> pa.Table:
        """What the HES knows of these meters (:data:`METER_STATE_SCHEMA`; meters it never
        heard of are left out)."""
        with self._lock:
            return self._meter_states.states(meter_id)

    def command_outcomes(self, correlation_ids: npt.ArrayLike) -> pa.Table:
        """Terminal outcomes (:data:`COMMAND_SCHEMA`) of the given correlation IDs; IDs still
        queued, or unknown, have no row."""
        wanted = pa.array(np.asarray(correlation_ids, dtype=np.int64).ravel())
        table = self.commands()
        return table.filter(pc.is_in(table.column("correlation_id"), value_set=wanted))

    def add_events(self, table: pa.Table) -> None:
        events = table.cast(EVENT_SCHEMA)
        if self.records is not None:
            self.records.add_events(events)
        with self._lock:
            self._events.append(events)

    def add_clock_day(self, table: pa.Table) -> None:
        """Each meter's clock state of a day; a day closed again replaces its rows."""
        days = table.cast(CLOCK_DAY_SCHEMA)
        if self.records is not None:
            self.records.add_clock_days(days)
        with self._lock:
            self._clock_days = self._replacing(self._clock_days, days, "day")

    def add_segment_alarms(self, table: pa.Table) -> None:
        """Suspected outages of a boundary; a boundary inferred again replaces its rows."""
        alarms = table.cast(SEGMENT_ALARM_SCHEMA)
        if self.records is not None:
            self.records.add_segment_alarms(alarms)
        with self._lock:
            self._segment_alarms = self._replacing(self._segment_alarms, alarms, "boundary")

    @staticmethod
    def _replacing(parts: list[pa.Table], new: pa.Table, key: str) -> list[pa.Table]:
        """``parts`` without the rows whose ``key`` value ``new`` has, then ``new``."""
        if not parts:
            return [new]
        old = pa.concat_tables(parts)
        stale = pc.is_in(old.column(key), value_set=new.column(key).combine_chunks())
        return [old.filter(pc.invert(stale)), new]

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
