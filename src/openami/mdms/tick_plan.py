"""A-route ticks through the tick cache (:mod:`openami.mdms.tick_cache`).

A tick is one read per meter, all at one boundary. :func:`plan_tick` takes the reads the
cache can take — the next read of a meter whose facts are in step (or filled from the store,
:mod:`openami.mdms.tick_lookups`), one value per supply point, nothing stored after it —
computes and checks their values (:mod:`openami.mdms.tick_rules`), moves the cache's rows on
and plans what to store: exactly what the general path would store for them. The other
reads go back to the caller for the general path, in the same transaction (no meter in
common); a read identical to the meter's last one (a tick sent twice) adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import READ_SCHEMA
from openami.mdms.columns import int_column, is_sorted, valid_mask
from openami.mdms.ingest_context import IngestContext, PartPlan, VeeIngestResult
from openami.mdms.read_flags import read_flags
from openami.mdms.tick_cache import (
    LAST_UNKNOWN,
    RUN_CAP,
    SAME_UNKNOWN,
    CachedRows,
    TickCache,
    TickRows,
)
from openami.mdms.tick_lookups import TickKeys, fill_cold_rows
from openami.mdms.tick_rules import (
    RunFacts,
    TickRegisters,
    TickValues,
    ValueIndex,
    run_rules,
    tick_values,
)
from openami.mdms.vee import Q_INVALID, Q_MEASURED
from openami.mdms.vee_config import VeeConfig, bit
from openami.storage.duckdb_mdms import VALUE_SCHEMA
from openami.storage.interval_appends import TAKE_COLUMN
from openami.storage.interval_ingest import IngestAppend, IngestTransaction

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]
_U32 = np.uint32


def is_tick(reads: pa.Table) -> bool:
    """One read per meter, all at one boundary, meters ascending."""
    if reads.num_rows == 0:
        return False
    boundaries = pc.min_max(reads.column("boundary"))
    if boundaries["min"].as_py() != boundaries["max"].as_py():
        return False
    return is_sorted(int_column(reads, "meter_id"), strictly=True)


@dataclass
class _Tick:
    """A tick being planned: its reads, the cache's facts for them, what is taken."""

    table: pa.Table
    keys: TickKeys
    registers: TickRegisters
    cached: CachedRows
    rows: TickRows  # the facts per read (cold rows filled from the store)
    cold: BoolArr  # the cache had no row in step for the read's meter and supply point
    taken: BoolArr  # the tick path stores the read
    again: BoolArr  # identical to the meter's last read: nothing to add


def plan_tick(
    tx: IngestTransaction, reads: pa.Table, ctx: IngestContext, cache: TickCache
) -> tuple[PartPlan | None, pa.Table | None]:
    """Plan the reads of a tick (:func:`is_tick`) that the cache can take (``None`` if
    none), and return the others for the general path (``None`` if none). The cache's rows
    move on for the meters taken; the caller stores the plan in the same transaction, and
    :meth:`TickCache.finish` marks the cache in step after the batch."""
    r8 = ctx.vee.rule("V08")
    zero_len, flat_len = int(r8.p("zero_run_slots")), int(r8.p("flat_run_slots"))
    if min(zero_len, flat_len) < 2 or max(zero_len, flat_len) > RUN_CAP:
        return None, reads
    tick = _tick(tx, reads, ctx, cache)
    at = _reads_with_values(tick)
    values = tick_values(tx, tick.keys, tick.registers, tick.rows, at, ctx)
    facts = run_rules(tx, values, tick.rows, at, tick.keys, ctx)
    tick.taken[at.index[facts.needs_general]] = False  # (depends on what nobody knew)
    invalid = (values.flags & _U32(_reject_mask(ctx.vee))) != 0
    means = _V06Means(tick.rows, at, values, facts, invalid, ctx.history_cap)
    checked = _Checked(at, values, facts, invalid, means)
    cache.store_rows(tick.cached, tick.taken, _next_rows(tick, checked))
    rest_at = np.flatnonzero(~tick.taken & ~tick.again)
    if not cache.was_empty:  # else no other row can hold these supply points
        _note_writes(cache, tick, checked, rest_at)
    rest = None if len(rest_at) == 0 else reads.take(pa.array(rest_at))
    return _part_plan(tick, checked), rest


