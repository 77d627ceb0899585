"""A server-side wrapper connection: stream bytes in, stream bytes out, routed by wPort."""

from __future__ import annotations

from collections.abc import Callable

from openami.protocols.dlms import acse
from openami.protocols.dlms.acse import AcseDiagnostic, AssociationResult
from openami.protocols.dlms.server_session import ServerAssociation, exception_response
from openami.protocols.dlms.wrapper import WrapperDecoder, encode_wrapper

MAX_ASSOCIATIONS_PER_CONNECTION = 64

AssociationFactory = Callable[[int, int], ServerAssociation | None]


class ServerConnection:
    """One TCP connection of the wrapper transport: bytes in, bytes out.

    ``factory(server_wport, client_wport)`` creates the association for a new pair of
    wPorts (None when the destination logical device does not exist).
    """

    def __init__(self, factory: AssociationFactory) -> None:
        self._factory = factory
        self._decoder = WrapperDecoder()
        self._associations: dict[tuple[int, int], ServerAssociation | None] = {}

    def receive_data(self, data: bytes) -> bytes:
        """Feed stream bytes; return the bytes to send back. Raises ``WrapperError``."""
        out: list[bytes] = []
        for frame in self._decoder.feed(data):
            key = (frame.destination, frame.source)
            if key not in self._associations:
                if len(self._associations) >= MAX_ASSOCIATIONS_PER_CONNECTION:
                    self._associations.clear()  # a peer cycling wPorts: start afresh
                self._associations[key] = self._factory(frame.destination, frame.source)
            assoc = self._associations[key]
            if assoc is None:
                reply: bytes | None = _no_device_reply(frame.payload)
            else:
                try:
                    reply = assoc.handle(frame.payload)
                except (ValueError, IndexError, KeyError):
                    reply = exception_response(2, 3)  # never let bad input stop the server
            if reply is not None:
                out.append(encode_wrapper(frame.destination, frame.source, reply))
        return b"".join(out)

    @property
    def associations(self) -> list[ServerAssociation]:
        return [a for a in self._associations.values() if a is not None]


def _no_device_reply(payload: bytes) -> bytes:
    if payload[:1] == bytes((acse.AARQ,)):
        return acse.encode_aare(
            acse.Aare(
                acse.LN_NO_CIPHERING,
                AssociationResult.REJECTED_PERMANENT,
                AcseDiagnostic.NO_REASON_GIVEN,
                acse.INITIATE_ERROR_OTHER,
            )
        )
    return exception_response(1, 1)
