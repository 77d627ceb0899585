"""The DLMS meter emulator: one asyncio event loop serves every simulated meter over TCP.

Meter selection: the wrapper's *destination wPort* is the meter's logical device. wPort
``n`` (1 ≤ n ≤ 65535) selects the fleet's meter at index ``n - 1``; wPort 0 and ports past
the fleet get a rejection. So a client talking to meter index 41 sets its server address
to 42 (gurux: ``serverAddress=42``). The client's SAP (source wPort) picks the access level:
16 = public client (no authentication, reads the public objects only); any other SAP must
authenticate with the password (lowest level: reads only) or HLS-GMAC with suite-0 keys and
authenticated encryption (then SET and ACTION are allowed); see :mod:`.catalog`. Failed
associations lock the client out with exponential backoff (:mod:`openami.protocols.dlms.lockout`).

Secrets are per meter from a :class:`~.keys.Keyring` (the encrypted key store), or one shared
set for demos and tests (:class:`EmulatorSecrets`). Invocation counters and each meter's
clock offset survive a restart when a :class:`~.state.MeterStateStore` is given (the CLI
always gives one). With an :class:`~.push.AlarmPusher` (``--push-to``) a meter pushes each
alarm that rises in its alarm register to the HES (a DataNotification, :mod:`.push`).

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
from openami.meter.dlms.catalog import logical_device_name
from openami.meter.dlms.keys import Keyring, SharedSecrets
from openami.meter.dlms.objects import BoundaryDatetimes, MeterObjects
from openami.meter.dlms.push import AlarmPusher
from openami.meter.dlms.state import MeterDocument, MeterStateStore, PersistentCounterStore
from openami.meter.fleet import MeterFleet
from openami.meter.view import MeterView
from openami.protocols.dlms import axdr
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
from openami.protocols.dlms.notification import DataNotification, alarm_body
from openami.protocols.dlms.security import DeviceSecrets, Keys
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


def wport_of(index: int) -> int:
    """The destination wPort that selects fleet index ``index``."""
    return index + 1


@dataclass(frozen=True)
class EmulatorSecrets:
    """Secrets every emulated meter accepts (None disables that level): demos and tests.
    Real use gives the emulator a per-meter :class:`~openami.meter.dlms.keys.Keyring`."""

    password: bytes | None = None
    keys: Keys | None = None
    master_key: bytes | None = None

    def __repr__(self) -> str:
        return "EmulatorSecrets(<hidden>)"

    def device_secrets(self) -> DeviceSecrets:
        return DeviceSecrets(self.password, self.keys, self.master_key)


class DlmsEmulator:
    """Serves the meters of ``fleet`` as DLMS logical devices on one TCP endpoint."""

    def __init__(
        self,
        fleet: MeterFleet,
        clock: Clock,
        secrets: EmulatorSecrets | None = None,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        *,
        keyring: Keyring | None = None,
        state: MeterStateStore | None = None,
        push: AlarmPusher | None = None,
    ) -> None:
        if len(fleet) > MAX_METERS:
            raise ValueError(
                f"one endpoint addresses at most {MAX_METERS} meters by wPort, got {len(fleet)}"
            )
        self.fleet = fleet
        self.clock = clock
        if keyring is None:
            keyring = SharedSecrets((secrets or EmulatorSecrets()).device_secrets())
        self.keyring = keyring
        self.state = state
        #: where the meters push their alarms (None: they do not push)
        self.push = push
        self._pushes = 0
        self.idle_timeout_s = idle_timeout_s
        self._meters: dict[int, MeterObjects] = {}
        self._datetimes = BoundaryDatetimes()
        self.connections = 0
        self.frames_refused = 0

    def meter(self, index: int) -> MeterObjects:
        """The COSEM objects of fleet index ``index`` (created on first use)."""
        objects = self._meters.get(index)
        if objects is None:
            view = MeterView(self.fleet, index, self.clock)
            counters, document = None, None
            if self.state is not None:
                document = MeterDocument(view.meter_id, self.state)
                counters = PersistentCounterStore(view.meter_id, self.state, document)
            objects = MeterObjects(view, self._datetimes, counters=counters, keyring=self.keyring)
            if document is not None:  # the meter's own clock runs on across restarts
                objects.meter_clock.keep(document.clock_offset_s(), document.save_clock_offset)
            if self.push is not None:
                objects.alarms.on_rise = lambda _bit, o=objects, i=index: self._push_alarm(o, i)
            self._meters[index] = objects
        return objects

    def _push_alarm(self, objects: MeterObjects, index: int) -> None:
        """Push the alarm register of the meter at ``index`` (a bit just rose)."""
        assert self.push is not None
        self._pushes = (self._pushes + 1) & 0xFFFF_FFFF
        body = alarm_body(logical_device_name(objects.view.meter_id), objects.alarms.bits)
        moment = axdr.encode_datetime(objects.meter_clock.now())
        self.push.push(index + 1, DataNotification(self._pushes, moment, body).to_bytes())

    def association(self, server_wport: int, client_wport: int) -> ServerAssociation | None:
        index = server_wport - 1
        if not 0 <= index < len(self.fleet):
            return None
        objects = self.meter(index)
        secrets = objects.secrets()
        credentials = ServerCredentials(
            system_title=objects.system_title, password=secrets.password, keys=secrets.keys
        )
        return ServerAssociation(
            credentials,
            objects.counters,
            client_wport,
            server_wport,
            random_bytes=os.urandom,
            lockout=objects.lockout(client_wport),
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

    def serve(self, session: ServerConnection) -> list[bytes]:
        """Answer every complete request of ``session``: the meter's answers, or the
        protocol's refusals (noted as meter events). A fatal error propagates."""
        out: list[bytes] = []
        while True:
            try:
                event = session.next_event()
            except RemoteDlmsProtocolError as exc:
                if exc.fatal:
                    raise
                self.frames_refused += 1
                association = session.current
                if exc.security_event and association is not None:
                    objects = self.meter(association.server_sap - 1)
                    objects.on_security_event(association, exc.security_event)
                if exc.reply is not None:
                    out.append(exc.reply)
                continue
            if isinstance(event, Wait):
                return out
            association = session.current
            assert association is not None
            out.append(session.send(self.answer(association, event)))

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
        try:
            self.session.receive_data(data)
            out = self.emulator.serve(self.session)
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
