"""Dense VEE ingest: a batch of whole meter-days on fresh ground as (meter-day × 48) grids.

Bulk imports and per-meter day logs deliver each meter's 48 reads of a JST day together.
For such a batch the general pipeline (:mod:`openami.mdms.ingest`) spends most of its time
on bookkeeping that a grid makes unnecessary: pairing reads, looking up the supply point and
meter parameters per read, looking up stored versions. Here each meter-day is one row of a
matrix whose 48 columns are the registers at the boundaries 00:30 … 24:00 that end the day's
slots, next to one vector of the reads at 00:00; values, rules and history are row/column
array operations, and the result is stored as one ``day_rows`` row per supply point and day
(``storage.duckdb_interval``): version 1 of each value, next to the reads it came from.

Most cells are alike (a read, a value, no flag), so the rare ones are found once and handled
as index arrays: negative deltas, zero values, equal neighbours, flagged rows. A batch whose
rows are all complete is reshaped rather than scattered into its grids.

The path is taken only where it gives exactly what the general path gives (tested by running
both on the same data): rows sorted with no duplicate (meter, boundary), every meter-day with
at least :data:`MIN_READS_PER_DAY` reads and one supply point for the whole day, and nothing
stored yet for those meters and supply points in the batch's range (no reads, values or
day rows; a re-sent batch therefore takes the general path, which adds nothing). Otherwise
:func:`plan_grid` returns ``None`` and the caller uses the general path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import OUTAGE_KINDS, QCODE_NONE
from openami.mdms.indexes import InstallIndex, MeterIndex
from openami.mdms.vee import Q_INVALID, Q_MEASURED, _run_masks
from openami.mdms.vee_config import VeeConfig, bit
from openami.storage import duckdb_mdms as db

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]
_T = TypeVar("_T", bound=np.generic)

#: a meter-day needs this many of its 48 reads in the batch to become a day row
MIN_READS_PER_DAY = 24
_U32 = np.uint32


@dataclass
class GridPlan:
    """What a dense part appends: day rows and history folds, plus its counts."""

    rows_in: int
    values_new: int
    invalid: int
    flagged: int
    day_rows: pa.Table
    history: pa.Table | None


def int_column(table: pa.Table, name: str) -> I64:
    """A column as int64, nulls as 0 (copied only where there are nulls)."""
    col = table.column(name)
    if col.null_count:
        col = pc.fill_null(col, 0)
    return np.asarray(col.to_numpy(), dtype=np.int64)


def _valid(table: pa.Table, name: str) -> BoolArr | None:
    """Validity of a column, ``None`` when it has no nulls."""
    col = table.column(name)
    if col.null_count == 0:
        return None
    return np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)


def plan_grid(
    cur: duckdb.DuckDBPyConnection,
    reads: pa.Table,
    extra: list[str],
    installs: InstallIndex,
    meters: MeterIndex,
    cfg: VeeConfig,
) -> tuple[GridPlan | None, pa.Table | None]:
    """Validate the meters of a part whose meter-days qualify (see module) as grids.

    Returns the plan for those meters (``None`` if none qualify or the part's range is not
    fresh) and the reads of the other meters (``None`` if there are none), which the caller
    hands to the general path in the same transaction. The two sets share no meter."""
    n_in = reads.num_rows
    if n_in < MIN_READS_PER_DAY:
        return None, reads
    meter = int_column(reads, "meter_id")
    boundary = int_column(reads, "boundary")
    if reads.column("boundary").null_count:
        return None, reads  # (the general path's business)
    b_range = pc.min_max(reads.column("boundary"))  # one pass
    b_lo, b_hi = int(b_range["min"].as_py()), int(b_range["max"].as_py())
    if meter.min() < 0 or b_lo < 1:
        return None, reads
    if b_hi - b_lo + 1 < MIN_READS_PER_DAY:
        return None, reads  # e.g. an A-route tick: one boundary for every meter
    ordered = bool(
        np.all(
            (meter[1:] > meter[:-1]) | ((meter[1:] == meter[:-1]) & (boundary[1:] > boundary[:-1]))
        )
    )
    if not ordered:
        order = np.lexsort((boundary, meter))
        meter, boundary = meter[order], boundary[order]
        reads = reads.take(order)
    # meter-day rows: boundary b ends slot b-1, whose JST day starts at slot 48·d - 18
    # (in 32 bits when the boundaries fit: a fraction of the time of 64-bit division)
    t: npt.NDArray[np.signedinteger] = boundary.astype(np.int32 if b_hi < 2**31 - 64 else np.int64)
    t += 17
    day = t // 48
    new_row = np.ones(n_in, dtype=np.bool_)
    np.not_equal(day[1:], day[:-1], out=new_row[1:])
    new_row[1:] |= meter[1:] != meter[:-1]
    starts = np.flatnonzero(new_row)
    counts = np.diff(np.append(starts, n_in))
    r_meter = meter[starts]
    r_day = day[starts].astype(np.int64)
    r_first = r_day * 48 - 18  # first slot of the row's day
    # rows that cannot be day rows: too few reads, duplicates (V02 is the general path's
    # business), more than one receipt time or source, no single supply point all day
    received = np.asarray(_float_col(reads, "received_at"), dtype=np.float64)
    source = np.asarray(reads.column("source").to_numpy(), dtype=np.uint8)
    differs = [received[1:] != received[:-1], source[1:] != source[:-1]]
    if not ordered:  # sorted strictly increasing boundaries per meter have no duplicate
        differs.append(boundary[1:] == boundary[:-1])
    odd_at: list[I64] = []
    for d in differs:
        if d.any():  # usually none: one file, one receipt time and source
            odd_at.append(np.flatnonzero(d & ~new_row[1:]) + 1)
    bad_row = counts < MIN_READS_PER_DAY
    for at in odd_at:
        bad_row[np.searchsorted(starts, at, side="right") - 1] = True
    sp = installs.lookup(r_meter, r_first)
    bad_row |= (sp < 0) | (sp != installs.lookup(r_meter, r_first + 47))
    if bad_row.any():
        # whole meters go one way or the other, so the general path never needs a day row
        # of this part as a neighbour
        meter_start = np.flatnonzero(np.r_[True, r_meter[1:] != r_meter[:-1]])
        bad_meter = np.add.reduceat(bad_row, meter_start) > 0
        rows_per_meter = np.diff(np.append(meter_start, len(r_meter)))
        bad_row = np.repeat(bad_meter, rows_per_meter)
        if bad_row.all():
            return None, reads
        bad_read = np.repeat(bad_row, counts)
        rest = reads.filter(pa.array(bad_read))
        good, _ = plan_grid(cur, reads.filter(pa.array(~bad_read)), extra, installs, meters, cfg)
        return (good, rest) if good is not None else (None, reads)
    n_rows = len(starts)
    if not _fresh(cur, r_meter, sp, b_lo, b_hi, r_first):
        return None, reads

    # registers at the 48 boundaries that end each row's slots, as (row × 48) grids, and
    # where they are present (None: everywhere); prev_*: the read at the day's first boundary
    imp_in = int_column(reads, "import_register_wh")
    exp_in = int_column(reads, "export_register_wh")
    exp_valid_in = _valid(reads, "export_register_wh")
    # export registers seldom move (most meters export nothing): reads whose export register
    # differs from the read before (a null counts as 0), usually few or none
    exp_moves = np.flatnonzero(exp_in[1:] != exp_in[:-1]) + 1
    params = meters.params(r_meter)
    flags_in: npt.NDArray[np.uint32] | None = None  # per read: V09 / V11
    if "clock_offset_s" in extra or "multiplier" in extra or bool(np.any(params.unit_wh > 1)):
        flags_in = np.zeros(n_in, dtype=_U32)
        if "clock_offset_s" in extra:
            off = np.abs(np.asarray(pc.fill_null(reads.column("clock_offset_s"), 0).to_numpy()))
            tolerance = cfg.rule("V09").p("tolerance_s")
            flags_in |= (off > tolerance).astype(_U32) * _U32(bit("V09"))
        if "multiplier" in extra:
            bad = int_column(reads, "multiplier") != np.repeat(params.multiplier, counts)
            flags_in |= bad.astype(_U32) * _U32(bit("V11"))
        if bool(np.any(params.unit_wh > 1)):
            unit = np.repeat(np.maximum(params.unit_wh, 1), counts)
            off_unit = exp_in % unit != 0  # a missing export register reads 0 here
            if exp_valid_in is not None:
                off_unit &= exp_valid_in
            off_unit |= imp_in % unit != 0
            flags_in |= off_unit.astype(_U32) * _U32(bit("V11"))
    shape = (n_rows, 48)
    present: BoolArr | None = None
    exp_present: BoolArr | None = None
    read_flags: npt.NDArray[np.uint32] | None = None
    if n_in == 48 * n_rows:  # every row complete: its reads are the row, in order
        imp_reg, exp_reg = imp_in.reshape(shape), exp_in.reshape(shape)
        if exp_valid_in is not None:
            exp_present = exp_valid_in.reshape(shape)
        if flags_in is not None:
            read_flags = flags_in.reshape(shape)
    else:
        # cell of each read: row · 48 + position of the read (and of the slot it ends) in
        # its day, which is t - 48 · day
        cell = np.repeat((np.arange(n_rows) - r_day) * 48, counts)
        cell += t
        imp_reg = _scatter(cell, imp_in, shape)
        if len(exp_moves) == 0 and exp_in[0] == 0:
            exp_reg = np.zeros(shape, dtype=np.int64)  # every export register reads 0
        else:
            exp_reg = _scatter(cell, exp_in, shape)
        present = np.zeros(shape, dtype=np.bool_)
        present.ravel()[cell] = True
        exp_present = present if exp_valid_in is None else _scatter(cell, exp_valid_in, shape)
        if flags_in is not None:
            read_flags = _scatter(cell, flags_in, shape)
    prev = _fill_previous(cur, r_meter, r_first, imp_reg, exp_reg, present, exp_present)
    prev_imp, prev_exp, prev_present, prev_exp_present = prev

    # values (general path: vee.compute_values); has: both ends of the slot were read
    has = _both_ends(present, prev_present)
    if exp_present is present and np.array_equal(prev_exp_present, prev_present):
        exp_ok = has
    else:
        exp_ok = _both_ends(exp_present, prev_exp_present)
    if read_flags is None:
        flags = np.zeros(shape, dtype=_U32)
    else:
        flags = read_flags.copy()
        flags[:, 1:] |= read_flags[:, :-1]
    mult = params.multiplier
    unit_mult = bool(np.all(mult == 1))
    high = params.capacity_wh * cfg.rule("V07").p("high_factor")
    window = cfg.rule("V04").p("rollover_window")

    def delta(reg: I64, before: I64, valid: BoolArr, rows: I64 | None = None) -> I64:
        """Register differences of the rows (``rows``: only these), V04 judged on them."""
        if rows is not None:
            reg, before, valid = reg[rows], before[rows], valid[rows]
        d = np.empty(reg.shape, dtype=np.int64)
        np.subtract(reg[:, 1:], reg[:, :-1], out=d[:, 1:])
        np.subtract(reg[:, 0], before, out=d[:, 0])
        neg = np.flatnonzero(d < 0)
        neg = neg[valid.ravel()[neg]]
        if len(neg):  # rare: judge the negative deltas one by one as arrays
            r, c = np.divmod(neg, 48)
            last = np.where(c > 0, reg.ravel()[neg - 1], before[r])  # register before it
            g = r if rows is None else rows[r]  # row in the part
            mod = params.modulus_wh[g]
            d_neg = d.ravel()[neg]
            roll = (last >= mod * (1.0 - window)) & ((d_neg + mod) * mult[g] <= high[g])
            d.ravel()[neg[roll]] += mod[roll]
            at = g * 48 + c
            flags.ravel()[at[roll]] |= _U32(bit("V04R"))
            flags.ravel()[at[~roll]] |= _U32(bit("V04"))
        if unit_mult:
            return d
        return d * (mult if rows is None else mult[rows])[:, None]

    imp = delta(imp_reg, prev_imp, has)
    # export differences only in rows where an export register moves (within the row or
    # against the day-start read); in the others every difference that has both ends is 0.
    # Where not exp_ok the difference is meaningless, and never read.
    moved = np.zeros(n_rows, dtype=np.bool_)
    moved[np.searchsorted(starts, exp_moves, side="right") - 1] = True
    moved |= exp_in[starts] != prev_exp
    exp_rows = np.flatnonzero(moved)
    if len(exp_rows):
        exp = np.zeros(shape, dtype=np.int64)
        exp[exp_rows] = delta(exp_reg, prev_exp, exp_ok, exp_rows)
    elif len(exp_moves) == 0 and exp_in[0] == 0:
        exp = exp_reg  # all zeros, as every difference (only read from here on)
    else:
        exp = np.zeros(shape, dtype=np.int64)

    # rules (general path: vee.validate), on the cells that have a value
    f = flags
    _flag(f, imp > high[:, None], "V07")
    hist_mean, hist_n = _history(cur, sp)
    r6 = cfg.rule("V06")
    judged = hist_n >= r6.p("min_history")
    if judged.any():
        # imp > min_wh and imp > factor · mean, as one comparison per cell
        limit = np.maximum(float(r6.p("min_wh")), r6.p("factor") * hist_mean)
        _flag(f, imp > np.where(judged, limit, np.inf)[:, None], "V06")
    outage, tamper = _events(cur, r_meter, r_first, b_lo, b_hi)
    if outage is not None:
        _flag(f, outage, "V10O")
    if tamper is not None:
        _flag(f, tamper, "V10")
    r8 = cfg.rule("V08")
    zlen, flen = int(r8.p("zero_run_slots")), int(r8.p("flat_run_slots"))
    # zero values (import and export 0, not in an outage) by cell: few, so kept as indexes
    zero = np.flatnonzero(imp == 0)
    z_ok = has.ravel()[zero] & (~exp_ok.ravel()[zero] | (exp.ravel()[zero] == 0))
    if outage is not None:
        z_ok &= ~outage.ravel()[zero]
    zero = zero[z_ok]
    _runs_into(f, has, zero, imp, r_meter, r_first, zlen, flen)
    r7 = cfg.rule("V07")
    low_wh, low_frac = r7.p("low_daily_wh"), r7.params.get("low_daily_fraction", 0.0)
    # a row is full (48 values) when it has 48 reads and the day's first boundary was read
    full = (counts == 48) & prev_present
    row_sum = imp.sum(axis=1)  # exact on full rows (other rows are not judged by V07L)
    # a whole day of values: _low_days over one row is the row's total against its limit
    low_limit = np.fmax(low_wh, low_frac * params.capacity_wh * 48)
    low = full & (row_sum <= low_limit)
    if outage is not None:
        low &= ~outage.any(axis=1)
    f[low] |= _U32(bit("V07L"))
    reject = cfg.reject_mask()
    if r8.action == "reject":
        reject |= bit("V08F")
    part = np.flatnonzero(~full)  # rows with cells without a value: no flags there
    if len(part):
        f[part] = np.where(has[part], f[part], _U32(0))
    clean = full & (np.bitwise_or.reduce(f, axis=1) == 0)  # 48 unflagged values
    dirty = np.flatnonzero(~clean)
    invalid = np.zeros(shape, dtype=np.bool_)
    invalid[dirty] = (f[dirty] & _U32(reject)) != 0
    history = _history_stats(sp, imp, row_sum, clean, dirty, has, invalid, f)
    values_new = 48 * int(np.count_nonzero(full)) + int(np.count_nonzero(has[part]))
    rows = _day_rows(
        received[starts], source[starts], sp, r_meter, r_first, prev, imp_reg, exp_reg,
        present, exp_present, imp, exp, exp_ok, has, invalid, f, clean & (mult == 1),
    )  # fmt: skip
    if rows is None:
        return None, reads
    plan = GridPlan(
        n_in,
        values_new,
        int(np.count_nonzero(invalid)),
        int(np.count_nonzero(f)),
        rows,
        history,
    )
    return plan, None


def _float_col(table: pa.Table, name: str) -> npt.NDArray[np.float64]:
    col = table.column(name)
    if col.null_count:
        col = pc.fill_null(col, 0.0)
    return np.asarray(col.to_numpy(), dtype=np.float64)


def _unique(values: I64) -> I64:
    """``np.unique`` of integers, cheaper when they are already in order (rows are in meter
    order, and supply points mostly follow)."""
    if len(values) < 2 or bool(np.all(values[1:] > values[:-1])):
        return values
    if bool(np.all(values[1:] >= values[:-1])):
        return values[np.r_[True, values[1:] != values[:-1]]]
    return np.unique(values)


def _scatter(cell: I64, values: npt.NDArray[_T], shape: tuple[int, int]) -> npt.NDArray[_T]:
    """A grid of ``shape`` with ``values`` at the flat indexes ``cell`` and zeros elsewhere."""
    grid = np.zeros(shape, dtype=values.dtype)
    grid.ravel()[cell] = values
    return grid


def _both_ends(present: BoolArr | None, before: BoolArr) -> BoolArr:
    """Per cell: the reads at both ends of the slot are there (``before``: the read at the
    row's first boundary; ``present`` None: every read of the rows)."""
    n = len(before)
    has = np.empty((n, 48), dtype=np.bool_)
    if present is None:
        has[:, 1:] = True
        has[:, 0] = before
    else:
        np.logical_and(present[:, 1:], present[:, :-1], out=has[:, 1:])
        np.logical_and(present[:, 0], before, out=has[:, 0])
    return has


def _flag(f: npt.NDArray[np.uint32], where: BoolArr, rule: str) -> None:
    """Set the rule's bit in the cells ``where`` (usually few or none)."""
    if where.any():
        np.bitwise_or(f, _U32(bit(rule)), out=f, where=where)


def _fresh(
    cur: duckdb.DuckDBPyConnection, r_meter: I64, sp: I64, lo: int, hi: int, r_first: I64
) -> bool:
    """Nothing stored yet for these meters (boundaries lo..hi+1) and supply points (the
    rows' days): conservative range checks that zone maps answer."""
    m_lo, m_hi = int(r_meter.min()), int(r_meter.max())
    k_lo, k_hi = int(sp.min()), int(sp.max())
    s_lo, s_hi = int(r_first.min()), int(r_first.max()) + 47
    row = cur.execute(
        """
        SELECT EXISTS (SELECT 1 FROM hh_reads WHERE boundary BETWEEN $lo AND $hi + 1
                         AND meter_id BETWEEN $mlo AND $mhi)
            OR EXISTS (SELECT 1 FROM hh_values WHERE slot BETWEEN $slo AND $shi
                         AND supply_point_key BETWEEN $klo AND $khi)
            OR EXISTS (SELECT 1 FROM day_rows WHERE day_first_slot BETWEEN $slo AND $shi + 1
                         AND (meter_id BETWEEN $mlo AND $mhi
                              OR supply_point_key BETWEEN $klo AND $khi))
        """,
        {
            "lo": lo,
            "hi": hi,
            "mlo": m_lo,
            "mhi": m_hi,
            "slo": s_lo,
            "shi": s_hi,
            "klo": k_lo,
            "khi": k_hi,
        },
    ).fetchall()
    return not (row and row[0][0])


def _fill_previous(
    cur: duckdb.DuckDBPyConnection,
    r_meter: I64,
    r_first: I64,
    imp_reg: I64,
    exp_reg: I64,
    present: BoolArr | None,
    exp_present: BoolArr | None,
) -> tuple[I64, I64, BoolArr, BoolArr]:
    """The read at each row's first boundary (import, export, whether it is there, whether
    it has an export register): the last read of the row before (same meter, previous day)
    or the stored one."""
    n = len(r_meter)
    imp = np.zeros(n, dtype=np.int64)
    exp = np.zeros(n, dtype=np.int64)
    found = np.zeros(n, dtype=np.bool_)
    exp_found = np.zeros(n, dtype=np.bool_)
    chained = np.zeros(n, dtype=np.bool_)
    chained[1:] = (r_meter[1:] == r_meter[:-1]) & (r_first[1:] == r_first[:-1] + 48)
    c = np.flatnonzero(chained)
    imp[c] = imp_reg[c - 1, 47]
    exp[c] = exp_reg[c - 1, 47]
    found[c] = True if present is None else present[c - 1, 47]
    exp_found[c] = True if exp_present is None else exp_present[c - 1, 47]
    need = np.flatnonzero(~chained)
    if len(need) == 0:
        return imp, exp, found, exp_found
    b = r_first[need]
    got = db.reads_at_day_start(
        cur, pa.table({"meter_id": _unique(r_meter[need])}), int(b.min()), int(b.max())
    )
    if got.num_rows == 0:
        return imp, exp, found, exp_found
    g_m, g_b = int_column(got, "meter_id"), int_column(got, "boundary")
    span = int(b.max()) - int(b.min()) + 1
    gk = g_m * span + (g_b - int(b.min()))
    wk = r_meter[need] * span + (b - int(b.min()))
    i = np.minimum(np.searchsorted(gk, wk), len(gk) - 1)
    hit = gk[i] == wk
    rows, i = need[hit], i[hit]
    imp[rows] = int_column(got, "import_register_wh")[i]
    exp[rows] = int_column(got, "export_register_wh")[i]
    found[rows] = True
    ev = np.asarray(got.column("export_register_wh").is_valid().to_numpy(zero_copy_only=False))
    exp_found[rows] = ev[i]
    return imp, exp, found, exp_found


def _history(cur: duckdb.DuckDBPyConnection, sp: I64) -> tuple[npt.NDArray[np.float64], I64]:
    """V06 reference per row: the supply point's running mean import and its count."""
    mean = np.zeros(len(sp))
    count = np.zeros(len(sp), dtype=np.int64)
    hist = db.history(cur, pa.table({"supply_point_key": _unique(sp)}))
    if hist.num_rows:
        hk = int_column(hist, "supply_point_key")
        i = np.minimum(np.searchsorted(hk, sp), len(hk) - 1)
        found = hk[i] == sp
        hm = np.asarray(hist.column("mean_wh").to_numpy(), dtype=np.float64)
        mean = np.where(found, hm[i], 0.0)
        count = np.where(found, int_column(hist, "n")[i], 0)
    return mean, count


def _events(
    cur: duckdb.DuckDBPyConnection, r_meter: I64, r_first: I64, lo: int, hi: int
) -> tuple[BoolArr | None, BoolArr | None]:
    """(outage, tamper) masks per cell from the event periods overlapping the batch."""
    events = db.events_between(cur, (lo - 1) * 1800.0, (hi + 1) * 1800.0)
    if events.num_rows == 0:
        return None, None
    n = len(r_meter)
    outage = np.zeros((n, 48), dtype=np.bool_)
    tamper = np.zeros((n, 48), dtype=np.bool_)
    slots = r_first[:, None] + np.arange(48)
    for ev in events.to_pylist():  # one Python step per event, not per reading
        r0 = int(np.searchsorted(r_meter, ev["meter_id"], "left"))
        r1 = int(np.searchsorted(r_meter, ev["meter_id"], "right"))
        if r0 == r1:
            continue
        s0 = int(np.floor(ev["start_s"] / 1800.0))
        s1 = int(np.ceil(ev["end_s"] / 1800.0)) - 1
        target = outage if ev["kind"] in OUTAGE_KINDS else tamper
        block = slots[r0:r1]
        target[r0:r1] |= (block >= s0) & (block <= s1)
    return outage, tamper


def _runs_into(
    f: npt.NDArray[np.uint32],
    has: BoolArr,
    zero: I64,
    imp: I64,
    r_meter: I64,
    r_first: I64,
    zlen: int,
    flen: int,
) -> None:
    """V08 / V08F on the meters that can hold a run (enough zero or equal neighbouring
    values), with the general path's own run finder on their values in series order.
    ``zero``: the flat indexes of the zero values."""
    n = len(r_meter)
    meter_start = np.flatnonzero(np.r_[True, r_meter[1:] != r_meter[:-1]])
    zero_row = zero // 48
    zeros_per_meter = np.add.reduceat(np.bincount(zero_row, minlength=n), meter_start)
    # equal neighbours counted loosely (cells without a value, zeros): a superset is enough
    eq_per_row = np.bincount(np.flatnonzero(imp[:, 1:] == imp[:, :-1]) // 47, minlength=n)
    eq_per_meter = np.add.reduceat(eq_per_row, meter_start)
    # every value of a flat run has an equal neighbour (vee._run_masks): a run of flen values
    # holds at least flen // 2 - 1 equal pairs inside one day, minus one across a day edge
    cand = (zeros_per_meter >= max(zlen, 1)) | (eq_per_meter >= max(flen // 2 - 2, 0))
    if not cand.any():
        return
    rows_per_meter = np.diff(np.append(meter_start, n))
    rows = np.flatnonzero(np.repeat(cand, rows_per_meter))
    sub_has = has[rows]
    at = np.full(n, -1, dtype=np.int64)  # position of a candidate row in rows
    at[rows] = np.arange(len(rows))
    sub_zero = np.zeros((len(rows), 48), dtype=np.bool_)
    z_at = at[zero_row]
    sub_zero[z_at[z_at >= 0], (zero % 48)[z_at >= 0]] = True
    key = np.repeat(r_meter[rows], 48).reshape(len(rows), 48)[sub_has]
    slot = (r_first[rows][:, None] + np.arange(48))[sub_has]
    zmask, fmask = _run_masks(key, slot, imp[rows][sub_has], sub_zero[sub_has], zlen, flen)
    add = np.zeros((len(rows), 48), dtype=_U32)
    add[sub_has] = zmask.astype(_U32) * _U32(bit("V08")) | fmask.astype(_U32) * _U32(bit("V08F"))
    f[rows] |= add


def _history_stats(
    sp: I64,
    imp: I64,
    row_sum: I64,
    clean: BoolArr,
    dirty: I64,
    has: BoolArr,
    invalid: BoolArr,
    f: npt.NDArray[np.uint32],
) -> pa.Table | None:
    """Per row: count and sum of measured imports not flagged V06/V10O (folded per supply
    point); clean rows count all 48 values, the others are summed cell by cell."""
    n = np.where(clean, 48, 0).astype(np.int64)
    total = np.where(clean, row_sum, 0).astype(np.float64)
    if len(dirty):
        ok = has[dirty] & ~invalid[dirty] & ((f[dirty] & _U32(bit("V06") | bit("V10O"))) == 0)
        n[dirty] = ok.sum(axis=1)
        total[dirty] = np.where(ok, imp[dirty], 0).sum(axis=1)
    keep = n > 0
    if not keep.any():
        return None
    return pa.table({"supply_point_key": sp[keep], "n": n[keep], "sum_wh": total[keep]})


def _day_rows(
    received: npt.NDArray[np.float64],
    source: npt.NDArray[np.uint8],
    sp: I64,
    r_meter: I64,
    r_first: I64,
    prev: tuple[I64, I64, BoolArr, BoolArr],
    imp_reg: I64,
    exp_reg: I64,
    present: BoolArr | None,
    exp_present: BoolArr | None,
    imp: I64,
    exp: I64,
    exp_ok: BoolArr,
    has: BoolArr,
    invalid: BoolArr,
    f: npt.NDArray[np.uint32],
    derivable: BoolArr,
) -> pa.Table | None:
    """The rows to store (``None`` if a value does not fit 32 bits). Value lists are NULL
    where the view derives every value (48 measured, unflagged register differences at
    multiplier 1), which is the common case; only the other rows carry lists."""
    prev_imp, prev_exp, prev_present, prev_exp_present = prev
    # rows whose reads have no export register (every row has a read)
    no_export: BoolArr = np.zeros(len(sp), dtype=np.bool_)
    if exp_present is not None and exp_present is not present:
        no_export = np.asarray(~exp_present.any(axis=1), dtype=np.bool_)
    if exp_ok is not has:  # a derivable row is full: it needs every export value as well
        d = np.flatnonzero(derivable)
        derivable = derivable.copy()
        derivable[d] = no_export[d] | exp_ok[d].all(axis=1)
    ex = np.flatnonzero(~derivable)
    e_has, e_inv = has[ex], invalid[ex]
    imp_null = ~e_has | e_inv
    exp_null = imp_null | ~exp_ok[ex]
    e_imp = np.where(imp_null, 0, imp[ex])
    e_exp = np.where(exp_null, 0, exp[ex])
    if _over_32_bits(e_imp) or _over_32_bits(e_exp):
        return None
    q = np.where(e_inv, Q_INVALID, Q_MEASURED).astype(np.uint8)
    q[~e_has] = QCODE_NONE
    offsets = pa.array(np.append(0, np.cumsum(np.where(derivable, 0, 48))), pa.int32())
    row_null = pa.array(derivable)

    def listed(
        values: npt.NDArray[np.generic], type_: pa.DataType, null: BoolArr | None
    ) -> pa.Array:
        valid = None if null is None else ~null
        child = _with_validity(values.ravel().astype(type_.to_pandas_dtype()), type_, valid)
        return pa.ListArray.from_arrays(offsets, child, mask=row_null)

    reads_exp = _fsl(exp_reg, pa.int64(), exp_present)
    if no_export.any():
        reads_exp = pa.FixedSizeListArray.from_arrays(
            reads_exp.values, 48, mask=pa.array(no_export)
        )
    cols = {
        "supply_point_key": pa.array(sp, pa.int64()),
        "day_first_slot": pa.array(r_first, pa.int64()),
        "meter_id": pa.array(r_meter, pa.int64()),
        "prev_import_register_wh": pa.array(prev_imp, pa.int64(), mask=~prev_present),
        "prev_export_register_wh": pa.array(prev_exp, pa.int64(), mask=~prev_exp_present),
        "import_register_wh": _fsl(imp_reg, pa.int64(), present),
        "export_register_wh": reads_exp,
        "import_wh": listed(e_imp, pa.int32(), imp_null),
        "export_wh": listed(e_exp, pa.int32(), exp_null),
        "qcode": listed(q, pa.uint8(), None),
        "vee_flags": listed(f[ex], pa.uint32(), None),
        "received_at": pa.array(received, pa.float64()),
        "source": pa.array(source, pa.uint8()),
    }
    table = pa.table(cols)
    # rows by (supply point, day), so zone maps find a supply point even where meter and
    # supply point numbers are unrelated (the rows were in meter order)
    order = np.lexsort((r_first, sp))
    return table if bool(np.all(order[1:] > order[:-1])) else table.take(order)


def _over_32_bits(values: I64) -> bool:
    return bool(values.size) and (int(values.min()) < -(2**31) or int(values.max()) >= 2**31)


def _with_validity(
    values: npt.NDArray[np.generic], type_: pa.DataType, valid: BoolArr | None
) -> pa.Array:
    """An Arrow array of ``values`` with ``valid`` as its validity (bit-packed in one pass;
    ``None``: no nulls)."""
    flat = np.ascontiguousarray(values).ravel()
    nulls = 0 if valid is None else valid.size - int(np.count_nonzero(valid))
    if nulls == 0:
        return pa.array(flat, type_)
    assert valid is not None
    bits = np.packbits(valid.ravel(), bitorder="little")
    return pa.Array.from_buffers(
        type_, len(flat), [pa.py_buffer(bits), pa.py_buffer(flat)], null_count=nulls
    )


def _fsl(regs: I64, type_: pa.DataType, valid: BoolArr | None) -> pa.Array:
    """(rows × 48) registers as fixed-size lists, ``valid`` (None: all) as the child's
    validity."""
    return pa.FixedSizeListArray.from_arrays(_with_validity(regs, type_, valid), 48)
