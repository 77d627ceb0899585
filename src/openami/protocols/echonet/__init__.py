"""ECHONET Lite: frames, property maps, objects, the smart meter class (pure codec) and the
node machine (:mod:`.node`: TIDs, request/response matching, timeouts)."""

from openami.protocols.echonet.errors import (
    EchonetDecodeError,
    EchonetError,
    LocalEchonetProtocolError,
    MalformedFrame,
    RemoteEchonetProtocolError,
)
from openami.protocols.echonet.frame import (
    Esv,
    Frame,
    Property,
    decode_frame,
    encode_frame,
    eoj,
    eoj_class,
    eoj_instance,
)
from openami.protocols.echonet.node import EchonetNode
from openami.protocols.echonet.objects import (
    CONTROLLER_EOJ,
    NODE_PROFILE_EOJ,
    DeviceObject,
    node_profile,
)
from openami.protocols.echonet.propmap import decode_property_map, encode_property_map
from openami.protocols.echonet.service import handle_request
from openami.protocols.echonet.smart_meter import SMART_METER_EOJ, EnergyScale

__all__ = [
    "CONTROLLER_EOJ",
    "NODE_PROFILE_EOJ",
    "SMART_METER_EOJ",
    "DeviceObject",
    "EchonetDecodeError",
    "EchonetError",
    "EchonetNode",
    "EnergyScale",
    "Esv",
    "Frame",
    "LocalEchonetProtocolError",
    "MalformedFrame",
    "Property",
    "RemoteEchonetProtocolError",
    "decode_frame",
    "decode_property_map",
    "encode_frame",
    "encode_property_map",
    "eoj",
    "eoj_class",
    "eoj_instance",
    "handle_request",
    "node_profile",
]
