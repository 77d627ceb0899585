"""Meter events (outages, tamper, reset, test) as per-slot masks for VEE rules V08/V10.

One rule for every path that judges or estimates values: a (meter, slot) pair is in an
event when one of that meter's event periods overlaps the slot (:func:`openami.clock.
slots_touched`: a period ending exactly on a boundary does not touch the slot after it).
Outage kinds (:data:`openami.bus.messages.OUTAGE_KINDS`) make zeros valid (V10O); the other
kinds flag the slot (V10).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import OUTAGE_KINDS
from openami.clock import slots_touched
from openami.mdms.columns import float_column, int_column, is_sorted

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]


def event_slot_masks(events: pa.Table, meter_id: I64, slot: I64) -> tuple[BoolArr, BoolArr]:
    """(outage, tamper) per (meter, slot) pair, for event periods (meter_id, kind, start_s,
    end_s [Unix seconds]); pairs in any order, vectorised over pairs and events alike."""
    n = len(slot)
    outage = np.zeros(n, dtype=np.bool_)
    tamper = np.zeros(n, dtype=np.bool_)
    if n == 0 or events.num_rows == 0:
        return outage, tamper
    lo, hi = int(slot.min()), int(slot.max())
    span = hi - lo + 1
    key = meter_id * span + (slot - lo)
    order = None if is_sorted(key) else np.argsort(key, kind="stable")
    sorted_key = key if order is None else key[order]
    first, last = slots_touched(float_column(events, "start_s"), float_column(events, "end_s"))
    event_meter = int_column(events, "meter_id")
    begin = np.searchsorted(sorted_key, event_meter * span + (np.maximum(first, lo) - lo), "left")
    end = np.searchsorted(sorted_key, event_meter * span + (np.minimum(last, hi) - lo), "right")
    kinds = pc.is_in(events.column("kind"), value_set=pa.array(list(OUTAGE_KINDS)))
    is_outage = np.asarray(pc.fill_null(kinds, False).to_numpy(zero_copy_only=False), np.bool_)
    for mask, kind in ((outage, is_outage), (tamper, ~is_outage)):
        covered = _covered(begin[kind], end[kind], n)
        if order is None:
            mask[:] = covered
        else:
            mask[order] = covered
    return outage, tamper


def _covered(begin: I64, end: I64, n: int) -> BoolArr:
    """Positions ``0 … n-1`` inside any of the half-open ranges ``[begin, end)``."""
    keep = end > begin
    if not keep.any():
        return np.zeros(n, dtype=np.bool_)
    starts = np.bincount(begin[keep], minlength=n + 1)
    stops = np.bincount(end[keep], minlength=n + 1)
    return np.cumsum(starts[:n] - stops[:n]) > 0
