"""Profiling (プロファイリング): a period's metered energy as half-hour values.

A conventional meter is read by hand once a month; settlement and imbalance need a value in
every slot. The period's energy (register difference × multiplier) is spread over its slots
in proportion to the load shape of the point's contract class: a normalised 48-slot day
(JST) per class. The shares are integers [Wh] that add up to the metered energy exactly
(cumulative rounding, ``mdms.estimate.distribute``).

No official profiling method was found (reference: retail-settlement-lifecycle §2.5): the
only rule seen spreads the period evenly, which is the ``flat`` class; the other classes
follow the published class-profile idea (a base pattern per customer type, scaled to the
metered total). Day types (weekday/holiday) are not distinguished yet.

Everything here is columnar: one row per slot, no Python object per value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openami.clock import SLOTS_PER_DAY, slot_of_day
from openami.mdms.estimate import distribute
from openami.registry.kinds import LOAD_SHAPES

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def _shape(hourly: list[float]) -> F64:
    """48 slot weights from 24 hourly ones (both halves of an hour alike), normalised."""
    weights = np.repeat(np.asarray(hourly, dtype=np.float64), 2)
    return weights / weights.sum()


#: relative consumption per JST half-hour of the day, per load-shape class
#: (``registry.kinds.LOAD_SHAPES`` names them; these are this module's assumptions)
SHAPES: dict[str, F64] = {
    # households: low at night, a morning and a larger evening peak
    "residential": _shape(
        [4, 3, 3, 3, 3, 4, 6, 8, 7, 5, 5, 5, 5, 5, 5, 5, 6, 8, 10, 11, 10, 9, 7, 5]
    ),
    # shops and offices: business hours
    "commercial": _shape(
        [2, 2, 2, 2, 2, 2, 3, 5, 8, 10, 10, 10, 9, 10, 10, 10, 9, 8, 6, 4, 3, 3, 2, 2]
    ),
    # small factories: a day shift on a base load
    "industrial": _shape(
        [4, 4, 4, 4, 4, 4, 5, 7, 10, 10, 10, 10, 8, 10, 10, 10, 10, 8, 6, 5, 4, 4, 4, 4]
    ),
    "flat": np.full(SLOTS_PER_DAY, 1.0 / SLOTS_PER_DAY),
}
#: shape weights as one matrix: row = index of the class in ``LOAD_SHAPES``
SHAPE_MATRIX: F64 = np.vstack([SHAPES[name] for name in LOAD_SHAPES])


@dataclass(frozen=True)
class Profiled:
    """Half-hour values of profiled periods, one row per slot, ordered by period, slot."""

    period: I64  # index of the period the slot belongs to
    slot: I64
    energy_wh: I64


def shape_indexes(load_shapes: list[str] | npt.NDArray[np.object_]) -> I64:
    """Row of each class in :data:`SHAPE_MATRIX` (ValueError for an unknown class)."""
    lookup = {name: i for i, name in enumerate(LOAD_SHAPES)}
    try:
        return np.array([lookup[str(s)] for s in load_shapes], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"unknown load shape {exc.args[0]!r}") from None


def profile(energy_wh: I64, first_slot: I64, n_slots: I64, shape: I64) -> Profiled:
    """Spread each period's ``energy_wh`` over its ``n_slots`` slots from ``first_slot``
    with the load shape ``shape`` (rows of :data:`SHAPE_MATRIX`). Each period's values add
    up to its energy exactly. Periods must have at least one slot and no negative energy."""
    energy_wh = np.asarray(energy_wh, dtype=np.int64)
    n_slots = np.asarray(n_slots, dtype=np.int64)
    if np.any(n_slots < 1):
        raise ValueError("a profiled period needs at least one slot")
    if np.any(energy_wh < 0):
        raise ValueError("a profiled period's energy must not be negative")
    period = np.repeat(np.arange(len(n_slots), dtype=np.int64), n_slots)
    start = np.cumsum(n_slots) - n_slots
    slot = np.asarray(first_slot, dtype=np.int64)[period] + (
        np.arange(len(period), dtype=np.int64) - start[period]
    )
    weights = SHAPE_MATRIX[np.asarray(shape, dtype=np.int64)[period], slot_of_day(slot)]
    values = distribute(energy_wh.astype(np.float64), weights, period)
    return Profiled(period, slot, values)
