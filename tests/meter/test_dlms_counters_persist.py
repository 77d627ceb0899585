"""Issue #15 §2.2: invocation counters survive a meter restart; replays stay refused.

Before, the counters lived only in memory: after a restart an old AARQ and a captured
ciphered ACTION remote_disconnect were accepted again.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from tests.meter.emulator_pair import EmulatorPair, client, emulator

from openami.meter.dlms import DlmsEmulator
from openami.meter.dlms.state import SERVER_COUNTER_RESERVE
from openami.protocols.dlms import acse, axdr
from openami.protocols.dlms.connection import ServerConnection
from openami.protocols.dlms.cosem import (
    DISCONNECT_CONTROL_LN,
    INVOCATION_COUNTER_LN,
    AttributeRef,
    ClassId,
    MethodRef,
)
from openami.protocols.dlms.events import (
    Action,
    ActionDone,
    Associated,
    AssociationRejected,
    Get,
    Release,
    Value,
)
from openami.protocols.dlms.wrapper import WrapperDecoder
from openami.storage.dlms_counters import CounterFileError, MeterCounterFiles

DISCONNECT = MethodRef(ClassId.DISCONNECT_CONTROL, DISCONNECT_CONTROL_LN, 1)
RECONNECT = MethodRef(ClassId.DISCONNECT_CONTROL, DISCONNECT_CONTROL_LN, 2)


def _restart(before: DlmsEmulator, state: MeterCounterFiles) -> DlmsEmulator:
    """A new emulator process on the same fleet and the same state directory."""
    return DlmsEmulator(
        before.fleet, before.clock, idle_timeout_s=60, keyring=before.keyring, state=state
    )


def _raw(emu: DlmsEmulator, frame: bytes) -> bytes:
    """One frame to the meter on a new connection: the payload of its answer."""
    connection = ServerConnection(emu.association)
    connection.receive_data(frame)
    return WrapperDecoder().feed(b"".join(emu.serve(connection)))[0].payload


def _public_counter(emu: DlmsEmulator) -> int:
    public = EmulatorPair(emu, client("public"))
    public.associate()
    [value] = public.exchange(Get(AttributeRef(ClassId.DATA, INVOCATION_COUNTER_LN, 2)))
    assert isinstance(value, Value)
    return int(axdr.decode_all(value.data))


def test_replays_after_a_meter_restart_are_refused(tmp_path: Path) -> None:
    state = MeterCounterFiles(tmp_path / "dlms-meter-state")
    emu = emulator(state=state)
    honest = EmulatorPair(emu, client("hls"))
    assert isinstance(honest.associate()[-1], Associated)
    old_aarq = honest.sent[0]
    assert honest.exchange(Action(DISCONNECT, axdr.i8(0))) == [ActionDone(None)]
    captured_disconnect = honest.sent[-1]
    assert honest.exchange(Action(RECONNECT, axdr.i8(0))) == [ActionDone(None)]
    honest.exchange(Release())
    assert emu.fleet.switch_connected[0]

    emu = _restart(emu, state)
    # the old AARQ: refused as a replay, no challenge is even sent
    aare = acse.decode_aare(_raw(emu, old_aarq))
    assert aare.result != acse.AssociationResult.ACCEPTED
    assert aare.diagnostic == acse.AcseDiagnostic.AUTHENTICATION_FAILURE
    # a client that (as before) starts from the meter's public counter
    start = _public_counter(emu)
    assert start > 3  # the meter remembers what it accepted
    victim = EmulatorPair(emu, client("hls", invocation_counter=start))
    assert isinstance(victim.associate()[-1], Associated)
    victim.connection.receive_data(captured_disconnect)
    refusal = WrapperDecoder().feed(b"".join(emu.serve(victim.connection)))[0].payload
    assert refusal[:3] == b"\xd8\x01\x06"  # invocation-counter-error
    assert emu.fleet.switch_connected[0]  # the captured disconnect did nothing
    assert isinstance(
        victim.exchange(Get(AttributeRef(ClassId.DATA, INVOCATION_COUNTER_LN, 2)))[0], Value
    )


def test_the_state_file_is_private_atomic_and_never_guessed(tmp_path: Path) -> None:
    directory = tmp_path / "dlms-meter-state"
    state = MeterCounterFiles(directory)
    emu = emulator(state=state)
    pair = EmulatorPair(emu, client("hls"))
    pair.associate()
    path = directory / "meter-1001.json"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    # AARQ 1, challenge answer 3 (2 went into its GMAC)
    assert document["clients"] == {b"OPENAMI\x01".hex(): 3}
    assert document["server_reserved"] == 1 + SERVER_COUNTER_RESERVE
    assert [p.name for p in directory.iterdir()] == ["meter-1001.json"]  # no temp file left
    # the meter's own counter goes on above everything it may have sent
    emu2 = _restart(emu, state)
    assert emu2.meter(0).counters.next_server_counter() == 2 + SERVER_COUNTER_RESERVE
    # a damaged file stops the meter's secured service instead of restarting at zero
    path.write_text("{not json")
    with pytest.raises(CounterFileError):
        _restart(emu, state).meter(0)


def test_without_a_state_store_a_restart_forgets(tmp_path: Path) -> None:
    """The control: what the persistent store prevents."""
    emu = emulator()
    honest = EmulatorPair(emu, client("hls"))
    honest.associate()
    old_aarq = honest.sent[0]
    fresh = DlmsEmulator(emu.fleet, emu.clock, keyring=emu.keyring)
    aare = acse.decode_aare(_raw(fresh, old_aarq))
    assert aare.result == acse.AssociationResult.ACCEPTED  # accepted again: why we persist


def test_a_refused_counter_is_not_saved(tmp_path: Path) -> None:
    state = MeterCounterFiles(tmp_path)
    emu = emulator(state=state)
    pair = EmulatorPair(emu, client("hls", invocation_counter=50))
    pair.associate()
    late = EmulatorPair(emu, client("hls", invocation_counter=10))
    [answer] = late.associate()
    assert isinstance(answer, AssociationRejected)
    assert state.load(1001)["clients"] == {b"OPENAMI\x01".hex(): 52}  # type: ignore[index]
