"""The emulated meter's Alarm register 1 (0.0.97.98.0.255) and Alarm filter 1
(0.0.97.98.10.255): an alarm logged raises its bit (once), the filter masks bits, a SET of
the register clears only the bits written 1, a SET of the filter replaces it, and garbage
changes nothing (who may write is the association's check, as for every SET)."""

from __future__ import annotations

from datetime import datetime

from openami.clock import JST, ManualClock
from openami.clock.slots import SLOT_SECONDS
from openami.meter import MeterFleet
from openami.meter.dlms import DlmsEmulator, EmulatorSecrets
from openami.meter.dlms.catalog import (
    ALARM_BITS,
    ALARM_COVER_OPENED,
    ALARM_POWER_DOWN,
    ALARM_POWER_UP,
    EVENT_COVER_OPENED,
    EVENT_POWER_DOWN,
    EVENT_POWER_UP,
    EVENT_REMOTE_DISCONNECT,
)
from openami.meter.dlms.objects import MeterObjects
from openami.protocols.dlms import axdr
from openami.protocols.dlms.acse import Mechanism
from openami.protocols.dlms.cosem import (
    ALARM_FILTER_LN,
    ALARM_REGISTER_LN,
    AttributeRef,
    ClassId,
    DataAccessResult,
)
from openami.protocols.dlms.server_session import ServerAssociation

START = datetime(2026, 11, 1, tzinfo=JST)
REGISTER = AttributeRef(ClassId.DATA, ALARM_REGISTER_LN, 2)
FILTER = AttributeRef(ClassId.DATA, ALARM_FILTER_LN, 2)


def meter() -> tuple[MeterObjects, ServerAssociation]:
    fleet = MeterFleet([5], int(START.timestamp()) // SLOT_SECONDS, seed=2)
    emulator = DlmsEmulator(fleet, ManualClock(START), EmulatorSecrets(b"pw"))
    ctx = emulator.association(1, 17)
    assert ctx is not None
    ctx.mechanism = Mechanism.LOW
    return emulator.meter(0), ctx


def read(objects: MeterObjects, ctx: ServerAssociation, attr: AttributeRef) -> int:
    raw = objects.get(ctx, attr, None)
    assert isinstance(raw, bytes) and raw[0] == 0x06  # double-long-unsigned
    value = axdr.decode_all(raw)
    assert isinstance(value, int)
    return value


def test_alarms_raise_bits_that_a_set_clears_only_as_written() -> None:
    objects, ctx = meter()
    assert read(objects, ctx, REGISTER) == 0 and read(objects, ctx, FILTER) == ALARM_BITS
    objects.log_event(EVENT_REMOTE_DISCONNECT)  # not an alarm
    assert read(objects, ctx, REGISTER) == 0
    objects.log_event(EVENT_POWER_DOWN)
    objects.log_event(EVENT_POWER_DOWN)  # already pending: once
    objects.log_event(EVENT_COVER_OPENED)
    assert read(objects, ctx, REGISTER) == ALARM_POWER_DOWN | ALARM_COVER_OPENED

    cleared = objects.set(ctx, REGISTER, None, axdr.u32(ALARM_POWER_DOWN))
    assert cleared == DataAccessResult.SUCCESS
    assert read(objects, ctx, REGISTER) == ALARM_COVER_OPENED  # the other bit stays
    for garbage in (axdr.octet_string(b"\x01"), b"\xff", axdr.boolean(True)):
        assert objects.set(ctx, REGISTER, None, garbage) == DataAccessResult.TYPE_UNMATCHED
    assert read(objects, ctx, REGISTER) == ALARM_COVER_OPENED

    # the filter: a masked alarm is logged but raises no bit; bits it does not know refused
    assert objects.set(ctx, FILTER, None, axdr.u32(ALARM_POWER_UP | ALARM_COVER_OPENED)) == 0
    assert objects.set(ctx, FILTER, None, axdr.u32(1 << 20)) == DataAccessResult.OTHER_REASON
    objects.log_event(EVENT_POWER_DOWN)
    objects.log_event(EVENT_POWER_UP)
    assert read(objects, ctx, REGISTER) == ALARM_COVER_OPENED | ALARM_POWER_UP
    assert [code for _, code in objects.events][-2:] == [EVENT_POWER_DOWN, EVENT_POWER_UP]
    assert read(objects, ctx, FILTER) == ALARM_POWER_UP | ALARM_COVER_OPENED
