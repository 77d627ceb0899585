"""SKSTACK IP: the serial command language of Wi-SUN modules (BP35A1 and BP35C2 dialects).

``codec`` formats and parses lines, ``reader`` cuts byte streams into commands or lines,
``module`` (with ``events``, ``states`` and ``commands``) is a sans-I/O emulation of a module
with the meter's PAN behind it, ``host`` the sans-I/O host that drives a module. Errors:
``errors`` (one root, :class:`SkstackError`, split local/remote).
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
from openami.protocols.skstack.errors import (
    LocalSkstackProtocolError,
    RemoteSkstackProtocolError,
    SkFormatError,
    SkstackError,
)
from openami.protocols.skstack.events import (
    DatagramArrived,
    Joined,
    MeterRadio,
    ModuleEvent,
    Output,
    RadioTime,
    SendOutcome,
    SessionEnded,
    SessionExpiry,
    TxLimit,
    UdpSend,
)
from openami.protocols.skstack.host import HostState, SkHost
from openami.protocols.skstack.module import SkModule
from openami.protocols.skstack.reader import CommandReader, OutputReader
from openami.protocols.skstack.states import ModuleState

__all__ = [
    "ECHONET_PORT",
    "MULTICAST_ALL_NODES",
    "CommandReader",
    "DatagramArrived",
    "Dialect",
    "ErrorCode",
    "Event",
    "HostState",
    "Joined",
    "LocalSkstackProtocolError",
    "MeterRadio",
    "ModuleEvent",
    "ModuleState",
    "Output",
    "OutputReader",
    "PanDescriptor",
    "RadioTime",
    "RemoteSkstackProtocolError",
    "RxUdp",
    "SendOutcome",
    "SessionEnded",
    "SessionExpiry",
    "SkEvent",
    "SkFormatError",
    "SkHost",
    "SkModule",
    "SkstackError",
    "TxLimit",
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
