"""Issue #15 §2.3: who may do what on an emulated meter, and a burst of wrong passwords.

The password (LLS) level reads only; the public client reads only the public objects; failed
associations lock the client out with exponential backoff, counted and raised as a meter
event, and no guess is checked while locked.
"""

from __future__ import annotations

import time

import pytest
from tests.meter.emulator_pair import EmulatorPair, client, emulator

from openami.meter.dlms.catalog import (
    EVENT_ASSOCIATION_LOCKED,
    EVENT_AUTHENTICATION_FAILURE,
    logical_device_name,
)
from openami.protocols.dlms import acse, axdr
from openami.protocols.dlms.cosem import (
    ASSOCIATION_LN,
    CLOCK_LN,
    DISCONNECT_CONTROL_LN,
    EVENT_LOG_LN,
    IMPORT_ENERGY_LN,
    INVOCATION_COUNTER_LN,
    LIMITER_LN,
    LOAD_PROFILE_LN,
    LOGICAL_DEVICE_NAME_LN,
    AttributeRef,
    ClassId,
    DataAccessResult,
    MethodRef,
)
from openami.protocols.dlms.events import (
    Action,
    ActionDone,
    Associated,
    AssociationRejected,
    Get,
    ServiceFailed,
    Set,
    Value,
    Written,
)

DISCONNECT = MethodRef(ClassId.DISCONNECT_CONTROL, DISCONNECT_CONTROL_LN, 1)
THRESHOLD = AttributeRef(ClassId.LIMITER, LIMITER_LN, 3)
IMPORT = AttributeRef(ClassId.REGISTER, IMPORT_ENERGY_LN, 2)
PROFILE = AttributeRef(ClassId.PROFILE_GENERIC, LOAD_PROFILE_LN, 2)


def _denied(events: list[object]) -> bool:
    return (
        len(events) == 1
        and isinstance(events[0], ServiceFailed)
        and events[0].code == DataAccessResult.READ_WRITE_DENIED
    )


def test_the_password_level_reads_but_never_sets_nor_acts() -> None:
    emu = emulator()
    pair = EmulatorPair(emu, client("password"))
    assert isinstance(pair.associate()[-1], Associated)
    assert isinstance(pair.exchange(Get(IMPORT))[0], Value)
    assert isinstance(pair.exchange(Get(PROFILE))[0], Value)
    assert _denied(pair.exchange(Action(DISCONNECT, axdr.i8(0))))
    assert _denied(pair.exchange(Set(THRESHOLD, axdr.u16(600))))
    assert emu.fleet.switch_connected.all()
    assert emu.fleet.contract_amperage_a[0] != 60
    # HLS (authenticated encryption) may
    hls = EmulatorPair(emu, client("hls"))
    assert isinstance(hls.associate()[-1], Associated)
    assert hls.exchange(Set(THRESHOLD, axdr.u16(600))) == [Written()]
    assert hls.exchange(Action(DISCONNECT, axdr.i8(0))) == [ActionDone(None)]
    assert not emu.fleet.switch_connected[0]


@pytest.mark.parametrize(
    "attr",
    [
        IMPORT,
        PROFILE,
        AttributeRef(ClassId.PROFILE_GENERIC, EVENT_LOG_LN, 2),
        AttributeRef(ClassId.CLOCK, CLOCK_LN, 2),
        AttributeRef(ClassId.DISCONNECT_CONTROL, DISCONNECT_CONTROL_LN, 3),
        THRESHOLD,
    ],
    ids=str,
)
def test_the_public_client_reads_only_the_public_objects(attr: AttributeRef) -> None:
    emu = emulator()
    pair = EmulatorPair(emu, client("public"))
    assert isinstance(pair.associate()[-1], Associated)
    assert _denied(pair.exchange(Get(attr)))
    name = pair.exchange(Get(AttributeRef(ClassId.DATA, LOGICAL_DEVICE_NAME_LN, 2)))
    assert name == [Value(axdr.octet_string(logical_device_name(1001)))]
    assert len(logical_device_name(1001)) == 16
    counter = pair.exchange(Get(AttributeRef(ClassId.DATA, INVOCATION_COUNTER_LN, 2)))
    assert counter == [Value(axdr.u32(0))]
    listing = pair.exchange(Get(AttributeRef(ClassId.ASSOCIATION_LN, ASSOCIATION_LN, 2)))
    assert isinstance(listing[0], Value)


def test_a_burst_of_wrong_passwords_locks_out_with_backoff() -> None:
    emu = emulator()
    clock = emu.clock
    objects = emu.meter(0)
    started = time.perf_counter()
    outcomes = []
    for _ in range(3000):
        pair = EmulatorPair(emu, client("password", password=b"guess"))
        [answer] = pair.associate()
        assert isinstance(answer, AssociationRejected)
        outcomes.append(answer.diagnostic)
    elapsed_s = time.perf_counter() - started
    lockout = objects.lockout(17)
    # only the first three guesses were checked; the rest were refused unread
    assert lockout.total_failures == 3
    assert lockout.refused_while_locked == 2997
    assert set(outcomes) == {acse.AcseDiagnostic.AUTHENTICATION_FAILURE}
    codes = [code for _, code in objects.events]
    assert codes == [EVENT_AUTHENTICATION_FAILURE] * 2 + [EVENT_ASSOCIATION_LOCKED]
    # while locked even the right password is refused
    assert isinstance(EmulatorPair(emu, client("password")).associate()[0], AssociationRejected)
    # after the delay it works, and a success clears the count
    clock.advance(lockout.base_delay_s + 0.1)  # type: ignore[attr-defined]
    assert isinstance(EmulatorPair(emu, client("password")).associate()[-1], Associated)
    assert lockout.consecutive_failures == 0
    # each lock in a row doubles: 2 s, 4 s, 8 s ...
    delays = []
    for _ in range(4):
        for _ in range(3):
            EmulatorPair(emu, client("password", password=b"guess")).associate()
            clock.advance(0.01)  # type: ignore[attr-defined]
        delays.append(round(lockout.locked_until_s - clock.timestamp()))
        clock.advance(lockout.locked_until_s - clock.timestamp() + 0.01)  # type: ignore[attr-defined]
    assert delays[1:] == [delays[0] * 2, delays[0] * 4, delays[0] * 8]
    assert elapsed_s < 30  # refusals are cheap: no secret is compared while locked
    # the other meter and the other clients are not locked
    assert isinstance(EmulatorPair(emu, client("password", 2)).associate()[-1], Associated)
    assert isinstance(EmulatorPair(emu, client("hls")).associate()[-1], Associated)


def test_wrong_hls_keys_lock_out_too() -> None:
    from openami.protocols.dlms.security import Keys

    emu = emulator()
    wrong = Keys(bytes(16), bytes(16))
    for _ in range(5):
        [answer] = EmulatorPair(emu, client("hls", keys=wrong)).associate()
        assert isinstance(answer, AssociationRejected)
    lockout = emu.meter(0).lockout(1)
    assert lockout.total_failures == 3 and lockout.refused_while_locked == 2
    assert isinstance(EmulatorPair(emu, client("hls")).associate()[0], AssociationRejected)
