"""Fixtures for the home tests: one home with every appliance, on a summer evening."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from openami.clock import ManualClock, slot_index
from openami.home import HomeFleet, HomeParams
from openami.meter import HouseholdParams, MeterFleet, MeterView

# 2026-08-05 21:00 JST: the household is home, the EV plugged in, the AC cooling
CLOCK_START = datetime(2026, 8, 5, 12, 0, tzinfo=UTC)
SEED = 7


def make_home(clock: ManualClock, meter_id: int = 4242) -> tuple[MeterFleet, HomeFleet]:
    """A one-meter fleet whose home has PV, a battery, an EV and a water heater."""
    ids = np.array([meter_id])
    household = HouseholdParams.draw(ids, SEED, pv_share=1.0)
    fleet = MeterFleet(ids, slot_index(CLOCK_START) - 4, seed=SEED, params=household)
    params = HomeParams.draw(
        household, SEED, battery_share=1.0, ev_share=1.0, water_heater_share=1.0
    )
    homes = HomeFleet(household, SEED, clock.timestamp(), params=params, clock=clock)
    fleet.appliances = homes
    return fleet, homes


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(CLOCK_START)


@pytest.fixture
def home(clock: ManualClock) -> tuple[MeterFleet, HomeFleet]:
    return make_home(clock)


@pytest.fixture
def meter_view(home: tuple[MeterFleet, HomeFleet], clock: ManualClock) -> MeterView:
    return MeterView(home[0], 0, clock)
