"""What the tick cache does not know, looked up in the store.

Rows not in step (after a start, a new meter, a meter that moved) are filled with the
look-ups of one slot: the meter's read at the boundary before the tick, the supply point's
value of the slot before, its V06 mean. Facts those cannot give (a run or a day that began
earlier) are marked unknown; when a value depends on one, :func:`look_back` reads that
supply point's stored values as far back as the longest run rule needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openami.clock import day_first_slot_of
from openami.mdms.columns import int_column, usable_values, valid_mask
from openami.mdms.tick_cache import LAST_UNKNOWN, RUN_CAP, SAME_UNKNOWN, TickRows
from openami.storage.interval_ingest import IngestTransaction

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class TickKeys:
    """Who a tick's reads are from: meters (sorted), the boundary they were all taken at,
    the supply point each meter serves in the slot before it (-1: none)."""

    meter_id: I64
    boundary: int
    supply_point_key: I64

    @property
    def slot(self) -> int:
        """The slot the tick's reads close."""
        return self.boundary - 1


def fill_cold_rows(
    tx: IngestTransaction,
    rows: TickRows,
    cold: BoolArr,
    reads: TickKeys,
) -> tuple[TickRows, BoolArr]:
    """A copy of ``rows`` (aligned with a tick's reads) with the cold ones filled from the
    store, and the reads that must go the general path instead: their meter or supply
    point has anything stored at or after this tick."""
    rows = rows.widened()
    general = np.zeros(len(rows), dtype=np.bool_)
    at = np.flatnonzero(cold)
    boundary, supply_point_key = reads.boundary, reads.supply_point_key
    _fill_meter_reads(tx, rows, at, reads.meter_id[at], boundary, general)
    rows.supply_point_key[at] = supply_point_key[at]
    _mark_point_facts_unknown(rows, at, boundary - 1)
    with_point = at[supply_point_key[at] >= 0]
    if len(with_point):
        _fill_point_facts(tx, rows, with_point, boundary - 1, general)
    return rows, general


def _fill_meter_reads(
    tx: IngestTransaction, rows: TickRows, at: I64, meter: I64, boundary: int, general: BoolArr
) -> None:
    """The reads of the meters (rows ``at``) at ``boundary - 1`` (none stored at
    ``boundary`` or later: those meters go the general path)."""
    later = tx.meters_with_reads_from(meter, boundary)
    if len(later):
        general[at[np.isin(meter, later)]] = True
    got = tx.existing_reads(meter, boundary - 1, boundary - 1)
    rows.last_boundary[at] = boundary - 2  # no read at boundary - 1 …
    if got.num_rows == 0:
        return
    found = at[np.searchsorted(meter, int_column(got, "meter_id"))]  # … unless one is stored
    rows.last_boundary[found] = boundary - 1
    rows.last_import_register_wh[found] = int_column(got, "import_register_wh")
    rows.last_export_register_wh[found] = int_column(got, "export_register_wh")
    rows.last_export_valid[found] = valid_mask(got, "export_register_wh")


def _mark_point_facts_unknown(rows: TickRows, at: I64, slot: int) -> None:
    """Nothing known of the supply points yet but that no version lies after ``slot - 1``."""
    rows.latest_version_slot[at] = slot - 1
    rows.last_usable_slot[at] = LAST_UNKNOWN
    rows.last_usable_import_wh[at] = 0
    rows.last_equals_previous[at] = SAME_UNKNOWN
    rows.flat_run_slots[at] = -1
    rows.zero_run_slots[at] = -1
    rows.day_through_slot[at] = -1
    rows.day_usable_count[at] = -1
    rows.day_import_wh[at] = 0
    rows.v06_count[at] = 0
    rows.v06_mean_wh[at] = 0.0


def _fill_point_facts(
    tx: IngestTransaction, rows: TickRows, at: I64, slot: int, general: BoolArr
) -> None:
    """The supply points' value of ``slot - 1`` and V06 mean (points with versions at or
    after ``slot`` go the general path)."""
    point = rows.supply_point_key[at]
    keys = np.unique(point)
    later = tx.keys_with_values_from(keys, slot)
    if len(later):
        general[at[np.isin(point, later)]] = True
    near = tx.current_versions(keys, slot - 1, slot - 1)
    if near.num_rows:
        known = usable_values(near)
        near_keys = int_column(near, "supply_point_key")
        i = np.minimum(np.searchsorted(near_keys, point), len(near_keys) - 1)
        hit = (near_keys[i] == point) & known[i]
        found, i = at[hit], i[hit]
        import_wh = int_column(near, "import_wh")[i]
        export_wh = int_column(near, "export_wh")[i]  # a null export counts as zero
        rows.last_usable_slot[found] = slot - 1
        rows.last_usable_import_wh[found] = import_wh
        rows.zero_run_slots[found] = np.where((import_wh == 0) & (export_wh == 0), -1, 0)
        rows.last_equals_previous[found] = np.where(import_wh > 0, SAME_UNKNOWN, 0)
    means = tx.running_means(keys)
    if means.num_rows:
        mean_keys = int_column(means, "supply_point_key")
        i = np.minimum(np.searchsorted(mean_keys, point), len(mean_keys) - 1)
        hit = mean_keys[i] == point
        found, i = at[hit], i[hit]
        rows.v06_count[found] = int_column(means, "n")[i]
        rows.v06_mean_wh[found] = np.asarray(means.column("mean_wh").to_numpy(), np.float64)[i]


