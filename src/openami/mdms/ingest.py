"""VEE ingest: register reads → validated half-hour value versions, one transaction a batch.

Columnar throughout: the batch is sorted once by (meter, boundary) in NumPy, rules run as
array expressions, and DuckDB sees three Arrow inserts (reads, values, history) plus a few
range-limited lookups of what is already stored. Nothing is updated or deleted, so a batch
ingested twice (e.g. re-sent after a crash) adds nothing the second time.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import astuple, dataclass

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import OUTAGE_KINDS, READ_SCHEMA
from openami.mdms import tick
from openami.mdms.grid import plan_grid
from openami.mdms.indexes import SLOT_BITS, InstallIndex, MeterIndex, run_starts
from openami.mdms.vee import (
    Q_INVALID,
    Q_MEASURED,
    QUALITIES,
    PriorValues,
    ReadSeries,
    SlotContext,
    SlotValues,
    compute_values,
    validate,
)
from openami.mdms.vee_config import VeeConfig, bit
from openami.storage import duckdb_mdms as db
from openami.storage.duckdb_interval import DuckIntervalStore

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class VeeIngestResult:
    rows_in: int
    reads_new: int
    values_new: int
    duplicates: int = 0
    invalid: int = 0
    flagged: int = 0


def _i64(table: pa.Table, name: str) -> I64:
    """A column as int64 (nulls as 0; use ``_valid`` for the mask)."""
    return np.asarray(pc.fill_null(table.column(name), 0).to_numpy(), dtype=np.int64)


def _f64(table: pa.Table, name: str) -> npt.NDArray[np.float64]:
    return np.asarray(pc.fill_null(table.column(name), 0).to_numpy(), dtype=np.float64)


def _valid(table: pa.Table, name: str) -> npt.NDArray[np.bool_]:
    return np.asarray(table.column(name).is_valid().to_numpy(zero_copy_only=False), dtype=bool)


PART_ROWS = 1 << 20  # rows per part: keeps NumPy temporaries small enough to be reused


def ingest_batch(
    store: DuckIntervalStore,
    batch: pa.Table,
    installs: InstallIndex,
    meters: MeterIndex,
    cfg: VeeConfig,
    recorded_at: float,
    reason: str = "register difference",
    revalue: bool = False,
    timings: dict[str, float] | None = None,
    part_rows: int = PART_ROWS,
    dense: bool = True,
) -> VeeIngestResult:
    """Validate and store one batch of register reads (READ_SCHEMA columns, optionally
    ``clock_offset_s`` [s, meter clock minus reference] and ``multiplier``).

    With ``revalue`` reads already stored still produce values (e.g. after the registry
    learnt of a meter exchange late); they are not stored twice. ``timings`` (if given)
    accumulates seconds per phase: prepare, lookup, validate, store.

    Batches larger than ``part_rows`` are sorted and cut at meter boundaries into parts
    that are checked one by one (each in a read transaction of its own, so its look-ups see
    only committed rows with zone maps) while a helper thread appends the checked parts in
    one write transaction. That transaction is committed early only where a unit must see
    the one before it stored (a day file's opening reads): after a crash a batch is stored
    wholly, not at all, or up to that point, and ingesting it again completes it without
    duplicates.

    Parts of whole meter-days on fresh ground go through :mod:`openami.mdms.grid` and are
    stored as day rows (``dense=False`` forces the general path, e.g. to compare both)."""
    clock = _PhaseClock(timings)
    extra = [c for c in ("clock_offset_s", "multiplier") if c in batch.column_names]
    reads = batch.select([*READ_SCHEMA.names, *extra])
    reads = reads.cast(pa.schema([*READ_SCHEMA, *(reads.schema.field(c) for c in extra)]))
    if reads.num_rows == 0:
        return VeeIngestResult(0, 0, 0)
    parts = _split(reads, part_rows)
    # (part, whether it must see the part before it stored): a day file's opening reads (the
    # 00:00 read that closes the previous day) go first, so that the rest is whole days
    units: list[tuple[pa.Table, bool]] = []
    for part in parts:
        opening = _opening_reads(part) if dense and not revalue else None
        if opening is None:
            units.append((part, False))
        else:
            units += [(part.filter(opening), False), (part.filter(pc.invert(opening)), True)]
    cap = int(cfg.rule("V06").p("history_cap"))
    with store.locked():
        keeper = tick.begin(store) if dense and not revalue else None
        try:
            total = _run_units(store, units, extra, installs, meters, cfg, revalue, clock,
                               dense, keeper, recorded_at, reason, cap)  # fmt: skip
        except BaseException:
            tick.finish(store, keeper, ok=False)
            raise
        tick.finish(store, keeper, ok=True)
    return total


def _run_units(
    store: DuckIntervalStore,
    units: list[tuple[pa.Table, bool]],
    extra: list[str],
    installs: InstallIndex,
    meters: MeterIndex,
    cfg: VeeConfig,
    revalue: bool,
    clock: _PhaseClock,
    dense: bool,
    keeper: tick.Keeper | None,
    recorded_at: float,
    reason: str,
    cap: int,
) -> VeeIngestResult:
    if len(units) == 1:
        with store.transaction() as cur:
            plan = _plan(cur, units[0][0], extra, installs, meters, cfg, revalue, clock, dense,
                         keeper)  # fmt: skip
            if plan.new_reads is not None or plan.day_rows is not None:
                _store_plan(cur, plan, store.next_ingest_seq(), recorded_at, reason, cap)
        clock.lap("store")
        return plan.result
    # several parts (disjoint meters): plan part k+1 while a helper thread stores part k.
    # Day files: all parts in one write transaction (a commit per part cost more than its
    # append), committed early only where a unit must see the one before it stored (opening
    # reads). Ticks: a transaction per part, since a tick UPDATEs a V06 mean per supply
    # point and in one transaction over 81.5 M points those updates' undo data made the
    # national tick 68 s instead of 51-58 s.
    per_part = keeper is not None and all(not a and tick.is_tick(u) for u, a in units)
    total = VeeIngestResult(0, 0, 0)
    pending: Future[None] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vee-store") as pool:
        writer = None if per_part else store.cursor()
        if writer is not None:
            pool.submit(writer.execute, "BEGIN TRANSACTION").result()
        try:
            for part, after_previous in units:
                if after_previous and pending is not None:
                    pending.result()
                    pending = None
                    if writer is not None:
                        pool.submit(_commit_and_begin, store, writer).result()
                    clock.lap("store")
                with store.transaction(lock=False) as cur:
                    plan = _plan(cur, part, extra, installs, meters, cfg, revalue, clock, dense,
                                 keeper)  # fmt: skip
                if pending is not None:
                    pending.result()
                    clock.lap("store")
                if plan.new_reads is not None or plan.day_rows is not None:
                    seq = store.next_ingest_seq()
                    if writer is None:
                        pending = pool.submit(
                            _store_part, store, plan, seq, recorded_at, reason, cap
                        )
                    else:
                        pending = pool.submit(
                            _store_plan, writer, plan, seq, recorded_at, reason, cap
                        )
                total = _add(total, plan.result)
            if pending is not None:
                pending.result()
                pending = None
            if writer is not None:
                pool.submit(writer.execute, "COMMIT").result()
            clock.lap("store")
        except BaseException:
            if pending is not None:
                pending.exception()  # let the store thread finish before rolling back
            if writer is not None:
                pool.submit(_roll_back, writer).result()
            raise
        finally:
            if writer is not None:
                store.generation += 1
                writer.close()
    return total


def _store_part(
    store: DuckIntervalStore, plan: _Plan, seq: int, recorded_at: float, reason: str, cap: int
) -> None:
    with store.transaction(lock=False) as cur:  # the batch's caller holds the lock
        _store_plan(cur, plan, seq, recorded_at, reason, cap)


def _commit_and_begin(store: DuckIntervalStore, writer: duckdb.DuckDBPyConnection) -> None:
    writer.execute("COMMIT")
    store.generation += 1
    writer.execute("BEGIN TRANSACTION")


def _roll_back(writer: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction open: the commit itself failed
        writer.execute("ROLLBACK")


def _add(a: VeeIngestResult, b: VeeIngestResult) -> VeeIngestResult:
    return VeeIngestResult(*(x + y for x, y in zip(astuple(a), astuple(b), strict=True)))


def _opening_reads(part: pa.Table) -> pa.ChunkedArray | None:
    """Mask of each meter's first read when it lies at a JST day start (00:00, closing the
    day before) and more than a half day of reads follows: a day file with its opening
    read. ``None`` when there is none, or when the part is not sorted by meter/boundary."""
    n = part.num_rows
    if n < 2:
        return None
    meter = np.asarray(part.column("meter_id").to_numpy(), dtype=np.int64)
    boundary = np.asarray(part.column("boundary").to_numpy(), dtype=np.int64)
    if int(boundary.max()) - int(boundary.min()) < 24:
        return None
    first = np.ones(n, dtype=np.bool_)
    first[1:] = meter[1:] != meter[:-1]
    if not bool(np.all(first[1:] | (boundary[1:] > boundary[:-1]))):
        return None
    heads = np.flatnonzero(first)
    opening = np.zeros(n, dtype=np.bool_)
    opening[heads[(boundary[heads] + 18) % 48 == 0]] = True  # the day start, at first reads
    opening[:-1] &= ~first[1:]  # the meter has more reads after it
    opening[-1] = False if first[-1] else opening[-1]
    if not opening.any() or opening.all():
        return None
    return pa.chunked_array([pa.array(opening)])


@dataclass
class _Plan:
    """What one part appends: reads, value versions and history folds (or day rows and
    history folds), plus its counts."""

    result: VeeIngestResult
    new_reads: pa.Table | None = None
    values: pa.Table | None = None
    history: pa.Table | None = None
    day_rows: pa.Table | None = None
    #: running means computed by the tick path, written as they are (``db.set_history``)
    history_set: pa.Table | None = None
    history_stored: npt.NDArray[np.bool_] | None = None


def _plan(
    cur: duckdb.DuckDBPyConnection,
    reads: pa.Table,
    extra: list[str],
    installs: InstallIndex,
    meters: MeterIndex,
    cfg: VeeConfig,
    revalue: bool,
    clock: _PhaseClock,
    dense: bool,
    keeper: tick.Keeper | None = None,
) -> _Plan:
    if not dense or revalue:
        return _plan_part(cur, reads, extra, installs, meters, cfg, revalue, clock)
    if keeper is not None:
        if tick.is_tick(reads):
            return _plan_tick(cur, reads, extra, installs, meters, cfg, clock, keeper)
        keeper.spoil()
    grid, rest = plan_grid(cur, reads, extra, installs, meters, cfg)
    if grid is None:
        clock.lap("prepare")
        return _plan_part(cur, reads, extra, installs, meters, cfg, revalue, clock)
    clock.lap("validate")
    result = VeeIngestResult(
        grid.rows_in, grid.rows_in, grid.values_new, 0, grid.invalid, grid.flagged
    )
    if rest is None:
        return _Plan(result, history=grid.history, day_rows=grid.day_rows)
    # the meters that could not be day rows, in the same transaction (no meter in common)
    other = _plan_part(cur, rest, extra, installs, meters, cfg, revalue, clock)
    history = [h for h in (grid.history, other.history) if h is not None]
    return _Plan(
        _add(result, other.result),
        other.new_reads,
        other.values,
        pa.concat_tables(history) if history else None,
        grid.day_rows,
    )


def _plan_tick(
    cur: duckdb.DuckDBPyConnection,
    reads: pa.Table,
    extra: list[str],
    installs: InstallIndex,
    meters: MeterIndex,
    cfg: VeeConfig,
    clock: _PhaseClock,
    keeper: tick.Keeper,
) -> _Plan:
    """A tick: the reads the tick state can take (:mod:`openami.mdms.tick`), and the others
    through the general path in the same transaction (no meter in common)."""
    got, rest = tick.plan_tick(cur, reads, extra, installs, meters, cfg, keeper)
    clock.lap("validate")
    if got is None:
        return _plan_part(cur, reads, extra, installs, meters, cfg, False, clock)
    result = VeeIngestResult(
        got.rows_in, got.reads_new, got.values_new, got.duplicates, got.invalid, got.flagged
    )
    plan = _Plan(result, history_set=got.history, history_stored=got.history_stored)
    if got.reads_new:
        plan.new_reads, plan.values = got.new_reads, got.values
    if rest is None:
        return plan
    other = _plan_part(cur, rest, extra, installs, meters, cfg, False, clock)
    plan.result = _add(plan.result, other.result)
    plan.history = other.history
    if other.new_reads is not None:
        assert other.values is not None
        reads_, values_ = [other.new_reads], [other.values]
        if plan.new_reads is not None and plan.values is not None:
            if db.TAKE_COLUMN in plan.new_reads.column_names:
                n_other = other.new_reads.num_rows
                reads_[0] = other.new_reads.append_column(
                    db.TAKE_COLUMN, pa.array(np.ones(n_other, dtype=np.bool_))
                )
            reads_.insert(0, plan.new_reads)
            values_.insert(0, plan.values)
        plan.new_reads, plan.values = pa.concat_tables(reads_), pa.concat_tables(values_)
    return plan


def _store_plan(
    cur: duckdb.DuckDBPyConnection,
    plan: _Plan,
    seq: int,
    recorded_at: float,
    reason: str,
    cap: int,
) -> None:
    if plan.day_rows is not None:
        db.append_day_rows(cur, plan.day_rows, seq)
    if plan.new_reads is not None:
        assert plan.values is not None
        db.append_reads(cur, plan.new_reads, seq)
        db.append_values(cur, plan.values, recorded_at, reason)
    if plan.history is not None:
        db.update_history(cur, plan.history, cap)
    if plan.history_set is not None:
        assert plan.history_stored is not None
        db.set_history(cur, plan.history_set, plan.history_stored)
    cur.execute(
        "INSERT INTO ingest_log (ingest_seq, recorded_at, rows_in, reads_new, values_new, reason) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            seq,
            recorded_at,
            plan.result.rows_in,
            plan.result.reads_new,
            plan.result.values_new,
            reason,
        ],
    )


def _split(reads: pa.Table, part_rows: int) -> list[pa.Table]:
    """Parts of at most about ``part_rows`` rows, each meter's reads in one part."""
    n = reads.num_rows
    if n <= part_rows:
        return [reads]
    meter = np.asarray(reads.column("meter_id").to_numpy(), dtype=np.int64)
    boundary = np.asarray(reads.column("boundary").to_numpy(), dtype=np.int64)
    ordered = True
    for s0 in range(0, n - 1, part_rows):  # chunk-wise check keeps temporaries small
        m, b = meter[s0 : s0 + part_rows + 1], boundary[s0 : s0 + part_rows + 1]
        if not bool(np.all((m[1:] > m[:-1]) | ((m[1:] == m[:-1]) & (b[1:] >= b[:-1])))):
            ordered = False
            break
    if not ordered:
        order = pc.sort_indices(
            reads,
            [("meter_id", "ascending"), ("boundary", "ascending"), ("received_at", "ascending")],
        )
        reads = reads.take(order)
        meter = np.asarray(reads.column("meter_id").to_numpy(), dtype=np.int64)
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


