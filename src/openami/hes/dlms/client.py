"""openami's own asyncio DLMS client (head-end side), over the TCP wrapper.

It drives a :class:`~openami.protocols.dlms.client_session.ClientAssociation` (the pure
state machine) and moves its bytes over one TCP connection. Block transfer is followed
transparently; values come back decoded (see :mod:`openami.protocols.dlms.axdr`).

    async with await DlmsClient.connect(host, port, server_wport=1, password=b"...") as c:
        energy_wh = await c.read_register_wh(IMPORT_ENERGY_LN)
        rows = await c.read_profile_range(LOAD_PROFILE_LN, start, end)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any, Protocol

from openami.protocols.dlms import axdr, calendar, security
from openami.protocols.dlms.acse import Mechanism
from openami.protocols.dlms.apdu import SelectiveAccess
from openami.protocols.dlms.client_session import ClientAssociation
from openami.protocols.dlms.cosem import (
    CLOCK_LN,
    DISCONNECT_CONTROL_LN,
    LIMITER_LN,
    SECURITY_SETUP_LN,
    AttributeRef,
    ClassId,
    MethodRef,
)
from openami.protocols.dlms.errors import (
    AssociationRefused,
    DlmsError,
    DlmsServiceError,
    RemoteDlmsProtocolError,
)
from openami.protocols.dlms.events import (
    Action,
    ActionDone,
    AnswerChallenge,
    Associate,
    AssociationRejected,
    BlockReceived,
    ChallengeReceived,
    ClientEvent,
    ClientRequest,
    Get,
    GetList,
    GetNextBlock,
    ListItemError,
    Release,
    ServiceFailed,
    Set,
    Value,
    ValueList,
)
from openami.protocols.dlms.profile import CaptureObject, by_entry, by_range
from openami.protocols.dlms.security import Keys
from openami.protocols.peer import Wait

PUBLIC_CLIENT = 16
MANAGEMENT_CLIENT = 1
DEFAULT_TIMEOUT_S = 10.0
JST_FIXED = timezone(timedelta(hours=9))

__all__ = [
    "AssociationRefused",
    "ClientCounterStore",
    "DlmsClient",
    "DlmsError",
    "ListItemError",
    "Register",
]


@dataclass(frozen=True, slots=True)
class Register:
    """A register's raw value with its scaler and unit; ``value`` = raw × 10^scaler."""

    raw: int
    scaler: int
    unit: int

    @property
    def value(self) -> float:
        return self.raw * 10.0**self.scaler


class _Stream(asyncio.Protocol):
    """Feeds the association machine with what the meter sends; wakes the waiting request."""

    def __init__(self, session: ClientAssociation) -> None:
        self.session = session
        self.transport: asyncio.Transport | None = None
        self.arrived = asyncio.Event()
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self.session.receive_data(data)
        except RemoteDlmsProtocolError as exc:
            self.lost = exc
        self.arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = self.lost or ConnectionError(f"connection closed by the meter: {exc}")
        self.arrived.set()


class ClientCounterStore(Protocol):
    """Where the HES keeps the next invocation counter per (our system title, meter): in
    practice :class:`openami.storage.dlms_counters.ClientCounterFiles`."""

    def next_counter(self, system_title: bytes, meter_key: str) -> int | None: ...

    def save_next(self, system_title: bytes, meter_key: str, next_counter: int) -> None: ...