def _tick(tx: IngestTransaction, reads: pa.Table, ctx: IngestContext, cache: TickCache) -> _Tick:
    """The tick's reads as arrays, and the cache's facts for them."""
    n = reads.num_rows
    meter = int_column(reads, "meter_id")
    boundary = int(reads.column("boundary")[0].as_py())
    imp = int_column(reads, "import_register_wh")
    exp = int_column(reads, "export_register_wh")
    exp_valid = valid_mask(reads, "export_register_wh")
    flags = read_flags(reads, meter, imp, exp, exp_valid, ctx.meters, ctx.vee)
    point = ctx.installs.lookup_run(meter, boundary - 1)
    if point is None:
        point = ctx.installs.lookup(meter, np.full(n, boundary - 1, dtype=np.int64))
    keys = TickKeys(meter, boundary, point)
    cached = cache.rows_for(meter)
    rows = cached.rows
    # a row describes the slot's supply point only if it is the one it holds
    cold = ~cached.in_step | ((point >= 0) & (point != rows.supply_point_key))
    taken = np.ones(n, dtype=np.bool_)
    if cold.any():
        rows, general = fill_cold_rows(tx, rows, cold, keys)
        taken &= ~general
    again = cached.in_step & ~cold & (rows.last_boundary == boundary)
    again &= (imp == rows.last_import_register_wh) & (exp_valid == rows.last_export_valid)
    again &= ~exp_valid | (exp == rows.last_export_register_wh)
    registers = TickRegisters(imp, exp, exp_valid, flags)
    return _Tick(reads, keys, registers, cached, rows, cold, taken, again)


def _reads_with_values(tick: _Tick) -> ValueIndex:
    """Reads taken: the next read of the meter (a value) or one after a gap (no value);
    any other read at or before the meter's last one goes the general path, so does a
    value whose supply point has a version at or after the slot, or another value."""
    keys, rows, taken = tick.keys, tick.rows, tick.taken
    taken &= rows.last_boundary < keys.boundary
    has_value = taken & (rows.last_boundary == keys.boundary - 1) & (keys.supply_point_key >= 0)
    taken &= ~has_value | (rows.latest_version_slot < keys.slot)
    has_value &= taken
    if has_value.any():  # one value per supply point
        points = keys.supply_point_key[has_value]
        if not is_sorted(points, strictly=True):
            order = np.argsort(points, kind="stable")
            in_order = points[order]
            dup = np.zeros(len(in_order), dtype=np.bool_)
            dup[1:] = in_order[1:] == in_order[:-1]
            dup[:-1] |= dup[1:]
            if dup.any():
                bad = np.zeros(len(points), dtype=np.bool_)
                bad[order[dup]] = True
                at = np.flatnonzero(has_value)[bad]
                taken[at] = False
                has_value[at] = False
    index = np.flatnonzero(has_value)
    return ValueIndex(index, len(index) == len(taken))


def _reject_mask(cfg: VeeConfig) -> int:
    """Rules whose flag makes a value invalid (V08F shares the action of V08)."""
    reject = cfg.reject_mask()
    if cfg.rule("V08").action == "reject":
        reject |= bit("V08F")
    return reject


class _V06Means:
    """The running means after the tick's values (per value), and which are written."""

    def __init__(
        self,
        rows: TickRows,
        at: ValueIndex,
        values: TickValues,
        facts: RunFacts,
        invalid: BoolArr,
        cap: int,
    ) -> None:
        count, mean_wh = at(rows.v06_count), at(rows.v06_mean_wh)
        self.had_mean = count > 0  # taken now: the cache's rows change below
        ok = ~invalid & ((values.flags & _U32(bit("V06") | bit("V10O"))) == 0)
        k = np.maximum(np.minimum(count.astype(np.int64), cap - 1), 0)
        self.count = np.where(ok, np.minimum(count.astype(np.int64) + 1, cap), count)
        folded = (mean_wh * k + values.import_wh.astype(np.float64)) / (k + 1)
        self.mean_wh = np.where(ok, folded, mean_wh)
        # a stored mean the value leaves as it is is written again (the same numbers): the
        # keys of a part then stay one whole range, which the store writes by a range
        # delete and an append instead of UPDATEs (``duckdb_mdms.set_history``)
        self.written = (ok | self.had_mean) & ~facts.needs_general

    def table(self, supply_point_key: I64) -> tuple[pa.Table | None, BoolArr]:
        """The means to write, by supply point (``None`` if none), and whether each key
        already has a stored one."""
        if not self.written.any():
            return None, np.zeros(0, dtype=np.bool_)
        # every mean (a usual tick): no gather
        h: slice | I64 = slice(None) if self.written.all() else np.flatnonzero(self.written)
        if not is_sorted(supply_point_key[h], strictly=True):
            h = np.flatnonzero(self.written)
            h = h[np.argsort(supply_point_key[h])]
        table = pa.table(
            {
                "supply_point_key": supply_point_key[h],
                "n": self.count[h].astype(np.int64),
                "mean_wh": self.mean_wh[h],
            }
        )
        return table, self.had_mean[h]


