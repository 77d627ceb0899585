"""Values and VEE rules on a dense part's (meter-day × 48) register grids.

The general path's rules (:func:`openami.mdms.vee.compute_values` and
:func:`openami.mdms.vee.validate`) as whole-grid expressions: a value is one subtraction of
neighbouring columns, each rule a few comparisons per cell. Most cells are alike (a value,
no flag), so the rare ones are found once and handled as index arrays: negative deltas,
zero values, equal neighbours, flagged rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from openami.clock import SLOTS_PER_DAY, slot_start_s
from openami.mdms.columns import sorted_unique
from openami.mdms.events import event_slot_masks
from openami.mdms.lookback import running_means
from openami.mdms.vee import MeterParams, is_rollover, run_masks
from openami.mdms.vee_config import VeeConfig, bit
from openami.storage.day_rows import OpeningReads
from openami.storage.interval_ingest import IngestTransaction

I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]
BoolArr = npt.NDArray[np.bool_]
_U32 = np.uint32


@dataclass
class MeterDayRows:
    """A dense part's meter-day rows (sorted by meter, then day)."""

    meter_id: I64
    day_first_slot: I64
    supply_point_key: I64
    read_counts: I64  # reads of the row in the part
    params: MeterParams  # per row


@dataclass
class RegisterGrids:
    """The reads at the 48 boundaries that end each row's slots, as (row × 48) grids, and
    where they are there (``None``: everywhere; ``export_present is present``: export
    registers wherever there are reads)."""

    import_register_wh: I64
    export_register_wh: I64
    present: BoolArr | None
    export_present: BoolArr | None
    read_flags: U32 | None  # V09 / V11 per read (``None``: none can be set)
    #: rows whose export register moves (within the row; against the day-start read is
    #: checked with the opening reads): the others' export differences are 0
    export_moves: BoolArr
    #: per row: the export register of its first read
    first_export_register_wh: I64
    #: every export register of the part reads 0 (none moves)
    export_all_zero: bool


@dataclass
class GridChecks:
    """Values, flags and what the store needs of them."""

    import_wh: I64
    export_wh: I64
    has_value: BoolArr  # both ends of the slot were read
    export_ok: BoolArr  # … with export registers (the same object as has_value if always)
    flags: U32
    invalid: BoolArr
    clean: BoolArr  # per row: 48 unflagged values
    history_folds: pa.Table | None  # supply_point_key, n, sum_wh (V06)
    values_new: int


def check_grids(
    tx: IngestTransaction,
    rows: MeterDayRows,
    grids: RegisterGrids,
    opening: OpeningReads,
    boundaries: tuple[int, int],
    cfg: VeeConfig,
) -> GridChecks:
    """Values (V04 on negative deltas) and the rules V06-V10 on the cells that have one."""
    has, export_ok = _value_masks(grids, opening)
    flags = _spilled_read_flags(grids.read_flags, has.shape)
    high = rows.params.capacity_wh * cfg.rule("V07").p("high_factor")
    deltas = _GridDeltas(rows.params, high, cfg.rule("V04").p("rollover_window"), flags)
    imp = deltas.of(grids.import_register_wh, opening.import_register_wh, has)
    exp = _export_values(deltas, grids, opening, export_ok)
    _flag(flags, imp > high[:, None], "V07")
    _flag_spikes(tx, flags, imp, rows.supply_point_key, cfg)
    outage = _flag_events(tx, flags, rows, boundaries)
    zero = np.flatnonzero(imp == 0)  # zero values: few, so kept as indexes
    zero_ok = has.ravel()[zero] & (~export_ok.ravel()[zero] | (exp.ravel()[zero] == 0))
    if outage is not None:
        zero_ok &= ~outage.ravel()[zero]
    _flag_runs(flags, has, zero[zero_ok], imp, rows, cfg)
    # a row is full (48 values) when it has 48 reads and the day's first boundary was read
    full = (rows.read_counts == SLOTS_PER_DAY) & opening.present
    row_sum = imp.sum(axis=1)  # exact on full rows (other rows are not judged by V07L)
    flags[_low_days(full, row_sum, rows, outage, cfg)] |= _U32(bit("V07L"))
    partial = np.flatnonzero(~full)  # rows with cells without a value: no flags there
    if len(partial):
        flags[partial] = np.where(has[partial], flags[partial], _U32(0))
    clean = full & (np.bitwise_or.reduce(flags, axis=1) == 0)
    dirty = np.flatnonzero(~clean)
    invalid = np.zeros(has.shape, dtype=np.bool_)
    invalid[dirty] = (flags[dirty] & _U32(_reject_mask(cfg))) != 0
    values_new = SLOTS_PER_DAY * int(np.count_nonzero(full))
    values_new += int(np.count_nonzero(has[partial]))
    checks = GridChecks(imp, exp, has, export_ok, flags, invalid, clean, None, values_new)
    checks.history_folds = _history_folds(rows.supply_point_key, row_sum, dirty, checks)
    return checks


