"""momonga (a real B-route client) runs full sessions through the virtual Wi-SUN module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from momonga import Momonga, MomongaSkJoinFailure, MomongaSkScanFailure

from openami.broute.responder import MeterResponder
from openami.broute.wisun import Faults, VirtualWisunModule
from openami.clock import JST, ManualClock, slot_index
from openami.meter import MeterFleet, MeterView
from openami.protocols.skstack import Dialect

RBID = "00112233445566778899AABBCCDDEEFF"
PASSWORD = "0123456789AB"
FLEET_START = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)  # 2026-11-02 00:00 JST
CLOCK_START = FLEET_START + timedelta(days=10, hours=13, minutes=7)  # 13:07 JST, PV exporting


@dataclass
class Meter:
    clock: ManualClock
    view: MeterView
    responder: MeterResponder


@pytest.fixture
def meter() -> Meter:
    clock = ManualClock(CLOCK_START)
    fleet = MeterFleet(np.array([4242]), slot_index(FLEET_START), seed=7, pv_share=1.0)
    view = MeterView(fleet, 0, clock)
    return Meter(clock, view, MeterResponder(view, clock))


def _module(meter: Meter, dialect: Dialect, tmp_path: object, **kw: object) -> VirtualWisunModule:
    return VirtualWisunModule.for_responder(
        meter.responder,
        dialect=dialect,
        rbid=RBID,
        password=PASSWORD,
        link=f"{tmp_path}/wisun",
        **kw,
    )


def _client(path: str, rbid: str = RBID, password: str = PASSWORD) -> Momonga:
    mo = Momonga(rbid, password, path, scan_retries=2, join_retries=2)
    mo.internal_xmit_interval = 0.05  # momonga's pause between sends; the radio is virtual
    mo.recv_timeout = 1.0
    return mo


@pytest.fixture(params=list(Dialect), ids=lambda d: d.value)
def dialect(request: pytest.FixtureRequest) -> Iterator[Dialect]:
    yield request.param


def test_full_session_values_equal_the_meter(
    meter: Meter, dialect: Dialect, tmp_path: object
) -> None:
    scale = meter.responder.scale
    unit = float(scale.kwh_per_count)
    day = 3
    with _module(meter, dialect, tmp_path) as module, _client(module.path) as mo:
        assert mo.session_manager.skw.device_type.name == dialect.name
        assert mo.energy_unit == pytest.approx(unit)
        power_w = mo.get_instantaneous_power()
        currents = mo.get_instantaneous_current()
        import_kwh = mo.get_measured_cumulative_energy()
        export_kwh = mo.get_measured_cumulative_energy(reverse=True)
        history = mo.get_historical_cumulative_energy_1(day=day)
        history_rev = mo.get_historical_cumulative_energy_1(day=day, reverse=True)
        assert module.stats.events[0] == "joined"
    assert module.stats.events[-1] == "session ended: terminated"

    view = meter.view
    assert power_w == round(view.power_w())
    assert power_w is not None and power_w < 0  # PV export at 13:07
    r_a, t_a = view.currents_a()
    assert currents["r phase current"] == pytest.approx(round(r_a * 10) / 10)
    assert currents["t phase current"] == pytest.approx(round(t_a * 10) / 10)
    assert import_kwh == pytest.approx(scale.raw_from_wh(view.import_register_wh()) * unit)
    assert export_kwh == pytest.approx(scale.raw_from_wh(view.export_register_wh()) * unit)
    log = view.day_log(meter.clock.now().astimezone(JST).date() - timedelta(days=day))
    assert len(history) == len(history_rev) == 48
    assert all(pair is not None for pair in log)
    expected_import = [scale.raw_from_wh(pair[0]) * unit for pair in log if pair]
    expected_export = [scale.raw_from_wh(pair[1]) * unit for pair in log if pair]
    assert [h["cumulative energy"] for h in history] == pytest.approx(expected_import)
    assert [h["cumulative energy"] for h in history_rev] == pytest.approx(expected_export)


def test_wrong_password_fails_the_join(meter: Meter, tmp_path: object) -> None:
    """A stick in binary mode (WOPT 00): momonga switches it to hex, then fails to join."""
    with _module(meter, Dialect.BP35A1, tmp_path, wopt=0) as module:
        with pytest.raises(MomongaSkJoinFailure):
            _client(module.path, password="WRONGPASS123").open()
        assert "joined" not in module.stats.events
        assert module.module.wopt_writes == 1 and module.module.wopt == 1


def test_wrong_id_finds_no_pan(meter: Meter, tmp_path: object) -> None:
    wrong = RBID[:-8] + "00000000"
    with _module(meter, Dialect.BP35C2, tmp_path) as module:
        with pytest.raises(MomongaSkScanFailure):
            _client(module.path, rbid=wrong).open()
        assert module.stats.sends == 0


def test_session_survives_faults_and_expiry(meter: Meter, tmp_path: object) -> None:
    """Dropped replies, failed sends (EVENT 21 01) and an expiry whose re-auth fails."""
    faults = Faults(drop_reply_share=0.3, send_failure_share=0.2, seed=3)
    with _module(meter, Dialect.BP35C2, tmp_path, faults=faults) as module:
        with _client(module.path) as mo:
            mo.recv_timeout = 0.3
            first = mo.get_instantaneous_power()
            module.expire_session(reauth_ok=False)  # EVENT 29, EVENT 24: momonga re-joins
            readings = [mo.get_measured_cumulative_energy() for _ in range(4)]
        assert first == round(meter.view.power_w())
        expected = meter.responder.scale.raw_from_wh(meter.view.import_register_wh()) * 0.1
        assert readings == pytest.approx([expected] * 4)
        assert module.stats.send_failures > 0 and module.stats.replies_dropped > 0
        assert "session expired" in module.stats.events
        assert module.stats.events.count("joined") == 2  # the SKJOIN after EVENT 24


def test_momonga_receives_the_fixed_time_notification(meter: Meter, tmp_path: object) -> None:
    """After :30 (+60 s) the meter announces EA/EB; momonga hands it out as a notification."""
    scale = meter.responder.scale
    unit = float(scale.kwh_per_count)
    with _module(meter, Dialect.BP35C2, tmp_path) as module, _client(module.path) as mo:
        meter.clock.advance(timedelta(minutes=24))  # 13:31 JST
        note = mo.get_notification(timeout=5)
    assert note is not None and int(note["esv"]) == 0x73
    boundary = meter.view.boundary_registers(slot_index(meter.clock.now()))
    assert boundary is not None
    ea = note["properties"][0xEA]
    eb = note["properties"][0xEB]
    assert ea["timestamp"] == datetime(2026, 11, 12, 13, 30)
    assert ea["cumulative energy"] == pytest.approx(scale.raw_from_wh(boundary[0]) * unit)
    assert eb["cumulative energy"] == pytest.approx(scale.raw_from_wh(boundary[1]) * unit)
    assert module.stats.notifications == 1
