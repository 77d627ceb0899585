"""The SKSTACK host and the emulated module back to back in memory: a whole B-route session
in both dialects, and every illegal move raising the right error class."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from tests.protocols.peer_pair import PeerPair
from tests.protocols.skstack.test_module import METER, METER_MAC, OWN_MAC, PWD, RBID, make

from openami.protocols.peer import NEED_DATA, PAUSED, Wait
from openami.protocols.skstack import (
    DatagramArrived,
    Dialect,
    Event,
    HostState,
    LocalSkstackProtocolError,
    ModuleState,
    Output,
    RemoteSkstackProtocolError,
    SendOutcome,
    SessionExpiry,
    SkHost,
    SkModule,
    SkstackError,
    TxLimit,
    UdpSend,
    link_local_of,
)
from openami.protocols.skstack.host import (
    Answer,
    Command,
    DatagramReceived,
    Echo,
    EventReceived,
    Fail,
    Join,
    Line,
    Ok,
    Option,
    PanFound,
    Reset,
    SendTo,
    Terminate,
)
from openami.protocols.skstack.states import MODULE_TRANSITIONS

ECHONET_GET = bytes.fromhex("1081000105FF010288016201E700")
ECHONET_REPLY = bytes.fromhex("1081000102880105FF017201E70400000064")


@dataclass(frozen=True)
class Printed:
    data: bytes


class WiredModule:
    """The module as its transport drives it: refusals print their FAIL line, sends are
    delivered and a meter behind the radio answers every datagram with ``meter``."""

    def __init__(self, module: SkModule, meter: Callable[[bytes], bytes | None]) -> None:
        self.module = module
        self.meter = meter
        self.sent: list[bytes] = []

    def receive_data(self, data: bytes) -> None:
        self.module.receive_data(data)

    def next_event(self) -> Any:
        module = self.module
        try:
            event = module.next_event()
        except RemoteSkstackProtocolError as exc:
            return Printed(exc.reply or b"")
        if isinstance(event, Output):
            return Printed(event.data)
        if isinstance(event, UdpSend):
            self.sent.append(event.payload)
            printed = module.send(SendOutcome(True))
            reply = self.meter(event.payload)
            if reply is not None and module.state is ModuleState.JOINED:
                printed += module.send(DatagramArrived(METER, module.own_address, reply))
            return Printed(printed)
        return event


def pair_for(dialect: Dialect) -> tuple[PeerPair, SkHost, WiredModule]:
    host = SkHost(dialect)
    wired = WiredModule(make(dialect), lambda _: ECHONET_REPLY)
    pair = PeerPair(host, wired, forward=lambda e: e.data if isinstance(e, Printed) else None)
    return pair, host, wired


def host_events(events: list[Any]) -> list[Any]:
    return [e for e in events if not isinstance(e, Printed)]


def command(pair: PeerPair, host: SkHost, cmd: Any) -> list[Any]:
    """The host's events for one command, up to its answer and the events it printed."""
    events = host_events(pair.send(host, cmd))
    assert host.pending is None, f"{cmd} got no answer: {events}"
    return events


def join(pair: PeerPair, host: SkHost) -> list[Any]:
    side = ("0",) if host.dialect.has_side else ()
    command(pair, host, Command("SKSREG", ("SFE", "0")))
    command(pair, host, Command("SKSETRBID", (RBID,)))
    command(pair, host, Command("SKSETPWD", (f"{len(PWD):X}", PWD)))
    scan = command(pair, host, Command("SKSCAN", ("2", "FFFFFFFF", "6", *side)))
    [pan] = [e.descriptor for e in scan if isinstance(e, PanFound)]
    assert pan.mac == METER_MAC and pan.pan_id == 0x8888
    [address] = [
        e
        for e in command(pair, host, Command("SKLL64", (METER_MAC.hex(),)))
        if isinstance(e, Answer)
    ]
    assert address.text == METER
    command(pair, host, Command("SKSREG", ("S2", f"{pan.channel:X}")))
    command(pair, host, Command("SKSREG", ("S3", f"{pan.pan_id:04X}")))
    return command(pair, host, Join(METER))