def _value_masks(grids: RegisterGrids, opening: OpeningReads) -> tuple[BoolArr, BoolArr]:
    """Cells with a value (both ends read), and with an export value."""
    has = both_ends(grids.present, opening.present)
    if grids.export_present is grids.present and np.array_equal(
        opening.export_present, opening.present
    ):
        return has, has
    return has, both_ends(grids.export_present, opening.export_present)


def both_ends(present: BoolArr | None, before: BoolArr) -> BoolArr:
    """Per cell: the reads at both ends of the slot are there (``before``: the read at the
    row's first boundary; ``present`` None: every read of the rows)."""
    n = len(before)
    has = np.empty((n, SLOTS_PER_DAY), dtype=np.bool_)
    if present is None:
        has[:, 1:] = True
        has[:, 0] = before
    else:
        np.logical_and(present[:, 1:], present[:, :-1], out=has[:, 1:])
        np.logical_and(present[:, 0], before, out=has[:, 0])
    return has


def _spilled_read_flags(read_flags: U32 | None, shape: tuple[int, ...]) -> U32:
    """A read's flags mark both slots it ends or starts (the day's opening read is stored
    already: its flags are not repeated)."""
    if read_flags is None:
        return np.zeros(shape, dtype=_U32)
    flags = read_flags.copy()
    flags[:, 1:] |= read_flags[:, :-1]
    return flags


class _GridDeltas:
    """Register differences of grid rows, judged for V04 / V04R where negative."""

    def __init__(
        self, params: MeterParams, high: npt.NDArray[np.float64], window: float, flags: U32
    ) -> None:
        self.params, self.high, self.window, self.flags = params, high, window, flags
        self.unit_multiplier = bool(np.all(params.multiplier == 1))

    def of(self, reg: I64, before: I64, valid: BoolArr, rows: I64 | None = None) -> I64:
        """Differences of the rows (``rows``: only these); ``before``: the reads at the
        rows' first boundaries."""
        if rows is not None:
            reg, before, valid = reg[rows], before[rows], valid[rows]
        d = np.empty(reg.shape, dtype=np.int64)
        np.subtract(reg[:, 1:], reg[:, :-1], out=d[:, 1:])
        np.subtract(reg[:, 0], before, out=d[:, 0])
        negative = np.flatnonzero(d < 0)
        negative = negative[valid.ravel()[negative]]
        if len(negative):  # rare: judge the negative deltas one by one as arrays
            self._judge(reg, before, d, negative, rows)
        multiplier = self.params.multiplier
        if self.unit_multiplier:
            return d
        return d * (multiplier if rows is None else multiplier[rows])[:, None]

    def _judge(self, reg: I64, before: I64, d: I64, negative: I64, rows: I64 | None) -> None:
        r, c = np.divmod(negative, SLOTS_PER_DAY)
        last = np.where(c > 0, reg.ravel()[negative - 1], before[r])  # the register before
        g = r if rows is None else rows[r]  # row in the part
        modulus = self.params.modulus_wh[g]
        d_negative = d.ravel()[negative]
        roll = is_rollover(
            last, d_negative, modulus, self.params.multiplier[g], self.high[g], self.window
        )
        d.ravel()[negative[roll]] += modulus[roll]
        at = g * SLOTS_PER_DAY + c
        self.flags.ravel()[at[roll]] |= _U32(bit("V04R"))
        self.flags.ravel()[at[~roll]] |= _U32(bit("V04"))


