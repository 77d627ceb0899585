"""The emulated meter's clock (0.0.1.0.0.255) is its own and settable: a SET of attribute 2
moves this meter's clock only (read back as set, then running on), logs a clock-set event,
and refuses what is not a date-time, other attributes, and absurd offsets; with a state
directory the offset survives an emulator restart."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from openami.clock import JST, ManualClock
from openami.clock.slots import SLOT_SECONDS
from openami.meter import MeterFleet
from openami.meter.dlms import DlmsEmulator, EmulatorSecrets
from openami.meter.dlms.catalog import EVENT_CLOCK_SET
from openami.protocols.dlms import axdr
from openami.protocols.dlms.acse import Mechanism
from openami.protocols.dlms.cosem import (
    CLOCK_LN,
    EVENT_LOG_LN,
    AttributeRef,
    ClassId,
    DataAccessResult,
)
from openami.protocols.dlms.profile import by_entry
from openami.storage.dlms_counters import MeterCounterFiles

START = datetime(2026, 11, 1, tzinfo=JST)
TIME = AttributeRef(ClassId.CLOCK, CLOCK_LN, 2)


def read_time(raw: bytes | int) -> datetime:
    assert isinstance(raw, bytes)
    value = axdr.decode_all(raw)
    assert isinstance(value, bytes)
    return axdr.decode_datetime(value)


def test_a_set_moves_this_meters_clock_only_and_is_read_back() -> None:
    clock = ManualClock(START)
    fleet = MeterFleet([5, 6], int(START.timestamp()) // SLOT_SECONDS, seed=2)
    clock.set(START + timedelta(hours=5))
    emulator = DlmsEmulator(fleet, clock, EmulatorSecrets(b"pw"))
    first, second = emulator.meter(0), emulator.meter(1)
    ctx = emulator.association(1, 17)
    assert ctx is not None
    ctx.mechanism = Mechanism.LOW
    assert read_time(first.get(ctx, TIME, None)) == clock.now()

    ahead = clock.now() + timedelta(minutes=7, seconds=30)
    value = axdr.octet_string(axdr.encode_datetime(ahead))
    assert first.set(ctx, TIME, None, value) == DataAccessResult.SUCCESS
    assert read_time(first.get(ctx, TIME, None)) == ahead  # read back as set …
    clock.advance(timedelta(seconds=40))
    assert read_time(first.get(ctx, TIME, None)) == ahead + timedelta(seconds=40)  # … running
    assert read_time(second.get(ctx, TIME, None)) == clock.now()  # the other meter's own
    rows = axdr.decode_all(first.get(ctx, AttributeRef(7, EVENT_LOG_LN, 2), by_entry(1, 0)))
    assert [code for _, code in rows] == [EVENT_CLOCK_SET]

    back = axdr.octet_string(axdr.encode_datetime(clock.now()))
    assert first.set(ctx, TIME, None, back) == DataAccessResult.SUCCESS  # set right again
    assert read_time(first.get(ctx, TIME, None)) == clock.now()


def test_a_set_that_is_not_a_plausible_time_is_refused_and_changes_nothing() -> None:
    clock = ManualClock(START)
    fleet = MeterFleet([5], int(START.timestamp()) // SLOT_SECONDS, seed=2)
    emulator = DlmsEmulator(fleet, clock, EmulatorSecrets(b"pw"))
    meter = emulator.meter(0)
    ctx = emulator.association(1, 17)
    assert ctx is not None
    ctx.mechanism = Mechanism.LOW
    far = axdr.octet_string(axdr.encode_datetime(clock.now() + timedelta(days=400)))
    assert meter.set(ctx, TIME, None, far) == DataAccessResult.OTHER_REASON
    assert meter.set(ctx, TIME, None, axdr.u32(5)) == DataAccessResult.TYPE_UNMATCHED
    assert meter.set(ctx, TIME, None, axdr.octet_string(b"\x07" * 12)) == (
        DataAccessResult.TYPE_UNMATCHED
    )
    deviation = AttributeRef(ClassId.CLOCK, CLOCK_LN, 3)
    assert meter.set(ctx, deviation, None, axdr.i16(0)) == DataAccessResult.READ_WRITE_DENIED
    assert read_time(meter.get(ctx, TIME, None)) == clock.now()
    assert len(meter.events) == 0  # nothing logged


def test_a_set_clock_runs_on_after_an_emulator_restart(tmp_path: Path) -> None:
    """With the state directory, the offset a SET gave a meter's clock is saved (with its
    counters, in the meter's one state file) and a restarted emulator's meter runs on from
    it; another meter, never set, reads the field's time; a damaged offset is not guessed."""
    clock = ManualClock(START)
    fleet = MeterFleet([5, 6], int(START.timestamp()) // SLOT_SECONDS, seed=2)
    state = MeterCounterFiles(tmp_path / "state", sync=False)
    emulator = DlmsEmulator(fleet, clock, EmulatorSecrets(b"pw"), state=state)
    ctx = emulator.association(1, 17)
    assert ctx is not None
    ctx.mechanism = Mechanism.LOW
    ahead = clock.now() + timedelta(minutes=3)
    value = axdr.octet_string(axdr.encode_datetime(ahead))
    assert emulator.meter(0).set(ctx, TIME, None, value) == DataAccessResult.SUCCESS
    emulator.meter(0).counters.next_server_counter()  # the counters share the file

    clock.advance(timedelta(seconds=20))
    again = DlmsEmulator(fleet, clock, EmulatorSecrets(b"pw"), state=state)  # restarted
    assert read_time(again.meter(0).get(ctx, TIME, None)) == ahead + timedelta(seconds=20)
    assert read_time(again.meter(1).get(ctx, TIME, None)) == clock.now()
    saved = state.load(5)
    assert saved is not None and saved["clock_offset_s"] == 180.0
    assert saved["server_reserved"] > 0  # the counters kept beside the offset

    state.save(6, {"clock_offset_s": "soon"})
    with pytest.raises(ValueError, match="clock offset"):
        DlmsEmulator(fleet, clock, EmulatorSecrets(b"pw"), state=state).meter(1)
