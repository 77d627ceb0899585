"""The head-end's stored queue and journal, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from openami.bus.messages import (
    CLOCK_DAY_SCHEMA,
    COMMAND_QUEUE_SCHEMA,
    COMMAND_SCHEMA,
    COMMISSION_SCHEMA,
    EVENT_SCHEMA,
    SEGMENT_ALARM_SCHEMA,
    CommandKind,
    CommandState,
)
from openami.storage.repositories import Database
from openami.storage.repositories.hes import HesRecordStore, SimulationStore


def _queued(ids: list[int]) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "correlation_id": ids,
            "meter_index": list(range(n)),
            "kind": [int(CommandKind.DISCONNECT)] * n,
            "priority": [0] * n,
            "argument": [0] * n,
            "argument2": [0] * n,
            "issued_at": [100.0] * n,
            "deadline_at": [3700.0] * n,
        },
        schema=COMMAND_QUEUE_SCHEMA,
    )


def _outcome(correlation_id: int) -> pa.Table:
    return pa.table(
        {
            "correlation_id": [correlation_id],
            "meter_id": [7],
            "kind": [int(CommandKind.DISCONNECT)],
            "priority": [0],
            "state": [int(CommandState.CONFIRMED)],
            "attempts": [1],
            "issued_at": [100.0],
            "completed_at": [160.0],
            "import_register_wh": [None],
            "export_register_wh": [None],
            "clock_offset_s": [None],
            "refusal": [None],
        },
        schema=COMMAND_SCHEMA,
    )


def test_a_command_is_queued_until_its_outcome_then_only_journaled(database: Database) -> None:
    store = HesRecordStore(database)
    store.queue_commands(_queued([1, 2, 3]))
    assert store.queued().column("correlation_id").to_pylist() == [1, 2, 3]
    store.add_outcomes(_outcome(2))
    assert store.queued().column("correlation_id").to_pylist() == [1, 3]
    outcomes = store.outcomes()
    assert outcomes.schema == COMMAND_SCHEMA
    assert outcomes.to_pylist() == _outcome(2).to_pylist()
    assert store.last_correlation_id() == 3
    store.add_outcomes(_outcome(2))  # a re-sent outcome changes nothing
    assert store.outcomes().num_rows == 1


def test_journal_records_round_trip_and_are_never_duplicated(database: Database) -> None:
    store = HesRecordStore(database)
    events = pa.table(
        {
            "meter_id": [1, 2],
            "event": [1, 3],
            "occurred_at": [10.0, 20.5],
            "received_at": [11.0, 30.0],
            "via_log": [False, True],
        },
        schema=EVENT_SCHEMA,
    )
    store.add_events(events)
    store.add_events(events)
    assert store.events().to_pylist() == events.to_pylist()
    day = pa.table(
        {
            "day": pa.array([date(2026, 12, 1)] * 2, pa.date32()),
            "meter_id": [1, 2],
            "clock_checked": [True, False],
            "clock_ok": [True, False],
            "last_offset_s": [0.5, None],
        },
        schema=CLOCK_DAY_SCHEMA,
    )
    store.add_clock_days(day)
    again = day.set_column(4, "last_offset_s", pa.array([1.5, 2.0]))
    store.add_clock_days(again)  # a day closed again replaces its rows
    assert store.clock_days().to_pylist() == again.to_pylist()
    alarm = pa.table(
        {
            "segment": [4],
            "is_cell": [False],
            "boundary": [99],
            "meters": [300],
            "missed": [290],
            "detected_at": [5.0],
        },
        schema=SEGMENT_ALARM_SCHEMA,
    )
    store.add_segment_alarms(alarm)
    store.add_segment_alarms(alarm)
    assert store.segment_alarms().to_pylist() == alarm.to_pylist()
    commission = pa.table(
        {
            "meter_id": [1, 2],
            "switch_connected": [True, False],
            "contract_amperage_a": [30, 40],
            "commissioned_at": [1.0, 1.0],
        },
        schema=COMMISSION_SCHEMA,
    )
    store.commission(commission)
    store.commission(commission.set_column(2, "contract_amperage_a", pa.array([60, 60])))
    assert store.commissioned().to_pylist() == commission.to_pylist()  # first record kept


def test_simulation_state_is_named_text(database: Database) -> None:
    store = SimulationStore(database)
    assert store.get("position") is None
    store.put("position", '{"now_s": 1.0}')
    store.put("position", '{"now_s": 2.0}')
    assert store.get("position") == '{"now_s": 2.0}'
