"""The general VEE path: any register reads, with what is stored around them.

Reads are sorted by (meter, boundary); duplicates inside the batch keep the first arrival
(V02 where the registers differ), reads identical to stored ones add nothing, and the
stored neighbours (boundaries ``lo - 1 … hi + 1``) join the series so that every slot with
a new read at either end gets its value. Values take the rules of :mod:`openami.mdms.vee`
with the stored context (running means, events, the values before a narrow batch,
:mod:`openami.mdms.lookback`), and a value becomes a new version only where it differs from
the current one. Backfills, corrections, partial days and whatever the dense and tick paths
do not take come here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from openami.bus.messages import READ_SCHEMA
from openami.clock import slot_start_s
from openami.mdms.columns import (
    int_column,
    is_sorted,
    run_starts,
    valid_mask,
)
from openami.mdms.events import event_slot_masks
from openami.mdms.indexes import SLOT_BITS
from openami.mdms.ingest_context import IngestContext, PartPlan, PhaseClock, VeeIngestResult
from openami.mdms.lookback import changed_versions, prior_values, running_means
from openami.mdms.read_flags import read_flags
from openami.mdms.vee import (
    Q_INVALID,
    Q_MEASURED,
    PriorValues,
    ReadSeries,
    SlotContext,
    SlotValues,
    compute_values,
    validate,
)
from openami.mdms.vee_config import bit
from openami.storage.duckdb_mdms import VALUE_SCHEMA
from openami.storage.interval_ingest import IngestAppend, IngestTransaction

I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]
BoolArr = npt.NDArray[np.bool_]


@dataclass
class _Reads:
    """A part's reads sorted by (meter, boundary), as arrays."""

    table: pa.Table
    meter_id: I64
    boundary: I64
    import_register_wh: I64
    export_register_wh: I64
    export_valid: BoolArr
    flags: U32  # per read: V02, V09, V11
    boundaries: tuple[int, int]  # the part's first and last boundary

    def take(self, index: npt.NDArray[np.intp]) -> _Reads:
        """The arrays (not the table) at ``index``."""
        return _Reads(
            self.table,
            self.meter_id[index],
            self.boundary[index],
            self.import_register_wh[index],
            self.export_register_wh[index],
            self.export_valid[index],
            self.flags[index],
            self.boundaries,
        )


def plan_general(
    tx: IngestTransaction, reads: pa.Table, ctx: IngestContext, clock: PhaseClock
) -> PartPlan:
    """Look up what is stored and validate one part; writes nothing."""
    rows_in = reads.num_rows
    batch, first = _sorted_reads(reads, ctx)
    clock.lap("prepare")
    keep, append = _not_stored(tx, batch, first, ctx.revalue)
    duplicates = rows_in - int(np.count_nonzero(append))
    new_at, append_at = np.flatnonzero(keep), np.flatnonzero(append)
    if len(new_at) == 0:
        return PartPlan(VeeIngestResult(rows_in, 0, 0, duplicates))
    new = batch if len(new_at) == rows_in else batch.take(new_at)
    lo, hi = batch.boundaries
    series = _series(tx, new, lo, hi)
    clock.lap("lookup")
    vals, point, capacity_wh = _slot_values(series, ctx)
    clock.lap("validate")
    prior, fetched = prior_values(tx, vals, point, (lo, hi), ctx.vee, ctx.lookback_candidates_only)
    context = _slot_context(tx, vals, point, capacity_wh, (lo, hi), prior)
    clock.lap("lookup")
    validate(vals, context, ctx.vee)
    clock.lap("validate")
    add, version = changed_versions(tx, vals, point, (lo, hi), fetched)
    clock.lap("lookup")
    out = vals if len(add) == len(vals) else vals.take(add)
    new_reads = batch.table.select(READ_SCHEMA.names)
    if len(append_at) < rows_in:
        new_reads = new_reads.take(append_at)
    append_rows = IngestAppend(
        reads=new_reads,
        values=_values_table(out, point if len(add) == len(vals) else point[add], version),
        history_folds=_history_folds(vals, point),
    )
    clock.lap("validate")
    invalid = int(np.count_nonzero(out.quality == Q_INVALID))
    flagged = int(np.count_nonzero(out.flags))
    result = VeeIngestResult(rows_in, len(append_at), len(out), duplicates, invalid, flagged)
    return PartPlan(result, append_rows)


