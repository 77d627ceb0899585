"""The per-kind rules of retail requests that need no simulation: what a concluded command
leaves in the result, which failure code it gets, which argument a command carries."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

from openami.bus.messages import CommandState
from openami.clock import JST
from openami.hub.retail_requests import argument_of, failure_of, is_remote, reading_result
from openami.storage.repositories.requests import RequestRow

AT_S = datetime(2026, 11, 2, 9, 30, tzinfo=JST).timestamp()


def row(kind: str, amperage_a: int | None = None, **detail: object) -> RequestRow:
    return RequestRow(
        "rq-1", "c", "R1", kind, 1, "03" * 11, "2026-11-02", amperage_a,
        "scheduled", None, None, 5, 0.0, 0.0, json.dumps(detail) if detail else None,
    )  # fmt: skip


def test_readings_carry_registers_instant_and_meter_clock() -> None:
    got = reading_result(row("on_demand_read"), 1234, 56, AT_S, -2.5)
    assert got == {
        "import_register_wh": 1234,
        "export_register_wh": 56,
        "read_at": "2026-11-02T09:30:00+09:00",
        "meter_time": "2026-11-02T09:29:57.500000+09:00",
    }
    unknown_clock = reading_result(row("switch_start"), 1, 0, AT_S, math.nan)
    assert unknown_clock is not None and unknown_clock["meter_time"] == unknown_clock["read_at"]
    assert reading_result(row("on_demand_read"), -1, -1, AT_S, math.nan) is None  # no answer
    assert reading_result(row("disconnect"), 10, 0, AT_S, 0.0) is None  # not a reading kind
    plan = reading_result(row("contract_change", supply_plan="day_night"), -1, -1, AT_S, 0.0)
    assert plan == {"supply_plan": "day_night"}


def test_failure_codes_tell_unreachable_from_late() -> None:
    read = row("on_demand_read")
    assert failure_of(read, CommandState.TIMED_OUT, -1)[0] == "E_METER_UNREACHABLE"
    assert failure_of(read, CommandState.TIMED_OUT, 500)[0] == "E_METER_TIMEOUT"
    assert failure_of(row("suspend"), CommandState.TIMED_OUT, -1)[0] == "E_METER_TIMEOUT"
    assert failure_of(row("resume"), CommandState.FAILED, -1)[0] == "E_READBACK_MISMATCH"


def test_arguments_and_remote_switching() -> None:
    assert argument_of(row("contract_change", supply_plan="weekday_peak")) == 3
    assert argument_of(row("contract_change", 40)) == 40
    assert argument_of(row("suspend")) == 0
    assert is_remote(row("contract_change", 40))
    assert not is_remote(row("contract_change", contract_kw=500))
    assert not is_remote(row("contract_change", supply_plan="flat"))
    assert all(is_remote(row(k)) for k in ("suspend", "resume", "move_in", "move_out"))
    assert not is_remote(row("on_demand_read"))


def test_a_suspension_lasts_until_a_resume_a_move_or_a_switch(tmp_path: Path) -> None:
    from dataclasses import replace
    from datetime import date

    from openami.hub.retail_requests import suspended
    from openami.storage.repositories import open_database
    from openami.storage.repositories.requests import RequestStore

    store = RequestStore(open_database(tmp_path / "registry.sqlite"))
    base = replace(row("suspend"), status="completed", effective_date="2026-11-03")
    store.add_request(replace(base, request_id="s1"))
    assert not suspended(store, 1, date(2026, 11, 2))  # not yet
    assert suspended(store, 1, date(2026, 11, 3)) and suspended(store, 1, date(2026, 12, 1))
    assert not suspended(store, 2, date(2026, 11, 3))  # another point
    # a failed or cancelled resume does not end it; a move-out does
    for status, rid in (("failed", "r1"), ("cancelled", "r2")):
        store.add_request(replace(base, request_id=rid, kind="resume", status=status))
    store.add_request(replace(base, request_id="r3", kind="resume", status="rejected"))
    assert suspended(store, 1, date(2026, 11, 10))
    store.add_request(replace(base, request_id="m1", kind="move_out", effective_date="2026-11-08"))
    assert suspended(store, 1, date(2026, 11, 7))  # the move takes effect the next day
    assert not suspended(store, 1, date(2026, 11, 9))
