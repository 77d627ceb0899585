"""Dense VEE ingest: a batch of whole meter-days on fresh ground as (meter-day × 48) grids.

Bulk imports and per-meter day logs deliver each meter's 48 reads of a JST day together.
For such a batch the general pipeline (:mod:`openami.mdms.general`) spends most of its time
on bookkeeping that a grid makes unnecessary: pairing reads, looking up the supply point and
meter parameters per read, looking up stored versions. Here each meter-day is one row of a
matrix whose 48 columns are the registers at the boundaries 00:30 … 24:00 that end the day's
slots, next to one vector of the reads at 00:00; values, rules and history are row/column
array operations (:mod:`openami.mdms.grid_rules`), and the result is stored as one
``day_rows`` row per supply point and day (:mod:`openami.storage.day_rows`): version 1 of
each value, next to the reads it came from. A batch whose rows are all complete is reshaped
rather than scattered into its grids.

The path is taken only where it gives exactly what the general path gives (tested by running
both on the same data): rows sorted with no duplicate (meter, boundary), every meter-day with
at least :data:`MIN_READS_PER_DAY` reads and one supply point for the whole day, and nothing
stored yet for those meters and supply points in the batch's range (no reads, values or
day rows; a re-sent batch therefore takes the general path, which adds nothing). Otherwise
:func:`plan_grid` returns ``None`` and the caller uses the general path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import SLOTS_PER_DAY, day_first_slot_of, jst_day_number
from openami.mdms.columns import float_column, int_column, sorted_unique, valid_or_none
from openami.mdms.grid_rules import GridChecks, MeterDayRows, RegisterGrids, check_grids
from openami.mdms.ingest_context import IngestContext, PartPlan, VeeIngestResult
from openami.mdms.read_flags import clock_flags
from openami.mdms.vee_config import bit
from openami.storage.day_rows import DayGrids, OpeningReads, day_rows_table
from openami.storage.interval_ingest import FreshGround, IngestAppend, IngestTransaction

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]
_T = TypeVar("_T", bound=np.generic)
_U32 = np.uint32

#: a meter-day needs this many of its 48 reads in the batch to become a day row
MIN_READS_PER_DAY = 24


@dataclass
class _Part:
    """A part's reads sorted by (meter, boundary), grouped into meter-day rows."""

    reads: pa.Table
    meter_id: I64
    boundaries: tuple[int, int]
    ordered: bool  # was sorted (strictly increasing boundaries per meter) as it came
    read_slot: npt.NDArray[np.signedinteger]  # the slot each read ends
    new_row: BoolArr  # the read begins a meter-day row
    starts: I64  # first read of each row
    counts: I64  # reads per row
    row_meter: I64
    row_first_slot: I64  # first slot of the row's JST day


def plan_grid(
    tx: IngestTransaction, reads: pa.Table, ctx: IngestContext
) -> tuple[PartPlan | None, pa.Table | None]:
    """Validate the meters of a part whose meter-days qualify (see module) as grids.

    Returns the plan for those meters (``None`` if none qualify or the part's range is not
    fresh) and the reads of the other meters (``None`` if there are none), which the caller
    hands to the general path in the same transaction. The two sets share no meter."""
    part = _sorted_part(reads)
    if part is None:
        return None, reads
    received = float_column(part.reads, "received_at")
    source = np.asarray(part.reads.column("source").to_numpy(), dtype=np.uint8)
    unfit, point = _unfit_rows(part, received, source, ctx)
    if unfit.any():
        return _without_unfit_meters(tx, part, unfit, ctx)
    ground = FreshGround(
        int(part.row_meter.min()),
        int(part.row_meter.max()),
        int(point.min()),
        int(point.max()),
        *part.boundaries,
        int(part.row_first_slot.min()),
        int(part.row_first_slot.max()) + SLOTS_PER_DAY - 1,
    )
    if not tx.nothing_stored(ground):
        return None, part.reads
    plan = _plan_days(tx, part, point, received[part.starts], source[part.starts], ctx)
    return (plan, None) if plan is not None else (None, part.reads)