def _sorted_reads(reads: pa.Table, ctx: IngestContext) -> tuple[_Reads, BoolArr]:
    """The reads sorted by (meter, boundary) with their read flags, and where each
    (meter, boundary) first arrives: a later read of it with other registers flags V02 on
    the first one and is dropped."""
    meter, boundary = int_column(reads, "meter_id"), int_column(reads, "boundary")
    if (
        meter.min() < 0
        or meter.max() >= 2**40
        or boundary.min() < 1
        or boundary.max() >= 2**SLOT_BITS - 1
    ):
        raise ValueError("meter_id must be in [0, 2**40) and boundary in [1, 2**21 - 1)")
    lo, hi = int(boundary.min()), int(boundary.max())
    key = meter * (hi - lo + 3) + (boundary - lo + 1)
    if not is_sorted(key):
        order = np.argsort(key, kind="stable")
        reads, meter, boundary, key = reads.take(order), meter[order], boundary[order], key[order]
    imp = int_column(reads, "import_register_wh")
    exp = int_column(reads, "export_register_wh")
    exp_valid = valid_mask(reads, "export_register_wh")
    flags = read_flags(reads, meter, imp, exp, exp_valid, ctx.meters, ctx.vee)
    first = run_starts(key)
    group = np.cumsum(first) - 1
    head = np.flatnonzero(first)[group]
    differs = (imp != imp[head]) | (exp != exp[head]) | (exp_valid != exp_valid[head])
    conflict = np.bincount(group, weights=differs.astype(np.float64)) > 0
    flags[first] |= np.where(conflict, bit("V02"), 0).astype(np.uint32)
    return _Reads(reads, meter, boundary, imp, exp, exp_valid, flags, (lo, hi)), first


def _not_stored(
    tx: IngestTransaction, batch: _Reads, first: BoolArr, revalue: bool
) -> tuple[BoolArr, BoolArr]:
    """(reads that make values, reads to append): first arrivals not identical to a stored
    read (with ``revalue`` stored ones make values too, but are not appended twice)."""
    all_first = bool(first.all())
    candidates = pa.table(
        {
            "row": np.flatnonzero(first),
            "meter_id": batch.meter_id if all_first else batch.meter_id[first],
            "boundary": batch.boundary if all_first else batch.boundary[first],
            "import_register_wh": (
                batch.import_register_wh if all_first else batch.import_register_wh[first]
            ),
            "export_register_wh": (
                batch.table.column("export_register_wh")
                if all_first
                else pa.array(batch.export_register_wh[first], mask=~batch.export_valid[first])
            ),
        }
    )
    stored = tx.duplicate_rows(candidates, *batch.boundaries)
    append = first.copy()
    if len(stored):
        append[stored] = False
    return (first if revalue else append), append


def _series(tx: IngestTransaction, new: _Reads, lo: int, hi: int) -> ReadSeries:
    """The new reads with the stored ones around them (boundaries ``lo - 1 … hi + 1``); a
    new read replaces the stored one of its key."""
    meters = new.meter_id[run_starts(new.meter_id)]
    stored = tx.existing_reads(meters, lo - 1, hi + 1)
    is_new = np.ones(len(new.meter_id), dtype=np.bool_)
    if stored.num_rows == 0:
        return ReadSeries(
            new.meter_id,
            new.boundary,
            new.import_register_wh,
            new.export_register_wh,
            new.export_valid,
            is_new,
            new.flags,
        )
    merge = _SeriesMerge(new, stored, hi - lo + 3, lo)
    n_stored = stored.num_rows
    return ReadSeries(
        merge(new.meter_id, int_column(stored, "meter_id")).astype(np.int64, copy=False),
        merge(new.boundary, int_column(stored, "boundary")).astype(np.int64, copy=False),
        merge(new.import_register_wh, int_column(stored, "import_register_wh")).astype(
            np.int64, copy=False
        ),
        merge(new.export_register_wh, int_column(stored, "export_register_wh")).astype(
            np.int64, copy=False
        ),
        merge(new.export_valid, valid_mask(stored, "export_register_wh")).astype(
            np.bool_, copy=False
        ),
        merge(is_new, np.zeros(n_stored, np.bool_)).astype(np.bool_, copy=False),
        merge(new.flags, np.zeros(n_stored, np.uint32)).astype(np.uint32, copy=False),
    )