@dataclass
class LookBack:
    """Per supply point asked for, from its stored values before slot ``s``."""

    zero_run_slots: npt.NDArray[np.int16]  # zero run ending at s - 1 (0: not a usable zero)
    flat_run_slots: npt.NDArray[np.int16]  # flat run ending just before s - 1 (TickRows)
    last_equals_previous: npt.NDArray[np.int8]  # s - 1 equals the usable value before it
    day_usable_count: I64  # usable values of the JST day of slot s, before s
    day_import_wh: I64  # their import


def look_back(tx: IngestTransaction, supply_point_key: I64, first_slot: int, slot: int) -> LookBack:
    """Run and day summaries of the supply points from their current stored versions of
    slots ``first_slot … slot - 1``. A run that reaches back to ``first_slot`` is counted
    from there: the window is longer than any run threshold, so the flags come out the
    same."""
    n = len(supply_point_key)
    out = LookBack(
        np.zeros(n, np.int16),
        np.zeros(n, np.int16),
        np.zeros(n, np.int8),
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
    )
    got = tx.current_versions(np.unique(supply_point_key), first_slot, slot - 1)
    if got.num_rows == 0:
        return out
    known = usable_values(got)
    if not known.any():
        return out
    series = _UsableSeries(
        int_column(got, "supply_point_key")[known],
        int_column(got, "slot")[known],
        int_column(got, "import_wh")[known],
        int_column(got, "export_wh")[known],
    )
    series.summarise_into(out, supply_point_key, slot)
    return out


class _UsableSeries:
    """Usable stored values sorted by (supply point, slot), with their runs."""

    def __init__(self, key: I64, slot: I64, import_wh: I64, export_wh: I64) -> None:
        self.key, self.slot, self.import_wh = key, slot, import_wh
        m = len(key)
        self.same_key = np.zeros(m, dtype=np.bool_)
        self.same_key[1:] = key[1:] == key[:-1]
        self.adjacent = self.same_key.copy()
        self.adjacent[1:] &= slot[1:] == slot[:-1] + 1
        self.same = np.zeros(m, dtype=np.bool_)
        self.same[1:] = self.same_key[1:] & (import_wh[1:] == import_wh[:-1]) & (import_wh[1:] > 0)
        flat = self.same.copy()
        flat[:-1] |= self.same[1:]
        zero = (import_wh == 0) & (export_wh == 0)  # a null export counts as zero
        self.zero_run, self.flat_run = self._run_ending(zero), self._run_ending(flat)

    def _run_ending(self, cond: BoolArr) -> I64:
        """Length of the run of adjacent values where cond holds, ending at each one."""
        cont = np.zeros(len(cond), dtype=np.bool_)
        cont[1:] = self.adjacent[1:] & cond[1:] & cond[:-1]
        start = cond & ~cont
        idx = np.arange(len(cond))
        begin = np.maximum.accumulate(np.where(start, idx, -1))
        return np.where(cond, idx - begin + 1, 0)

    def summarise_into(self, out: LookBack, supply_point_key: I64, slot: int) -> None:
        """Each key's last usable value before ``slot``: its runs, and the JST day so far."""
        last = np.ones(len(self.key), dtype=np.bool_)
        last[:-1] = self.key[1:] != self.key[:-1]
        li = np.flatnonzero(last)
        at_before = self.slot[li] == slot - 1
        zero = np.where(at_before, self.zero_run[li], 0)
        flat = np.where(at_before & self.adjacent[li], self.flat_run[np.maximum(li - 1, 0)], 0)
        same = np.where(
            self.same_key[li],
            self.same[li],
            np.where(self.import_wh[li] > 0, SAME_UNKNOWN, 0),
        )
        in_day = self.slot >= day_first_slot_of(slot)
        group = np.cumsum(np.r_[True, ~self.same_key[1:]]) - 1
        day_n = np.bincount(group, weights=in_day, minlength=len(li)).astype(np.int64)
        day_sum = np.bincount(group, weights=np.where(in_day, self.import_wh, 0), minlength=len(li))
        last_keys = self.key[li]
        i = np.minimum(np.searchsorted(last_keys, supply_point_key), len(last_keys) - 1)
        hit = last_keys[i] == supply_point_key
        out.zero_run_slots[hit] = np.minimum(zero[i[hit]], RUN_CAP)
        out.flat_run_slots[hit] = np.minimum(flat[i[hit]], RUN_CAP)
        out.last_equals_previous[hit] = same[i[hit]]
        out.day_usable_count[hit] = day_n[i[hit]]
        out.day_import_wh[hit] = np.rint(day_sum[i[hit]]).astype(np.int64)