def _plan_part(
    cur: duckdb.DuckDBPyConnection,
    reads: pa.Table,
    extra: list[str],
    installs: InstallIndex,
    meters: MeterIndex,
    cfg: VeeConfig,
    revalue: bool,
    clock: _PhaseClock,
) -> _Plan:
    """Look up what is stored and validate one part; writes nothing."""
    rows_in = reads.num_rows
    meter = _i64(reads, "meter_id")
    boundary = _i64(reads, "boundary")
    if (
        meter.min() < 0
        or meter.max() >= 2**40
        or boundary.min() < 1
        or boundary.max() >= 2**SLOT_BITS - 1
    ):
        raise ValueError("meter_id must be in [0, 2**40) and boundary in [1, 2**21 - 1)")
    lo, hi = int(boundary.min()), int(boundary.max())
    span = hi - lo + 3
    key = meter * span + (boundary - lo + 1)
    if len(key) > 1 and not bool(np.all(key[1:] >= key[:-1])):
        order = np.argsort(key, kind="stable")
        reads, meter, boundary, key = reads.take(order), meter[order], boundary[order], key[order]
    imp = _i64(reads, "import_register_wh")
    exp = _i64(reads, "export_register_wh")
    exp_valid = _valid(reads, "export_register_wh")
    flags = tick.read_flags(reads, extra, meter, imp, exp, exp_valid, meters, cfg)
    # duplicates inside the batch: the first arrival stays; other registers flag V02
    first = run_starts(key)
    grp = np.cumsum(first) - 1
    head = np.flatnonzero(first)[grp]
    differs = (imp != imp[head]) | (exp != exp[head]) | (exp_valid != exp_valid[head])
    conflict = np.bincount(grp, weights=differs.astype(np.float64)) > 0
    flags[first] |= np.where(conflict, bit("V02"), 0).astype(np.uint32)
    keep = first
    duplicates = int(rows_in - keep.sum())

    all_kept = duplicates == 0
    clock.lap("prepare")
    cand = pa.table(
        {
            "row": np.flatnonzero(keep),
            "meter_id": meter if all_kept else meter[keep],
            "boundary": boundary if all_kept else boundary[keep],
            "import_register_wh": imp if all_kept else imp[keep],
            "export_register_wh": reads.column("export_register_wh")
            if all_kept
            else pa.array(exp[keep], mask=~exp_valid[keep]),
        }
    )
    dup = db.duplicate_rows(cur, cand, lo, hi)
    append = keep.copy()
    if len(dup):
        append[dup] = False
        duplicates += len(dup)
    if not revalue:
        keep = append
    new_idx = np.flatnonzero(keep)
    append_idx = np.flatnonzero(append)
    if len(new_idx) == 0:
        return _Plan(VeeIngestResult(rows_in, 0, 0, duplicates))
    if len(new_idx) < rows_in:
        meter, boundary, imp, exp = (
            meter[new_idx],
            boundary[new_idx],
            imp[new_idx],
            exp[new_idx],
        )
        exp_valid, flags = exp_valid[new_idx], flags[new_idx]
    uniq_meters = meter[run_starts(meter)]
    ex = db.existing_reads(cur, pa.table({"meter_id": uniq_meters}), lo - 1, hi + 1)
    clock.lap("lookup")
    series = _merge_series(ex, meter, boundary, imp, exp, exp_valid, flags, span, lo)
    params = meters.params(series.meter_id)
    vals = compute_values(series, params, cfg)
    sp = installs.lookup(vals.meter_id, vals.slot)
    has_sp = sp >= 0
    cap = params.capacity_wh[np.flatnonzero(_pairs(series))]
    if not has_sp.all():
        vals, sp, cap = vals.take(has_sp), sp[has_sp], cap[has_sp]
    clock.lap("validate")
    prior, fetched = _prior(cur, vals, sp, lo, hi, cfg)
    ctx = _context(cur, vals, sp, cap, lo, hi, span, prior)
    clock.lap("lookup")
    validate(vals, ctx, cfg)
    clock.lap("validate")
    add, version = _changed(cur, vals, sp, lo, hi, span, fetched)
    clock.lap("lookup")
    every = len(add) == len(vals)
    out = vals if every else vals.take(add)
    invalid = out.quality == Q_INVALID
    any_invalid = bool(invalid.any())
    values_tbl = pa.table(
        {
            "supply_point_key": sp if every else sp[add],
            "slot": out.slot,
            "import_wh": pa.array(out.import_wh, mask=invalid if any_invalid else None),
            "export_wh": pa.array(
                out.export_wh,
                mask=(invalid | ~out.export_valid)
                if any_invalid or not out.export_valid.all()
                else None,
            ),
            "qcode": out.quality,
            "version": version,
            "vee_flags": out.flags.astype(np.int32),
        },
        schema=db.VALUE_SCHEMA,
    )
    new_reads = reads.select(READ_SCHEMA.names)
    if len(append_idx) < rows_in:
        new_reads = new_reads.take(append_idx)
    history = _history_stats(vals, sp)
    clock.lap("validate")
    result = VeeIngestResult(
        rows_in,
        len(append_idx),
        len(out),
        duplicates,
        int(invalid.sum()),
        int(np.count_nonzero(out.flags)),
    )
    return _Plan(result, new_reads, values_tbl, history)