class _SeriesMerge:
    """Where the stored reads the batch does not replace go between the new ones. Both
    sides are sorted by (meter, boundary), so they are interleaved by position (O(n)
    copies, no sort), computed once for all columns; a stored read before each new one
    (one A-route tick) is a plain interleave."""

    def __init__(self, new: _Reads, stored: pa.Table, span: int, lo: int) -> None:
        n_new = len(new.meter_id)
        new_keys = new.meter_id * span + (new.boundary - lo + 1)
        stored_keys = int_column(stored, "meter_id") * span + (
            int_column(stored, "boundary") - lo + 1
        )
        pos = np.searchsorted(new_keys, stored_keys)
        hit = (pos < n_new) & (new_keys[np.minimum(pos, n_new - 1)] == stored_keys)
        self.kept = np.flatnonzero(~hit)
        self.n_stored = len(stored_keys)
        at = pos[self.kept]
        self.n_out = n_new + len(at)
        self.interleave = len(at) == n_new and bool(np.all(at == np.arange(n_new)))
        self.stored_at = at + np.arange(len(at))
        new_pos = np.ones(self.n_out, dtype=np.bool_)
        new_pos[self.stored_at] = False
        self.new_at = np.flatnonzero(new_pos)

    def __call__(
        self, new: npt.NDArray[np.generic], stored: npt.NDArray[np.generic]
    ) -> npt.NDArray[np.generic]:
        out = np.empty(self.n_out, dtype=new.dtype)
        if self.interleave:
            out[0::2] = stored if len(self.kept) == self.n_stored else stored[self.kept]
            out[1::2] = new
        else:
            out[self.stored_at] = stored[self.kept]
            out[self.new_at] = new
        return out


def _slot_values(
    series: ReadSeries, ctx: IngestContext
) -> tuple[SlotValues, I64, npt.NDArray[np.float64]]:
    """Values of the slots with a new read at either end (V04, read flags), for the slots
    whose meter is installed at a supply point: values, supply points, capacities."""
    params = ctx.meters.params(series.meter_id)
    vals = compute_values(series, params, ctx.vee)
    point = ctx.installs.lookup(vals.meter_id, vals.slot)
    m, b = series.meter_id, series.boundary
    pairs = (m[1:] == m[:-1]) & (b[1:] == b[:-1] + 1) & (series.is_new[1:] | series.is_new[:-1])
    capacity_wh = params.capacity_wh[np.flatnonzero(pairs)]
    has_point = point >= 0
    if not has_point.all():
        vals, point, capacity_wh = vals.take(has_point), point[has_point], capacity_wh[has_point]
    return vals, point, capacity_wh


def _slot_context(
    tx: IngestTransaction,
    vals: SlotValues,
    point: I64,
    capacity_wh: npt.NDArray[np.float64],
    boundaries: tuple[int, int],
    prior: PriorValues | None,
) -> SlotContext:
    """What the rules compare the values against: running means (V06), events (V10) and
    the stored values before the batch."""
    if len(vals):
        mean_wh, count = running_means(tx, point[run_starts(point)], point)
    else:
        mean_wh, count = np.zeros(0), np.zeros(0, dtype=np.int64)
    lo, hi = boundaries
    events = tx.events_between(slot_start_s(lo - 1), slot_start_s(hi + 1))
    outage, tamper = event_slot_masks(events, vals.meter_id, vals.slot)
    return SlotContext(capacity_wh, mean_wh, count, outage, tamper, point, prior)


def _values_table(out: SlotValues, point: I64, version: npt.NDArray[np.int32]) -> pa.Table:
    invalid = out.quality == Q_INVALID
    any_invalid = bool(invalid.any())
    export_null = invalid | ~out.export_valid
    return pa.table(
        {
            "supply_point_key": point,
            "slot": out.slot,
            "import_wh": pa.array(out.import_wh, mask=invalid if any_invalid else None),
            "export_wh": pa.array(
                out.export_wh,
                mask=export_null if any_invalid or not out.export_valid.all() else None,
            ),
            "qcode": out.quality,
            "version": version,
            "vee_flags": out.flags.astype(np.int32),
        },
        schema=VALUE_SCHEMA,
    )


def _history_folds(vals: SlotValues, point: I64) -> pa.Table | None:
    """Per supply point: count and sum of measured imports not flagged V06/V10O (folded
    into V06's running mean)."""
    ok = (vals.quality == Q_MEASURED) & ((vals.flags & (bit("V06") | bit("V10O"))) == 0)
    if not ok.any():
        return None
    keys, import_wh = point[ok], vals.import_wh[ok].astype(np.float64)
    starts = np.flatnonzero(run_starts(keys))
    return pa.table(
        {
            "supply_point_key": keys[starts],
            "n": np.diff(np.append(starts, len(keys))).astype(np.int64),
            "sum_wh": np.add.reduceat(import_wh, starts),
        }
    )
