"""The openami PLC link profile (OPLC/1): the modem's command reader and the host's parser.

Each input goes to a modem (fresh, and one already joined) in pieces of a size its first
byte picks, and every line of it to :func:`parse_line`. Allowed: :class:`PlcFormatError`
from the parser; the modem itself must never raise (it answers ``FAIL Exx``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from openami.protocols.plc import PlcFormatError, PlcMeter, PlcModule, encode_command, parse_line
from openami.protocols.plc.codec import encode_send

ALLOWED = (PlcFormatError,)
MAX_LEN = 3000
RBID = "00112233445566778899AABBCCDDEEFF"
PASSWORD = "0123456789AB"
METER = PlcMeter(bytes.fromhex("001C6400601421A3"), RBID, PASSWORD)
MAC = bytes.fromhex("001D1290ABC00001")


def _joined() -> PlcModule:
    module = PlcModule(MAC, METER)
    module.receive_data(
        encode_command("PLCSETID", RBID) + encode_command("PLCSETPWD", PASSWORD) + b"PLCJOIN\r\n"
    )
    return module


def setup() -> Callable[[bytes], None]:
    def one_input(data: bytes) -> None:
        if not data:
            return
        step = (data[0] & 0x3F) + 1
        body = data[1:]
        for module in (PlcModule(MAC, METER), _joined()):
            for pos in range(0, len(body), step):
                module.receive_data(body[pos : pos + step])
        for line in body.split(b"\n"):
            with contextlib.suppress(PlcFormatError):
                parse_line(line.strip())

    return one_input


def seeds() -> dict[str, bytes]:
    session = (
        b"PLCINFO\r\n"
        + encode_command("PLCSETID", RBID)
        + encode_command("PLCSETPWD", PASSWORD)
        + b"PLCJOIN\r\n"
        + encode_send(bytes.fromhex("1081000105FF010288016201E700"))
        + b"PLCTERM\r\n"
    )
    module = _joined()
    printed = b"".join(
        x for x in module.receive_data(b"PLCINFO\r\nPLCTERM\r\n") if isinstance(x, bytes)
    )
    printed += module.from_meter(b"\x10\x81")  # nothing: no session after PLCTERM
    return {
        "session": bytes([0x3F]) + session,
        "session-small-pieces": bytes([0x02]) + session,
        "modem-output": bytes([0x3F]) + printed + b"ERX FE80::1 0002 1081\r\nEVENT 25 FE80::1\r\n",
    }
