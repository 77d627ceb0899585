"""Dense VEE ingest: a batch of whole meter-days on fresh ground as (meter-day × 48) grids.

Bulk imports and per-meter day logs deliver each meter's 48 reads of a JST day together.
For such a batch the general pipeline (:mod:`openami.mdms.ingest`) spends most of its time
on bookkeeping that a grid makes unnecessary: pairing reads, looking up the supply point and
meter parameters per read, looking up stored versions. Here each meter-day is one row of a
matrix whose 49 columns are the registers at the day's boundaries 00:00 … 24:00; values,
rules and history are row/column array operations, and the result is stored as one
``day_rows`` row per supply point and day (``storage.duckdb_interval``): version 1 of each
value, next to the reads it came from.

The path is taken only where it gives exactly what the general path gives (tested by running
both on the same data): rows sorted with no duplicate (meter, boundary), every meter-day with
at least :data:`MIN_READS_PER_DAY` reads and one supply point for the whole day, and nothing
stored yet for those meters and supply points in the batch's range (no reads, values or
day rows; a re-sent batch therefore takes the general path, which adds nothing). Otherwise
:func:`plan_grid` returns ``None`` and the caller uses the general path.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.mdms.indexes import InstallIndex, MeterIndex
from openami.mdms.vee import Q_INVALID, Q_MEASURED, _run_masks
from openami.mdms.vee_config import VeeConfig, bit
from openami.storage import duckdb_mdms as db
from openami.storage.duckdb_interval import QCODE_NONE

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

#: a meter-day needs this many of its 48 reads in the batch to become a day row
MIN_READS_PER_DAY = 24
OUTAGE_KINDS = ("outage", "disconnected")
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


def _col(table: pa.Table, name: str) -> I64:
    col = table.column(name)
    if col.null_count:
        col = pc.fill_null(col, 0)
    return np.asarray(col.to_numpy(), dtype=np.int64)


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
    meter = _col(reads, "meter_id")
    boundary = _col(reads, "boundary")
    if meter.min() < 0 or boundary.min() < 1:
        return None, reads
    if int(boundary.max()) - int(boundary.min()) + 1 < MIN_READS_PER_DAY:
        return None, reads  # e.g. an A-route tick: one boundary for every meter
    ordered = (meter[1:] > meter[:-1]) | (
        (meter[1:] == meter[:-1]) & (boundary[1:] > boundary[:-1])
    )
    if not bool(ordered.all()):
        order = np.lexsort((boundary, meter))
        meter, boundary = meter[order], boundary[order]
        reads = reads.take(order)
    # meter-day rows: boundary b ends slot b-1, whose JST day starts at slot 48·d - 18
    t = boundary + 17
    day = t // 48
    new_row = np.ones(n_in, dtype=np.bool_)
    new_row[1:] = (meter[1:] != meter[:-1]) | (day[1:] != day[:-1])
    starts = np.flatnonzero(new_row)
    counts = np.diff(np.append(starts, n_in))
    r_meter = meter[starts]
    r_first = day[starts] * 48 - 18  # first slot of the row's day
    # rows that cannot be day rows: too few reads, duplicates (V02 is the general path's
    # business), more than one receipt time or source, no single supply point all day
    received = np.asarray(pc.fill_null(reads.column("received_at"), 0.0).to_numpy(), np.float64)
    source = np.asarray(reads.column("source").to_numpy(), dtype=np.uint8)
    odd = np.zeros(n_in, dtype=np.bool_)
    odd[1:] = ~new_row[1:] & (
        (boundary[1:] == boundary[:-1])
        | (received[1:] != received[:-1])
        | (source[1:] != source[:-1])
    )
    bad_row = counts < MIN_READS_PER_DAY
    if odd.any():
        bad_row[np.searchsorted(starts, np.flatnonzero(odd), side="right") - 1] = True
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
    if not _fresh(cur, r_meter, sp, int(boundary.min()), int(boundary.max()), r_first):
        return None, reads

    # registers at the 49 boundaries of each row (column 0: the previous day's last read)
    imp_in = _col(reads, "import_register_wh")
    exp_in = _col(reads, "export_register_wh")
    exp_col = reads.column("export_register_wh")
    exp_valid_in = np.asarray(exp_col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    params = meters.params(r_meter)
    flags_in: npt.NDArray[np.uint32] | None = None  # per read: V09 / V11
    if "clock_offset_s" in extra or "multiplier" in extra or bool(np.any(params.unit_wh > 1)):
        flags_in = np.zeros(n_in, dtype=_U32)
        if "clock_offset_s" in extra:
            off = np.abs(np.asarray(pc.fill_null(reads.column("clock_offset_s"), 0).to_numpy()))
            tolerance = cfg.rule("V09").p("tolerance_s")
            flags_in |= (off > tolerance).astype(_U32) * _U32(bit("V09"))
        if "multiplier" in extra:
            bad = _col(reads, "multiplier") != np.repeat(params.multiplier, counts)
            flags_in |= bad.astype(_U32) * _U32(bit("V11"))
        if bool(np.any(params.unit_wh > 1)):
            unit = np.repeat(np.maximum(params.unit_wh, 1), counts)
            off_unit = (imp_in % unit != 0) | (exp_valid_in & (exp_in % unit != 0))
            flags_in |= off_unit.astype(_U32) * _U32(bit("V11"))
    imp_reg = np.zeros((n_rows, 49), dtype=np.int64)
    exp_reg = np.zeros((n_rows, 49), dtype=np.int64)
    present = np.zeros((n_rows, 49), dtype=np.bool_)
    exp_present = np.zeros((n_rows, 49), dtype=np.bool_)
    read_flags = np.zeros((n_rows, 49), dtype=_U32)
    if n_in == 48 * n_rows:  # every row complete: its reads are the row, in order
        imp_reg[:, 1:] = imp_in.reshape(n_rows, 48)
        exp_reg[:, 1:] = exp_in.reshape(n_rows, 48)
        present[:, 1:] = True
        exp_present[:, 1:] = exp_valid_in.reshape(n_rows, 48)
        if flags_in is not None:
            read_flags[:, 1:] = flags_in.reshape(n_rows, 48)
    else:
        row_of = np.repeat(np.arange(n_rows), counts)
        j = t - day * 48  # 0..47: position of the read (and of the slot it ends) in the day
        cell = (row_of, j + 1)
        imp_reg[cell] = imp_in
        exp_reg[cell] = exp_in
        present[cell] = True
        exp_present[cell] = exp_valid_in
        if flags_in is not None:
            read_flags[cell] = flags_in
    _fill_previous(cur, r_meter, r_first, imp_reg, exp_reg, present, exp_present)

    # values (general path: vee.compute_values)
    has = present[:, 1:] & present[:, :-1]
    flags = read_flags[:, 1:] | read_flags[:, :-1]
    mult = params.multiplier
    unit_mult = bool(np.all(mult == 1))
    high = params.capacity_wh * cfg.rule("V07").p("high_factor")
    window = cfg.rule("V04").p("rollover_window")

    def delta(reg: I64, valid: BoolArr) -> I64:
        d = reg[:, 1:] - reg[:, :-1]
        neg = (d < 0) & valid
        if neg.any():  # rare: judge the negative deltas one by one as arrays
            r, c = np.nonzero(neg)
            mod = params.modulus_wh[r]
            roll = (reg[r, c] >= mod * (1.0 - window)) & ((d[r, c] + mod) * mult[r] <= high[r])
            d[r[roll], c[roll]] += mod[roll]
            flags[r[roll], c[roll]] |= _U32(bit("V04R"))
            flags[r[~roll], c[~roll]] |= _U32(bit("V04"))
        return d if unit_mult else d * mult[:, None]

    imp = delta(imp_reg, has)
    exp_ok = exp_present[:, 1:] & exp_present[:, :-1]
    exp = delta(exp_reg, has & exp_ok)
    exp = np.where(exp_ok, exp, 0)

    # rules (general path: vee.validate), on the cells that have a value
    f = flags
    f |= (imp > high[:, None]).astype(_U32) * _U32(bit("V07"))
    hist_mean, hist_n = _history(cur, sp)
    r6 = cfg.rule("V06")
    spike = (
        (hist_n >= r6.p("min_history"))[:, None]
        & (imp > r6.p("min_wh"))
        & (imp > (r6.p("factor") * hist_mean)[:, None])
    )
    f |= spike.astype(_U32) * _U32(bit("V06"))
    outage, tamper = _events(cur, r_meter, r_first, int(boundary.min()), int(boundary.max()))
    if outage is not None:
        f |= outage.astype(_U32) * _U32(bit("V10O"))
    if tamper is not None:
        f |= tamper.astype(_U32) * _U32(bit("V10"))
    no_outage = np.zeros((n_rows, 48), np.bool_) if outage is None else outage
    r8 = cfg.rule("V08")
    zlen, flen = int(r8.p("zero_run_slots")), int(r8.p("flat_run_slots"))
    zero = (imp == 0) & (~exp_ok | (exp == 0)) & ~no_outage & has
    _runs_into(f, has, zero, imp, r_meter, r_first, zlen, flen)
    r7 = cfg.rule("V07")
    low_wh, low_frac = r7.p("low_daily_wh"), r7.params.get("low_daily_fraction", 0.0)
    full = has.all(axis=1)
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
    f[~has] = 0
    clean: BoolArr = np.asarray(full & ~f.any(axis=1), dtype=np.bool_)  # 48 unflagged values
    dirty = np.flatnonzero(~clean)
    invalid = np.zeros((n_rows, 48), dtype=np.bool_)
    invalid[dirty] = (f[dirty] & _U32(reject)) != 0
    history = _history_stats(sp, imp, row_sum, clean, dirty, has, invalid, f)
    rows = _day_rows(
        received[starts], source[starts], sp, r_meter, r_first, imp_reg, exp_reg, present,
        exp_present, imp, exp, exp_ok, has, invalid, f, clean & (params.multiplier == 1),
    )  # fmt: skip
    if rows is None:
        return None, reads
    plan = GridPlan(
        n_in,
        int(has.sum()),
        int(invalid.sum()),
        int(np.count_nonzero(f)),
        rows,
        history,
    )
    return plan, None


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
    present: BoolArr,
    exp_present: BoolArr,
) -> None:
    """Column 0 of each row: the read at the day's first boundary, from the row before (same
    meter, previous day) or from the store."""
    n = len(r_meter)
    chained = np.zeros(n, dtype=np.bool_)
    chained[1:] = (r_meter[1:] == r_meter[:-1]) & (r_first[1:] == r_first[:-1] + 48)
    c = np.flatnonzero(chained)
    imp_reg[c, 0] = imp_reg[c - 1, 48]
    exp_reg[c, 0] = exp_reg[c - 1, 48]
    present[c, 0] = present[c - 1, 48]
    exp_present[c, 0] = exp_present[c - 1, 48]
    need = np.flatnonzero(~chained)
    if len(need) == 0:
        return
    b = r_first[need]
    got = db.reads_at_day_start(
        cur, pa.table({"meter_id": np.unique(r_meter[need])}), int(b.min()), int(b.max())
    )
    if got.num_rows == 0:
        return
    g_m, g_b = _col(got, "meter_id"), _col(got, "boundary")
    span = int(b.max()) - int(b.min()) + 1
    gk = g_m * span + (g_b - int(b.min()))
    wk = r_meter[need] * span + (b - int(b.min()))
    i = np.minimum(np.searchsorted(gk, wk), len(gk) - 1)
    hit = gk[i] == wk
    rows, i = need[hit], i[hit]
    imp_reg[rows, 0] = _col(got, "import_register_wh")[i]
    exp_reg[rows, 0] = _col(got, "export_register_wh")[i]
    present[rows, 0] = True
    ev = np.asarray(got.column("export_register_wh").is_valid().to_numpy(zero_copy_only=False))
    exp_present[rows, 0] = ev[i]


def _history(cur: duckdb.DuckDBPyConnection, sp: I64) -> tuple[npt.NDArray[np.float64], I64]:
    """V06 reference per row: the supply point's running mean import and its count."""
    mean = np.zeros(len(sp))
    count = np.zeros(len(sp), dtype=np.int64)
    hist = db.history(cur, pa.table({"supply_point_key": np.unique(sp)}))
    if hist.num_rows:
        hk = _col(hist, "supply_point_key")
        i = np.minimum(np.searchsorted(hk, sp), len(hk) - 1)
        found = hk[i] == sp
        hm = np.asarray(hist.column("mean_wh").to_numpy(), dtype=np.float64)
        mean = np.where(found, hm[i], 0.0)
        count = np.where(found, _col(hist, "n")[i], 0)
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
    zero: BoolArr,
    imp: I64,
    r_meter: I64,
    r_first: I64,
    zlen: int,
    flen: int,
) -> None:
    """V08 / V08F on the meters that can hold a run (enough zero or equal neighbouring
    values), with the general path's own run finder on their values in series order."""
    n = len(r_meter)
    meter_start = np.flatnonzero(np.r_[True, r_meter[1:] != r_meter[:-1]])
    zeros_per_meter = np.add.reduceat(zero.sum(axis=1), meter_start)
    # equal neighbours counted loosely (cells without a value, zeros): a superset is enough
    eq_per_meter = np.add.reduceat((imp[:, 1:] == imp[:, :-1]).sum(axis=1), meter_start)
    # every value of a flat run has an equal neighbour (vee._run_masks): a run of flen values
    # holds at least flen // 2 - 1 equal pairs inside one day, minus one across a day edge
    cand = (zeros_per_meter >= max(zlen, 1)) | (eq_per_meter >= max(flen // 2 - 2, 0))
    if not cand.any():
        return
    rows_per_meter = np.diff(np.append(meter_start, n))
    rows = np.flatnonzero(np.repeat(cand, rows_per_meter))
    sub_has = has[rows]
    key = np.repeat(r_meter[rows], 48).reshape(len(rows), 48)[sub_has]
    slot = (r_first[rows][:, None] + np.arange(48))[sub_has]
    zmask, fmask = _run_masks(key, slot, imp[rows][sub_has], zero[rows][sub_has], zlen, flen)
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
    imp_reg: I64,
    exp_reg: I64,
    present: BoolArr,
    exp_present: BoolArr,
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
    no_export = ~exp_present[:, 1:].any(axis=1)
    derivable = derivable & (no_export | exp_ok.all(axis=1))
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
        child = _with_validity(values.ravel().astype(type_.to_pandas_dtype()), type_, null)
        return pa.ListArray.from_arrays(offsets, child, mask=row_null)

    reads_exp = _fsl(exp_reg[:, 1:], pa.int64(), exp_present[:, 1:])
    if no_export.any():
        reads_exp = pa.FixedSizeListArray.from_arrays(
            reads_exp.values, 48, mask=pa.array(no_export)
        )
    cols = {
        "supply_point_key": pa.array(sp, pa.int64()),
        "day_first_slot": pa.array(r_first, pa.int64()),
        "meter_id": pa.array(r_meter, pa.int64()),
        "prev_import_register_wh": pa.array(imp_reg[:, 0], pa.int64(), mask=~present[:, 0]),
        "prev_export_register_wh": pa.array(exp_reg[:, 0], pa.int64(), mask=~exp_present[:, 0]),
        "import_register_wh": _fsl(imp_reg[:, 1:], pa.int64(), present[:, 1:]),
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
    values: npt.NDArray[np.generic], type_: pa.DataType, null: BoolArr | None
) -> pa.Array:
    """An Arrow array of ``values`` with ``null`` as its validity (bit-packed in one pass)."""
    flat = np.ascontiguousarray(values)
    if null is None or not null.any():
        return pa.array(flat, type_)
    bits = np.packbits(~null.ravel(), bitorder="little")
    return pa.Array.from_buffers(
        type_, len(flat), [pa.py_buffer(bits), pa.py_buffer(flat)], null_count=int(null.sum())
    )


def _fsl(regs: I64, type_: pa.DataType, valid: BoolArr) -> pa.Array:
    child = _with_validity(regs.ravel(), type_, ~valid if not valid.all() else None)
    return pa.FixedSizeListArray.from_arrays(child, 48)