@dataclass
class _Checked:
    """A tick's values, checked."""

    at: ValueIndex
    values: TickValues
    facts: RunFacts
    invalid: BoolArr
    means: _V06Means

    @property
    def taken(self) -> BoolArr:
        """Per value: stored by the tick path."""
        return ~self.facts.needs_general


def _next_rows(tick: _Tick, checked: _Checked) -> TickRows:
    """The cache's rows after the tick: the reads taken move the meters on; the values
    taken (and of those the usable ones) move their supply points' facts on."""
    rows, s = tick.rows, tick.keys.slot
    values, facts, invalid, means = checked.values, checked.facts, checked.invalid, checked.means
    merge = _Merge(checked.at, checked.taken)
    merge_usable = _Merge(checked.at, checked.taken & ~invalid)
    day_count = np.where(facts.day_known, facts.day_count_before + ~invalid, -1)
    same_known = facts.last_usable_slot != LAST_UNKNOWN
    return TickRows(
        meter_id=tick.keys.meter_id,
        last_boundary=np.where(
            tick.taken, tick.keys.boundary, np.where(tick.again, rows.last_boundary, -1)
        ).astype(np.int32),
        last_import_register_wh=np.where(
            tick.taken, tick.registers.import_register_wh, rows.last_import_register_wh
        ),
        last_export_register_wh=np.where(
            tick.taken,
            np.where(tick.registers.export_valid, tick.registers.export_register_wh, 0),
            rows.last_export_register_wh,
        ),
        last_export_valid=np.where(tick.taken, tick.registers.export_valid, rows.last_export_valid),
        supply_point_key=merge.wide(rows.supply_point_key, values.supply_point_key),
        latest_version_slot=merge(rows.latest_version_slot, s),
        last_usable_slot=merge_usable(rows.last_usable_slot, s),
        last_usable_import_wh=merge_usable.wide(rows.last_usable_import_wh, values.import_wh),
        last_equals_previous=merge_usable(
            rows.last_equals_previous,
            np.where(same_known, facts.same_as_last, SAME_UNKNOWN),
        ),
        flat_run_slots=merge_usable(rows.flat_run_slots, _next_flat_run(facts)),
        zero_run_slots=merge_usable(rows.zero_run_slots, _next_zero_run(values, facts)),
        day_through_slot=merge(rows.day_through_slot, s),
        day_usable_count=merge(rows.day_usable_count, day_count),
        day_import_wh=merge.wide(
            rows.day_import_wh,
            facts.day_import_before_wh + np.where(invalid, 0, values.import_wh),
        ),
        v06_count=merge.wide(rows.v06_count, means.count),
        v06_mean_wh=merge(rows.v06_mean_wh, means.mean_wh),
    )


class _Merge:
    """Per read: the new value (per value) where ``mask`` (per value) holds, else the old."""

    def __init__(self, at: ValueIndex, mask: BoolArr) -> None:
        self.at, self.mask = at, mask
        #: one value per read: the reads that keep their old value (few: invalid or not taken)
        self.kept = np.flatnonzero(~mask) if at.every else None

    def __call__(self, old: npt.NDArray[Any], new: npt.NDArray[Any] | int) -> Any:
        return self._merged(old, new, old.dtype)

    def wide(self, old: npt.NDArray[Any], new: npt.NDArray[Any] | int) -> Any:
        """As a call, into int64 whatever ``old``'s type: a narrow column of the tick state
        may not hold what a tick writes (:meth:`TickRows.assign` narrows it again where it
        does)."""
        return self._merged(old, new, np.dtype(np.int64))

    def _merged(self, old: npt.NDArray[Any], new: npt.NDArray[Any] | int, dtype: Any) -> Any:
        if self.kept is not None:  # the new column with the few old values put back
            if isinstance(new, np.ndarray):
                out = new.astype(dtype)
            else:
                out = np.full(len(old), new, dtype=dtype)
            out[self.kept] = old[self.kept]
            return out
        out = old.astype(dtype)
        out[self.at.index[self.mask]] = new[self.mask] if isinstance(new, np.ndarray) else new
        return out


