"""The tick cache: VEE facts per meter carried from one A-route tick to the next.

Every 30 minutes the head-end delivers one register read per meter, all at one boundary (a
*tick*). Validating a tick needs what is stored around its slot: the meter's previous read,
the supply point's values before the slot (zero and flat-line runs, V08), the day's values
at the day's last slot (V07 low), the running mean (V06). At national scale those look-ups
read tens of millions of stored rows per tick; :class:`TickCache` keeps the facts instead,
in NumPy arrays sorted by meter (:class:`TickRows`, about 58 bytes a meter), and
:mod:`openami.mdms.tick_plan` turns a tick into array arithmetic over them.

The cache belongs to the :class:`~openami.mdms.service.Mdms` that ingests into one store. It
is trusted only while nothing else has written to the store since it was last brought in
step (the store's write counter, ``generation``); otherwise :meth:`TickCache.begin` drops
it. Rows a batch could not take are marked out of step (``last_boundary`` < 0) and filled
again from the store when their meter's next tick comes.

Field meanings for the supply point's *usable* stored values (quality measured, estimated or
edited with an import: the values V08 and V07 low look at), ``L`` being the last of them:
``last_usable_slot`` is ``L``'s slot (:data:`LAST_UNKNOWN`: unknown, but not the slot before
the next tick), ``last_usable_import_wh`` its import, ``last_equals_previous`` whether that
equals the usable value before it and is positive (:data:`SAME_UNKNOWN`: unknown),
``flat_run_slots`` the length of the flat-line run ending at the value just before ``L``
when that is the slot before ``L`` (counting ``L``'s equality in; -1 unknown),
``zero_run_slots`` the run of zero values ending at ``L`` (-1 unknown); ``day_usable_count``
and ``day_import_wh`` count and sum the usable values of the JST day of ``day_through_slot``,
exact through that slot (count -1: unknown).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

#: run lengths are kept up to this (int16); the rules' thresholds are far below
RUN_CAP = 30_000
#: ``last_equals_previous``: not known
SAME_UNKNOWN = 2
#: ``last_usable_slot``: not known (but not the slot before the next tick)
LAST_UNKNOWN = -2


@dataclass
class TickRows:
    """Per meter (sorted by ``meter_id``); a row with ``last_boundary`` < 0 is not in step.

    The columns of :data:`NARROW_DTYPES` are held narrow (4 or 2 bytes) while every value
    fits, and as int64 otherwise (see :func:`put`): exact either way. Arrays built from
    them for a tick (:meth:`widened`) are int64."""

    meter_id: I64
    last_boundary: npt.NDArray[np.int32]  # boundary of the meter's last stored read
    last_import_register_wh: I64
    last_export_register_wh: I64  # 0 when not valid
    last_export_valid: BoolArr
    supply_point_key: I64  # the supply point the fields below describe (-1: none)
    latest_version_slot: npt.NDArray[np.int32]  # ≥ the slot of any stored version
    last_usable_slot: npt.NDArray[np.int32]
    last_usable_import_wh: I64
    last_equals_previous: npt.NDArray[np.int8]
    flat_run_slots: npt.NDArray[np.int16]
    zero_run_slots: npt.NDArray[np.int16]
    day_through_slot: npt.NDArray[np.int32]
    day_usable_count: npt.NDArray[np.int16]
    day_import_wh: I64
    v06_count: npt.NDArray[np.int32]  # the V06 running mean (``vee_history``)
    v06_mean_wh: npt.NDArray[np.float64]

    @classmethod
    def zeros(cls, n: int, wide: bool = False) -> TickRows:
        """``n`` rows of zeros, narrow (or ``wide``: int64 where a column may be narrow)."""
        types = WIDE_DTYPES if wide else ROW_DTYPES
        return cls(**{f.name: np.zeros(n, dtype=types[f.name]) for f in fields(cls)})

    @classmethod
    def empty(cls) -> TickRows:
        return cls.zeros(0)

    def __len__(self) -> int:
        return len(self.meter_id)

    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self))

    def select(self, index: slice | npt.NDArray[np.integer] | BoolArr) -> TickRows:
        """The rows at ``index`` (views for a slice, copies otherwise)."""
        return TickRows(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def copy(self) -> TickRows:
        return TickRows(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def widened(self) -> TickRows:
        """A copy whose narrow columns are int64 (any value can be written into it)."""
        return TickRows(
            **{f.name: getattr(self, f.name).astype(WIDE_DTYPES[f.name]) for f in fields(self)}
        )

    def narrowed(self) -> TickRows:
        """A copy with each column as narrow as its values allow."""
        out = TickRows.zeros(len(self))
        out.assign(slice(None), self)
        return out

    def assign(self, index: slice | npt.NDArray[np.integer], rows: TickRows) -> None:
        """Write ``rows`` over the rows at ``index``, in place (a narrow column whose new
        values do not fit becomes int64)."""
        for f in fields(self):
            put(self, f.name, index, getattr(rows, f.name))


#: columns held narrow while their values fit (meter IDs and supply point keys below 2**31,
#: registers below 2,147,483 kWh, a slot's or a day's import below that, V06 counts below
#: 32,768), else as int64; the V06 mean stays float64 (it is stored as it is computed)
NARROW_DTYPES: Mapping[str, type] = MappingProxyType(
    {
        "meter_id": np.int32,
        "last_import_register_wh": np.int32,
        "last_export_register_wh": np.int32,
        "supply_point_key": np.int32,
        "last_usable_import_wh": np.int32,
        "day_import_wh": np.int32,
        "v06_count": np.int16,
    }
)

#: each column's type when it is narrow (:data:`NARROW_DTYPES`) or has only one
ROW_DTYPES: Mapping[str, type] = MappingProxyType(
    {
        "meter_id": np.int32,
        "last_boundary": np.int32,
        "last_import_register_wh": np.int32,
        "last_export_register_wh": np.int32,
        "last_export_valid": np.bool_,
        "supply_point_key": np.int32,
        "latest_version_slot": np.int32,
        "last_usable_slot": np.int32,
        "last_usable_import_wh": np.int32,
        "last_equals_previous": np.int8,
        "flat_run_slots": np.int16,
        "zero_run_slots": np.int16,
        "day_through_slot": np.int32,
        "day_usable_count": np.int16,
        "day_import_wh": np.int32,
        "v06_count": np.int16,
        "v06_mean_wh": np.float64,
    }
)

#: each column's type when wide: int64 for the narrow ones
WIDE_DTYPES: Mapping[str, type] = MappingProxyType(
    {name: np.int64 if name in NARROW_DTYPES else t for name, t in ROW_DTYPES.items()}
)


def fits(values: npt.NDArray[np.generic], dtype: npt.DTypeLike) -> bool:
    """Every value of ``values`` (integers) can be held in ``dtype`` unchanged."""
    if np.can_cast(values.dtype, dtype) or len(values) == 0:
        return True
    info = np.iinfo(dtype)
    return int(values.min()) >= info.min and int(values.max()) <= info.max


def put(
    rows: object, name: str, index: slice | npt.NDArray[np.integer], values: npt.NDArray[Any]
) -> None:
    """``rows.<name>[index] = values``, the column first made int64 if it is narrow and a
    value does not fit (a row's column, or a dict's entry)."""
    column = rows[name] if isinstance(rows, dict) else getattr(rows, name)
    if name in NARROW_DTYPES and not fits(values, column.dtype):
        column = column.astype(np.int64)
        if isinstance(rows, dict):
            rows[name] = column
        else:
            setattr(rows, name, column)
    column[index] = values


def searchsorted(haystack: npt.NDArray[Any], needles: npt.NDArray[Any]) -> I64:
    """``np.searchsorted`` without a copy of the haystack in the needles' type: the needles
    are brought to a narrow haystack's type, clipped to its range — so for a look-up only
    (compare the values found with the needles): a needle out of range is never equal to
    what its position holds, but that position is not where it would be inserted."""
    if needles.dtype == haystack.dtype or not np.issubdtype(haystack.dtype, np.integer):
        return np.searchsorted(haystack, needles)
    if haystack.dtype.itemsize > needles.dtype.itemsize and fits(haystack, needles.dtype):
        return np.searchsorted(haystack.astype(needles.dtype), needles)  # a small haystack
    if haystack.dtype.itemsize < needles.dtype.itemsize:
        info = np.iinfo(haystack.dtype)
        if not fits(needles, haystack.dtype):
            needles = np.clip(needles, info.min, info.max)
        needles = needles.astype(haystack.dtype)
    return np.searchsorted(haystack, needles)


@dataclass
class CachedRows:
    """The cache's rows for a batch's meters (aligned with the batch) and where they are."""

    rows: TickRows
    in_step: BoolArr  # the meter has a row in step
    there: BoolArr  # the meter has a row (in step or not)
    at: slice | I64  # the rows' positions in the cache


@dataclass
class _BatchNotes:
    """What the batch in progress adds to the cache."""

    new_rows: list[TickRows]  # rows of meters the cache did not hold
    holders: list[tuple[I64, I64]]  # (supply point, meter): rows that now describe the point
    touched: list[I64]  # supply points written by this batch
    was_empty: bool = True
    spoilt: bool = False  # another path wrote in this batch: drop the cache at the end


class TickCache:
    """The tick facts of one interval store's meters (see module), owned by the MDMS that
    ingests into the store."""

    def __init__(self) -> None:
        self.rows = TickRows.empty()
        self._generation = -1  # not in step with anything yet
        self._batch = _BatchNotes([], [], [])

    def clear(self) -> None:
        """Forget everything (e.g. to measure the first tick after a start)."""
        self.rows, self._generation = TickRows.empty(), -1
        self._batch = _BatchNotes([], [], [])

    def in_step_with(self, generation: int) -> bool:
        """Whether the rows describe the store as of its write count ``generation``."""
        return self._generation == generation and len(self.rows) > 0

    def adopt(self, rows: TickRows, generation: int) -> None:
        """Take ``rows`` (e.g. a saved snapshot) as in step with the store at ``generation``."""
        self.rows, self._generation = rows, generation
        self._batch = _BatchNotes([], [], [])

    def absorb_versions(self, before: int, after: int, points: I64, last_slots: I64) -> None:
        """Another writer added versions (e.g. missing marks) to ``points`` (sorted) up to
        ``last_slots``, moving the store's write count from ``before`` to ``after``: rows in
        step before stay in step (their ``latest_version_slot`` raised); else nothing."""
        if self._generation != before:
            return
        rows = self.rows
        if len(points) and len(rows):
            i = np.minimum(searchsorted(points, rows.supply_point_key), len(points) - 1)
            hit = np.flatnonzero(points[i] == rows.supply_point_key)
            np.maximum.at(rows.latest_version_slot, hit, last_slots[i[hit]].astype(np.int32))
        self._generation = after

    def meters_in_step(self) -> int:
        return int(np.count_nonzero(self.rows.last_boundary >= 0))

    def nbytes(self) -> int:
        return self.rows.nbytes()

    # -- one batch --------------------------------------------------------------------------
    def begin(self, generation: int) -> None:
        """Before a batch (holding the store's lock): drop the rows if anything else wrote
        since the cache was last in step with the store's write count ``generation``."""
        if self._generation != generation:
            self.rows = TickRows.empty()
        self._batch = _BatchNotes([], [], [], was_empty=len(self.rows) == 0)

    @property
    def was_empty(self) -> bool:
        """The cache held no row when the batch began (no other row can hold its points)."""
        return self._batch.was_empty

    def spoil(self) -> None:
        """A part of the batch goes through another path: its writes are not in the cache."""
        self._batch.spoilt = True

    def finish(self, generation: int, ok: bool) -> None:
        """After the batch: merge its new rows, mark rows that other meters' writes made
        stale, and remember the store's write count (or drop everything if it failed)."""
        notes = self._batch
        self._batch = _BatchNotes([], [], [])
        if not ok or notes.spoilt:
            self.rows, self._generation = TickRows.empty(), -1
            return
        rows = self.rows
        if notes.new_rows:
            rows = _merge(rows, notes.new_rows)
        if notes.touched and not notes.was_empty:
            _drop_other_holders(rows, notes)
        self.rows = rows
        self._generation = generation

    def rows_for(self, meter_id: I64) -> CachedRows:
        """The rows of a batch's meters (sorted): views when they are a run of the cache's
        rows (the usual tick), else gathered by a search; zeros where there is none."""
        rows = self.rows
        n = len(meter_id)
        if len(rows) == 0:
            blank = TickRows.zeros(n, wide=True)
            blank.meter_id[:] = meter_id
            none = np.zeros(n, dtype=np.bool_)
            return CachedRows(blank, none, none, np.zeros(n, dtype=np.int64))
        i0 = int(searchsorted(rows.meter_id, meter_id[:1])[0])
        if i0 + n <= len(rows) and np.array_equal(rows.meter_id[i0 : i0 + n], meter_id):
            run = slice(i0, i0 + n)
            got = rows.select(run)
            return CachedRows(got, got.last_boundary >= 0, np.ones(n, dtype=np.bool_), run)
        pos = np.minimum(searchsorted(rows.meter_id, meter_id), len(rows) - 1)
        found = rows.meter_id[pos] == meter_id
        got = rows.select(pos)
        return CachedRows(got, found & (got.last_boundary >= 0), found, pos)

    def store_rows(self, cached: CachedRows, taken: BoolArr, update: TickRows) -> None:
        """Write a batch's rows: rows the cache holds in place (``update`` marks those not
        taken out of step), rows taken that it does not hold as new rows of the batch."""
        if isinstance(cached.at, slice):  # the usual tick: a run of the cache's rows
            self.rows.assign(cached.at, update)
            return
        there = cached.there
        if there.any():
            self.rows.assign(cached.at[there], update.select(there))
        fresh = taken & ~there
        if fresh.any():
            self._batch.new_rows.append(update.select(fresh).narrowed())

    def note_writes(self, holders: tuple[I64, I64], touched: I64) -> None:
        """Supply points this batch wrote: ``holders`` (supply points, meters) through rows
        that now describe them afresh, ``touched`` all of them (any other row holding one is
        stale at :meth:`finish`)."""
        self._batch.holders.append(holders)
        self._batch.touched.append(touched)


def _merge(rows: TickRows, blocks: list[TickRows]) -> TickRows:
    new = _concat(blocks)  # copies: the blocks may be views of read-only Arrow buffers
    if len(rows) == 0:
        return new
    held = rows.meter_id
    if not fits(new.meter_id, held.dtype):  # positions to insert at: in the wider type
        held = held.astype(new.meter_id.dtype)
    at = searchsorted(held, new.meter_id)
    merged = {}
    for f in fields(rows):
        old, added = getattr(rows, f.name), getattr(new, f.name)
        if not fits(added, old.dtype):
            old = old.astype(added.dtype)
        merged[f.name] = np.insert(old, at, added)
    return TickRows(**merged)


def _concat(blocks: list[TickRows]) -> TickRows:
    """One block of the blocks in order, each freed as soon as it is copied (at national
    scale the blocks of a first tick are several GiB; this keeps one copy)."""
    out = TickRows(
        **{
            f.name: np.empty(sum(len(b) for b in blocks), dtype=ROW_DTYPES[f.name])
            for f in fields(TickRows)
        }
    )
    at = 0
    while blocks:
        block = blocks.pop(0)
        end = at + len(block)
        out.assign(slice(at, end), block)
        at = end
        del block
    return out


def _drop_other_holders(rows: TickRows, notes: _BatchNotes) -> None:
    """Rows whose supply point this batch wrote through another meter (a meter exchange, a
    general-path write) no longer describe it: out of step."""
    touched = np.unique(np.concatenate(notes.touched))
    if len(rows) == 0 or len(touched) == 0:
        return
    i = np.minimum(searchsorted(touched, rows.supply_point_key), len(touched) - 1)
    hit = touched[i] == rows.supply_point_key
    if not hit.any():
        return
    at = np.flatnonzero(hit)
    stale = np.ones(len(at), dtype=np.bool_)
    if notes.holders:
        holder_sp = np.concatenate([h[0] for h in notes.holders])
        holder_meter = np.concatenate([h[1] for h in notes.holders])
        if len(holder_sp):
            order = np.argsort(holder_sp, kind="stable")
            hs, hm = holder_sp[order], holder_meter[order]
            j = np.minimum(searchsorted(hs, rows.supply_point_key[at]), len(hs) - 1)
            stale = ~((hs[j] == rows.supply_point_key[at]) & (hm[j] == rows.meter_id[at]))
    rows.last_boundary[at[stale]] = -1
