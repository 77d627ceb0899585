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


def test_vectorised_helpers_agree_with_the_datetime_ones() -> None:
    from openami.clock import (
        day_first_slot_of,
        is_day_start,
        jst_day_number,
        jst_day_of_s,
        jst_day_start_s,
        slot_at_s,
        slot_end_s,
        slot_start_s,
        slots_touched,
    )

    day = date(2026, 11, 1)
    slots = np.arange(day_first_slot(day) - 5, day_first_slot(day) + 100, dtype=np.int64)
    for s, pos, first, start in zip(
        slots.tolist(),
        slot_of_day(slots).tolist(),
        day_first_slot_of(slots).tolist(),
        slot_start_s(slots).tolist(),
        strict=True,
    ):
        moment = slot_start(s)
        assert pos == (moment.hour * 2 + moment.minute // 30)
        assert first == day_first_slot(moment.date())
        assert start == moment.timestamp()
        assert slot_of_day(s) == pos and day_first_slot_of(s) == first
        assert jst_day_number(s) == (moment.date() - date(1970, 1, 1)).days
        assert slot_end_s(s) == slot_start(s + 1).timestamp()
        assert is_day_start(s) == (moment.hour == 0 and moment.minute == 0)
    assert is_day_start(slots).sum() == 3
    assert jst_day_start_s(day) == datetime(2026, 11, 1, tzinfo=JST).timestamp()
    assert jst_day_of_s(jst_day_start_s(day) - 1) == date(2026, 10, 31)
    instants = np.array([0.0, 1799.9, 1800.0, 3601.0])
    assert slot_at_s(instants).tolist() == [0, 0, 1, 2]
    assert slot_at_s(1800.0) == 1
    # a period touches the slots it overlaps; ending on a boundary does not reach the next
    assert slots_touched(1800.0, 3600.0) == (1, 1)
    assert slots_touched(1799.0, 3601.0) == (0, 2)
    first, last = slots_touched(np.array([1800.0, 1799.0]), np.array([3600.0, 3601.0]))
    assert first.tolist() == [1, 0] and last.tolist() == [1, 2]