class _PhaseClock:
    def __init__(self, sink: dict[str, float] | None) -> None:
        self.sink = sink
        self.t = time.perf_counter()

    def lap(self, phase: str) -> None:
        if self.sink is not None:
            now = time.perf_counter()
            self.sink[phase] = self.sink.get(phase, 0.0) + now - self.t
            self.t = now


def _pairs(series: ReadSeries) -> npt.NDArray[np.bool_]:
    m, b = series.meter_id, series.boundary
    return (m[1:] == m[:-1]) & (b[1:] == b[:-1] + 1) & (series.is_new[1:] | series.is_new[:-1])


def _merge_series(
    ex: pa.Table,
    meter: I64,
    boundary: I64,
    imp: I64,
    exp: I64,
    exp_valid: npt.NDArray[np.bool_],
    flags: npt.NDArray[np.uint32],
    span: int,
    lo: int,
) -> ReadSeries:
    """New reads plus stored neighbours; a new read replaces the stored one for its key."""
    n_new = len(meter)
    is_new = np.ones(n_new, dtype=np.bool_)
    if ex.num_rows == 0:
        return ReadSeries(meter, boundary, imp, exp, exp_valid, is_new, flags)
    e_m = _i64(ex, "meter_id")
    e_b = _i64(ex, "boundary")
    # both sides are sorted by (meter, boundary): insert the stored reads the batch does not
    # replace at their places (O(n) copies instead of a sort)
    nk = meter * span + (boundary - lo + 1)
    ek = e_m * span + (e_b - lo + 1)
    pos = np.searchsorted(nk, ek)
    hit = (pos < n_new) & (nk[np.minimum(pos, n_new - 1)] == ek)
    kept = np.flatnonzero(~hit)
    at = pos[kept]
    # where each side lands (as np.insert(new, at, old) would put them), computed once for
    # all seven columns; a stored read before each new one (one A-route tick) interleaves
    n_out = n_new + len(at)
    interleave = len(at) == n_new and bool(np.all(at == np.arange(n_new)))
    old_pos = at + np.arange(len(at))
    new_pos = np.ones(n_out, dtype=np.bool_)
    new_pos[old_pos] = False
    new_at = np.flatnonzero(new_pos)

    def merge(
        new: npt.NDArray[np.generic], old: npt.NDArray[np.generic]
    ) -> npt.NDArray[np.generic]:
        out = np.empty(n_out, dtype=new.dtype)
        if interleave:
            out[0::2] = old if len(kept) == len(old) else old[kept]
            out[1::2] = new
        else:
            out[old_pos] = old[kept]
            out[new_at] = new
        return out

    return ReadSeries(
        merge(meter, e_m).astype(np.int64, copy=False),
        merge(boundary, e_b).astype(np.int64, copy=False),
        merge(imp, _i64(ex, "import_register_wh")).astype(np.int64, copy=False),
        merge(exp, _i64(ex, "export_register_wh")).astype(np.int64, copy=False),
        merge(exp_valid, _valid(ex, "export_register_wh")).astype(np.bool_, copy=False),
        merge(is_new, np.zeros(len(e_m), np.bool_)).astype(np.bool_, copy=False),
        merge(flags, np.zeros(len(e_m), np.uint32)).astype(np.uint32, copy=False),
    )