def _export_values(
    deltas: _GridDeltas, grids: RegisterGrids, opening: OpeningReads, export_ok: BoolArr
) -> I64:
    """Export differences only in rows where an export register moves (within the row or
    against the day-start read); in the others every difference that has both ends is 0.
    Where not ``export_ok`` the difference is meaningless, and never read."""
    moved = grids.export_moves | (grids.first_export_register_wh != opening.export_register_wh)
    moved_rows = np.flatnonzero(moved)
    shape = grids.export_register_wh.shape
    if len(moved_rows):
        exp = np.zeros(shape, dtype=np.int64)
        exp[moved_rows] = deltas.of(
            grids.export_register_wh, opening.export_register_wh, export_ok, moved_rows
        )
        return exp
    if grids.export_all_zero:
        return grids.export_register_wh  # all zeros, as every difference (only read)
    return np.zeros(shape, dtype=np.int64)


def _flag(flags: U32, where: BoolArr, rule: str) -> None:
    """Set the rule's bit in the cells ``where`` (usually few or none)."""
    if where.any():
        np.bitwise_or(flags, _U32(bit(rule)), out=flags, where=where)


def _flag_spikes(
    tx: IngestTransaction, flags: U32, imp: I64, supply_point_key: I64, cfg: VeeConfig
) -> None:
    """V06 against each supply point's running mean (as stored before the batch)."""
    mean_wh, count = running_means(tx, sorted_unique(supply_point_key), supply_point_key)
    r6 = cfg.rule("V06")
    judged = count >= r6.p("min_history")
    if judged.any():
        # imp > min_wh and imp > factor · mean, as one comparison per cell
        limit = np.maximum(float(r6.p("min_wh")), r6.p("factor") * mean_wh)
        _flag(flags, imp > np.where(judged, limit, np.inf)[:, None], "V06")


def _flag_events(
    tx: IngestTransaction, flags: U32, rows: MeterDayRows, boundaries: tuple[int, int]
) -> BoolArr | None:
    """V10O / V10 from the event periods overlapping the part; returns the outage cells
    (``None``: no event at all)."""
    lo, hi = boundaries
    events = tx.events_between(slot_start_s(lo - 1), slot_start_s(hi + 1))
    if events.num_rows == 0:
        return None
    n = len(rows.meter_id)
    slots = rows.day_first_slot[:, None] + np.arange(SLOTS_PER_DAY)
    meter = np.repeat(rows.meter_id, SLOTS_PER_DAY)
    outage, tamper = event_slot_masks(events, meter, slots.ravel())
    outage, tamper = outage.reshape(n, SLOTS_PER_DAY), tamper.reshape(n, SLOTS_PER_DAY)
    _flag(flags, outage, "V10O")
    _flag(flags, tamper, "V10")
    return outage


