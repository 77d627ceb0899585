"""VEE ingest: register reads → validated half-hour value versions.

Columnar throughout: a batch is sorted once by (meter, boundary), cut into parts at meter
boundaries, and each part takes one of three paths (:func:`plan_part`): whole meter-days on
fresh ground become day rows (:mod:`openami.mdms.grid`), A-route ticks go through the tick
cache (:mod:`openami.mdms.tick_plan`), everything else through the general path
(:mod:`openami.mdms.general`). Rules run as array expressions; the store
(:mod:`openami.storage.interval_ingest`) sees a few Arrow appends per part plus
range-limited look-ups. Nothing is updated or deleted, so a batch ingested twice (e.g.
re-sent after a crash) adds nothing the second time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import READ_SCHEMA
from openami.clock import is_day_start
from openami.mdms import general
from openami.mdms.columns import int_column
from openami.mdms.grid import plan_grid
from openami.mdms.ingest_context import (
    PART_ROWS,
    IngestContext,
    PartPlan,
    PhaseClock,
    VeeIngestResult,
)
from openami.mdms.memory import release_free_memory
from openami.mdms.tick_cache import TickCache
from openami.mdms.tick_plan import is_tick, plan_tick
from openami.storage.interval_ingest import IngestLogRow, IngestTransaction, IntervalIngest

__all__ = [
    "PART_ROWS",
    "IngestContext",
    "TickCache",
    "VeeIngestResult",
    "ingest_batch",
    "ingest_pieces",
    "plan_part",
]

#: optional columns of a batch: the meter's clock offset [s] (V09), the multiplier it
#: reported (V11)
OPTIONAL_COLUMNS = ("clock_offset_s", "multiplier")


def ingest_batch(
    ctx: IngestContext, batch: pa.Table, timings: dict[str, float] | None = None
) -> VeeIngestResult:
    """Validate and store one batch of register reads (READ_SCHEMA columns, optionally
    :data:`OPTIONAL_COLUMNS`). ``timings`` (if given) accumulates seconds per phase:
    prepare, lookup, validate, store.

    Batches larger than ``ctx.part_rows`` are sorted and cut at meter boundaries into parts
    that are checked one by one (each in a read transaction of its own, so its look-ups see
    only committed rows with zone maps) while a helper thread stores the checked parts: day
    files in one write transaction, committed early only where a part must see the one
    before it stored (a day file's opening reads); ticks in a transaction per part. After a
    crash a batch is stored wholly, not at all, or up to such a point, and ingesting it
    again completes it without duplicates."""
    reads = _normalised(batch)
    if reads.num_rows == 0:
        return VeeIngestResult(0, 0, 0)
    return _ingest_units(ctx, _units(reads, ctx), timings)


def ingest_pieces(
    ctx: IngestContext, pieces: Iterable[pa.Table], timings: dict[str, float] | None = None
) -> VeeIngestResult:
    """:func:`ingest_batch` for a batch that comes in pieces (e.g. a national tick's record
    batches as they come off the bus or a file), taken one at a time so that only the
    pieces in progress are in memory, with the check of one part overlapping the store of
    the one before across pieces. Each piece holds all the reads of its meters, above every
    meter of the pieces before it (a tick in meter order); a piece that breaks this is a
    ``ValueError`` (the pieces before it are stored, as after a crash)."""
    units = _piece_units(pieces, ctx)
    first = next(units, None)
    if first is None:
        return VeeIngestResult(0, 0, 0)
    return _ingest_units(ctx, itertools.chain([first], units), timings)


def _piece_units(pieces: Iterable[pa.Table], ctx: IngestContext) -> Iterator[_Unit]:
    above = None  # the highest meter of the pieces so far
    for piece in pieces:
        reads = _normalised(piece)
        if reads.num_rows == 0:
            continue
        bounds = pc.min_max(reads.column("meter_id"))
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if above is not None and low <= above:
            raise ValueError(
                f"a piece's meters must lie above the pieces' before it: meter {low} "
                f"after meter {above}"
            )
        above = high
        yield from _units(reads, ctx)


def _ingest_units(
    ctx: IngestContext, units: Iterable[_Unit], timings: dict[str, float] | None
) -> VeeIngestResult:
    clock = PhaseClock(timings)
    interval = IntervalIngest(ctx.store)
    cache = ctx.active_tick_cache
    with interval.locked():
        if cache is not None:
            cache.begin(interval.generation)
        try:
            total = _run_units(interval, units, ctx, clock)
        except BaseException:
            if cache is not None:
                cache.finish(interval.generation, ok=False)
            raise
        if cache is not None:
            cache.finish(interval.generation, ok=True)
    if total.rows_in >= ctx.part_rows:  # a large batch: its freed parts back to the system
        release_free_memory()
    ctx.store.background_checkpoint.start_if_due()  # the log folded in before the next tick
    return total


def plan_part(
    tx: IngestTransaction, reads: pa.Table, ctx: IngestContext, clock: PhaseClock
) -> PartPlan:
    """Check one part (one meter's reads are all in one part) on the path that fits it;
    writes nothing."""
    if not ctx.dense or ctx.revalue:
        return general.plan_general(tx, reads, ctx, clock)
    if ctx.tick_cache is not None:
        if is_tick(reads):
            return _plan_tick(tx, reads, ctx, clock, ctx.tick_cache)
        ctx.tick_cache.spoil()
    dense, rest = plan_grid(tx, reads, ctx)
    if dense is None:
        clock.lap("prepare")
        return general.plan_general(tx, reads, ctx, clock)
    clock.lap("validate")
    if rest is None:
        return dense
    # the meters that could not be day rows, in the same transaction (no meter in common)
    return dense.merged(general.plan_general(tx, rest, ctx, clock))


def _plan_tick(
    tx: IngestTransaction, reads: pa.Table, ctx: IngestContext, clock: PhaseClock, cache: TickCache
) -> PartPlan:
    """A tick: the reads the tick cache can take, the others through the general path in
    the same transaction (no meter in common)."""
    taken, rest = plan_tick(tx, reads, ctx, cache)
    clock.lap("validate")
    if taken is None:
        return general.plan_general(tx, reads, ctx, clock)
    if rest is None:
        return taken
    return taken.merged(general.plan_general(tx, rest, ctx, clock))


def _normalised(batch: pa.Table) -> pa.Table:
    """The batch's READ_SCHEMA columns (cast) and the optional ones it has."""
    extra = [c for c in OPTIONAL_COLUMNS if c in batch.column_names]
    reads = batch.select([*READ_SCHEMA.names, *extra])
    return reads.cast(pa.schema([*READ_SCHEMA, *(reads.schema.field(c) for c in extra)]))


@dataclass(frozen=True)
class _Unit:
    """A part to check, and whether the parts before it must be committed first."""

    reads: pa.Table
    after_previous: bool = False


def _units(reads: pa.Table, ctx: IngestContext) -> list[_Unit]:
    """Parts of about ``part_rows`` reads; a day file's opening reads (the 00:00 read that
    closes the previous day) go first, so that the rest is whole days."""
    units: list[_Unit] = []
    for part in _split(reads, ctx.part_rows):
        opening = _opening_reads(part) if ctx.dense and not ctx.revalue else None
        if opening is None:
            units.append(_Unit(part))
        else:
            units += [_Unit(part.filter(opening)), _Unit(part.filter(pc.invert(opening)), True)]
    return units


def _split(reads: pa.Table, part_rows: int) -> list[pa.Table]:
    """Parts of at most about ``part_rows`` rows, each meter's reads in one part."""
    n = reads.num_rows
    if n <= part_rows:
        return [reads]
    meter = int_column(reads, "meter_id")
    if not _in_order(meter, int_column(reads, "boundary"), part_rows):
        order = pc.sort_indices(
            reads,
            [("meter_id", "ascending"), ("boundary", "ascending"), ("received_at", "ascending")],
        )
        reads = reads.take(order)
        meter = int_column(reads, "meter_id")
    parts: list[pa.Table] = []
    start = 0
    while start < n:
        cut = start + part_rows
        if cut >= n:
            parts.append(reads.slice(start))
            break
        change = np.flatnonzero(meter[cut : cut + part_rows] != meter[cut - 1])
        cut = cut + int(change[0]) if len(change) else min(cut + part_rows, n)
        parts.append(reads.slice(start, cut - start))
        start = cut
    return parts


def _in_order(meter: np.ndarray, boundary: np.ndarray, chunk: int) -> bool:
    """Sorted by (meter, boundary), checked chunk by chunk (keeps temporaries small)."""
    for s0 in range(0, len(meter) - 1, chunk):
        m, b = meter[s0 : s0 + chunk + 1], boundary[s0 : s0 + chunk + 1]
        if not bool(np.all((m[1:] > m[:-1]) | ((m[1:] == m[:-1]) & (b[1:] >= b[:-1])))):
            return False
    return True


def _opening_reads(part: pa.Table) -> pa.ChunkedArray | None:
    """Mask of each meter's first read when it lies at a JST day start (00:00, closing the
    day before) and more than a half day of reads follows: a day file with its opening
    read. ``None`` when there is none, or when the part is not sorted by meter/boundary."""
    n = part.num_rows
    if n < 2:
        return None
    meter = int_column(part, "meter_id")
    boundary = int_column(part, "boundary")
    if int(boundary.max()) - int(boundary.min()) < 24:
        return None
    first = np.ones(n, dtype=np.bool_)
    first[1:] = meter[1:] != meter[:-1]
    if not bool(np.all(first[1:] | (boundary[1:] > boundary[:-1]))):
        return None
    heads = np.flatnonzero(first)
    opening = np.zeros(n, dtype=np.bool_)
    opening[heads[is_day_start(boundary[heads])]] = True  # the day start, at first reads
    opening[:-1] &= ~first[1:]  # the meter has more reads after it
    opening[-1] = False if first[-1] else opening[-1]
    if not opening.any() or opening.all():
        return None
    return pa.chunked_array([pa.array(opening)])


def _log_row(plan: PartPlan, ingest_seq: int, ctx: IngestContext) -> IngestLogRow:
    result = plan.result
    return IngestLogRow(
        ingest_seq,
        ctx.recorded_at_s,
        result.rows_in,
        result.reads_new,
        result.values_new,
        ctx.reason,
    )


def _run_one(
    interval: IntervalIngest, unit: _Unit, ctx: IngestContext, clock: PhaseClock
) -> VeeIngestResult:
    with interval.open_part() as tx:
        plan = plan_part(tx, unit.reads, ctx, clock)
        if plan.append.writes_anything():
            log = _log_row(plan, interval.next_ingest_seq(), ctx)
            tx.append(plan.append, log, ctx.history_cap)
    clock.lap("store")
    return plan.result


def _run_units(
    interval: IntervalIngest, units: Iterable[_Unit], ctx: IngestContext, clock: PhaseClock
) -> VeeIngestResult:
    # a list (one batch): all its parts; pieces: those of the first piece (a later part
    # of another kind is stored right either way, only more slowly)
    ahead = units if isinstance(units, list) else list(itertools.islice(units, 2))
    if len(ahead) == 1:  # the only part: checked and stored in one transaction
        return _run_one(interval, ahead[0], ctx, clock)
    # Ticks: a transaction per part, since a tick UPDATEs a V06 mean per supply point and
    # in one transaction over 81.5 M points those updates' undo data made the national tick
    # 68 s instead of 51-58 s. Day files: one write transaction (a commit per part cost
    # more than its append).
    per_part = ctx.active_tick_cache is not None and all(
        not u.after_previous and is_tick(u.reads) for u in ahead
    )
    if ahead is not units:
        units = itertools.chain(ahead, units)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vee-store") as pool:
        writer = _StoreThread(pool, interval, ctx, per_part)
        try:
            total = _check_and_store(interval, units, ctx, clock, writer)
        except BaseException:
            writer.abandon()
            raise
        finally:
            writer.close()
    return total


def _check_and_store(
    interval: IntervalIngest,
    units: Iterable[_Unit],
    ctx: IngestContext,
    clock: PhaseClock,
    writer: _StoreThread,
) -> VeeIngestResult:
    """Check part k+1 while the store thread stores part k."""
    total = VeeIngestResult(0, 0, 0)
    for unit in units:
        if unit.after_previous and writer.pending is not None:
            writer.commit_early()
            clock.lap("store")
        with interval.open_part(lock=False) as tx:
            plan = plan_part(tx, unit.reads, ctx, clock)
        if writer.pending is not None:
            writer.pending.result()
            clock.lap("store")
        if plan.append.writes_anything():
            writer.submit(plan)
        total = total + plan.result
    writer.commit()
    clock.lap("store")
    return total


class _StoreThread:
    """Stores checked parts in a helper thread: all in one write transaction (committed
    early where asked), or (``per_part``) each part in a transaction of its own."""

    def __init__(
        self, pool: ThreadPoolExecutor, interval: IntervalIngest, ctx: IngestContext, per_part: bool
    ) -> None:
        self.pool, self.interval, self.ctx = pool, interval, ctx
        self.writer = None if per_part else interval.writer()
        #: the last part submitted (its result may already have been awaited)
        self.pending: Future[None] | None = None
        if self.writer is not None:
            pool.submit(self.writer.begin).result()

    def submit(self, plan: PartPlan) -> None:
        log = _log_row(plan, self.interval.next_ingest_seq(), self.ctx)
        cap = self.ctx.history_cap
        if self.writer is None:
            self.pending = self.pool.submit(self.interval.append_alone, plan.append, log, cap)
        else:
            self.pending = self.pool.submit(self.writer.append, plan.append, log, cap)

    def commit_early(self) -> None:
        """Wait for the part in progress and commit what is stored (the next part must see
        it), then go on in a new transaction."""
        self._finish_pending()
        if self.writer is not None:
            self.pool.submit(self.writer.commit_and_begin).result()

    def commit(self) -> None:
        self._finish_pending()
        if self.writer is not None:
            self.pool.submit(self.writer.commit).result()

    def _finish_pending(self) -> None:
        if self.pending is not None:
            self.pending.result()
            self.pending = None

    def abandon(self) -> None:
        """After a failure: let the store thread finish, then roll back."""
        if self.pending is not None:
            self.pending.exception()
        if self.writer is not None:
            self.pool.submit(self.writer.roll_back).result()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