@pytest.mark.parametrize("dialect", list(Dialect))
def test_a_whole_session_in_memory(dialect: Dialect) -> None:
    pair, host, wired = pair_for(dialect)
    assert isinstance(command(pair, host, Option("ROPT"))[-1], Ok)
    info = command(pair, host, Command("SKINFO"))
    assert isinstance(info[0], Echo) and isinstance(info[-1], Ok)
    assert any(isinstance(e, Line) and e.text.startswith("EINFO") for e in info)
    joined = join(pair, host)
    codes = [e.event.event for e in joined if isinstance(e, EventReceived)]
    assert codes[-1] == Event.PANA_OK and host.state is HostState.JOINED
    assert wired.module.state is ModuleState.JOINED
    # the PANA ERXUDP during the join arrives as a datagram on port 716, not for ECHONET
    assert [e.datagram.rport for e in joined if isinstance(e, DatagramReceived)] == [0x02CC]
    sent = command(pair, host, SendTo(METER, ECHONET_GET))
    assert wired.sent == [ECHONET_GET]
    assert [e.event.param for e in sent if isinstance(e, EventReceived)] == [0]
    [datagram] = [e.datagram for e in sent if isinstance(e, DatagramReceived)]
    assert datagram.data == ECHONET_REPLY and datagram.sender == METER
    ended = command(pair, host, Terminate())
    assert [e.event.event for e in ended if isinstance(e, EventReceived)] == [Event.TERM_DONE]
    assert host.state is HostState.DISCONNECTED and wired.module.state is ModuleState.IDLE


def test_expiry_reauthentication_and_its_failure_reach_the_host() -> None:
    pair, host, wired = pair_for(Dialect.BP35C2)
    join(pair, host)
    module = wired.module
    pair.deliver(host, module.send(SessionExpiry()))
    assert host.state is HostState.JOINED  # EVENT 29, then 25
    printed = module.send(SessionExpiry(reauth_ok=False))
    host.receive_data(printed[: printed.index(b"\r\n") + 2])
    assert isinstance(host.next_event(), EventReceived) and host.state is HostState.EXPIRED
    with pytest.raises(LocalSkstackProtocolError, match="expired"):
        host.send(SendTo(METER, ECHONET_GET))  # no sends until re-authenticated
    pair.deliver(host, printed[printed.index(b"\r\n") + 2 :])
    assert host.state is HostState.DISCONNECTED and module.state is ModuleState.IDLE
    assert isinstance(join(pair, host)[-1], EventReceived) and host.state is HostState.JOINED
    pair.deliver(host, module.send(TxLimit(True)))
    assert host.tx_limited
    pair.deliver(host, module.send(TxLimit(False)))
    assert not host.tx_limited


def test_host_refuses_commands_its_state_does_not_allow() -> None:
    host = SkHost(Dialect.BP35A1)
    with pytest.raises(LocalSkstackProtocolError, match="SKSENDTO in state disconnected"):
        host.send(SendTo(METER, ECHONET_GET))
    with pytest.raises(LocalSkstackProtocolError, match="its own event"):
        host.send(Command("SKJOIN", (METER,)))
    host.send(Command("SKVER"))
    with pytest.raises(LocalSkstackProtocolError, match="one command at a time"):
        host.send(Command("SKINFO"))
    host.forget_command()
    host.receive_data(b"SKVER\r\nEVER 1.2.10\r\nOK\r\n")  # the answer of the forgotten command
    assert isinstance(host.next_event(), Line) and isinstance(host.next_event(), Line)
    with pytest.raises(RemoteSkstackProtocolError, match="answers no command"):
        host.next_event()
    pair2, host2, _ = pair_for(Dialect.BP35A1)
    join(pair2, host2)
    with pytest.raises(LocalSkstackProtocolError, match="SKJOIN in state joined"):
        host2.send(Join(METER))
    assert host2.state is HostState.JOINED