def _flag_runs(
    flags: U32, has: BoolArr, zero: I64, imp: I64, rows: MeterDayRows, cfg: VeeConfig
) -> None:
    """V08 / V08F on the meters that can hold a run (enough zero or equal neighbouring
    values), with the general path's own run finder on their values in series order.
    ``zero``: the flat indexes of the zero values (not in an outage)."""
    r8 = cfg.rule("V08")
    zero_len, flat_len = int(r8.p("zero_run_slots")), int(r8.p("flat_run_slots"))
    meter = rows.meter_id
    n = len(meter)
    meter_start = np.flatnonzero(np.r_[True, meter[1:] != meter[:-1]])
    zero_row = zero // SLOTS_PER_DAY
    zeros_per_meter = np.add.reduceat(np.bincount(zero_row, minlength=n), meter_start)
    # equal neighbours counted loosely (cells without a value, zeros): a superset is enough
    equal_per_row = np.bincount(
        np.flatnonzero(imp[:, 1:] == imp[:, :-1]) // (SLOTS_PER_DAY - 1), minlength=n
    )
    equal_per_meter = np.add.reduceat(equal_per_row, meter_start)
    # every value of a flat run has an equal neighbour (vee.run_masks): a run of flat_len
    # values holds at least flat_len // 2 - 1 equal pairs inside one day, minus one across
    # a day edge
    candidate = (zeros_per_meter >= max(zero_len, 1)) | (
        equal_per_meter >= max(flat_len // 2 - 2, 0)
    )
    if not candidate.any():
        return
    rows_per_meter = np.diff(np.append(meter_start, n))
    sub = np.flatnonzero(np.repeat(candidate, rows_per_meter))
    sub_has = has[sub]
    at = np.full(n, -1, dtype=np.int64)  # position of a candidate row in sub
    at[sub] = np.arange(len(sub))
    sub_zero = np.zeros((len(sub), SLOTS_PER_DAY), dtype=np.bool_)
    zero_at = at[zero_row]
    sub_zero[zero_at[zero_at >= 0], (zero % SLOTS_PER_DAY)[zero_at >= 0]] = True
    key = np.repeat(meter[sub], SLOTS_PER_DAY).reshape(len(sub), SLOTS_PER_DAY)[sub_has]
    slot = (rows.day_first_slot[sub][:, None] + np.arange(SLOTS_PER_DAY))[sub_has]
    zero_run, flat_run = run_masks(
        key, slot, imp[sub][sub_has], sub_zero[sub_has], zero_len, flat_len
    )
    add = np.zeros((len(sub), SLOTS_PER_DAY), dtype=_U32)
    add[sub_has] = zero_run.astype(_U32) * _U32(bit("V08")) | flat_run.astype(_U32) * _U32(
        bit("V08F")
    )
    flags[sub] |= add


def _low_days(
    full: BoolArr, row_sum: I64, rows: MeterDayRows, outage: BoolArr | None, cfg: VeeConfig
) -> BoolArr:
    """V07 low: a full row (a whole day of values) whose total is at most its limit."""
    r7 = cfg.rule("V07")
    low_wh, low_fraction = r7.p("low_daily_wh"), r7.params.get("low_daily_fraction", 0.0)
    limit = np.fmax(low_wh, low_fraction * rows.params.capacity_wh * SLOTS_PER_DAY)
    low = full & (row_sum <= limit)
    if outage is not None:
        low &= ~outage.any(axis=1)
    return low


def _reject_mask(cfg: VeeConfig) -> int:
    reject = cfg.reject_mask()
    if cfg.rule("V08").action == "reject":
        reject |= bit("V08F")
    return reject


def _history_folds(
    supply_point_key: I64, row_sum: I64, dirty: I64, checks: GridChecks
) -> pa.Table | None:
    """Per row: count and sum of measured imports not flagged V06/V10O (folded per supply
    point); clean rows count all 48 values, the ``dirty`` others are summed cell by cell."""
    n = np.where(checks.clean, SLOTS_PER_DAY, 0).astype(np.int64)
    total = np.where(checks.clean, row_sum, 0).astype(np.float64)
    if len(dirty):
        flags, unusable = checks.flags[dirty], _U32(bit("V06") | bit("V10O"))
        ok = checks.has_value[dirty] & ~checks.invalid[dirty] & ((flags & unusable) == 0)
        n[dirty] = ok.sum(axis=1)
        total[dirty] = np.where(ok, checks.import_wh[dirty], 0).sum(axis=1)
    keep = n > 0
    if not keep.any():
        return None
    return pa.table(
        {"supply_point_key": supply_point_key[keep], "n": n[keep], "sum_wh": total[keep]}
    )
