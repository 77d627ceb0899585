"""The DLMS emulator against an independent client: gurux-dlms (test-only, GPL)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from gurux_dlms import GXDateTime, GXDLMSException
from gurux_dlms.GXDLMSExceptionResponse import GXDLMSExceptionResponse
from gurux_dlms.objects import (
    GXDLMSClock,
    GXDLMSData,
    GXDLMSDisconnectControl,
    GXDLMSLimiter,
    GXDLMSProfileGeneric,
    GXDLMSRegister,
)
from tests.protocols.dlms.dlms_peers import (
    KEYS,
    NOW,
    Running,
    gurux_session,
    running_emulator,
)

from openami.clock import JST, day_first_slot
from openami.meter import MeterView
from openami.protocols.dlms import Keys

KINDS = ["password", "hls"]


@pytest.fixture
def run() -> Iterator[Running]:
    with running_emulator(meters=3) as running:
        yield running


def _as_datetime(value: GXDateTime) -> datetime:
    return value.value.astimezone(JST)


def _load_profile(session: object) -> GXDLMSProfileGeneric:
    pg = GXDLMSProfileGeneric("1.0.99.1.0.255")
    session.read(pg, 3)  # type: ignore[attr-defined]
    return pg


@pytest.mark.parametrize("kind", KINDS)
def test_gurux_reads_clock_registers_and_load_profile(run: Running, kind: str) -> None:
    view = MeterView(run.fleet, 1, run.clock)
    with gurux_session(run, kind, server_address=2) as s:
        clock = GXDLMSClock("0.0.1.0.0.255")
        s.read(clock, 2)
        assert _as_datetime(clock.time) == NOW
        for ln, expected in (
            ("1.0.1.8.0.255", view.import_register_wh()),
            ("1.0.2.8.0.255", view.export_register_wh()),
        ):
            reg = GXDLMSRegister(ln)
            s.read(reg, 3)
            s.read(reg, 2)
            assert (reg.value, reg.scaler, int(reg.unit)) == (expected, 1.0, 30)
        assert view.import_register_wh() > 0
        pg = _load_profile(s)
        assert [str(o[0].logicalName) for o in pg.captureObjects] == [
            "0.0.1.0.0.255",
            "1.0.1.8.0.255",
            "1.0.2.8.0.255",
        ]
        s.read(pg, 4)
        assert pg.capturePeriod == 1800
        day = datetime(2026, 11, 2, tzinfo=JST)
        reply = s.exchange(s.client.readRowsByRange(pg, day, day + timedelta(hours=23, minutes=30)))
        s.client.updateValue(pg, 2, reply.value)
        expected_log = view.day_log(day.date())
        assert len(pg.buffer) == 48
        assert [_as_datetime(r[0]) for r in pg.buffer] == [
            day + timedelta(minutes=30 * k) for k in range(48)
        ]
        assert [(r[1], r[2]) for r in pg.buffer] == expected_log
        s.release()


def test_gurux_reads_profile_by_entry_and_skips_unlogged_rows(run: Running) -> None:
    view = MeterView(run.fleet, 0, run.clock)
    with gurux_session(run, "password") as s:
        pg = _load_profile(s)
        s.read(pg, 7)
        first = run.fleet.first_logged_boundary
        assert pg.entriesInUse == run.fleet.now_boundary - first + 1
        reply = s.exchange(s.client.readRowsByEntry(pg, 3, 2))
        s.client.updateValue(pg, 2, reply.value)
        assert [(r[1], r[2]) for r in pg.buffer] == [
            view.boundary_registers(first + 2),
            view.boundary_registers(first + 3),
        ]
        # a range reaching before the log: only logged rows come back
        day_before = datetime(2026, 10, 31, 12, tzinfo=JST)
        reply = s.exchange(
            s.client.readRowsByRange(pg, day_before, datetime(2026, 11, 1, 1, tzinfo=JST))
        )
        s.client.updateValue(pg, 2, reply.value)
        assert [_as_datetime(r[0]) for r in pg.buffer] == [
            datetime(2026, 11, 1, 0, 0, tzinfo=JST),
            datetime(2026, 11, 1, 0, 30, tzinfo=JST),
            datetime(2026, 11, 1, 1, 0, tzinfo=JST),
        ]
        assert day_first_slot(datetime(2026, 11, 1).date()) == first


def test_gurux_with_the_password_reads_but_never_switches_nor_sets(run: Running) -> None:
    """Issue #15 §2.3: the password (LLS) level reads only."""
    with gurux_session(run, "password", server_address=3) as s:
        dc = GXDLMSDisconnectControl("0.0.96.3.10.255")
        s.read(dc, 3)
        assert int(dc.controlState) == 1
        with pytest.raises(GXDLMSException) as denied:
            s.exchange(dc.remoteDisconnect(s.client))
        assert denied.value.errorCode == 3  # read-write-denied
        limiter = GXDLMSLimiter("0.0.17.0.0.255")
        s.read(limiter, 3)
        limiter.thresholdActive = 600
        with pytest.raises(GXDLMSException) as refused:
            s.exchange(s.client.write(limiter, 3))
        assert refused.value.errorCode == 3
    assert run.fleet.switch_connected.all()
    assert run.fleet.contract_amperage_a[2] != 60


