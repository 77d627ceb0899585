"""The half-hour slot grid (30分値), in JST.

A slot index is ``epoch_seconds // 1800``. Slot ``k`` covers ``[k*1800, (k+1)*1800)`` seconds
since the epoch; in JST it starts at :00 or :30. A JST day has 48 slots; its first slot
starts at 00:00 JST (15:00 UTC on the previous day).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import overload
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

JST = ZoneInfo("Asia/Tokyo")
SLOT_SECONDS = 1800
SLOTS_PER_DAY = 48
DAY_SECONDS = 86400
JST_OFFSET_S = 9 * 3600
#: JST is 18 slots ahead of UTC: the slot that starts at 00:00 JST has ``(slot + 18) % 48 == 0``
JST_OFFSET_SLOTS = JST_OFFSET_S // SLOT_SECONDS

Slots = npt.NDArray[np.int64]
Seconds = npt.NDArray[np.float64]


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"time must be timezone-aware, got naive {moment.isoformat()}")
    return moment


def slot_index(moment: datetime) -> int:
    """Index of the slot that contains ``moment``."""
    return int(_aware(moment).timestamp() // SLOT_SECONDS)


def slot_start(index: int) -> datetime:
    """Start of slot ``index`` as a JST datetime."""
    return datetime.fromtimestamp(index * SLOT_SECONDS, JST)


def slot_end(index: int) -> datetime:
    """End of slot ``index`` (the start of the next one) as a JST datetime."""
    return slot_start(index + 1)


def slot_floor(moment: datetime) -> datetime:
    """The :00 or :30 boundary at or before ``moment``, in JST."""
    return slot_start(slot_index(moment))


def day_first_slot(day: date) -> int:
    """Index of the first slot (00:00 JST) of the JST calendar day ``day``."""
    midnight_utc = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(
        seconds=JST_OFFSET_S
    )
    return int(midnight_utc.timestamp()) // SLOT_SECONDS


def slots_of_day(day: date) -> range:
    """The 48 slot indexes of a JST day."""
    first = day_first_slot(day)
    return range(first, first + SLOTS_PER_DAY)


def day_of_slot(index: int) -> date:
    """The JST calendar day a slot belongs to."""
    return slot_start(index).date()


@overload
def slot_of_day(indexes: int) -> int: ...
@overload
def slot_of_day(indexes: Slots) -> Slots: ...
def slot_of_day(indexes: int | Slots) -> int | Slots:
    """Position 0..47 of each slot within its JST day (vectorized; also takes an int)."""
    return (indexes + JST_OFFSET_SLOTS) % SLOTS_PER_DAY


@overload
def jst_day_number(indexes: int) -> int: ...
@overload
def jst_day_number(indexes: Slots) -> Slots: ...
def jst_day_number(indexes: int | Slots) -> int | Slots:
    """Days since 1970-01-01 JST for each slot (vectorized; also takes an int)."""
    return (indexes + JST_OFFSET_SLOTS) // SLOTS_PER_DAY


@overload
def day_first_slot_of(indexes: int) -> int: ...
@overload
def day_first_slot_of(indexes: Slots) -> Slots: ...
def day_first_slot_of(indexes: int | Slots) -> int | Slots:
    """The first slot (00:00 JST) of each slot's JST day (vectorized; also takes an int)."""
    return indexes - (indexes + JST_OFFSET_SLOTS) % SLOTS_PER_DAY


@overload
def is_day_start(boundaries: int) -> bool: ...
@overload
def is_day_start(boundaries: Slots) -> npt.NDArray[np.bool_]: ...
def is_day_start(boundaries: int | Slots) -> bool | npt.NDArray[np.bool_]:
    """Whether each :00/:30 boundary is 00:00 JST (vectorized; also takes an int)."""
    if isinstance(boundaries, np.ndarray):
        return np.asarray((boundaries + JST_OFFSET_SLOTS) % SLOTS_PER_DAY == 0)
    return (int(boundaries) + JST_OFFSET_SLOTS) % SLOTS_PER_DAY == 0