def _context(
    cur: duckdb.DuckDBPyConnection,
    vals: SlotValues,
    sp: I64,
    cap: npt.NDArray[np.float64],
    lo: int,
    hi: int,
    span: int,
    prior: PriorValues | None,
) -> SlotContext:
    n = len(vals)
    mean = np.zeros(n)
    count = np.zeros(n, dtype=np.int64)
    if n:
        keys = sp[run_starts(sp)]
        hist = db.history(cur, pa.table({"supply_point_key": keys}))
        if hist.num_rows:
            hk = _i64(hist, "supply_point_key")
            i = np.minimum(np.searchsorted(hk, sp), len(hk) - 1)
            found = hk[i] == sp
            mean = np.where(found, _f64(hist, "mean_wh")[i], 0.0)
            count = np.where(found, _i64(hist, "n")[i], 0)
    outage = np.zeros(n, dtype=np.bool_)
    tamper = np.zeros(n, dtype=np.bool_)
    events = db.events_between(cur, (lo - 1) * 1800.0, (hi + 1) * 1800.0)
    if events.num_rows and n:
        vkey = vals.meter_id * span + (vals.slot - lo + 1)
        for ev in events.to_pylist():  # one Python step per event, not per reading
            s0 = int(np.floor(ev["start_s"] / 1800.0))
            s1 = int(np.ceil(ev["end_s"] / 1800.0)) - 1
            k0 = ev["meter_id"] * span + max(s0 - lo + 1, 0)
            k1 = ev["meter_id"] * span + min(s1 - lo + 1, span - 1)
            i0, i1 = np.searchsorted(vkey, k0, "left"), np.searchsorted(vkey, k1, "right")
            target = outage if ev["kind"] in OUTAGE_KINDS else tamper
            target[i0:i1] = True
    return SlotContext(cap, mean, count, outage, tamper, sp, prior)


