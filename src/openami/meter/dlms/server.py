"""The DLMS meter emulator: one asyncio event loop serves every simulated meter over TCP.

Meter selection: the wrapper's *destination wPort* is the meter's logical device. wPort
``n`` (1 ≤ n ≤ 65535) selects the fleet's meter at index ``n - 1``; wPort 0 and ports past
the fleet get a rejection. So a client talking to meter index 41 sets its server address
to 42 (gurux: ``serverAddress=42``). The client's SAP (source wPort) picks the access level:
16 = public client (no authentication, GET only); any other SAP must authenticate with the
password (lowest level) or HLS-GMAC with suite-0 keys (then SET and ACTION are allowed).

Per-meter state (COSEM handler, invocation counters, event log) is a small object created
the first time a meter is addressed; meter values themselves live in the fleet's columns.
Thousands of meters therefore cost memory, never threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass

import structlog

from openami.clock import Clock
from openami.meter.dlms.objects import BoundaryDatetimes, MeterObjects
from openami.meter.fleet import MeterFleet
from openami.meter.view import MeterView
from openami.protocols.dlms.apdu import ExceptionResponse
from openami.protocols.dlms.connection import ServerConnection
from openami.protocols.dlms.cosem import ActionResult, DataAccessResult
from openami.protocols.dlms.errors import RemoteDlmsProtocolError
from openami.protocols.dlms.events import (
    ActionRequest,
    ActionResponse,
    AssociationRequest,
    ChallengeAnswer,
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
    ServerAssociation,
    ServerCredentials,
    ServerResponse,
)
from openami.protocols.peer import Wait

log = structlog.get_logger(__name__)

MAX_METERS = 0xFFFF
_SERVICES = (GetRequest, GetListRequest, SetRequest, ActionRequest)
DEFAULT_IDLE_TIMEOUT_S = 120.0  # a connection silent this long is closed
SYSTEM_TITLE_PREFIX = b"OAM"  # 3-letter manufacturer id of openami's simulated meters


def meter_system_title(meter_id: int) -> bytes:
    """8-byte system title: ``OAM`` + the meter id's low 40 bits."""
    return SYSTEM_TITLE_PREFIX + (meter_id & 0xFF_FFFF_FFFF).to_bytes(5, "big")


def wport_of(index: int) -> int:
    """The destination wPort that selects fleet index ``index``."""
    return index + 1


@dataclass(frozen=True)
class EmulatorSecrets:
    """Secrets every emulated meter accepts (None disables that level)."""

    password: bytes | None = None
    keys: Keys | None = None

    def __repr__(self) -> str:
        return "EmulatorSecrets(<hidden>)"


class DlmsEmulator:
    """Serves the meters of ``fleet`` as DLMS logical devices on one TCP endpoint."""

    def __init__(
        self,
        fleet: MeterFleet,
        clock: Clock,
        secrets: EmulatorSecrets,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    ) -> None:
        if len(fleet) > MAX_METERS:
            raise ValueError(
                f"one endpoint addresses at most {MAX_METERS} meters by wPort, got {len(fleet)}"
            )
        self.fleet = fleet
        self.clock = clock
        self.secrets = secrets
        self.idle_timeout_s = idle_timeout_s
        self._meters: dict[int, MeterObjects] = {}
        self._datetimes = BoundaryDatetimes()
        self.connections = 0
        self.frames_refused = 0

    def meter(self, index: int) -> MeterObjects:
        """The COSEM objects of fleet index ``index`` (created on first use)."""
        objects = self._meters.get(index)
        if objects is None:
            objects = MeterObjects(MeterView(self.fleet, index, self.clock), self._datetimes)
            self._meters[index] = objects
        return objects

    def association(self, server_wport: int, client_wport: int) -> ServerAssociation | None:
        index = server_wport - 1
        if not 0 <= index < len(self.fleet):
            return None
        objects = self.meter(index)
        credentials = ServerCredentials(
            system_title=meter_system_title(int(self.fleet.meter_ids[index])),
            password=self.secrets.password,
            keys=self.secrets.keys,
        )
        return ServerAssociation(
            credentials, objects.counters, client_wport, server_wport, random_bytes=os.urandom
        )

    def answer(self, association: ServerAssociation, event: ServerEvent) -> ServerResponse:
        """The meter's answer to one request of ``association``."""
        objects = self.meter(association.server_sap - 1)
        if isinstance(event, _SERVICES):
            try:
                return _serve(objects, association, event)
            except (ValueError, IndexError, KeyError):  # never let one request stop the meter
                log.exception("dlms.handler_error")
                return ExceptionResponse(2, 3)  # service-unknown, other-reason
        if isinstance(event, (AssociationRequest, ChallengeAnswer)) and event.security_event:
            objects.on_security_event(association, event.security_event)
        response = protocol_response(event)
        assert response is not None  # every other request is the association's own
        return response

    async def start(self, host: str, port: int) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        return await loop.create_server(lambda: _Connection(self), host, port)


