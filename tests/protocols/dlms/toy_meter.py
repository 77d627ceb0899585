"""A tiny DLMS meter for the association tests: two attributes and one method, served
through :class:`ServerConnection`, paired with a :class:`ClientAssociation` in memory."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from tests.protocols.peer_pair import PeerPair

from openami.protocols.dlms import acse, axdr
from openami.protocols.dlms.client_session import ClientAssociation
from openami.protocols.dlms.connection import ServerConnection
from openami.protocols.dlms.cosem import AttributeRef, DataAccessResult, MethodRef
from openami.protocols.dlms.errors import RemoteDlmsProtocolError
from openami.protocols.dlms.events import (
    ActionRequest,
    ActionResponse,
    AnswerChallenge,
    Associate,
    AssociationRequest,
    ChallengeAnswer,
    ChallengeReceived,
    ClientEvent,
    ClientRequest,
    GetListRequest,
    GetListResponse,
    GetRequest,
    GetResponse,
    ServerEvent,
    SetRequest,
    SetResponse,
    protocol_response,
)
from openami.protocols.dlms.security import Keys
from openami.protocols.dlms.server_session import (
    MemoryCounterStore,
    ServerAssociation,
    ServerCredentials,
    ServerResponse,
)

KEYS = Keys(bytes(range(16)), bytes(range(0xD0, 0xE0)))  # test fixture secrets
PASSWORD = b"secret"  # test fixture secret
METER_TITLE = b"OAM\x00\x00\x00\x00\x01"
BIG = AttributeRef.of(1, "0.0.96.1.0.255", 2)
SMALL = AttributeRef.of(3, "1.0.1.8.0.255", 2)
WRITABLE = AttributeRef.of(3, "1.0.1.8.0.255", 3)
DISCONNECT = MethodRef.of(70, "0.0.96.3.10.255", 1)


def seeded_bytes(seed: int = 7) -> Any:
    """A deterministic ``random_bytes`` for the machines."""
    rng = random.Random(seed)
    return lambda n: rng.randbytes(n)


@dataclass
class ToyObjects:
    """Two attributes, one method: enough to exercise the association machinery."""

    big: bytes = axdr.octet_string(bytes(range(256)) * 8)
    written: list[bytes] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def get(self, attr: AttributeRef) -> bytes | int:
        if attr == BIG:
            return self.big
        if attr == SMALL:
            return axdr.u32(42)
        return DataAccessResult.OBJECT_UNDEFINED

    def answer(self, event: ServerEvent) -> ServerResponse:
        """The toy meter's answer to one request (the association's own answer where it has one)."""
        if isinstance(event, AssociationRequest | ChallengeAnswer) and event.security_event:
            self.events.append(event.security_event)
        response = protocol_response(event)
        if response is not None:
            return response
        if isinstance(event, GetRequest):
            return GetResponse(self.get(event.attribute))
        if isinstance(event, GetListRequest):
            return GetListResponse(tuple(self.get(attr) for attr, _ in event.items))
        if isinstance(event, SetRequest):
            if not event.permitted:
                return SetResponse(DataAccessResult.READ_WRITE_DENIED)
            self.written.append(event.value)
            return SetResponse(0)
        assert isinstance(event, ActionRequest)
        return ActionResponse(0 if event.permitted else DataAccessResult.READ_WRITE_DENIED)


def association(client_sap: int = 1, server_sap: int = 1, seed: int = 11) -> ServerAssociation:
    credentials = ServerCredentials(METER_TITLE, password=PASSWORD, keys=KEYS)
    return ServerAssociation(
        credentials, MemoryCounterStore(), client_sap, server_sap, random_bytes=seeded_bytes(seed)
    )


def client(kind: str = "password", **kw: Any) -> ClientAssociation:
    """``kind``: "public" (SAP 16), "password" (LLS, SAP 17) or "hls" (HLS-GMAC, SAP 1)."""
    if kind == "public":
        kw.setdefault("client_wport", 16)
        return ClientAssociation(**kw)
    if kind == "password":
        kw.setdefault("password", PASSWORD)
        kw.setdefault("client_wport", 17)
        return ClientAssociation(acse.Mechanism.LOW, **kw)
    kw.setdefault("keys", KEYS)
    kw.setdefault("random_bytes", seeded_bytes(3))
    kw.setdefault("client_wport", 1)
    return ClientAssociation(acse.Mechanism.HIGH_GMAC, **kw)


class ToyMeterPair(PeerPair):
    """A client association and a toy meter behind a :class:`ServerConnection`."""

    def __init__(self, client_association: ClientAssociation) -> None:
        self.objects = ToyObjects()
        self.created: list[tuple[int, int]] = []
        self.refusals: list[RemoteDlmsProtocolError] = []
        super().__init__(client_association, ServerConnection(self._factory))

    def _factory(self, server_wport: int, client_wport: int) -> ServerAssociation | None:
        self.created.append((server_wport, client_wport))
        return association(client_wport, server_wport) if server_wport == 1 else None

    def exchange(self, request: ClientRequest) -> list[ClientEvent]:
        """The client sends ``request``; the meter answers everything; the client's events."""
        return self.meter_answers(self.client.send(request))

    def meter_answers(self, data: bytes) -> list[ClientEvent]:
        """Feed ``data`` to the meter and its answers (or refusals) back to the client."""
        connection: ServerConnection = self.server
        connection.receive_data(data)
        answers: list[bytes] = []
        while True:
            try:
                event = connection.next_event()
            except RemoteDlmsProtocolError as exc:
                self.refusals.append(exc)
                if exc.security_event:
                    self.objects.events.append(exc.security_event)
                if exc.reply is not None:
                    answers.append(exc.reply)
                continue
            if not isinstance(event, ServerEvent):
                break
            answers.append(connection.send(self.objects.answer(event)))
        return self.deliver(self.client, b"".join(answers), sender=self.server)

    def associate(self) -> list[ClientEvent]:
        events = self.exchange(Associate())
        if events and isinstance(events[-1], ChallengeReceived):
            events += self.exchange(AnswerChallenge())
        return events