#: a tick (one value per supply point, all in one slot) looks back only for the points whose
#: new value can continue a V08 run (see :func:`_tick_candidates`)
TICK_CANDIDATES = True


def _prior(
    cur: duckdb.DuckDBPyConnection, vals: SlotValues, sp: I64, lo: int, hi: int, cfg: VeeConfig
) -> tuple[PriorValues | None, pa.Table | None]:
    """For a batch too narrow to hold a whole zero/flat run (e.g. one A-route tick), the
    stored values just before it, so that V08 sees runs that began earlier; also the
    current versions it fetched (slots up to ``hi``), which :func:`_changed` reuses."""
    r8 = cfg.rule("V08")
    run = int(max(r8.p("zero_run_slots"), r8.p("flat_run_slots")))
    batch_slots = hi - lo + 1
    need_run = batch_slots < run
    # V07L: a narrow batch that completes a JST day needs the day's stored values
    need_day = batch_slots < 48 and bool(np.any((vals.slot + 18) % 48 == 47))
    if len(vals) == 0 or not (need_run or need_day):
        return None, None
    first = lo - 1 - max(run if need_run else 0, 48 if need_day else 0)
    # sorted unique keys (np.unique hashes, which costs more than sorting sorted keys)
    ks = sp if len(sp) < 2 or bool(np.all(sp[1:] >= sp[:-1])) else np.sort(sp)
    keys = ks[run_starts(ks)]
    tick = len(keys) == len(sp) and bool(np.all(vals.slot == vals.slot[0]))
    if TICK_CANDIDATES and tick and not need_day:
        got = _tick_prior(cur, vals, sp, keys, first, hi)
    else:
        got = db.current_versions(cur, pa.table({"supply_point_key": keys}), first, hi)
    if got.num_rows == 0:
        return None, got
    width = hi - first + 2
    gk, gs = _i64(got, "supply_point_key"), _i64(got, "slot")
    usable = pc.is_in(
        got.column("quality"), value_set=pa.array(["measured", "estimated", "edited"])
    )
    known = _valid(got, "import_wh") & np.asarray(
        pc.fill_null(usable, False).to_numpy(zero_copy_only=False), dtype=np.bool_
    )
    # stored values of slots the batch recomputes are left out (membership by binary
    # search in the sorted batch keys: np.isin hashes both sides, several times slower)
    batch_keys = np.sort(sp * width + (vals.slot - first))
    got_keys = gk * width + (gs - first)
    at = np.minimum(np.searchsorted(batch_keys, got_keys), len(batch_keys) - 1)
    keep = known & (batch_keys[at] != got_keys)
    exp = _i64(got, "export_wh")[keep]
    imp = _i64(got, "import_wh")[keep]
    return PriorValues(gk[keep], gs[keep], imp, (imp == 0) & (exp == 0)), got


