"""The DLMS emulator and openami's client association wired back to back in memory (no
socket): what a test needs to drive many associations quickly and to capture raw frames."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.protocols.dlms.toy_meter import seeded_bytes

from openami.clock import JST, ManualClock
from openami.clock.slots import SLOT_SECONDS
from openami.meter import MeterFleet
from openami.meter.dlms import DlmsEmulator, EmulatorSecrets
from openami.protocols.dlms import acse
from openami.protocols.dlms.client_session import ClientAssociation
from openami.protocols.dlms.connection import ServerConnection
from openami.protocols.dlms.events import (
    AnswerChallenge,
    Associate,
    ChallengeReceived,
    ClientEvent,
    ClientRequest,
)
from openami.protocols.dlms.security import Keys
from openami.protocols.peer import Wait

PASSWORD = b"test-pass-1234"  # test fixture secret
KEYS = Keys(bytes(range(16)), bytes(range(0xD0, 0xE0)))  # test fixture secrets
MASTER = bytes(range(0x40, 0x50))  # test fixture secret
START = datetime(2026, 11, 1, tzinfo=JST)
NOW = START + timedelta(days=3, hours=5, minutes=10)


def emulator(meters: int = 2, **kw: Any) -> DlmsEmulator:
    clock = ManualClock(START)
    fleet = MeterFleet(
        list(range(1001, 1001 + meters)), int(START.timestamp()) // SLOT_SECONDS, seed=7
    )
    clock.set(NOW)
    if "keyring" not in kw:
        kw.setdefault("secrets", EmulatorSecrets(PASSWORD, KEYS, MASTER))
    return DlmsEmulator(fleet, clock, **kw)


def client(kind: str, wport: int = 1, **kw: Any) -> ClientAssociation:
    """``kind``: "public" (SAP 16), "password" (SAP 17) or "hls" (SAP 1)."""
    kw.setdefault("server_wport", wport)
    if kind == "public":
        return ClientAssociation(client_wport=16, **kw)
    if kind == "password":
        kw.setdefault("password", PASSWORD)
        return ClientAssociation(acse.Mechanism.LOW, client_wport=17, **kw)
    kw.setdefault("keys", KEYS)
    kw.setdefault("random_bytes", seeded_bytes(5))
    return ClientAssociation(acse.Mechanism.HIGH_GMAC, client_wport=1, **kw)


class EmulatorPair:
    """One client association and one connection to the emulator."""

    def __init__(self, emu: DlmsEmulator, association: ClientAssociation) -> None:
        self.emulator = emu
        self.client = association
        self.connection = ServerConnection(emu.association)
        self.sent: list[bytes] = []  # every frame the client sent

    def deliver(self, frame: bytes) -> list[ClientEvent]:
        """Frame to the meter, the meter's answers to the client; the client's events."""
        self.sent.append(frame)
        self.connection.receive_data(frame)
        answers = b"".join(self.emulator.serve(self.connection))
        self.client.receive_data(answers)
        events: list[ClientEvent] = []
        while not isinstance(event := self.client.next_event(), Wait):
            events.append(event)
        return events

    def exchange(self, request: ClientRequest) -> list[ClientEvent]:
        return self.deliver(self.client.send(request))

    def associate(self) -> list[ClientEvent]:
        events = self.exchange(Associate())
        if events and isinstance(events[-1], ChallengeReceived):
            events += self.exchange(AnswerChallenge())
        return events