def _sorted_part(reads: pa.Table) -> _Part | None:
    """The part sorted and grouped into meter-day rows; ``None`` where it cannot be grids
    (too few reads or boundaries, e.g. an A-route tick; null or out-of-range keys)."""
    n_in = reads.num_rows
    if n_in < MIN_READS_PER_DAY or reads.column("boundary").null_count:
        return None  # (nulls are the general path's business)
    meter = int_column(reads, "meter_id")
    boundary = int_column(reads, "boundary")
    b_range = pc.min_max(reads.column("boundary"))  # one pass
    b_lo, b_hi = int(b_range["min"].as_py()), int(b_range["max"].as_py())
    if meter.min() < 0 or b_lo < 1 or b_hi - b_lo + 1 < MIN_READS_PER_DAY:
        return None
    ordered = bool(
        np.all(
            (meter[1:] > meter[:-1]) | ((meter[1:] == meter[:-1]) & (boundary[1:] > boundary[:-1]))
        )
    )
    if not ordered:
        order = np.lexsort((boundary, meter))
        meter, boundary = meter[order], boundary[order]
        reads = reads.take(order)
    # boundary b ends slot b - 1 (in 32 bits when the boundaries fit: a fraction of the
    # time of 64-bit division)
    slot: npt.NDArray[np.signedinteger] = boundary.astype(
        np.int32 if b_hi < 2**31 - 64 else np.int64
    )
    slot -= 1
    day = jst_day_number(cast("npt.NDArray[np.int64]", slot))  # (same arithmetic in 32 bits)
    new_row = np.ones(n_in, dtype=np.bool_)
    np.not_equal(day[1:], day[:-1], out=new_row[1:])
    new_row[1:] |= meter[1:] != meter[:-1]
    starts = np.flatnonzero(new_row)
    counts = np.diff(np.append(starts, n_in))
    return _Part(
        reads=reads,
        meter_id=meter,
        boundaries=(b_lo, b_hi),
        ordered=ordered,
        read_slot=slot,
        new_row=new_row,
        starts=starts,
        counts=counts,
        row_meter=meter[starts],
        row_first_slot=day_first_slot_of(slot[starts].astype(np.int64)),
    )


def _unfit_rows(
    part: _Part,
    received: npt.NDArray[np.float64],
    source: npt.NDArray[np.uint8],
    ctx: IngestContext,
) -> tuple[BoolArr, I64]:
    """Rows that cannot be day rows — too few reads, duplicates (V02 is the general path's
    business), more than one receipt time or source, no single supply point all day — and
    each row's supply point."""
    differs = [received[1:] != received[:-1], source[1:] != source[:-1]]
    if not part.ordered:  # sorted strictly increasing boundaries per meter have no duplicate
        slot = part.read_slot
        differs.append(slot[1:] == slot[:-1])
    unfit = part.counts < MIN_READS_PER_DAY
    for d in differs:
        if d.any():  # usually none: one file, one receipt time and source
            odd_at = np.flatnonzero(d & ~part.new_row[1:]) + 1
            unfit[np.searchsorted(part.starts, odd_at, side="right") - 1] = True
    first, meter = part.row_first_slot, part.row_meter
    point = ctx.installs.lookup(meter, first)
    unfit |= (point < 0) | (point != ctx.installs.lookup(meter, first + SLOTS_PER_DAY - 1))
    return unfit, point


def _without_unfit_meters(
    tx: IngestTransaction, part: _Part, unfit: BoolArr, ctx: IngestContext
) -> tuple[PartPlan | None, pa.Table | None]:
    """Grids for the meters whose rows all fit, the other meters' reads for the general
    path: whole meters go one way or the other, so the general path never needs a day row
    of this part as a neighbour."""
    meter = part.row_meter
    meter_start = np.flatnonzero(np.r_[True, meter[1:] != meter[:-1]])
    unfit_meter = np.add.reduceat(unfit, meter_start) > 0
    rows_per_meter = np.diff(np.append(meter_start, len(meter)))
    unfit = np.repeat(unfit_meter, rows_per_meter)
    if unfit.all():
        return None, part.reads
    unfit_read = np.repeat(unfit, part.counts)
    rest = part.reads.filter(pa.array(unfit_read))
    good, _ = plan_grid(tx, part.reads.filter(pa.array(~unfit_read)), ctx)
    return (good, rest) if good is not None else (None, part.reads)


