"""A DLMS meter emulator and openami's client wired back to back in memory, for the DLMS
harnesses. The emulator's logger is replaced: a logged handler traceback (the meter's
catch-all for a request that broke its COSEM handler) becomes a finding."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from fuzz.engine import Finding
from fuzz.harnesses.dlms_seeds import CLIENT_TITLE, KEYS
from openami.clock import JST, ManualClock
from openami.clock.slots import SLOT_SECONDS
from openami.meter import MeterFleet
from openami.meter.dlms import DlmsEmulator, EmulatorSecrets
from openami.meter.dlms import server as server_module
from openami.protocols.dlms import acse
from openami.protocols.dlms.client_session import ClientAssociation
from openami.protocols.dlms.connection import ServerConnection
from openami.protocols.dlms.events import (
    AnswerChallenge,
    Associate,
    Associated,
    ChallengeReceived,
    ClientEvent,
    ClientRequest,
)
from openami.protocols.peer import Wait

PASSWORD = b"fuzz-password"  # fuzz fixture secret
MASTER = bytes(range(0x40, 0x50))  # fuzz fixture secret
START = datetime(2026, 11, 1, tzinfo=JST)
NOW = START + timedelta(days=3, hours=5, minutes=10)


class _RaisingLog:
    def exception(self, event: str, **kw: Any) -> None:
        raise Finding(f"the DLMS emulator logged a handler traceback: {event} {kw}")

    def info(self, *args: Any, **kw: Any) -> None:
        pass

    debug = warning = info


def patch_log() -> None:
    server_module.log = _RaisingLog()


class World:
    """One fleet of two meters on a stopped clock; emulators are cheap to make from it."""

    def __init__(self) -> None:
        patch_log()
        self.clock = ManualClock(START)
        self.fleet = MeterFleet([1001, 1002], int(START.timestamp()) // SLOT_SECONDS, seed=7)
        self.clock.set(NOW)

    def emulator(self) -> DlmsEmulator:
        return DlmsEmulator(
            self.fleet, self.clock, EmulatorSecrets(PASSWORD, KEYS, MASTER), idle_timeout_s=60
        )


def client(kind: str, seed: int = 5) -> ClientAssociation:
    """``kind``: "public" (SAP 16), "password" (SAP 17) or "hls" (SAP 1), to meter wPort 1."""
    if kind == "public":
        return ClientAssociation(client_wport=16, server_wport=1)
    if kind == "password":
        return ClientAssociation(acse.Mechanism.LOW, PASSWORD, client_wport=17, server_wport=1)
    rng = random.Random(seed)
    return ClientAssociation(
        acse.Mechanism.HIGH_GMAC,
        keys=KEYS,
        system_title=CLIENT_TITLE,
        client_wport=1,
        server_wport=1,
        random_bytes=lambda n: bytes(rng.randrange(256) for _ in range(n)),
    )


class Pair:
    """One client association and one connection to an emulator."""

    def __init__(self, emulator: DlmsEmulator, association: ClientAssociation) -> None:
        self.emulator = emulator
        self.client = association
        self.connection = ServerConnection(emulator.association)
        self.sent: list[bytes] = []

    def deliver(self, frame: bytes) -> list[ClientEvent]:
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

    def associate(self) -> None:
        events = self.exchange(Associate())
        if events and isinstance(events[-1], ChallengeReceived):
            events += self.exchange(AnswerChallenge())
        if not events or not isinstance(events[-1], Associated):
            raise Finding(f"the fuzz client could not associate: {events}")
