"""The HEMS falls back to G3-PLC (OPLC/1) when the Wi-SUN join fails, and reads the meter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from openami.broute.plc import VirtualPlcModem
from openami.broute.responder import MeterResponder
from openami.broute.wisun import Faults, VirtualWisunModule
from openami.clock import ManualClock, slot_index
from openami.hems import MeterClient
from openami.hems.fallback import OpenedLink, open_broute
from openami.hems.plc import PlcLinkError, PlcTransport
from openami.hems.skstack import ScanFailed, SkstackTransport
from openami.meter import MeterFleet, MeterView
from openami.meter.broute_credentials import BrouteCredentials
from openami.protocols.skstack import Dialect

PAIR = BrouteCredentials("00112233445566778899AABBCCDDEEFF", "0123456789AB")
FLEET_START = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
NOW = FLEET_START + timedelta(days=3, hours=4)


@pytest.fixture
def meter() -> tuple[MeterFleet, MeterResponder]:
    clock = ManualClock(NOW)
    fleet = MeterFleet(np.array([77]), slot_index(FLEET_START), seed=3, pv_share=0.0)
    fleet.broute.set(0, PAIR)  # as the HES provisioned it
    return fleet, MeterResponder(MeterView(fleet, 0, clock), clock)


def _links(
    fleet: MeterFleet, responder: MeterResponder, in_range: bool
) -> tuple[VirtualWisunModule, VirtualPlcModem]:
    held = lambda: fleet.broute.of(0)  # noqa: E731
    wisun = VirtualWisunModule.for_responder(
        responder,
        dialect=Dialect.BP35C2,
        credentials=held,
        faults=Faults(out_of_range=not in_range),
        notify_delay_s=None,
    )
    return wisun, VirtualPlcModem(responder.respond, held)


def _open(
    wisun: VirtualWisunModule, plc: VirtualPlcModem | None, password: str = PAIR.password
) -> OpenedLink:
    return open_broute(
        lambda: SkstackTransport(
            wisun.path, PAIR.rbid, password, scan_durations=(3,), drain_s=0.05
        ),
        None if plc is None else (lambda: PlcTransport(plc.path, PAIR.rbid, password)),
    )


def test_join_fails_so_the_hems_reads_over_plc(meter: tuple[MeterFleet, MeterResponder]) -> None:
    fleet, responder = meter
    wisun, plc = _links(fleet, responder, in_range=False)
    with wisun, plc:
        opened = _open(wisun, plc)
        assert opened.medium == "plc" and "ScanFailed" in str(opened.wisun_error)
        client = MeterClient(opened.transport, timeout_s=2)
        reading = client.read_live()
        history = client.read_history(1)
        client.close()
    assert plc.sends >= 2 and plc.replies >= 2
    assert reading.power_w == round(MeterView(fleet, 0, responder.clock).power_w())
    assert len(history) == 48
    assert wisun.stats.sends == 0  # nothing went over the radio


def test_wisun_first_when_it_joins(meter: tuple[MeterFleet, MeterResponder]) -> None:
    fleet, responder = meter
    wisun, plc = _links(fleet, responder, in_range=True)
    with wisun, plc:
        opened = _open(wisun, plc)
        assert opened.medium == "wisun" and opened.wisun_error is None
        MeterClient(opened.transport, timeout_s=2).close()
    assert plc.sends == 0


def test_no_fallback_configured_or_wrong_password(
    meter: tuple[MeterFleet, MeterResponder],
) -> None:
    fleet, responder = meter
    wisun, plc = _links(fleet, responder, in_range=False)
    with wisun, plc:
        with pytest.raises(ScanFailed):
            _open(wisun, None)
        with pytest.raises(PlcLinkError, match=r"authentication failed.*Wi-SUN: ScanFailed"):
            _open(wisun, plc, password="WRONGPASS123")
        fleet.broute.clear(0)  # revoked: the meter answers no one on either medium
        with pytest.raises(PlcLinkError, match="no meter answered"):
            _open(wisun, plc)