def _tick_prior(
    cur: duckdb.DuckDBPyConnection,
    vals: SlotValues,
    sp: I64,
    keys: I64,
    first: int,
    hi: int,
) -> pa.Table:
    """Current versions for a tick (one value per supply point, all in slot ``s``): slots
    ``s - 1 … hi`` of every supply point, and the look-back ``first … s - 2`` only for
    :func:`_tick_candidates` — the V08 flags of the others cannot depend on it. At national
    scale that reads one stored slot instead of a run's length of them."""
    s = int(vals.slot[0])
    near = db.current_versions(cur, pa.table({"supply_point_key": keys}), s - 1, hi)
    cand = _tick_candidates(vals, sp, near, s)
    if len(cand) == 0 or first > s - 2:
        return near
    far = db.current_versions(cur, pa.table({"supply_point_key": cand}), first, s - 2)
    if far.num_rows == 0:
        return near
    both = pa.concat_tables([far, near.cast(far.schema)])
    order = pc.sort_indices(both, [("supply_point_key", "ascending"), ("slot", "ascending")])
    return both.take(order)


def _tick_candidates(vals: SlotValues, sp: I64, near: pa.Table, s: int) -> I64:
    """Sorted supply points of a tick whose new value (slot ``s``) may be in a V08 run that
    reaches back: a zero, or a positive value equal to the known stored value of slot
    ``s - 1`` (a run needs consecutive slots, and a flat run's values each equal a neighbour),
    or any point with a known stored value after ``s`` (the run could come from there)."""
    imp, exp = vals.import_wh, vals.export_wh
    cand = (imp == 0) & (~vals.export_valid | (exp == 0))
    if near.num_rows:
        gk, gs = _i64(near, "supply_point_key"), _i64(near, "slot")
        usable = pc.is_in(
            near.column("quality"), value_set=pa.array(["measured", "estimated", "edited"])
        )
        known = _valid(near, "import_wh") & np.asarray(
            pc.fill_null(usable, False).to_numpy(zero_copy_only=False), dtype=np.bool_
        )
        gv = _i64(near, "import_wh")
        for pick, equal in ((known & (gs == s - 1), True), (known & (gs > s), False)):
            pk, pv = gk[pick], gv[pick]
            if len(pk):
                at = np.minimum(np.searchsorted(pk, sp), len(pk) - 1)
                hit = pk[at] == sp
                cand |= hit & (pv[at] == imp) & (imp > 0) if equal else hit
    return np.sort(sp[cand])


