"""SKSTACK IP: the serial command language of Wi-SUN modules (BP35A1 and BP35C2 dialects).

``codec`` formats and parses lines, ``reader`` cuts byte streams into commands or lines,
``module`` (with ``events``) is a sans-IO emulation of a module with the meter's PAN behind it.
"""

from openami.protocols.skstack.codec import (
    ECHONET_PORT,
    MULTICAST_ALL_NODES,
    Dialect,
    ErrorCode,
    Event,
    PanDescriptor,
    RxUdp,
    SkEvent,
    SkFormatError,
    encode_command,
    encode_sksendto,
    format_einfo,
    format_epandesc,
    format_erxudp,
    format_event,
    link_local_of,
    pairing_id,
    parse_epandesc,
    parse_erxudp,
    parse_event,
    scan_duration_s,
)
from openami.protocols.skstack.events import (
    Joined,
    MeterRadio,
    ModuleEvent,
    Output,
    RadioTime,
    SessionEnded,
    UdpSend,
)
from openami.protocols.skstack.module import SkModule
from openami.protocols.skstack.reader import CommandReader, OutputReader

__all__ = [
    "ECHONET_PORT",
    "MULTICAST_ALL_NODES",
    "CommandReader",
    "Dialect",
    "ErrorCode",
    "Event",
    "Joined",
    "MeterRadio",
    "ModuleEvent",
    "Output",
    "OutputReader",
    "PanDescriptor",
    "RadioTime",
    "RxUdp",
    "SessionEnded",
    "SkEvent",
    "SkFormatError",
    "SkModule",
    "UdpSend",
    "encode_command",
    "encode_sksendto",
    "format_einfo",
    "format_epandesc",
    "format_erxudp",
    "format_event",
    "link_local_of",
    "pairing_id",
    "parse_epandesc",
    "parse_erxudp",
    "parse_event",
    "scan_duration_s",
]
