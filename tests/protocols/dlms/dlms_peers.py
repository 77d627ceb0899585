"""Test helpers: the emulator on a background event loop, and gurux-dlms as a blocking peer.

gurux-dlms is GPL and test-only: it is imported here, never by ``src/openami``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gurux_dlms import GXByteBuffer, GXDLMSClient, GXDLMSException, GXReplyData
from gurux_dlms.enums import Authentication, InterfaceType, Security
from gurux_dlms.secure import GXDLMSSecureClient

from openami.clock import JST, ManualClock
from openami.clock.slots import SLOT_SECONDS
from openami.meter import MeterFleet
from openami.meter.dlms import DlmsEmulator, EmulatorSecrets
from openami.protocols.dlms import Keys

PASSWORD = b"test-pass-1234"  # test fixture secret
KEYS = Keys(bytes(range(16)), bytes(range(0xD0, 0xE0)))  # test fixture secrets
START = datetime(2026, 11, 1, tzinfo=JST)
NOW = START + timedelta(days=3, hours=5, minutes=10)


@dataclass
class Running:
    emulator: DlmsEmulator
    fleet: MeterFleet
    clock: ManualClock
    host: str
    port: int
    loop: asyncio.AbstractEventLoop


@contextmanager
def running_emulator(
    meters: int = 3,
    password: bytes | None = PASSWORD,
    keys: Keys | None = KEYS,
    idle_timeout_s: float = 60.0,
) -> Iterator[Running]:
    """An emulator on 127.0.0.1:<free port>, its loop in a thread; all torn down after."""
    clock = ManualClock(START)
    fleet = MeterFleet(
        list(range(1001, 1001 + meters)), int(START.timestamp()) // SLOT_SECONDS, seed=7
    )
    clock.set(NOW)
    emulator = DlmsEmulator(fleet, clock, EmulatorSecrets(password, keys), idle_timeout_s)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(emulator.start("127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield Running(emulator, fleet, clock, "127.0.0.1", port, loop)
    finally:

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def gurux_client(
    kind: str,
    server_address: int = 1,
    password: bytes = PASSWORD,
    keys: Keys = KEYS,
    title: bytes = b"GRXCLI01",
    max_pdu: int = 0xFFFF,
) -> GXDLMSClient:
    """``kind``: "public", "password" (LLS) or "hls" (HLS-GMAC, suite 0)."""
    if kind == "public":
        client = GXDLMSClient(
            True, 16, server_address, Authentication.NONE, None, InterfaceType.WRAPPER
        )
    elif kind == "password":
        client = GXDLMSClient(
            True, 17, server_address, Authentication.LOW, password.decode(), InterfaceType.WRAPPER
        )
    else:
        client = GXDLMSSecureClient(
            True, 1, server_address, Authentication.HIGH_GMAC, None, InterfaceType.WRAPPER
        )
        client.ciphering.security = Security.AUTHENTICATION_ENCRYPTION
        client.ciphering.systemTitle = title
        client.ciphering.blockCipherKey = keys.encryption_key
        client.ciphering.authenticationKey = keys.authentication_key
    client.setMaxReceivePDUSize(max_pdu)
    return client


class GuruxPeer:
    """gurux's client driven over a plain blocking socket (no gurux-net)."""

    def __init__(self, host: str, port: int, client: GXDLMSClient) -> None:
        self.client = client
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sent: list[bytes] = []

    def _receive(self, reply: GXReplyData) -> None:
        buffer = GXByteBuffer()
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the emulator closed the connection")
            buffer.set(chunk)
            if self.client.getData(buffer, reply, None):
                if reply.error:  # gurux records error results instead of raising
                    raise GXDLMSException(reply.error)
                return

    def exchange(self, frames: Any) -> GXReplyData:
        reply = GXReplyData()
        for frame in frames if isinstance(frames, list) else [frames]:
            if frame is None:
                continue
            self.sent.append(bytes(frame))
            self.sock.sendall(frame)
            self._receive(reply)
            while reply.isMoreData():
                more = self.client.receiverReady(reply)
                self.sent.append(bytes(more))
                self.sock.sendall(more)
                self._receive(reply)
        return reply

    def associate(self) -> None:
        reply = self.exchange(self.client.aarqRequest())
        self.client.parseAareResponse(reply.data)
        if self.client.getIsAuthenticationRequired():
            reply = self.exchange(self.client.getApplicationAssociationRequest())
            self.client.parseApplicationAssociationResponse(reply.data)

    def read(self, obj: Any, attribute: int) -> Any:
        reply = self.exchange(self.client.read(obj, attribute))
        self.client.updateValue(obj, attribute, reply.value)
        return reply.value

    def release(self) -> None:
        self.exchange(self.client.releaseRequest())

    def close(self) -> None:
        self.sock.close()


@contextmanager
def gurux_session(
    run: Running, kind: str, server_address: int = 1, **kw: Any
) -> Iterator[GuruxPeer]:
    peer = GuruxPeer(run.host, run.port, gurux_client(kind, server_address, **kw))
    try:
        peer.associate()
        yield peer
    finally:
        peer.close()
