"""The HEMS client reads one simulated meter through UDP and through the virtual Wi-SUN module."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from openami.broute.node import MeterNode
from openami.broute.responder import MeterResponder
from openami.broute.wisun import Faults, VirtualWisunModule
from openami.cli.main import cli
from openami.clock import JST, ManualClock, slot_index
from openami.hems import HistorySlot, LiveReading, MeterClient
from openami.hems.export import write_history_csv
from openami.hems.skstack import JoinFailed, ScanFailed, SkstackTransport
from openami.hems.udp import UdpTransport, parse_address
from openami.meter import MeterFleet, MeterView
from openami.protocols.skstack import Dialect

RBID = "00112233445566778899AABBCCDDEEFF"
PASSWORD = "0123456789AB"
FLEET_START = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)  # 2026-11-02 00:00 JST
NOW = FLEET_START + timedelta(days=6, hours=2, minutes=40)  # 2026-11-08 02:40 JST


@pytest.fixture
def meter() -> tuple[MeterView, MeterResponder]:
    clock = ManualClock(NOW)
    fleet = MeterFleet(np.array([31]), slot_index(FLEET_START), seed=9, pv_share=1.0)
    view = MeterView(fleet, 0, clock)
    return view, MeterResponder(view, clock)


@contextmanager
def udp_node(responder: MeterResponder) -> Iterator[tuple[str, int]]:
    loop = asyncio.new_event_loop()
    node = MeterNode(
        responder, ["127.0.0.1"], 0, reply_to_sender_port=True, multicast=False, announce=False
    )
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(node.start(), loop).result(5)
        yield node.bound[0]
    finally:
        loop.call_soon_threadsafe(node.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def expected_live(view: MeterView, responder: MeterResponder) -> LiveReading:
    unit = float(responder.scale.kwh_per_count)
    r_a, t_a = view.currents_a()
    return LiveReading(
        at=NOW,
        power_w=round(view.power_w()),
        r_phase_a=round(r_a * 10) / 10,
        t_phase_a=round(t_a * 10) / 10,
        import_kwh=responder.scale.raw_from_wh(view.import_register_wh()) * unit,
        export_kwh=responder.scale.raw_from_wh(view.export_register_wh()) * unit,
    )


def check(
    reading: LiveReading, history: list[HistorySlot], view: MeterView, resp: MeterResponder
) -> None:
    want = expected_live(view, resp)
    assert reading.power_w == want.power_w
    assert (reading.r_phase_a, reading.t_phase_a) == pytest.approx((want.r_phase_a, want.t_phase_a))
    assert reading.import_kwh == pytest.approx(want.import_kwh)
    assert reading.export_kwh == pytest.approx(want.export_kwh)
    day = NOW.astimezone(JST).date() - timedelta(days=2)
    log = view.day_log(day)
    unit = float(resp.scale.kwh_per_count)
    assert [s.slot_start.date() for s in history] == [day] * 48
    assert history[0].slot_start.hour == 0 and history[-1].slot_start.minute == 30
    assert [s.import_kwh for s in history] == pytest.approx(
        [resp.scale.raw_from_wh(p[0]) * unit for p in log if p]
    )
    assert [s.export_kwh for s in history] == pytest.approx(
        [resp.scale.raw_from_wh(p[1]) * unit for p in log if p]
    )


def test_same_values_through_udp_and_both_wisun_dialects(
    meter: tuple[MeterView, MeterResponder],
) -> None:
    view, resp = meter
    results = []
    with udp_node(resp) as (host, port):
        client = MeterClient(UdpTransport(host, port, local_port=0), timeout_s=2)
        results.append((client.read_live(), client.read_history(2)))
        client.close()
    for dialect in Dialect:
        with VirtualWisunModule.for_responder(
            resp, dialect=dialect, rbid=RBID, password=PASSWORD
        ) as module:
            transport = SkstackTransport(module.path, RBID, PASSWORD, drain_s=0.05).open()
            assert transport.dialect is dialect
            client = MeterClient(transport, timeout_s=2)
            results.append((client.read_live(), client.read_history(2)))
            client.close()
            assert module.module.session_address is None  # SKTERM ended the session
    for reading, history in results:
        check(reading, history, view, resp)


def test_wisun_client_rides_out_faults(meter: tuple[MeterView, MeterResponder]) -> None:
    view, resp = meter
    faults = Faults(
        drop_reply_share=0.25, send_failure_share=0.25, tx_budget_ms=40, tx_hold_s=0.2, seed=4
    )
    with VirtualWisunModule.for_responder(
        resp, dialect=Dialect.BP35C2, rbid=RBID, password=PASSWORD, faults=faults
    ) as module:
        transport = SkstackTransport(module.path, RBID, PASSWORD, drain_s=0.05).open()
        client = MeterClient(transport, timeout_s=0.3, retries=8)
        first = client.read_live()
        module.expire_session(reauth_ok=False)  # EVENT 29 + 24: the client re-joins
        readings = [client.read_live() for _ in range(3)]
        history = client.read_history(2)
        client.close()
    for reading in (first, *readings):
        check(reading, history, view, resp)
    assert module.stats.send_failures and module.stats.replies_dropped
    assert {"29", "24", "25", "32", "33"} <= set(transport.events)
    assert module.stats.events.count("joined") == 2


def test_wrong_credentials_fail_like_a_real_module(meter: tuple[MeterView, MeterResponder]) -> None:
    _, resp = meter
    with VirtualWisunModule.for_responder(
        resp, dialect=Dialect.BP35A1, rbid=RBID, password=PASSWORD
    ) as module:
        with pytest.raises(JoinFailed):
            SkstackTransport(module.path, RBID, "WRONGPASS123", drain_s=0.05, join_retries=2).open()
        with pytest.raises(ScanFailed):
            SkstackTransport(module.path, "F" * 32, PASSWORD, drain_s=0.05).open()


@pytest.mark.parametrize("transport", ["udp", "serial"])
def test_cli_watch_once_exports_csv(
    meter: tuple[MeterView, MeterResponder], tmp_path: Path, transport: str
) -> None:
    view, resp = meter
    out = tmp_path / "history.csv"
    runner = CliRunner()
    args = ["hems", "watch", "--once", "--days", "3", "--csv", str(out), "--timeout", "2"]
    if transport == "udp":
        with udp_node(resp) as (host, port):
            result = runner.invoke(cli, [*args, "--udp", f"{host}:{port}", "--local-port", "0"])
    else:
        link = tmp_path / "ttyWISUN"
        with VirtualWisunModule.for_responder(
            resp, dialect=Dialect.BP35C2, rbid=RBID, password=PASSWORD, link=link
        ):
            serial = ["--serial", str(link), "--rbid", RBID, "--password", PASSWORD]
            result = runner.invoke(cli, [*args, *serial])
    assert result.exit_code == 0, result.output
    assert "instantaneous power" in result.output and PASSWORD not in result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 3 * 48
    today = NOW.astimezone(JST).date()
    unit = float(resp.scale.kwh_per_count)
    for day in (1, 2):
        log = view.day_log(today - timedelta(days=day))
        first = rows.index(
            next(r for r in rows if r["slot_start"].startswith(str(today - timedelta(days=day))))
        )
        got = [float(r["import_kwh"]) for r in rows[first : first + 48]]
        assert got == pytest.approx([resp.scale.raw_from_wh(p[0]) * unit for p in log if p])
    assert rows[-1]["import_kwh"] == ""  # 23:30 today has not come yet


def test_cli_needs_one_transport() -> None:
    result = CliRunner().invoke(cli, ["hems", "watch", "--once"])
    assert result.exit_code != 0 and "exactly one of" in result.output
    result = CliRunner().invoke(cli, ["hems", "watch", "--serial", "/nonexistent", "--once"])
    assert result.exit_code != 0 and "--rbid" in result.output


def test_csv_writer_and_address_parser() -> None:
    at = datetime(2026, 11, 8, 0, 30, tzinfo=JST)
    buf = io.StringIO()
    n = write_history_csv(
        buf, [HistorySlot(at, 12.5, None), HistorySlot(at - timedelta(minutes=30), 12.0, 1.0)]
    )
    assert n == 2
    assert buf.getvalue().splitlines() == [
        "slot_start,import_kwh,export_kwh",
        "2026-11-08T00:00:00+09:00,12,1",
        "2026-11-08T00:30:00+09:00,12.5,",
    ]
    assert parse_address("127.0.0.2") == ("127.0.0.2", 3610)
    assert parse_address("127.0.0.2:13610") == ("127.0.0.2", 13610)
    assert parse_address("[::1]:5") == ("::1", 5)
    assert parse_address("fe80::1") == ("fe80::1", 3610)
    with pytest.raises(ValueError):
        parse_address("meter.local")


def test_live_view_runs_and_shows_the_fixed_time_notification(
    meter: tuple[MeterView, MeterResponder], tmp_path: Path
) -> None:
    from openami.cli.hems import last_fixed_time
    from openami.protocols.echonet.frame import decode_frame

    view, resp = meter
    link = tmp_path / "ttyWISUN"
    with VirtualWisunModule.for_responder(
        resp, dialect=Dialect.BP35A1, rbid=RBID, password=PASSWORD, link=link
    ):
        serial = ["--serial", str(link), "--rbid", RBID, "--password", PASSWORD]
        args = ["hems", "watch", "--count", "2", "--interval", "0.1", *serial]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "instantaneous power" in result.output and "half-hour history" in result.output

    with udp_node(resp) as (host, port):
        client = MeterClient(UdpTransport(host, port, local_port=0), timeout_s=2)
        assert last_fixed_time(client) is None
        inf = resp.fixed_time_inf()
        assert inf is not None
        client.notifications.append(decode_frame(inf))
        boundary = view.boundary_registers(slot_index(NOW))
        assert boundary is not None
        kwh = resp.scale.raw_from_wh(boundary[0]) * float(resp.scale.kwh_per_count)
        assert last_fixed_time(client) == f"{kwh:.1f} kWh at 02:30"
        client.close()


@pytest.mark.parametrize(("wopt", "ropt"), [(0, True), (1, False)], ids=["binary", "no-ropt"])
def test_client_sets_hex_mode_or_copes_without_ropt(
    meter: tuple[MeterView, MeterResponder], wopt: int, ropt: bool
) -> None:
    view, resp = meter
    with VirtualWisunModule.for_responder(
        resp, dialect=Dialect.BP35A1, rbid=RBID, password=PASSWORD, wopt=wopt, ropt_supported=ropt
    ) as module:
        client = MeterClient(SkstackTransport(module.path, RBID, PASSWORD, drain_s=0.05).open())
        reading = client.read_live()
        client.close()
    assert module.module.wopt_writes == (1 if wopt == 0 else 0)
    assert module.module.wopt == 1
    assert reading.power_w == round(view.power_w())
