"""The openami PLC link profile (OPLC/1): a G3-PLC B-route modem's serial line, sans I/O.

No public command reference of a Japanese G3-PLC B-route module exists (see
docs/protocols.md, "G3-PLC fallback"), so openami defines a small line protocol of its own,
shaped like SKSTACK IP so a HEMS drives both the same way. :class:`PlcModule` is the
modem's side (what the virtual modem on a pty runs); :func:`parse_line` and
:func:`encode_command` are the host's side.
"""

from openami.protocols.plc.codec import (
    FAIL_BAD_ARGUMENT,
    FAIL_NOT_JOINED,
    FAIL_UNKNOWN_COMMAND,
    MAX_PAYLOAD_BYTES,
    PLC_EVENT_AUTH_FAILED,
    PLC_EVENT_JOINED,
    PLC_EVENT_NO_METER,
    PLC_EVENT_TERMINATED,
    PlcEvent,
    PlcFail,
    PlcFormatError,
    PlcInfo,
    PlcLine,
    PlcOk,
    PlcReceived,
    encode_command,
    parse_line,
)
from openami.protocols.plc.module import PlcMeter, PlcModule, PlcSend

__all__ = [
    "FAIL_BAD_ARGUMENT",
    "FAIL_NOT_JOINED",
    "FAIL_UNKNOWN_COMMAND",
    "MAX_PAYLOAD_BYTES",
    "PLC_EVENT_AUTH_FAILED",
    "PLC_EVENT_JOINED",
    "PLC_EVENT_NO_METER",
    "PLC_EVENT_TERMINATED",
    "PlcEvent",
    "PlcFail",
    "PlcFormatError",
    "PlcInfo",
    "PlcLine",
    "PlcMeter",
    "PlcModule",
    "PlcOk",
    "PlcReceived",
    "PlcSend",
    "encode_command",
    "parse_line",
]
