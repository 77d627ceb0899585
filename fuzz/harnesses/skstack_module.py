"""SKSTACK IP, the module's side: what a host writes on the serial line, into the emulated
module (:class:`SkModule`: the command reader, every command handler, SKSENDTO framing).

The first byte picks the dialect (BP35A1/BP35C2) and the size of the pieces the rest is fed
in (1–16 bytes, so lines and SKSENDTO payloads break anywhere). The harness plays the radio:
a ``UdpSend`` gets a ``SendOutcome``, and once a session is up a datagram arrives now and
then. A ``RemoteSkstackProtocolError`` is the module's documented answer to a bad command
(a ``FAIL ERxx`` line): the harness checks its ``reply`` is that line and reads on.
Anything else that escapes is a finding.
"""

from __future__ import annotations

from collections.abc import Callable

from fuzz.engine import Finding
from openami.protocols.echonet import Esv, Frame, Property
from openami.protocols.peer import Wait
from openami.protocols.skstack import (
    DatagramArrived,
    Dialect,
    MeterRadio,
    Output,
    RemoteSkstackProtocolError,
    SendOutcome,
    SkModule,
    UdpSend,
    encode_command,
    encode_sksendto,
    link_local_of,
)
from openami.protocols.skstack.states import ModuleState

ALLOWED: tuple[type[BaseException], ...] = ()
MAX_LEN = 2048
RBID = "00112233445566778899AABBCCDDEEFF"  # fuzz fixture, not a real B-route ID
PWD = "0123456789AB"  # fuzz fixture
METER_MAC = bytes.fromhex("001C6400601421A3")
OWN_MAC = bytes.fromhex("001D129012345678")
METER = link_local_of(METER_MAC)
_GET = Frame(1, 0x05FF01, 0x028801, Esv.GET, (Property(0xE7),)).encode()


def _joined(module: SkModule) -> bool:
    return module.state is ModuleState.JOINED


def _drain(module: SkModule, tick: int) -> None:
    for _ in range(10_000):
        try:
            event = module.next_event()
        except RemoteSkstackProtocolError as exc:
            if exc.reply is None or not exc.reply.startswith(b"FAIL ER"):
                raise Finding(f"a refused command without its FAIL line: {exc!r}") from exc
            continue
        if event is Wait.NEED_DATA:
            return
        if event is Wait.PAUSED or isinstance(event, UdpSend):
            if module.state in (ModuleState.SENDING, ModuleState.JOINED_SENDING):
                module.send(SendOutcome(delivered=tick % 3 != 0))
                if _joined(module) and tick % 2:
                    module.send(DatagramArrived(METER, module.own_address, _GET))
            continue
        if isinstance(event, Output) and not isinstance(event.data, bytes):
            raise Finding(f"output that is not bytes: {event!r}")
    raise Finding("the module produced 10,000 events from one feed")


def setup() -> Callable[[bytes], None]:
    radio = MeterRadio(METER_MAC, RBID, PWD, channel=0x21, pan_id=0x8888)

    def one_input(data: bytes) -> None:
        if not data:
            return
        dialect = Dialect.BP35C2 if data[0] & 0x80 else Dialect.BP35A1
        step = (data[0] & 0x0F) + 1
        module = SkModule(dialect, radio, OWN_MAC)
        body = data[1:]
        for tick, pos in enumerate(range(0, len(body), step)):
            module.receive_data(body[pos : pos + step])
            _drain(module, tick)

    return one_input


def _session(dialect: Dialect) -> bytes:
    lines = [
        encode_command("SKVER"),
        encode_command("SKINFO"),
        encode_command("SKSETPWD", "C", PWD),
        encode_command("SKSETRBID", RBID),
        encode_command("SKSCAN", "2", "FFFFFFFF", "6", *(["0"] if dialect.has_side else [])),
        encode_command("SKSREG", "S2", "21"),
        encode_command("SKSREG", "S3", "8888"),
        encode_command("SKLL64", METER_MAC.hex().upper()),
        encode_command("SKJOIN", METER),
        encode_sksendto(dialect, METER, _GET),
        encode_command("SKSREG", "SFE", "0"),
        b"ROPT\r",
        b"WOPT 01\r",
        encode_command("SKTERM"),
    ]
    return b"".join(lines)


def seeds() -> dict[str, bytes]:
    return {
        "a1-session": bytes([0x0F]) + _session(Dialect.BP35A1),
        "c2-session": bytes([0x8F]) + _session(Dialect.BP35C2),
        "c2-bytewise": bytes([0x80]) + _session(Dialect.BP35C2)[:200],
        "a1-sendto-crlf-payload": bytes([0x03])
        + encode_sksendto(Dialect.BP35A1, METER, b"\r\n\r\nSKVER\r\n", sec=0),
        "a1-overlong": bytes([0x0F]) + b"SKVER " + b"A" * 600 + b"\r\nSKVER\r\n",
    }