def test_gurux_disconnects_reconnects_and_changes_the_limiter(run: Running) -> None:
    with gurux_session(run, "hls", server_address=3) as s:
        dc = GXDLMSDisconnectControl("0.0.96.3.10.255")
        s.read(dc, 3)
        assert int(dc.controlState) == 1
        s.exchange(dc.remoteDisconnect(s.client))
        assert not run.fleet.switch_connected[2]
        s.read(dc, 3)
        s.read(dc, 2)
        assert int(dc.controlState) == 0 and dc.outputState is False
        s.exchange(dc.remoteReconnect(s.client))
        s.read(dc, 3)
        assert int(dc.controlState) == 1 and run.fleet.switch_connected[2]

        limiter = GXDLMSLimiter("0.0.17.0.0.255")
        s.read(limiter, 3)
        assert limiter.thresholdActive == run.fleet.contract_amperage_a[2] * 10
        limiter.thresholdActive = 600  # 60 A in the monitored current's 0.1 A unit
        s.exchange(s.client.write(limiter, 3))
        assert run.fleet.contract_amperage_a[2] == 60
        limiter.thresholdActive = 0
        s.read(limiter, 3)
        assert limiter.thresholdActive == 600
        limiter.thresholdActive = 123  # 12.3 A is no contract amperage
        with pytest.raises(GXDLMSException) as refused:
            s.exchange(s.client.write(limiter, 3))
        assert refused.value.errorCode == 250  # other-reason
        assert run.fleet.contract_amperage_a[2] == 60
        # the standard event log recorded the operations, read by range
        log = GXDLMSProfileGeneric("0.0.99.98.0.255")
        s.read(log, 3)
        reply = s.exchange(
            s.client.readRowsByRange(log, NOW - timedelta(minutes=1), NOW + timedelta(minutes=1))
        )
        s.client.updateValue(log, 2, reply.value)
        assert [(_as_datetime(t), code) for t, code in log.buffer] == [
            (NOW, 1),  # remote disconnect
            (NOW, 2),  # remote reconnect
            (NOW, 3),  # limiter threshold changed (the refused 12.3 A left no entry)
        ]
    # the other meters were not touched
    assert run.fleet.switch_connected[:2].all()


def test_gurux_reads_the_object_list_with_block_transfer(run: Running) -> None:
    with gurux_session(run, "public", max_pdu=128) as s:
        reply = s.exchange(s.client.getObjectsRequest())
        objects = s.client.parseObjects(reply.data, True)
        names = {str(o.logicalName) for o in objects}
        assert {"0.0.1.0.0.255", "1.0.99.1.0.255", "0.0.96.3.10.255", "0.0.17.0.0.255"} <= names
        # gurux followed several GET-next requests
        assert sum(1 for f in s.sent if f[8:10] == b"\xc0\x02") >= 3


def test_public_client_reads_only_public_objects_and_cannot_operate(run: Running) -> None:
    with gurux_session(run, "public") as s:
        name = GXDLMSData("0.0.42.0.0.255")
        s.read(name, 2)
        assert bytes(name.value) == b"OAM0000000001001"
        counter = GXDLMSData("0.0.43.1.0.255")
        s.read(counter, 2)
        assert counter.value == 0
        for private in (GXDLMSRegister("1.0.1.8.0.255"), GXDLMSProfileGeneric("1.0.99.1.0.255")):
            with pytest.raises(GXDLMSException) as hidden:
                s.read(private, 2 if isinstance(private, GXDLMSRegister) else 3)
            assert hidden.value.errorCode == 3  # read-write-denied
        dc = GXDLMSDisconnectControl("0.0.96.3.10.255")
        with pytest.raises(GXDLMSException) as denied:
            s.exchange(dc.remoteDisconnect(s.client))
        assert denied.value.errorCode == 3  # read-write-denied
        assert run.fleet.switch_connected.all()


def test_wrong_password_is_refused(run: Running) -> None:
    with pytest.raises(GXDLMSException), gurux_session(run, "password", password=b"wrong"):
        pass


def test_wrong_keys_are_refused_at_association(run: Running) -> None:
    bad = Keys(KEYS.encryption_key, bytes(16))
    with pytest.raises(GXDLMSException), gurux_session(run, "hls", keys=bad):
        pass
    worse = Keys(bytes(16), KEYS.authentication_key)
    with pytest.raises(GXDLMSException), gurux_session(run, "hls", keys=worse):
        pass
    # the right keys still work afterwards
    with gurux_session(run, "hls", title=b"GRXCLI02") as s:
        reg = GXDLMSRegister("1.0.1.8.0.255")
        s.read(reg, 2)
        assert reg.value > 0


