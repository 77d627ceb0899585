"""One clock for the whole system, and the JST half-hour slot grid.

Every component asks a :class:`Clock` for the time. ``RealClock`` follows the wall clock;
``SimClock`` runs accelerated from a chosen start; ``ManualClock`` moves only when told
(simulations and tests). Slots are identified by an integer *slot index*: the number of
whole 30-minute periods since the Unix epoch. Because JST is UTC+9:00, half-hour
boundaries in JST and UTC coincide, so ``slot_index = epoch_seconds // 1800``.
"""

from openami.clock.clock import Clock, ManualClock, RealClock, SimClock
from openami.clock.slots import (
    JST,
    SLOT_SECONDS,
    SLOTS_PER_DAY,
    day_first_slot,
    day_of_slot,
    slot_end,
    slot_floor,
    slot_index,
    slot_start,
    slots_of_day,
)

__all__ = [
    "JST",
    "SLOTS_PER_DAY",
    "SLOT_SECONDS",
    "Clock",
    "ManualClock",
    "RealClock",
    "SimClock",
    "day_first_slot",
    "day_of_slot",
    "slot_end",
    "slot_floor",
    "slot_index",
    "slot_start",
    "slots_of_day",
]