class DlmsClient:
    """One association with one meter (logical device ``server_wport``)."""

    def __init__(
        self,
        stream: _Stream,
        timeout_s: float,
        counters: ClientCounterStore | None = None,
        counter_key: str = "",
    ) -> None:
        self._stream = stream
        self.session = stream.session
        self.timeout_s = timeout_s
        self._counters = counters
        self._counter_key = counter_key

    @property
    def client_wport(self) -> int:
        return self.session.client_wport

    @property
    def server_wport(self) -> int:
        return self.session.server_wport

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        server_wport: int = 1,
        *,
        client_wport: int | None = None,
        password: bytes | None = None,
        keys: Keys | None = None,
        system_title: bytes = b"OPENAMI\x01",
        invocation_counter: int = 1,
        max_receive_pdu: int = 0xFFFF,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        counters: ClientCounterStore | None = None,
        counter_key: str | None = None,
    ) -> DlmsClient:
        """Open TCP and associate: HLS-GMAC + suite 0 when ``keys`` are given, else the
        password (lowest level, reads only), else the public client (public objects only).

        With ``counters`` the invocation counter starts at the stored next value for
        (``system_title``, ``counter_key``; default ``host:port/wPort``) when that is higher
        than ``invocation_counter``, and the next value is saved before every ciphered APDU
        leaves: a restarted HES never reuses a counter, and never asks the meter for one."""
        if keys is not None:
            mechanism = Mechanism.HIGH_GMAC
        elif password is not None:
            mechanism = Mechanism.LOW
        else:
            mechanism = Mechanism.NONE
        key = counter_key or f"{host}:{port}/{server_wport}"
        if counters is not None and mechanism == Mechanism.HIGH_GMAC:
            stored = counters.next_counter(system_title, key)
            invocation_counter = max(invocation_counter, stored or 0)
        if client_wport is None:
            client_wport = {
                Mechanism.HIGH_GMAC: MANAGEMENT_CLIENT,
                Mechanism.LOW: 17,
                Mechanism.NONE: PUBLIC_CLIENT,
            }[mechanism]
        session = ClientAssociation(
            mechanism,
            password,
            keys,
            system_title,
            invocation_counter,
            max_receive_pdu,
            client_wport=client_wport,
            server_wport=server_wport,
            random_bytes=os.urandom,
        )
        loop = asyncio.get_running_loop()
        _, stream = await asyncio.wait_for(
            loop.create_connection(lambda: _Stream(session), host, port), timeout_s
        )
        client = cls(stream, timeout_s, counters if session.ciphered else None, key)
        try:
            answer = await client._exchange(Associate())
            if isinstance(answer, ChallengeReceived):
                answer = await client._exchange(AnswerChallenge())
            if isinstance(answer, AssociationRejected):
                raise AssociationRefused(answer.reason, answer.diagnostic)
        except BaseException:
            client.close()
            raise
        return client

    async def __aenter__(self) -> DlmsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            with contextlib.suppress(DlmsError, ConnectionError, asyncio.TimeoutError):
                await self.release()
        self.close()

    @property
    def next_invocation_counter(self) -> int:
        """The counter the next ciphered request will use: persist it per meter and system
        title, and start the next association from it (the meter refuses reused counters)."""
        return self.session.invocation_counter

    # -- transport ------------------------------------------------------------------------------
    async def _exchange(self, request: ClientRequest) -> ClientEvent:
        """Send ``request`` and wait for the machine's answer event (one request at a time)."""
        transport = self._stream.transport
        if transport is None or transport.is_closing():
            raise ConnectionError("not connected")
        frame = self.session.send(request)
        if self._counters is not None:  # durable before the counter is on the wire
            session = self.session
            self._counters.save_next(
                session.system_title, self._counter_key, session.invocation_counter
            )
        transport.write(frame)
        return await asyncio.wait_for(self._next_event(), self.timeout_s)

    async def _next_event(self) -> ClientEvent:
        stream = self._stream
        while True:
            event = self.session.next_event()
            if not isinstance(event, Wait):
                return event
            if stream.lost is not None:
                raise stream.lost
            stream.arrived.clear()
            await stream.arrived.wait()

    def close(self) -> None:
        if self._stream.transport is not None:
            self._stream.transport.close()

    async def release(self) -> None:
        await self._exchange(Release())

    async def _service(self, request: ClientRequest) -> ClientEvent:
        """One service exchange, following block transfer; failures raise DlmsServiceError."""
        answer = await self._exchange(request)
        while isinstance(answer, BlockReceived):
            answer = await self._exchange(GetNextBlock())
        if isinstance(answer, ServiceFailed):
            raise DlmsServiceError(answer.reason, answer.code)
        return answer

    # -- services -------------------------------------------------------------------------------
    async def get_raw(self, attr: AttributeRef, access: SelectiveAccess | None = None) -> bytes:
        """Encoded ``Data`` of one attribute (block transfer followed)."""
        answer = await self._service(Get(attr, access))
        assert isinstance(answer, Value)
        return answer.data

    async def get(self, attr: AttributeRef, access: SelectiveAccess | None = None) -> Any:
        raw = await self.get_raw(attr, access)
        try:
            return axdr.decode_all(raw)
        except axdr.AxdrError as exc:
            raise RemoteDlmsProtocolError(f"malformed data from the meter: {exc}") from exc

    async def get_with_list(self, attrs: list[AttributeRef]) -> list[Any]:
        """Several attributes in one request; failed ones come back as :class:`ListItemError`."""
        answer = await self._service(GetList(tuple((a, None) for a in attrs)))
        assert isinstance(answer, ValueList)
        return [r if isinstance(r, ListItemError) else axdr.decode_all(r) for r in answer.items]

    async def set(self, attr: AttributeRef, value: bytes) -> None:
        """Write encoded ``Data`` (build it with :mod:`openami.protocols.dlms.axdr`)."""
        await self._service(Set(attr, value))

    async def action(self, method: MethodRef, parameters: bytes | None = None) -> Any:
        answer = await self._service(Action(method, parameters))
        assert isinstance(answer, ActionDone)
        return None if answer.return_data is None else axdr.decode_all(answer.return_data)

    # -- COSEM helpers --------------------------------------------------------------------------
    async def read_clock(self) -> datetime:
        raw = await self.get(AttributeRef(ClassId.CLOCK, CLOCK_LN, 2))
        return axdr.decode_datetime(raw, JST_FIXED)

    async def read_register(self, ln: bytes) -> Register:
        value, (scaler, unit) = await self.get_with_list(
            [AttributeRef(ClassId.REGISTER, ln, 2), AttributeRef(ClassId.REGISTER, ln, 3)]
        )
        if isinstance(value, ListItemError) or not isinstance(value, int):
            raise DlmsServiceError(f"cannot read register value: {value}")
        return Register(value, scaler, unit)

    async def read_profile_range(
        self,
        ln: bytes,
        start: datetime,
        end: datetime,
        columns: tuple[CaptureObject, ...] = (),
    ) -> list[tuple[Any, ...]]:
        """Rows whose clock lies in ``[start, end]``; date-time columns become datetimes."""
        rows = await self.get(
            AttributeRef(ClassId.PROFILE_GENERIC, ln, 2), by_range(start, end, columns)
        )
        return _rows(rows)

    async def read_profile_entries(
        self, ln: bytes, from_entry: int, to_entry: int = 0
    ) -> list[tuple[Any, ...]]:
        rows = await self.get(
            AttributeRef(ClassId.PROFILE_GENERIC, ln, 2), by_entry(from_entry, to_entry)
        )
        return _rows(rows)

    async def remote_disconnect(self) -> None:
        method = MethodRef(ClassId.DISCONNECT_CONTROL, DISCONNECT_CONTROL_LN, 1)
        await self.action(method, axdr.i8(0))

    async def remote_reconnect(self) -> None:
        method = MethodRef(ClassId.DISCONNECT_CONTROL, DISCONNECT_CONTROL_LN, 2)
        await self.action(method, axdr.i8(0))

    async def transfer_keys(self, master_key: bytes, keys: Keys) -> None:
        """Security Setup global_key_transfer: the meter's new encryption and authentication
        keys, wrapped with its master key. Needs HLS; the meter uses them from the next
        association on."""
        method = MethodRef(ClassId.SECURITY_SETUP, SECURITY_SETUP_LN, 2)
        await self.action(
            method,
            security.encode_key_transfer(
                master_key,
                {
                    security.KEY_ID_ENCRYPTION: keys.encryption_key,
                    security.KEY_ID_AUTHENTICATION: keys.authentication_key,
                },
            ),
        )

    async def read_control_state(self) -> int:
        """0 disconnected, 1 connected, 2 ready for reconnection."""
        state = await self.get(AttributeRef(ClassId.DISCONNECT_CONTROL, DISCONNECT_CONTROL_LN, 3))
        return int(state)

    async def read_limiter_threshold(self) -> int:
        return int(await self.get(AttributeRef(ClassId.LIMITER, LIMITER_LN, 3)))

    async def set_limiter_threshold(self, threshold: int) -> None:
        """Threshold in the monitored value's unit (openami meters: 0.1 A, so 30 A = 300)."""
        await self.set(AttributeRef(ClassId.LIMITER, LIMITER_LN, 3), axdr.u16(threshold))

    async def write_tou_calendar(self, cal: calendar.TouCalendar) -> None:
        """Write ``cal`` as the passive activity calendar and activate it (needs HLS)."""
        ln, cid = calendar.ACTIVITY_CALENDAR_LN, ClassId.ACTIVITY_CALENDAR
        for attribute, value in (
            (6, calendar.encode_name(cal)),
            (7, calendar.encode_season_profile(cal)),
            (8, calendar.encode_week_profile(cal)),
            (9, calendar.encode_day_profiles(cal)),
        ):
            await self.set(AttributeRef(cid, ln, attribute), value)
        await self.action(MethodRef(cid, ln, 1), axdr.i8(0))

    async def read_tou_calendar(self) -> calendar.TouCalendar:
        """The active activity calendar: the time-of-use bands the meter keeps."""
        ln, cid = calendar.ACTIVITY_CALENDAR_LN, ClassId.ACTIVITY_CALENDAR
        name, week, days = await self.get_with_list(
            [AttributeRef(cid, ln, 2), AttributeRef(cid, ln, 4), AttributeRef(cid, ln, 5)]
        )
        try:
            return calendar.decode_calendar(name, week, days)
        except calendar.CalendarError as exc:
            raise RemoteDlmsProtocolError(f"not an activity calendar: {exc}") from None


def _rows(rows: Any) -> list[tuple[Any, ...]]:
    if not isinstance(rows, list):
        raise RemoteDlmsProtocolError("a profile buffer is an array")
    out = []
    for row in rows:
        if not isinstance(row, tuple):
            raise RemoteDlmsProtocolError("a profile row is a structure")
        out.append(
            tuple(
                axdr.decode_datetime(v, JST_FIXED) if isinstance(v, bytes) and len(v) == 12 else v
                for v in row
            )
        )
    return out