def _raw_reply(sock: socket.socket) -> bytes:
    header = b""
    while len(header) < 8:
        header += sock.recv(8 - len(header))
    (length,) = struct.unpack(">H", header[6:8])
    body = b""
    while len(body) < length:
        body += sock.recv(length - len(body))
    return body


def test_replayed_invocation_counter_is_rejected(run: Running) -> None:
    with gurux_session(run, "hls") as s:
        reg = GXDLMSRegister("1.0.1.8.0.255")
        s.read(reg, 2)
        replay = s.sent[-1]
        assert replay[8] == 0xC8  # a glo-get-request
        s.sock.sendall(replay)
        answer = _raw_reply(s.sock)
        assert answer[:3] == b"\xd8\x01\x06"  # exception: invocation-counter-error
        # the session goes on with a fresh counter
        with pytest.raises(GXDLMSExceptionResponse):
            s.exchange(replay)
        s.read(reg, 2)
        assert reg.value > 0


def test_malformed_apdus_get_errors_and_never_stop_the_server(run: Running) -> None:
    with socket.create_connection((run.host, run.port), timeout=5) as sock:
        for payload in (b"\xc0\x01", b"\xff\x00\x00", b"\x60\x03\xa1\x01\x00", b""):
            sock.sendall(struct.pack(">HHHH", 1, 16, 1, len(payload)) + payload)
            answer = _raw_reply(sock)
            assert answer[0] in (0xD8, 0x61), answer.hex()
            if answer[0] == 0x61:
                assert b"\xa2\x03\x02\x01\x01" in answer  # AARE rejected-permanent
        # a GET before any association: service not allowed
        get = bytes.fromhex("c001c100030100010800ff0200")
        sock.sendall(struct.pack(">HHHH", 1, 16, 1, len(get)) + get)
        assert _raw_reply(sock)[:2] == b"\xd8\x01"
    with socket.create_connection((run.host, run.port), timeout=5) as sock:
        sock.sendall(b"\x00\x02garbage-not-a-wrapper")  # wrong wrapper version: closed
        assert sock.recv(100) == b""
    with socket.create_connection((run.host, run.port), timeout=5) as sock:
        sock.sendall(struct.pack(">HHHH", 1, 16, 999, 3) + b"\xc0\x01\x00")  # no such meter
        assert _raw_reply(sock)[:1] == b"\xd8"
    threads_before = threading.active_count()
    with gurux_session(run, "password") as s:
        reg = GXDLMSRegister("1.0.1.8.0.255")
        s.read(reg, 2)
        assert reg.value > 0
    assert threading.active_count() == threads_before


def test_gurux_parses_every_attribute_of_every_object(run: Running) -> None:
    """Walk the object list with gurux's own class parsers (interoperability of encodings)."""
    with gurux_session(run, "password") as s:
        objects = s.client.parseObjects(s.exchange(s.client.getObjectsRequest()).data, True)
        assert len(objects) == 16
        refused = []
        for obj in objects:
            order = list(range(2, obj.getAttributeCount() + 1))
            if isinstance(obj, GXDLMSProfileGeneric):  # gurux needs the columns first
                order.remove(3)
                order.insert(0, 3)
            for index in order:
                try:
                    s.read(obj, index)
                except GXDLMSException as exc:
                    refused.append((str(obj.logicalName), index, exc.errorCode))
        assert refused == [("0.0.40.0.0.255", 7, 3)]  # the association secret: denied
        by_name = {str(o.logicalName): o for o in objects}
        limiter = by_name["0.0.17.0.0.255"]
        assert str(limiter.monitoredValue.logicalName) == "1.0.11.7.0.255"
        assert limiter.thresholdNormal == run.fleet.contract_amperage_a[0] * 10
        current = by_name["1.0.11.7.0.255"]
        assert current.scaler == 0.1 and int(current.unit) == 33
        assert by_name["1.0.99.1.0.255"].profileEntries == run.fleet.retention_slots + 1
        # the activity calendar (time-of-use bands) as gurux parses it
        cal = by_name["0.0.13.0.0.255"]
        assert str(cal.calendarNameActive) == "flat"
        days = cal.dayProfileTableActive
        assert len(days) == 1 and days[0].dayId == 1
        assert [a.scriptSelector for a in days[0].daySchedules] == [1]
        assert cal.weekProfileTableActive[0].monday == 1
        # the alarm register (nothing pending) and its filter (every alarm bit), as Data
        assert by_name["0.0.97.98.0.255"].value == 0
        assert by_name["0.0.97.98.10.255"].value == 0b111


def test_silent_connections_are_closed_and_active_ones_kept() -> None:
    with running_emulator(meters=1, idle_timeout_s=0.3) as run:
        with socket.create_connection((run.host, run.port), timeout=5) as idle:
            assert idle.recv(10) == b""  # closed by the emulator after 0.3 s of silence
        with gurux_session(run, "password") as s:
            reg = GXDLMSRegister("1.0.1.8.0.255")
            for _ in range(4):
                time.sleep(0.15)
                s.read(reg, 2)  # activity keeps the association's connection open
            assert reg.value > 0
