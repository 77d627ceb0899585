"""SKSTACK IP, the host's side: what a module prints, into :class:`SkHost` (output reader,
echo/OK/FAIL matching, EVENT, ERXUDP and EPANDESC parsing, the PANA session states).

The first byte picks the dialect and the piece size the rest is fed in. The harness plays
a host that sends its next command whenever none is pending (SKVER, SKINFO, ROPT, SKLL64,
SKJOIN, SKSENDTO, SKTERM, SKRESET in turn; one the session state does not allow is skipped).
Every line is also given to the line parsers of both dialects. Allowed: a
``RemoteSkstackProtocolError`` from the host (a line the module should not print; dropped)
and :class:`SkFormatError` from the parsers. Anything else is a finding.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable

from fuzz.engine import Finding
from fuzz.harnesses.skstack_module import METER, METER_MAC, OWN_MAC, PWD, RBID, _session
from openami.protocols.peer import Wait
from openami.protocols.skstack import (
    Dialect,
    LocalSkstackProtocolError,
    MeterRadio,
    RemoteSkstackProtocolError,
    SendOutcome,
    SkFormatError,
    SkHost,
    SkModule,
    UdpSend,
    parse_epandesc,
    parse_erxudp,
    parse_event,
)
from openami.protocols.skstack.events import Output
from openami.protocols.skstack.host import (
    Command,
    HostCommand,
    Join,
    Option,
    Reset,
    SendTo,
    Terminate,
)
from openami.protocols.skstack.reader import OutputReader

ALLOWED = (SkFormatError,)
MAX_LEN = 640
_COMMANDS: tuple[HostCommand, ...] = (
    Command("SKVER"),
    Command("SKINFO"),
    Option("ROPT"),
    Command("SKLL64", (METER_MAC.hex().upper(),)),
    Join(METER),
    SendTo(METER, b"\x10\x81\x00\x01\x05\xff\x01\x02\x88\x01\x62\x01\xe7\x00"),
    Terminate(),
    Reset(),
)


def _parse_line(text: str) -> None:
    for dialect in Dialect:
        for parse in (parse_erxudp, parse_event):
            with contextlib.suppress(SkFormatError):
                parse(dialect, text)
    with contextlib.suppress(SkFormatError):
        parse_epandesc([text])


def setup() -> Callable[[bytes], None]:
    def one_input(data: bytes) -> None:
        if not data:
            return
        host = SkHost(Dialect.BP35C2 if data[0] & 0x80 else Dialect.BP35A1)
        step = (data[0] & 0x1F) + 1
        body = data[1:]
        lines = OutputReader()
        turn = 0
        for pos in range(0, len(body), step):
            if host.pending is None:
                for _ in range(len(_COMMANDS)):
                    command = _COMMANDS[turn % len(_COMMANDS)]
                    turn += 1
                    try:
                        host.send(command)
                        break
                    except LocalSkstackProtocolError:
                        continue
            chunk = body[pos : pos + step]
            host.receive_data(chunk)
            lines.feed(chunk)
            for _ in range(10_000):
                try:
                    event = host.next_event()
                except RemoteSkstackProtocolError:
                    continue
                if isinstance(event, Wait):
                    break
            else:
                raise Finding("the host produced 10,000 events from one feed")
            while (text := lines.next_line()) is not None:
                _parse_line(text)

    return one_input


def _module_output(dialect: Dialect, commands: bytes) -> bytes:
    """What openami's module emulator prints for ``commands`` (a real session's output)."""
    module = SkModule(dialect, MeterRadio(METER_MAC, RBID, PWD), OWN_MAC)
    module.receive_data(commands)
    out = bytearray()
    for _ in range(1000):
        try:
            event = module.next_event()
        except RemoteSkstackProtocolError as exc:
            out += exc.reply or b""
            continue
        if event is Wait.NEED_DATA:
            break
        if event is Wait.PAUSED or isinstance(event, UdpSend):
            out += module.send(SendOutcome(True))
        elif isinstance(event, Output):
            out += event.data
    return bytes(out)


def seeds() -> dict[str, bytes]:
    """A real session's output in three parts per dialect (scan, join, send and close)."""
    out: dict[str, bytes] = {}
    for dialect, head in ((Dialect.BP35A1, 0x1F), (Dialect.BP35C2, 0x9F)):
        text = _module_output(dialect, _session(dialect))
        cuts = [0, text.index(b"SKSREG S2"), text.index(b"SKSENDTO"), len(text)]
        for part, (a, b) in enumerate(itertools.pairwise(cuts)):
            out[f"{dialect.value}-output-{part + 1}"] = bytes([head]) + text[a:b]
    out["bp35c2-small-pieces"] = bytes([0x82]) + out["bp35c2-output-1"][1:200]
    return out