def _plan_days(
    tx: IngestTransaction,
    part: _Part,
    point: I64,
    received: npt.NDArray[np.float64],
    source: npt.NDArray[np.uint8],
    ctx: IngestContext,
) -> PartPlan | None:
    """Grids, values, rules and day rows of a part on fresh ground (``None`` if a value
    does not fit a day row)."""
    rows = MeterDayRows(
        part.row_meter, part.row_first_slot, point, part.counts, ctx.meters.params(part.row_meter)
    )
    grids = _register_grids(part, rows, ctx)
    opening = _opening_reads(tx, rows, grids)
    checks = check_grids(tx, rows, grids, opening, part.boundaries, ctx.vee)
    table = day_rows_table(_day_grids(rows, grids, opening, checks, received, source))
    if table is None:
        return None
    n_in = part.reads.num_rows
    invalid = int(np.count_nonzero(checks.invalid))
    flagged = int(np.count_nonzero(checks.flags))
    result = VeeIngestResult(n_in, n_in, checks.values_new, 0, invalid, flagged)
    return PartPlan(result, IngestAppend(day_rows=table, history_folds=checks.history_folds))


def _register_grids(part: _Part, rows: MeterDayRows, ctx: IngestContext) -> RegisterGrids:
    """The reads laid out as (row × 48) grids: reshaped when every row is complete, else
    scattered by cell (row · 48 + the position of the slot the read ends in its day)."""
    reads = part.reads
    imp_in = int_column(reads, "import_register_wh")
    exp_in = int_column(reads, "export_register_wh")
    exp_valid_in = valid_or_none(reads, "export_register_wh")
    flags_in = _read_flags(reads, imp_in, exp_in, exp_valid_in, rows, ctx)
    # export registers seldom move (most meters export nothing): reads whose export register
    # differs from the read before (a null counts as 0), usually few or none
    exp_moves = np.flatnonzero(exp_in[1:] != exp_in[:-1]) + 1
    moves = np.zeros(len(part.starts), dtype=np.bool_)
    moves[np.searchsorted(part.starts, exp_moves, side="right") - 1] = True
    all_zero = len(exp_moves) == 0 and exp_in[0] == 0
    shape = (len(part.starts), SLOTS_PER_DAY)
    if len(imp_in) == SLOTS_PER_DAY * shape[0]:  # every row complete: the reads in order
        exp_present = None if exp_valid_in is None else exp_valid_in.reshape(shape)
        read_flags = None if flags_in is None else flags_in.reshape(shape)
        return RegisterGrids(
            import_register_wh=imp_in.reshape(shape),
            export_register_wh=exp_in.reshape(shape),
            present=None,
            export_present=exp_present,
            read_flags=read_flags,
            export_moves=moves,
            first_export_register_wh=exp_in[part.starts],
            export_all_zero=all_zero,
        )
    cell = np.repeat(np.arange(shape[0]) * SLOTS_PER_DAY - part.row_first_slot, part.counts)
    cell += part.read_slot
    present = np.zeros(shape, dtype=np.bool_)
    present.ravel()[cell] = True
    return RegisterGrids(
        _scatter(cell, imp_in, shape),
        np.zeros(shape, dtype=np.int64) if all_zero else _scatter(cell, exp_in, shape),
        present,
        present if exp_valid_in is None else _scatter(cell, exp_valid_in, shape),
        None if flags_in is None else _scatter(cell, flags_in, shape),
        moves,
        exp_in[part.starts],
        all_zero,
    )