def test_host_drops_lines_the_module_should_not_print() -> None:
    host = SkHost(Dialect.BP35A1)
    host.receive_data(f"EVENT 25 {METER}\r\n".encode())
    with pytest.raises(RemoteSkstackProtocolError, match="while the session is disconnected"):
        host.next_event()
    host.receive_data(b"ERXUDP FE80 truncated\r\nEVENT zz\r\n")
    for _ in range(2):
        with pytest.raises(RemoteSkstackProtocolError, match="unreadable"):
            host.next_event()
    assert host.next_event() is NEED_DATA and host.state is HostState.DISCONNECTED
    assert issubclass(RemoteSkstackProtocolError, SkstackError)


def test_module_refuses_a_join_while_joined_with_fail_er10() -> None:
    pair, host, wired = pair_for(Dialect.BP35A1)
    join(pair, host)
    module = wired.module
    module.receive_data(f"SKJOIN {METER}\r\n".encode())  # echo is off after join()
    with pytest.raises(RemoteSkstackProtocolError) as refused:
        module.next_event()
    assert refused.value.code == 10 and refused.value.reply == b"FAIL ER10\r\n"
    assert module.state is ModuleState.JOINED and module.errors == 1
    # with echo on the echo comes first, then the refusal
    echoing = make(Dialect.BP35A1)
    echoing.receive_data(b"SKFOO\r\n")
    assert echoing.next_event() == Output(b"SKFOO\r\n")
    with pytest.raises(RemoteSkstackProtocolError) as unknown:
        echoing.next_event()
    assert unknown.value.code == 4
    # the host sees the FAIL as the answer to its command
    [refusal] = command(pair, host, Command("SKSREG", ("S07", "1")))  # S07 is read-only
    assert refusal == Fail("SKSREG", 5)


def test_module_radio_inputs_follow_the_table() -> None:
    samples = [
        SendOutcome(True),
        DatagramArrived(METER, link_local_of(OWN_MAC), b"x"),
        SessionExpiry(),
        TxLimit(True),
    ]
    for state in ModuleState:
        for event in samples:
            if MODULE_TRANSITIONS.allows(state, type(event)):
                continue  # the legal moves are exercised by the sessions above
            module = make(Dialect.BP35A1)
            module.state = state
            with pytest.raises(LocalSkstackProtocolError):
                module.send(event)
            assert module.state is state


def test_module_pauses_while_a_send_waits_for_the_radio() -> None:
    module = make(Dialect.BP35C2)
    module.receive_data(b"SKSREG SFE 0\r\n")
    assert module.next_event() == Output(b"SKSREG SFE 0\r\n")  # echoed while echo was on
    assert module.next_event() == Output(b"OK\r\n")
    module.receive_data(b"SKSENDTO 1 " + METER.encode() + b" 0E1A 2 0 0001 xSKVER\r\n")
    assert isinstance(module.next_event(), UdpSend) and module.state is ModuleState.SENDING
    assert module.next_event() is PAUSED
    with pytest.raises(LocalSkstackProtocolError):
        module.send(TxLimit(True))  # not while the send waits
    assert module.send(SendOutcome(False)).endswith(b" 0 01\r\nOK\r\n")
    assert module.state is ModuleState.IDLE
    assert module.next_event() == Output(b"EVER 1.2.10\r\nOK\r\n")
    assert isinstance(module.next_event(), Wait)


def test_reset_ends_the_session_on_both_sides() -> None:
    pair, host, wired = pair_for(Dialect.BP35A1)
    join(pair, host)
    assert isinstance(command(pair, host, Reset())[-1], Ok)
    assert host.state is HostState.DISCONNECTED and wired.module.state is ModuleState.IDLE