class _Connection(asyncio.Protocol):
    def __init__(self, emulator: DlmsEmulator) -> None:
        self.emulator = emulator
        self.session = ServerConnection(emulator.association)
        self.transport: asyncio.Transport | None = None
        self._last_activity = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.emulator.connections += 1
        loop = asyncio.get_running_loop()
        self._last_activity = loop.time()
        self._idle_timer = loop.call_later(self.emulator.idle_timeout_s, self._check_idle)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _check_idle(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        loop = asyncio.get_running_loop()
        idle = loop.time() - self._last_activity
        if idle >= self.emulator.idle_timeout_s:
            log.info("dlms.idle_close", idle_s=round(idle, 1))
            self.transport.close()
            return
        self._idle_timer = loop.call_later(self.emulator.idle_timeout_s - idle, self._check_idle)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self._last_activity = asyncio.get_running_loop().time()
        out: list[bytes] = []
        try:
            self.session.receive_data(data)
            self._answer_all(out)
        except RemoteDlmsProtocolError as exc:  # only fatal ones get here
            log.info("dlms.bad_stream", error=str(exc))
            self.emulator.frames_refused += 1
            self.transport.close()
            return
        except Exception:  # never let one peer stop the server
            log.exception("dlms.handler_error")
            self.transport.close()
            return
        if out:
            self.transport.write(b"".join(out))

    def _answer_all(self, out: list[bytes]) -> None:
        """Answer every complete request: the meter's answers, or the protocol's refusals."""
        session = self.session
        while True:
            try:
                event = session.next_event()
            except RemoteDlmsProtocolError as exc:
                if exc.fatal:
                    raise
                self._note_refusal(exc)
                if exc.reply is not None:
                    out.append(exc.reply)
                continue
            if isinstance(event, Wait):
                return
            association = session.current
            assert association is not None
            out.append(session.send(self.emulator.answer(association, event)))

    def _note_refusal(self, exc: RemoteDlmsProtocolError) -> None:
        association = self.session.current
        if exc.security_event and association is not None:
            objects = self.emulator.meter(association.server_sap - 1)
            objects.on_security_event(association, exc.security_event)

    def connection_lost(self, exc: Exception | None) -> None:
        self.emulator.connections -= 1
        if self._idle_timer is not None:
            self._idle_timer.cancel()


def _serve(
    objects: MeterObjects, association: ServerAssociation, event: ServerEvent
) -> ServerResponse:
    """A COSEM service request answered from the meter's objects."""
    if isinstance(event, GetRequest):
        return GetResponse(objects.get(association, event.attribute, event.access))
    if isinstance(event, GetListRequest):
        return GetListResponse(
            tuple(objects.get(association, attr, access) for attr, access in event.items)
        )
    if isinstance(event, SetRequest):
        if not event.permitted:
            return SetResponse(DataAccessResult.READ_WRITE_DENIED)
        return SetResponse(objects.set(association, event.attribute, event.access, event.value))
    assert isinstance(event, ActionRequest)
    if not event.permitted:
        return ActionResponse(ActionResult.READ_WRITE_DENIED)
    code, return_data = objects.action(association, event.method, event.parameters)
    return ActionResponse(code, return_data)
