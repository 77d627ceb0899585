"""One clock for the whole system, and the JST half-hour slot grid.

Every component asks a :class:`Clock` for the time. ``RealClock`` follows the wall clock;
``SimClock`` runs accelerated from a chosen start; ``ManualClock`` moves only when told
(simulations and tests). Slots are identified by an integer *slot index*: the number of
whole 30-minute periods since the Unix epoch. Because JST is UTC+9:00, half-hour
boundaries in JST and UTC coincide, so ``slot_index = epoch_seconds // 1800``.
"""

from openami.clock.clock import AnchoredClock, Clock, ManualClock, RealClock, SimClock
from openami.clock.slots import (
    DAY_SECONDS,
    JST,
    JST_OFFSET_S,
    JST_OFFSET_SLOTS,
    SLOT_SECONDS,
    SLOTS_PER_DAY,
    day_first_slot,
    day_first_slot_of,
    day_of_slot,
    is_day_start,
    jst_day_number,
    jst_day_of_s,
    jst_day_start_s,
    slot_at_s,
    slot_end,
    slot_end_s,
    slot_floor,
    slot_index,
    slot_of_day,
    slot_start,
    slot_start_s,
    slots_of_day,
    slots_touched,
    slots_within,
)

__all__ = [
    "DAY_SECONDS",
    "JST",
    "JST_OFFSET_S",
    "JST_OFFSET_SLOTS",
    "SLOTS_PER_DAY",
    "SLOT_SECONDS",
    "AnchoredClock",
    "Clock",
    "ManualClock",
    "RealClock",
    "SimClock",
    "day_first_slot",
    "day_first_slot_of",
    "day_of_slot",
    "is_day_start",
    "jst_day_number",
    "jst_day_of_s",
    "jst_day_start_s",
    "slot_at_s",
    "slot_end",
    "slot_end_s",
    "slot_floor",
    "slot_index",
    "slot_of_day",
    "slot_start",
    "slot_start_s",
    "slots_of_day",
    "slots_touched",
    "slots_within",
]
