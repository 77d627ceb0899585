"""A real openleadr VTN and VENs on loopback with mutual TLS, over an in-memory DR store."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from openami.clock import SLOT_SECONDS, RealClock
from openami.dr.events import new_event
from openami.dr.pki import Issued, issue_ven, issue_vtn, new_ca
from openami.dr.vtn import PATH_PREFIX, DrVtn, VtnTls
from openami.hems.dr_ven import DrVen, TargetMapping, VenTls
from openami.storage.dr_certs import DrCertFiles
from openami.storage.repositories import open_database
from openami.storage.repositories.dr import DrEvent, DrStore

AGGREGATOR = "AGG1"
SUPPLY_POINTS = {"home-1": "0300000000000000000011", "home-2": "0300000000000000000022"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Targets:
    """What the VEN handed to the HEMS controller."""

    got: list[tuple[float, datetime, datetime]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: list[str] = field(default_factory=list)
    cancel_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, target_w: float, start: datetime, end: datetime) -> None:
        self.got.append((target_w, start, end))
        self.arrived.set()

    def cancel(self, event_id: str, start: datetime, end: datetime) -> None:
        self.cancelled.append(event_id)
        self.cancel_arrived.set()


@dataclass
class Rig:
    store: DrStore
    files: DrCertFiles
    ca: Issued
    vtn_fingerprint: str
    url: str
    port: int
    vtn_tls: VtnTls
    vtn: DrVtn

    def new_vtn(self) -> DrVtn:
        """Another VTN process over the same store and port (a restart)."""
        self.vtn = DrVtn(self.store, RealClock(), self.vtn_tls, port=self.port, poll_s=0.5)
        return self.vtn

    def ven(self, name: str, targets: Targets, cert: str | None = None, **mapping: float) -> DrVen:
        pair = self.files.pair(cert or name)
        tls = VenTls(pair.cert, pair.key, self.files.ca.cert, self.vtn_fingerprint)
        return DrVen(
            name,
            self.url,
            tls,
            targets,
            lambda: 1234.0,
            TargetMapping(**mapping),
            0.5,
            on_cancel=targets.cancel,
        )

    def event(self, signal: str, value: float) -> DrEvent:
        now = time.time()
        start = (now // SLOT_SECONDS + 2) * SLOT_SECONDS
        if int(start % 86400) // SLOT_SECONDS in (29, 30, 31):  # JST 23:30-24:00 → next day
            start += 3 * SLOT_SECONDS
        event = new_event(AGGREGATOR, signal, value, start, SLOT_SECONDS, now, "test")
        self.store.create_event(event)
        return event


def make_rig(directory: Path) -> Rig:
    files = DrCertFiles(directory)
    ca = new_ca()
    files.write("ca", ca.cert_pem, ca.key_pem)
    vtn_cert = issue_vtn(ca, "openami-vtn", ("127.0.0.1",))
    files.write("vtn", vtn_cert.cert_pem, vtn_cert.key_pem)
    store = DrStore(open_database(":memory:"))
    for name, point in SUPPLY_POINTS.items():
        issued = issue_ven(ca, name)
        files.write(name, issued.cert_pem, issued.key_pem)
        store.enrol(name, AGGREGATOR, point, issued.fingerprint, time.time())
    rogue = issue_ven(ca, "home-1")  # signed by the same CA, never enrolled
    files.write("rogue", rogue.cert_pem, rogue.key_pem)
    stranger_ca = new_ca("another CA")
    stranger = issue_ven(stranger_ca, "home-1")
    files.write("stranger", stranger.cert_pem, stranger.key_pem)
    port = free_port()
    vtn_tls = VtnTls(files.pair("vtn").cert, files.pair("vtn").key, files.ca.cert)
    vtn = DrVtn(store, RealClock(), vtn_tls, port=port, poll_s=0.5)
    url = f"https://127.0.0.1:{port}{PATH_PREFIX}"
    return Rig(store, files, ca, vtn_cert.fingerprint, url, port, vtn_tls, vtn)


async def until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Wait for a condition the VTN's handlers make true in the store (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)
