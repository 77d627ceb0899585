"""The half-hour slot grid (30分値), in JST.

A slot index is ``epoch_seconds // 1800``. Slot ``k`` covers ``[k*1800, (k+1)*1800)`` seconds
since the epoch; in JST it starts at :00 or :30. A JST day has 48 slots; its first slot
starts at 00:00 JST (15:00 UTC on the previous day).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

JST = ZoneInfo("Asia/Tokyo")
SLOT_SECONDS = 1800
SLOTS_PER_DAY = 48
_JST_OFFSET_S = 9 * 3600


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
        seconds=_JST_OFFSET_S
    )
    return int(midnight_utc.timestamp()) // SLOT_SECONDS


def slots_of_day(day: date) -> range:
    """The 48 slot indexes of a JST day."""
    first = day_first_slot(day)
    return range(first, first + SLOTS_PER_DAY)


def day_of_slot(index: int) -> date:
    """The JST calendar day a slot belongs to."""
    return slot_start(index).date()


def slot_of_day(indexes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Position 0..47 of each slot within its JST day (vectorized)."""
    return ((indexes * SLOT_SECONDS + _JST_OFFSET_S) // SLOT_SECONDS) % SLOTS_PER_DAY


def jst_day_number(indexes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Days since 1970-01-01 JST for each slot (vectorized)."""
    return (indexes * SLOT_SECONDS + _JST_OFFSET_S) // 86400
