"""Fixtures for the B-route tests: a one-meter fleet started ten days before a manual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from openami.broute.responder import MeterResponder
from openami.clock import ManualClock, slot_index
from openami.meter import MeterFleet, MeterView

FLEET_START = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)  # 2026-11-02 00:00 JST
CLOCK_START = FLEET_START + timedelta(days=10, hours=3, minutes=7)  # 03:07 JST


def make_view(meter_id: int, *, pv: bool, clock: ManualClock) -> MeterView:
    fleet = MeterFleet(
        np.array([meter_id]), slot_index(FLEET_START), seed=7, pv_share=1.0 if pv else 0.0
    )
    return MeterView(fleet, 0, clock)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(CLOCK_START)


@pytest.fixture
def pv_view(clock: ManualClock) -> MeterView:
    return make_view(4242, pv=True, clock=clock)


@pytest.fixture
def plain_view(clock: ManualClock) -> MeterView:
    return make_view(1717, pv=False, clock=clock)


@pytest.fixture
def pv_responder(pv_view: MeterView, clock: ManualClock) -> MeterResponder:
    return MeterResponder(pv_view, clock)


@pytest.fixture
def plain_responder(plain_view: MeterView, clock: ManualClock) -> MeterResponder:
    return MeterResponder(plain_view, clock)
