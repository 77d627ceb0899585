"""The virtual Wi-SUN module on its pty, driven with raw bytes like a serial terminal."""

from __future__ import annotations

import os
import select
import termios
import time
import tty
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from openami.broute.responder import MeterResponder
from openami.broute.wisun import Faults, VirtualWisunModule
from openami.clock import ManualClock, slot_index
from openami.meter import MeterFleet, MeterView
from openami.protocols.skstack import Dialect, link_local_of

RBID = "00112233445566778899AABBCCDDEEFF"
PASSWORD = "0123456789AB"
METER = link_local_of(bytes.fromhex("001C6400601421A3"))
FLEET_START = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)


class Terminal:
    """A serial terminal on the module's pty."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        termios.tcflush(self.fd, termios.TCIOFLUSH)
        self.buf = b""

    def close(self) -> None:
        os.close(self.fd)

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def until(self, marker: bytes, timeout: float = 3.0) -> bytes:
        """Read until ``marker`` has arrived; return everything up to and including it."""
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{marker!r} not seen; got {self.buf[-400:]!r}")
            if select.select([self.fd], [], [], left)[0]:
                self.buf += os.read(self.fd, 65536)
        end = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:end], self.buf[end:]
        return out

    def command(self, text: str, until: bytes = b"OK\r\n") -> bytes:
        self.send(text.encode() + b"\r\n")
        return self.until(until)

    def join(self, dialect: Dialect) -> bytes:
        scan = "SKSCAN 2 FFFFFFFF 6" + (" 0" if dialect is Dialect.BP35C2 else "")
        for cmd in (
            f"SKSETRBID {RBID}",
            f"SKSETPWD C {PASSWORD}",
            "SKSREG S2 21",
            "SKSREG S3 8888",
        ):
            self.command(cmd)
        self.command(scan, until=b"EVENT 22")
        out = self.command(f"SKJOIN {METER}", until=b"EVENT 25")
        return out + self.until(b"\r\n")


def _module(
    tmp_path: Path, dialect: Dialect, clock: ManualClock, **kw: object
) -> VirtualWisunModule:
    fleet = MeterFleet(np.array([77]), slot_index(FLEET_START), seed=5, pv_share=1.0)
    responder = MeterResponder(MeterView(fleet, 0, clock), clock)
    return VirtualWisunModule.for_responder(
        responder, dialect=dialect, rbid=RBID, password=PASSWORD, link=tmp_path / "ttyWISUN", **kw
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FLEET_START + timedelta(days=3, hours=2, minutes=10))


def test_symlink_lifecycle_and_instance_list_inf_after_join(
    tmp_path: Path, clock: ManualClock
) -> None:
    link = tmp_path / "ttyWISUN"
    module = _module(tmp_path, Dialect.BP35C2, clock)
    with module:
        assert link.is_symlink() and os.readlink(link) == module.path
        term = Terminal(str(link))
        try:
            info = term.command("SKINFO")
            assert b"EINFO FE80:0000:0000:0000:021D:1290:1234:5678 001D129012345678" in info
            assert term.command("SKVER").endswith(b"EVER 1.2.10\r\nOK\r\n")
            term.join(Dialect.BP35C2)
            inf = term.until(b"\r\n", timeout=2)
            assert inf.startswith(
                f"ERXUDP {METER} FF02:0000:0000:0000:0000:0000:0000:0001 0E1A 0E1A".encode()
            )
            assert inf.rstrip().endswith(b"0EF0010EF0017301D50401028801")
        finally:
            term.close()
    assert not link.exists()


@pytest.mark.parametrize("dialect", list(Dialect))
def test_random_bytes_and_malformed_lines_never_stop_the_module(
    tmp_path: Path, clock: ManualClock, dialect: Dialect
) -> None:
    rng = np.random.default_rng(11)
    with _module(tmp_path, dialect, clock) as module:
        term = Terminal(module.path)
        try:
            term.send(b"SKSENDTO 1\r\nSKSCAN\r\nSKJOIN\r\n\x00\xff\xfe garbage \r\n")
            for _ in range(20):
                term.send(rng.bytes(200).replace(b"SKSENDTO", b"x"))
            term.send(b"\r\n" * 3)
            time.sleep(0.2)
            term.buf = b""
            assert term.command("SKVER").endswith(b"EVER 1.2.10\r\nOK\r\n")
            term.join(dialect)
            assert module.module.errors > 0
        finally:
            term.close()


def test_session_lifetime_expiry_reauth_and_tx_limit_events(
    tmp_path: Path, clock: ManualClock
) -> None:
    faults = Faults(tx_budget_ms=5, tx_hold_s=0.2)
    with _module(tmp_path, Dialect.BP35A1, clock, faults=faults, session_lifetime_s=0.3) as module:
        term = Terminal(module.path)
        try:
            term.join(Dialect.BP35A1)
            assert term.until(f"EVENT 29 {METER}\r\n".encode(), timeout=2)
            assert term.until(f"EVENT 25 {METER}\r\n".encode(), timeout=2)
            frame = bytes.fromhex("1081000105FF010288016201E700")
            term.send(f"SKSENDTO 1 {METER} 0E1A 2 {len(frame):04X} ".encode() + frame)
            out = term.until(b"EVENT 32", timeout=2)
            assert f"EVENT 21 {METER} 00\r\nOK\r\n".encode() in out
            assert b"ERXUDP" in out and b"028801" in out  # the meter's answer
            term.send(f"SKSENDTO 1 {METER} 0E1A 2 {len(frame):04X} ".encode() + frame)
            assert term.until(b"OK\r\n").endswith(f"EVENT 21 {METER} 01\r\nOK\r\n".encode())
            term.until(b"EVENT 33", timeout=2)
            term.send(f"SKSENDTO 1 {METER} 0E1A 2 {len(frame):04X} ".encode() + frame)
            assert f"EVENT 21 {METER} 00".encode() in term.until(b"OK\r\n")
        finally:
            term.close()


def test_fixed_time_inf_follows_the_half_hour(tmp_path: Path, clock: ManualClock) -> None:
    with _module(tmp_path, Dialect.BP35A1, clock, notify_delay_s=60) as module:
        term = Terminal(module.path)
        try:
            term.join(Dialect.BP35A1)
            term.until(b"\r\n", timeout=2)  # the instance-list INF
            clock.advance(timedelta(minutes=21))  # 02:31 JST: past 02:30 plus the delay
            inf = term.until(b"\r\n", timeout=3)
            assert inf.startswith(f"ERXUDP {METER} ".encode())
            data = bytes.fromhex(inf.split()[-1].decode())
            assert data[4:11] == bytes.fromhex("02880105FF0173")
            assert data[12] == 0xEA and data[14:21] == bytes([0x07, 0xEA, 11, 5, 2, 30, 0])
            assert module.stats.notifications == 1
        finally:
            term.close()


def test_radio_time_scale_holds_the_scan_and_join_output(
    tmp_path: Path, clock: ManualClock
) -> None:
    with _module(tmp_path, Dialect.BP35C2, clock, radio_time_scale=0.05) as module:
        term = Terminal(module.path)
        try:
            term.command(f"SKSETRBID {RBID}")
            started = time.monotonic()
            term.send(b"SKSCAN 2 FFFFFFFF 6 0\r\n")
            term.send(b"SKVER\r\n")  # typed while the radio is busy: answered afterwards
            out = term.until(b"EVER 1.2.10\r\nOK\r\n")
            assert time.monotonic() - started >= 17.5 * 0.05 * 0.9  # held like a real scan
            assert out.index(b"EPANDESC") < out.index(b"EVENT 22") < out.index(b"EVER")
        finally:
            term.close()
