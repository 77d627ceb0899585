"""The emulator's COSEM objects called directly (no transport): selections, errors, fuzz."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openami.clock import JST, ManualClock
from openami.clock.slots import SLOT_SECONDS
from openami.meter import MeterFleet, MeterView
from openami.meter.dlms import DlmsEmulator, EmulatorSecrets, MeterObjects
from openami.meter.dlms.catalog import EVENT_REMOTE_DISCONNECT, EVENT_REMOTE_RECONNECT
from openami.protocols.dlms import axdr
from openami.protocols.dlms.acse import Mechanism
from openami.protocols.dlms.apdu import SelectiveAccess
from openami.protocols.dlms.cosem import (
    CLOCK_LN,
    DISCONNECT_CONTROL_LN,
    EVENT_LOG_LN,
    IMPORT_ENERGY_LN,
    LOAD_PROFILE_LN,
    AttributeRef,
    ClassId,
    DataAccessResult,
    MethodRef,
)
from openami.protocols.dlms.profile import CaptureObject, by_entry, by_range
from openami.protocols.dlms.server_session import ServerAssociation

START = datetime(2026, 11, 1, tzinfo=JST)
PROFILE = AttributeRef(ClassId.PROFILE_GENERIC, LOAD_PROFILE_LN, 2)
EVENTS = AttributeRef(ClassId.PROFILE_GENERIC, EVENT_LOG_LN, 2)


@pytest.fixture(scope="module")
def meter() -> tuple[MeterObjects, ServerAssociation, ManualClock]:
    clock = ManualClock(START)
    fleet = MeterFleet([5, 6], int(START.timestamp()) // SLOT_SECONDS, seed=2, retention_days=2)
    clock.set(START + timedelta(days=3, minutes=45))  # the log now starts one day later
    emulator = DlmsEmulator(fleet, clock, EmulatorSecrets(b"pw"))
    ctx = emulator.association(1, 17)
    assert ctx is not None
    ctx.mechanism = Mechanism.LOW  # as after the password association: reads everything
    return emulator.meter(0), ctx, clock


def test_profile_selections(meter: tuple[MeterObjects, ServerAssociation, ManualClock]) -> None:
    objects, ctx, _ = meter
    fleet = objects.view.fleet
    objects.get(ctx, AttributeRef(ClassId.REGISTER, IMPORT_ENERGY_LN, 2), None)
    first, last = fleet.first_logged_boundary, fleet.now_boundary
    assert last - first == 2 * 48  # retention 2 days
    whole = axdr.decode_all(objects.get(ctx, PROFILE, None))
    assert len(whole) == last - first + 1
    # range entirely before the log: empty array, not an error
    old = by_range(START, START + timedelta(hours=5))
    assert objects.get(ctx, PROFILE, old) == b"\x01\x00"
    # entries past the end are clipped; column 2..3 only
    rows = axdr.decode_all(objects.get(ctx, PROFILE, by_entry(96, 500, 2, 3)))
    view = MeterView(fleet, 0, objects.view.clock)
    assert rows == [view.boundary_registers(first + 95), view.boundary_registers(first + 96)]
    # restricting object other than the clock, and an unknown column
    bad_restrict = by_range(
        START, START + timedelta(days=9), restricting_object=CaptureObject(3, IMPORT_ENERGY_LN, 2)
    )
    assert objects.get(ctx, PROFILE, bad_restrict) == DataAccessResult.OBJECT_UNAVAILABLE
    bad_column = by_range(START, START + timedelta(days=9), (CaptureObject(1, bytes(6), 2),))
    assert objects.get(ctx, PROFILE, bad_column) == DataAccessResult.OBJECT_UNAVAILABLE
    assert objects.get(ctx, PROFILE, SelectiveAccess(3, b"\x00")) == DataAccessResult.OTHER_REASON
    assert (
        objects.get(ctx, AttributeRef(ClassId.CLOCK, CLOCK_LN, 2), by_entry(1))
        == DataAccessResult.OTHER_REASON
    )


def test_event_log_by_range_and_entry(
    meter: tuple[MeterObjects, ServerAssociation, ManualClock],
) -> None:
    objects, ctx, clock = meter
    method = MethodRef(ClassId.DISCONNECT_CONTROL, DISCONNECT_CONTROL_LN, 1)
    t0 = clock.now()
    objects.action(ctx, method, axdr.i8(0))
    clock.advance(timedelta(minutes=10))
    objects.action(ctx, MethodRef(method.class_id, method.logical_name, 2), axdr.i8(0))
    rows = axdr.decode_all(objects.get(ctx, EVENTS, by_range(t0, t0 + timedelta(minutes=5))))
    assert [code for _, code in rows] == [EVENT_REMOTE_DISCONNECT]
    rows = axdr.decode_all(objects.get(ctx, EVENTS, by_entry(2, 0)))
    assert [code for _, code in rows] == [EVENT_REMOTE_RECONNECT]
    assert axdr.decode_datetime(rows[0][0]) == t0 + timedelta(minutes=10)
    assert objects.action(ctx, MethodRef(70, DISCONNECT_CONTROL_LN, 3), None)[0] == 4


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from([(7, LOAD_PROFILE_LN), (7, EVENT_LOG_LN), (8, CLOCK_LN), (71, bytes(6))]),
    st.integers(-5, 15),
    st.one_of(
        st.none(),
        st.builds(SelectiveAccess, st.integers(0, 4), st.binary(max_size=40)),
        st.builds(
            lambda a, b, c, d: by_entry(a, b, c, d),
            st.integers(0, 2**32 - 1),
            st.integers(0, 2**32 - 1),
            st.integers(0, 65535),
            st.integers(0, 65535),
        ),
    ),
)
def test_any_get_gets_data_or_an_error_code(
    meter: tuple[MeterObjects, ServerAssociation, ManualClock],
    target: tuple[int, bytes],
    attribute: int,
    access: SelectiveAccess | None,
) -> None:
    objects, ctx, _ = meter
    result = objects.get(ctx, AttributeRef(target[0], target[1], attribute), access)
    if isinstance(result, bytes):
        axdr.decode_all(result)  # well-formed
    else:
        assert result in {int(r) for r in DataAccessResult}


def test_live_registers_match_the_meter_view() -> None:
    """The emulator's per-meter live registers equal MeterView's whole-fleet computation."""
    clock = ManualClock(START)
    fleet = MeterFleet(
        range(100, 160), int(START.timestamp()) // SLOT_SECONDS, seed=4, pv_share=0.5
    )
    emulator = DlmsEmulator(fleet, clock, EmulatorSecrets(b"pw"))
    fleet.disconnect([3, 7])
    fleet.set_contract_amperage([5, 9], 10)
    checked = 0
    for minutes in (0, 7, 29, 31, 600, 761):  # inside slots, on boundaries, later days
        clock.set(START + timedelta(days=1, minutes=minutes))
        for index in range(60):
            view = MeterView(fleet, index, clock)
            own = emulator.meter(index).live_registers_wh()
            assert own == (view.import_register_wh(), view.export_register_wh())
            checked += 1
    assert checked == 360
    assert any(emulator.meter(i).live_registers_wh()[1] > 0 for i in range(60))  # PV exports
