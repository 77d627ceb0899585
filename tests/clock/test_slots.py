from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from openami.clock import (
    JST,
    ManualClock,
    SimClock,
    day_first_slot,
    day_of_slot,
    slot_floor,
    slot_index,
    slot_start,
    slots_of_day,
)
from openami.clock.slots import slot_of_day


def test_day_has_48_slots_starting_at_jst_midnight() -> None:
    slots = slots_of_day(date(2026, 11, 1))
    assert len(slots) == 48
    assert slot_start(slots.start) == datetime(2026, 11, 1, 0, 0, tzinfo=JST)
    assert slot_start(slots.stop - 1) == datetime(2026, 11, 1, 23, 30, tzinfo=JST)
    # JST midnight is 15:00 UTC of the day before
    assert slot_start(slots.start).astimezone(UTC) == datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
    assert day_of_slot(slots.stop - 1) == date(2026, 11, 1)
    assert day_of_slot(slots.stop) == date(2026, 11, 2)


def test_slot_floor_and_position_in_day() -> None:
    moment = datetime(2026, 11, 1, 13, 47, 12, tzinfo=JST)
    assert slot_floor(moment) == datetime(2026, 11, 1, 13, 30, tzinfo=JST)
    idx = np.array([slot_index(moment)], dtype=np.int64)
    assert slot_of_day(idx)[0] == 27
    assert day_first_slot(date(2026, 11, 2)) - day_first_slot(date(2026, 11, 1)) == 48


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        slot_index(datetime(2026, 11, 1, 12, 0))


def test_manual_clock_moves_forward_only() -> None:
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    clock.advance(timedelta(minutes=30))
    assert clock.now() == datetime(2026, 11, 1, 0, 30, tzinfo=JST)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_sim_clock_runs_accelerated() -> None:
    start = datetime(2026, 11, 1, tzinfo=JST)
    clock = SimClock(start, speed=3600.0)
    t0 = clock.timestamp()
    import time

    time.sleep(0.05)
    elapsed_sim_s = clock.timestamp() - t0
    assert 150 <= elapsed_sim_s <= 3600  # 0.05 s real ≈ 180 s simulated