@overload
def slot_start_s(indexes: int) -> float: ...
@overload
def slot_start_s(indexes: Slots) -> Seconds: ...
def slot_start_s(indexes: int | Slots) -> float | Seconds:
    """Start of each slot [Unix seconds] (vectorized; also takes an int)."""
    if isinstance(indexes, np.ndarray):
        return np.multiply(indexes, float(SLOT_SECONDS), dtype=np.float64)
    return int(indexes) * float(SLOT_SECONDS)


@overload
def slot_end_s(indexes: int) -> float: ...
@overload
def slot_end_s(indexes: Slots) -> Seconds: ...
def slot_end_s(indexes: int | Slots) -> float | Seconds:
    """End of each slot, the start of the next one [Unix seconds] (vectorized)."""
    return slot_start_s(indexes + 1)


@overload
def slot_at_s(epoch_s: float) -> int: ...
@overload
def slot_at_s(epoch_s: Seconds) -> Slots: ...
def slot_at_s(epoch_s: float | Seconds) -> int | Slots:
    """The slot containing each instant [Unix seconds] (vectorized; also takes a float)."""
    if isinstance(epoch_s, np.ndarray):
        return np.floor_divide(epoch_s, SLOT_SECONDS).astype(np.int64)
    return int(epoch_s // SLOT_SECONDS)


@overload
def slots_touched(start_s: float, end_s: float) -> tuple[int, int]: ...
@overload
def slots_touched(start_s: Seconds, end_s: Seconds) -> tuple[Slots, Slots]: ...
def slots_touched(
    start_s: float | Seconds, end_s: float | Seconds
) -> tuple[int, int] | tuple[Slots, Slots]:
    """First and last slot that a period ``[start_s, end_s)`` overlaps (vectorized): a period
    that ends exactly on a boundary does not touch the slot after it."""
    if isinstance(start_s, np.ndarray) or isinstance(end_s, np.ndarray):
        first = np.floor(np.divide(start_s, SLOT_SECONDS)).astype(np.int64)
        last = np.ceil(np.divide(end_s, SLOT_SECONDS)).astype(np.int64) - 1
        return first, last
    return math.floor(start_s / SLOT_SECONDS), math.ceil(end_s / SLOT_SECONDS) - 1


#: the stop of an open-ended period's slots (later than any slot index)
OPEN_SLOT_STOP = 2**62


def slots_within(start_s: npt.ArrayLike, end_s: npt.ArrayLike) -> tuple[Slots, Slots]:
    """The slots lying wholly inside periods ``[start_s, end_s)`` (vectorized): the first of
    them and the stop (one past the last), so slot ``k`` lies inside a period exactly when
    ``first <= k < stop``, i.e. ``slot_start_s(k) >= start_s`` and ``slot_end_s(k) <=
    end_s``. An end of ``inf`` or NaN is open (stop :data:`OPEN_SLOT_STOP`); a period inside
    one slot has ``stop <= first`` (no slot). This is "a meter is installed during the slot"
    (``storage.slot_sql.within`` is the same rule in SQL)."""
    start = np.asarray(start_s, dtype=np.float64)
    end = np.asarray(end_s, dtype=np.float64)
    first = np.ceil(start / SLOT_SECONDS).astype(np.int64)
    bounded = np.isfinite(end)
    stop = np.floor(np.where(bounded, end, 0.0) / SLOT_SECONDS).astype(np.int64)
    return first, np.where(bounded, stop, OPEN_SLOT_STOP)


def jst_day_start_s(day: date) -> float:
    """00:00 JST of a calendar day [Unix seconds]."""
    return day_first_slot(day) * float(SLOT_SECONDS)


def jst_day_of_s(epoch_s: float) -> date:
    """The JST calendar day of an instant [Unix seconds]."""
    return datetime.fromtimestamp(epoch_s, JST).date()