def _next_zero_run(values: TickValues, facts: RunFacts) -> I64:
    """The zero run ending at the new value, as a later tick will see it stored."""
    stored_zero = (values.import_wh == 0) & (~values.export_ok | (values.export_wh == 0))
    run = facts.zero_run_slots
    continued = np.where(run < 0, -1, np.minimum(run.astype(np.int64) + 1, RUN_CAP))
    return np.where(stored_zero, np.where(facts.adjacent, continued, 1), 0)


def _next_flat_run(facts: RunFacts) -> I64:
    """The flat run ending just before the new value (see :class:`TickRows`)."""
    flat_last = (facts.last_equals_previous == 1) | facts.same_as_last
    flat_last_known = flat_last | (facts.last_equals_previous != SAME_UNKNOWN)
    run = facts.flat_run_slots
    continued = np.where(run < 0, -1, np.minimum(run.astype(np.int64) + 1, RUN_CAP))
    return np.where(
        facts.adjacent, np.where(flat_last, continued, np.where(flat_last_known, 0, -1)), 0
    )


def _note_writes(cache: TickCache, tick: _Tick, checked: _Checked, rest_at: I64) -> None:
    """Supply points written: through rows that now describe them afresh (filled from the
    store: any other row that held them is stale), or by the general path (``rest_at``)."""
    at, points = checked.at, checked.values.supply_point_key
    fresh = at(tick.cold) & checked.taken
    touched = [points[fresh]]
    if len(rest_at):
        rest_points = tick.keys.supply_point_key[rest_at]
        touched.append(rest_points[rest_points >= 0])
    cache.note_writes((points[fresh], at(tick.keys.meter_id)[fresh]), np.concatenate(touched))


def _part_plan(tick: _Tick, checked: _Checked) -> PartPlan:
    """The reads taken (the others marked, DuckDB skips them as it inserts), the values
    taken as version 1, the running means, and the counts."""
    values, invalid, taken = checked.values, checked.invalid, checked.taken
    points, imp, exp, exp_ok, flags = (
        values.supply_point_key,
        values.import_wh,
        values.export_wh,
        values.export_ok,
        values.flags,
    )
    if not taken.all():
        points, imp, exp, exp_ok = points[taken], imp[taken], exp[taken], exp_ok[taken]
        invalid, flags = invalid[taken], flags[taken]
    n_values = len(points)
    exp_null = invalid | ~exp_ok
    table = pa.table(
        {
            "supply_point_key": points,
            "slot": np.full(n_values, tick.keys.slot, dtype=np.int64),
            "import_wh": pa.array(imp, mask=invalid if bool(invalid.any()) else None),
            "export_wh": pa.array(exp, mask=exp_null if bool(exp_null.any()) else None),
            "qcode": np.where(invalid, Q_INVALID, Q_MEASURED).astype(np.uint8),
            "version": np.ones(n_values, dtype=np.int32),
            "vee_flags": flags.astype(np.int32),
        },
        schema=VALUE_SCHEMA,
    )
    n_taken = int(tick.taken.sum())
    reads = tick.table.select(READ_SCHEMA.names)
    if n_taken < tick.table.num_rows:
        reads = reads.append_column(TAKE_COLUMN, pa.array(tick.taken))
    means, stored = checked.means.table(checked.at(tick.keys.supply_point_key))
    n_again = int(tick.again.sum())
    result = VeeIngestResult(
        n_taken + n_again,
        n_taken,
        n_values,
        n_again,
        int(invalid.sum()),
        int(np.count_nonzero(flags)),
    )
    append = IngestAppend(history_means=means, history_means_stored=stored)
    if n_taken:
        append.reads, append.values = reads, table
    return PartPlan(result, append)