def _read_flags(
    reads: pa.Table,
    imp_in: I64,
    exp_in: I64,
    exp_valid_in: BoolArr | None,
    rows: MeterDayRows,
    ctx: IngestContext,
) -> npt.NDArray[np.uint32] | None:
    """V09 / V11 per read (``None`` where neither can be set), with the meter parameters
    of each read's row."""
    told = "multiplier" in reads.column_names
    whole_units = bool(np.any(rows.params.unit_wh > 1))
    flags = clock_flags(reads, ctx.vee)
    if flags is None and not told and not whole_units:
        return None
    if flags is None:
        flags = np.zeros(len(imp_in), dtype=_U32)
    if told:
        multiplier = np.repeat(rows.params.multiplier, rows.read_counts)
        flags |= (int_column(reads, "multiplier") != multiplier).astype(_U32) * _U32(bit("V11"))
    if whole_units:
        unit = np.repeat(np.maximum(rows.params.unit_wh, 1), rows.read_counts)
        off_unit = exp_in % unit != 0  # a missing export register reads 0 here
        if exp_valid_in is not None:
            off_unit &= exp_valid_in
        off_unit |= imp_in % unit != 0
        flags |= off_unit.astype(_U32) * _U32(bit("V11"))
    return flags


def _scatter(cell: I64, values: npt.NDArray[_T], shape: tuple[int, int]) -> npt.NDArray[_T]:
    """A grid of ``shape`` with ``values`` at the flat indexes ``cell`` and zeros elsewhere."""
    grid = np.zeros(shape, dtype=values.dtype)
    grid.ravel()[cell] = values
    return grid


def _opening_reads(tx: IngestTransaction, rows: MeterDayRows, grids: RegisterGrids) -> OpeningReads:
    """The read at each row's first boundary: the last read of the row before (same meter,
    the day before) or the stored one."""
    meter, first = rows.meter_id, rows.day_first_slot
    n = len(meter)
    out = OpeningReads(
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=np.bool_),
        np.zeros(n, dtype=np.bool_),
    )
    chained = np.zeros(n, dtype=np.bool_)
    chained[1:] = (meter[1:] == meter[:-1]) & (first[1:] == first[:-1] + SLOTS_PER_DAY)
    c = np.flatnonzero(chained)
    last = SLOTS_PER_DAY - 1
    out.import_register_wh[c] = grids.import_register_wh[c - 1, last]
    out.export_register_wh[c] = grids.export_register_wh[c - 1, last]
    out.present[c] = True if grids.present is None else grids.present[c - 1, last]
    out.export_present[c] = (
        True if grids.export_present is None else grids.export_present[c - 1, last]
    )
    need = np.flatnonzero(~chained)
    if len(need):
        _stored_opening_reads(tx, meter[need], first[need], need, out)
    return out


def _stored_opening_reads(
    tx: IngestTransaction, meter: I64, first: I64, rows: I64, out: OpeningReads
) -> None:
    """Fill ``out`` at ``rows`` with the stored reads of the meters at the days' starts."""
    lo, hi = int(first.min()), int(first.max())
    got = tx.reads_at_day_start(sorted_unique(meter), lo, hi)
    if got.num_rows == 0:
        return
    span = hi - lo + 1
    got_keys = int_column(got, "meter_id") * span + (int_column(got, "boundary") - lo)
    wanted = meter * span + (first - lo)
    i = np.minimum(np.searchsorted(got_keys, wanted), len(got_keys) - 1)
    hit = got_keys[i] == wanted
    at, i = rows[hit], i[hit]
    out.import_register_wh[at] = int_column(got, "import_register_wh")[i]
    out.export_register_wh[at] = int_column(got, "export_register_wh")[i]
    out.present[at] = True
    export_valid = got.column("export_register_wh").is_valid()
    out.export_present[at] = np.asarray(export_valid.to_numpy(zero_copy_only=False))[i]


def _day_grids(
    rows: MeterDayRows,
    grids: RegisterGrids,
    opening: OpeningReads,
    checks: GridChecks,
    received: npt.NDArray[np.float64],
    source: npt.NDArray[np.uint8],
) -> DayGrids:
    return DayGrids(
        supply_point_key=rows.supply_point_key,
        day_first_slot=rows.day_first_slot,
        meter_id=rows.meter_id,
        received_at_s=received,
        source=source,
        opening=opening,
        import_register_wh=grids.import_register_wh,
        export_register_wh=grids.export_register_wh,
        present=grids.present,
        export_present=grids.export_present,
        import_wh=checks.import_wh,
        export_wh=checks.export_wh,
        has_value=checks.has_value,
        export_ok=checks.export_ok,
        invalid=checks.invalid,
        vee_flags=checks.flags,
        derivable=checks.clean & (rows.params.multiplier == 1),
    )
