"""One error root for ECHONET Lite, split by who is at fault.

::

    EchonetError
    ├── LocalEchonetProtocolError    our side misused the node (a reply to no request…)
    ├── RemoteEchonetProtocolError   the peer sent something the node cannot take
    │   └── MalformedFrame           …bytes that are not a format-1 frame at all
    └── EchonetDecodeError           a frame or an EDT that does not decode (also a ValueError)
"""

from __future__ import annotations


class EchonetError(Exception):
    """Every ECHONET Lite error."""


class LocalEchonetProtocolError(EchonetError):
    """Our side asked the node for something its state does not allow."""


class RemoteEchonetProtocolError(EchonetError):
    """A received frame the node cannot take: a response with an unknown TID, one that does
    not answer its request, or an ESV the node does not know. ECHONET Lite answers none of
    these: the frame is dropped."""


class EchonetDecodeError(EchonetError, ValueError):
    """The bytes are not a well-formed ECHONET Lite format-1 frame (or EDT)."""


class MalformedFrame(RemoteEchonetProtocolError):
    """A received datagram that is not a well-formed frame."""


__all__ = [
    "EchonetDecodeError",
    "EchonetError",
    "LocalEchonetProtocolError",
    "MalformedFrame",
    "RemoteEchonetProtocolError",
]