def _changed(
    cur: duckdb.DuckDBPyConnection,
    vals: SlotValues,
    sp: I64,
    lo: int,
    hi: int,
    span: int,
    fetched: pa.Table | None = None,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int32]]:
    """Indexes of values that differ from the current version (or have none) and their new
    version numbers. Automatic processing never replaces a manual edit. ``fetched``: current
    versions already read for a wider slot range ending at ``hi``."""
    if len(sp) == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int32)
    if fetched is not None:
        prev = fetched.filter(pc.greater_equal(fetched.column("slot"), lo - 1))
    else:
        keys = sp[run_starts(sp)]
        prev = db.current_versions(cur, pa.table({"supply_point_key": keys}), lo - 1, hi)
    if prev.num_rows == 0:
        return np.arange(len(vals)), np.ones(len(vals), dtype=np.int32)
    ck = _i64(prev, "supply_point_key") * span + (_i64(prev, "slot") - lo + 1)
    vk = sp * span + (vals.slot - lo + 1)
    i = np.minimum(np.searchsorted(ck, vk), len(ck) - 1)
    found = ck[i] == vk
    p_imp_null = ~_valid(prev, "import_wh")[i]
    p_exp_null = ~_valid(prev, "export_wh")[i]
    p_imp = _i64(prev, "import_wh")[i]
    p_exp = _i64(prev, "export_wh")[i]
    # stored quality names as codes (-1: a name not in QUALITIES) for integer comparisons
    p_code = pc.fill_null(pc.index_in(prev.column("quality"), value_set=pa.array(QUALITIES)), -1)
    p_q = np.asarray(p_code.to_numpy(), dtype=np.int64)[i]
    invalid = vals.quality == Q_INVALID
    n_imp_null = invalid
    n_exp_null = invalid | ~vals.export_valid
    same = (
        found
        & (p_q == vals.quality)
        & (p_imp_null == n_imp_null)
        & (n_imp_null | (p_imp == vals.import_wh))
        & (p_exp_null == n_exp_null)
        & (n_exp_null | (p_exp == vals.export_wh))
    )
    edited = found & (p_q == QUALITIES.index("edited"))
    add = np.flatnonzero(~same & ~edited)
    version = np.where(found, _i64(prev, "version")[i], 0)[add] + 1
    return add, version.astype(np.int32)


def _history_stats(vals: SlotValues, sp: I64) -> pa.Table | None:
    """Per supply point: count and sum of measured, unflagged imports (for V06's mean)."""
    ok = (vals.quality == Q_MEASURED) & ((vals.flags & (bit("V06") | bit("V10O"))) == 0)
    if not ok.any():
        return None
    k, v = sp[ok], vals.import_wh[ok].astype(np.float64)
    starts = np.flatnonzero(run_starts(k))
    return pa.table(
        {
            "supply_point_key": k[starts],
            "n": np.diff(np.append(starts, len(k))).astype(np.int64),
            "sum_wh": np.add.reduceat(v, starts),
        }
    )
