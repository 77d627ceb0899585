"""A-route ticks with VEE state carried from tick to tick.

Every 30 minutes the head-end delivers one register read per meter, all at the same boundary
(a *tick*). The general pipeline (:mod:`openami.mdms.ingest`) validates such a batch by
looking up what is stored around it: the meter's previous read, the supply point's values
before the slot (zero and flat-line runs, V08), the day's values at the day's last slot
(V07 low), the running mean (V06) and the current versions. At national scale those look-ups
read tens of millions of stored rows per tick.

This module keeps, per meter, what the next tick needs, in NumPy arrays sorted by meter
(:class:`TickState`, about 80 bytes a meter): the meter's last read, and for the supply point
the meter served at its last value the run and day summaries of the stored values and the
running mean. A tick then costs array gathers instead of look-ups. Results are the ones the
general path gives (``tests/mdms/test_tick_state.py`` runs both over the same ticks).

The state is trusted only while nothing else has written to the store since it was last
brought in step (:attr:`DuckIntervalStore.generation`); otherwise it is dropped and rebuilt.
Rows not in the state (a process start, a new meter, a meter that moved) are filled from the
store with the look-ups of one slot (reads ``b-1 … b+1``, values ``s-1 … s+1``, the mean);
fields those cannot give (the length of a run that began earlier, the day's count) are
marked unknown and become known as ticks go by. A read whose value would depend on an
unknown field, or that is not simply the next read of its meter, takes the general path in
the same transaction, and its row is dropped from the state.

Field meanings for the supply point's *usable* stored values (quality measured, estimated or
edited with an import: the values V08 and V07 low look at), with ``L`` the last of them:

- ``p_last``: slot of ``L`` (-2: unknown, but not the slot before the next tick);
- ``p_v``: import of ``L``; ``p_same``: whether ``L``'s import equals the one before it and
  is positive (2: unknown);
- ``p_t``: length of the flat-line run that ends at the value just before ``L`` when that
  value is the slot before ``L`` (counting ``L``'s equality in), else 0 (-1: unknown);
- ``p_z``: length of the run of zero values that ends at ``L`` (-1: unknown);
- ``p_dthru``/``p_dn``/``p_dsum``: the count and import sum of the usable values of the JST
  day of slot ``p_dthru``, exact through that slot (``p_dn`` -1: unknown);
- ``p_any``: an upper bound below the next slot for any stored version of the point;
- ``p_hn``/``p_hm``: the V06 running mean (``vee_history``).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, fields
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import OUTAGE_KINDS, READ_SCHEMA
from openami.mdms.grid import int_column
from openami.mdms.indexes import InstallIndex, MeterIndex
from openami.mdms.vee import Q_INVALID, Q_MEASURED, QUALITIES
from openami.mdms.vee_config import VeeConfig, bit
from openami.storage import duckdb_mdms as db
from openami.storage.duckdb_interval import DuckIntervalStore

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]
_U32 = np.uint32
#: run lengths are kept up to this (int16); thresholds are far below
RUN_CAP = 30_000
SAME_UNKNOWN = 2
LAST_UNKNOWN = -2

#: the tick path is on; tests switch it off to compare with the general path
ENABLED = True


@dataclass
class TickState:
    """Per meter (sorted by ``meter_id``); ``mb`` < 0 marks a row that is not in step."""

    meter_id: I64
    mb: npt.NDArray[np.int32]  # boundary of the meter's last stored read
    mi: I64  # import register there [Wh]
    me: I64  # export register there [Wh] (0 when not valid)
    mev: BoolArr  # export register valid
    sp: I64  # supply point the fields below describe (-1: none)
    p_any: npt.NDArray[np.int32]
    p_last: npt.NDArray[np.int32]
    p_v: I64
    p_same: npt.NDArray[np.int8]
    p_t: npt.NDArray[np.int16]
    p_z: npt.NDArray[np.int16]
    p_dthru: npt.NDArray[np.int32]
    p_dn: npt.NDArray[np.int16]
    p_dsum: I64
    p_hn: npt.NDArray[np.int32]
    p_hm: npt.NDArray[np.float64]

    @classmethod
    def empty(cls) -> TickState:
        return cls(**{f.name: np.zeros(0, dtype=_DTYPES[f.name]) for f in fields(cls)})

    def __len__(self) -> int:
        return len(self.meter_id)

    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self))


_DTYPES: dict[str, type] = {
    "meter_id": np.int64,
    "mb": np.int32,
    "mi": np.int64,
    "me": np.int64,
    "mev": np.bool_,
    "sp": np.int64,
    "p_any": np.int32,
    "p_last": np.int32,
    "p_v": np.int64,
    "p_same": np.int8,
    "p_t": np.int16,
    "p_z": np.int16,
    "p_dthru": np.int32,
    "p_dn": np.int16,
    "p_dsum": np.int64,
    "p_hn": np.int32,
    "p_hm": np.float64,
}


class Keeper:
    """The state of one store, and what a batch in progress adds to it."""

    def __init__(self) -> None:
        self.state = TickState.empty()
        self.generation = -1  # not in step with anything yet
        self.pending: list[TickState] = []  # new rows of the batch in progress
        self.holders: list[tuple[I64, I64]] = []  # (sp, meter) rows that now describe sp
        self.touched: list[I64] = []  # sps written by this batch
        self.was_empty = True
        self.spoilt = False  # another path wrote in this batch: drop the state at the end

    def spoil(self) -> None:
        """A part of the batch goes through another path (its writes are not in the state)."""
        self.spoilt = True


_KEEPERS: weakref.WeakKeyDictionary[DuckIntervalStore, Keeper] = weakref.WeakKeyDictionary()


def begin(store: DuckIntervalStore) -> Keeper | None:
    """The store's tick state for a batch about to run (call holding the store's lock);
    dropped first if anything else wrote since it was last brought in step."""
    if not ENABLED:
        return None
    keeper = _KEEPERS.get(store)
    if keeper is None:
        keeper = _KEEPERS[store] = Keeper()
    if keeper.generation != store.generation:
        keeper.state = TickState.empty()
    keeper.pending, keeper.holders, keeper.touched = [], [], []
    keeper.was_empty = len(keeper.state) == 0
    keeper.spoilt = False
    return keeper


def finish(store: DuckIntervalStore, keeper: Keeper | None, ok: bool) -> None:
    """After the batch: merge its new rows, drop rows another meter's writes made stale,
    and mark the state in step with the store (or drop it if the batch failed)."""
    if keeper is None:
        return
    if not ok or keeper.spoilt:
        keeper.state, keeper.generation = TickState.empty(), -1
        keeper.pending, keeper.holders, keeper.touched = [], [], []
        return
    st = keeper.state
    if keeper.pending:
        st = _merge(st, keeper.pending)
    if keeper.touched and not keeper.was_empty:
        touched = np.unique(np.concatenate(keeper.touched))
        holder_sp = np.concatenate([h[0] for h in keeper.holders]) if keeper.holders else None
        holder_m = np.concatenate([h[1] for h in keeper.holders]) if keeper.holders else None
        _drop_other_holders(st, touched, holder_sp, holder_m)
    keeper.state = st
    keeper.pending, keeper.holders, keeper.touched = [], [], []
    keeper.generation = store.generation


def drop(store: DuckIntervalStore) -> None:
    """Forget the store's tick state (e.g. to measure a first tick after a start)."""
    _KEEPERS.pop(store, None)


def state_of(store: DuckIntervalStore) -> TickState | None:
    keeper = _KEEPERS.get(store)
    return None if keeper is None else keeper.state


def _merge(st: TickState, blocks: list[TickState]) -> TickState:
    new = _concat(blocks)  # copies: the blocks may be views of read-only Arrow buffers
    if len(st) == 0:
        return new
    at = np.searchsorted(st.meter_id, new.meter_id)
    return TickState(
        **{
            f.name: np.insert(getattr(st, f.name), at, getattr(new, f.name))
            for f in fields(TickState)
        }
    )


def _concat(blocks: list[TickState]) -> TickState:
    """One state of the blocks in order, each block freed as soon as it is copied (at
    national scale the blocks of a first tick are several GiB; this keeps one copy)."""
    total = sum(len(b) for b in blocks)
    out = TickState(**{f.name: np.empty(total, dtype=_DTYPES[f.name]) for f in fields(TickState)})
    at = 0
    while blocks:
        block = blocks.pop(0)
        end = at + len(block)
        for f in fields(TickState):
            getattr(out, f.name)[at:end] = getattr(block, f.name)
        at = end
        del block
    return out


def _drop_other_holders(
    st: TickState, touched: I64, holder_sp: I64 | None, holder_m: I64 | None
) -> None:
    """Rows whose supply point was written by this batch through another meter (a meter
    exchange, a general-path write) no longer describe it: out of step."""
    if len(st) == 0 or len(touched) == 0:
        return
    i = np.minimum(np.searchsorted(touched, st.sp), len(touched) - 1)
    hit = touched[i] == st.sp
    if not hit.any():
        return
    rows = np.flatnonzero(hit)
    stale = np.ones(len(rows), dtype=np.bool_)
    if holder_sp is not None and holder_m is not None and len(holder_sp):
        order = np.argsort(holder_sp, kind="stable")
        hs, hm = holder_sp[order], holder_m[order]
        j = np.minimum(np.searchsorted(hs, st.sp[rows]), len(hs) - 1)
        stale = ~((hs[j] == st.sp[rows]) & (hm[j] == st.meter_id[rows]))
    st.mb[rows[stale]] = -1


def read_flags(
    reads: pa.Table,
    extra: list[str],
    meter: I64,
    imp: I64,
    exp: I64,
    exp_valid: BoolArr,
    meters: MeterIndex,
    cfg: VeeConfig,
) -> npt.NDArray[np.uint32]:
    """Per read: V09 (clock deviation) and V11 (multiplier, whole register units)."""
    flags = np.zeros(len(meter), dtype=np.uint32)
    if "clock_offset_s" in extra:
        off = np.abs(np.asarray(pc.fill_null(reads.column("clock_offset_s"), 0).to_numpy()))
        flags |= np.where(off > cfg.rule("V09").p("tolerance_s"), bit("V09"), 0).astype(np.uint32)
    if "multiplier" in extra or meters.max_unit_wh > 1:  # else V11 cannot fail here
        mparams = meters.params(meter)
        if "multiplier" in extra:
            told = np.asarray(pc.fill_null(reads.column("multiplier"), 0).to_numpy(), np.int64)
            flags |= np.where(told != mparams.multiplier, bit("V11"), 0).astype(np.uint32)
        if bool(np.any(mparams.unit_wh > 1)):  # registers must be whole register units
            unit = np.maximum(mparams.unit_wh, 1)
            off_unit = (imp % unit != 0) | (exp_valid & (exp % unit != 0))
            flags |= np.where(off_unit, bit("V11"), 0).astype(np.uint32)
    return flags


@dataclass
class TickPlan:
    """What the tick path appends for the reads it took (the others are ``rest``)."""

    rows_in: int  # reads taken, and re-sent ones found identical (``duplicates``)
    reads_new: int
    values_new: int
    invalid: int
    flagged: int
    new_reads: pa.Table
    values: pa.Table
    history: pa.Table | None  # supply_point_key, n, mean_wh: the new running means
    history_stored: BoolArr  # per history row: the key already has a stored mean
    duplicates: int = 0


def is_tick(reads: pa.Table) -> bool:
    """One read per meter, all at one boundary, meters ascending."""
    if reads.num_rows == 0:
        return False
    mm = pc.min_max(reads.column("boundary"))
    if mm["min"].as_py() != mm["max"].as_py():
        return False
    meter = np.asarray(reads.column("meter_id").to_numpy(), dtype=np.int64)
    return len(meter) < 2 or bool(np.all(meter[1:] > meter[:-1]))


@dataclass
class _Rows:
    """The state fields of a batch's meters (aligned with the batch) and where they are."""

    st: TickState
    known: BoolArr  # the meter has a row in step
    there: BoolArr  # the meter has a row (in step or not)
    at: slice | I64  # the rows' positions in the state


def _rows_for(keeper: Keeper, meter: I64) -> _Rows:
    """Gather the state rows of the batch's meters: a slice (views) when the batch's meters
    are a run of the state's (the usual tick), else a search."""
    st = keeper.state
    n = len(meter)
    if len(st):
        i0 = int(np.searchsorted(st.meter_id, meter[0]))
        if i0 + n <= len(st) and np.array_equal(st.meter_id[i0 : i0 + n], meter):
            sl = slice(i0, i0 + n)
            rows = TickState(**{f.name: getattr(st, f.name)[sl] for f in fields(TickState)})
            return _Rows(rows, rows.mb >= 0, np.ones(n, dtype=np.bool_), sl)
        pos = np.minimum(np.searchsorted(st.meter_id, meter), len(st) - 1)
        found = st.meter_id[pos] == meter
        rows = TickState(**{f.name: getattr(st, f.name)[pos] for f in fields(TickState)})
        return _Rows(rows, found & (rows.mb >= 0), found, pos)
    blank = TickState(**{f.name: np.zeros(n, dtype=_DTYPES[f.name]) for f in fields(TickState)})
    blank.meter_id[:] = meter
    none = np.zeros(n, dtype=np.bool_)
    return _Rows(blank, none, none, np.zeros(n, dtype=np.int64))


def plan_tick(
    cur: duckdb.DuckDBPyConnection,
    reads: pa.Table,
    extra: list[str],
    installs: InstallIndex,
    meters: MeterIndex,
    cfg: VeeConfig,
    keeper: Keeper,
) -> tuple[TickPlan | None, pa.Table | None]:
    """Validate the reads of a tick (:func:`is_tick`) that the state can take; returns the
    plan for them (``None`` if none) and the other reads for the general path (``None`` if
    none). Updates the keeper's state for the meters it took (the caller stores the plan in
    the same transaction, and :func:`finish` marks the state in step after the batch)."""
    r8 = cfg.rule("V08")
    zlen, flen = int(r8.p("zero_run_slots")), int(r8.p("flat_run_slots"))
    if zlen < 2 or flen < 2 or zlen > RUN_CAP or flen > RUN_CAP:
        return None, reads
    n = reads.num_rows
    meter = int_column(reads, "meter_id")
    b = int(reads.column("boundary")[0].as_py())
    s = b - 1  # the slot a read at b closes
    imp_r = int_column(reads, "import_register_wh")
    exp_col = reads.column("export_register_wh")
    exp_r = int_column(reads, "export_register_wh")
    ev_r = np.asarray(exp_col.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    rflags = read_flags(reads, extra, meter, imp_r, exp_r, ev_r, meters, cfg)
    run_sp = installs.lookup_run(meter, s)
    sp = run_sp if run_sp is not None else installs.lookup(meter, np.full(n, s, dtype=np.int64))

    got = _rows_for(keeper, meter)
    r = got.st
    # a row describes the slot's supply point only if it is the one it holds
    cold = ~got.known | ((sp >= 0) & (sp != r.sp))
    ok = np.ones(n, dtype=np.bool_)  # the tick path can take the read
    if cold.any():
        r = _fill_cold(cur, r, cold, meter, sp, b, ok)
    # reads: the next read of the meter (a value), or after a gap (no value)
    # a read identical to the stored last one (a re-sent tick): nothing to add, the row
    # stays in step; any other read at or before the meter's last one: the general path
    again = (
        got.known
        & ~cold
        & (r.mb == b)
        & (imp_r == r.mi)
        & (ev_r == r.mev)
        & (~ev_r | (exp_r == r.me))
    )
    ok &= r.mb < b
    has_val = ok & (r.mb == b - 1) & (sp >= 0)
    ok &= ~has_val | (r.p_any < s)
    has_val &= ok
    # one value per supply point
    if has_val.any():
        vs = sp[has_val]
        if len(vs) > 1 and not bool(np.all(vs[1:] > vs[:-1])):
            order = np.argsort(vs, kind="stable")
            sv = vs[order]
            dup = np.zeros(len(sv), dtype=np.bool_)
            dup[1:] = sv[1:] == sv[:-1]
            dup[:-1] |= dup[1:]
            if dup.any():
                bad = np.zeros(len(vs), dtype=np.bool_)
                bad[order[dup]] = True
                idx = np.flatnonzero(has_val)[bad]
                ok[idx] = False
                has_val[idx] = False

    # values of the rows with one (arrays over v = np.flatnonzero(has_val))
    v = np.flatnonzero(has_val)
    every = len(v) == n  # the usual tick: gather nothing, use the arrays as they are

    def at_v(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return a if every else a[v]

    params = (meters.params_run(meter) if every else None) or meters.params(at_v(meter))
    mult, modulus = params.multiplier, params.modulus_wh
    high = params.capacity_wh * cfg.rule("V07").p("high_factor")
    window = cfg.rule("V04").p("rollover_window")
    unit_mult = bool(np.all(mult == 1))
    f = at_v(rflags)

    def delta(new: I64, prev: I64, valid: BoolArr | None) -> I64:
        d = new - prev
        neg = d < 0
        if valid is not None:
            neg &= valid
        if neg.any():  # rare: judge the negative deltas one by one as arrays
            i = np.flatnonzero(neg)
            roll = (prev[i] >= modulus[i] * (1.0 - window)) & (
                (d[i] + modulus[i]) * mult[i] <= high[i]
            )
            d[i[roll]] += modulus[i[roll]]
            f[i[roll]] |= _U32(bit("V04R"))
            f[i[~roll]] |= _U32(bit("V04"))
        return d if unit_mult else d * mult

    imp = delta(at_v(imp_r), at_v(r.mi), None)
    exp_ok = at_v(r.mev) & at_v(ev_r)
    exp = np.where(exp_ok, delta(at_v(exp_r), at_v(r.me), exp_ok), 0)
    f |= (imp > high).astype(_U32) * _U32(bit("V07"))
    r6 = cfg.rule("V06")
    hn, hm = at_v(r.p_hn), at_v(r.p_hm)  # views of the state when ``every``: read only
    had_mean = hn > 0  # the key has a stored mean (taken now: the state changes below)
    spike = (hn >= r6.p("min_history")) & (imp > r6.p("min_wh")) & (imp > r6.p("factor") * hm)
    f |= spike.astype(_U32) * _U32(bit("V06"))
    outage, tamper = _events(cur, at_v(meter), s, b)
    if outage is not None:
        f |= outage.astype(_U32) * _U32(bit("V10O"))
    if tamper is not None:
        f |= tamper.astype(_U32) * _U32(bit("V10"))
    # V08: zero and flat-line runs continuing the stored values
    p_last, p_v = at_v(r.p_last), at_v(r.p_v)
    p_z, p_t, p_same = at_v(r.p_z), at_v(r.p_t), at_v(r.p_same)
    adj = p_last == s - 1
    zero = (imp == 0) & (~exp_ok | (exp == 0))
    if outage is not None:
        zero &= ~outage
    same_new = (imp == p_v) & (imp > 0) & (p_last >= 0)
    first_of_day = (s + 18) % 48 == 0
    last_of_day = (s + 18) % 48 == 47
    dknown = (at_v(r.p_dthru) == s - 1) & (at_v(r.p_dn) >= 0)
    if first_of_day:
        before_n, before_sum = np.zeros(len(v), np.int64), np.zeros(len(v), np.int64)
        dknown = np.ones(len(v), dtype=np.bool_)
    else:
        before_n = np.where(dknown, at_v(r.p_dn), 0).astype(np.int64)
        before_sum = np.where(dknown, at_v(r.p_dsum), 0)
    need = (zero & adj & (p_z < 0)) | (same_new & adj & (p_t < 0))
    if last_of_day:
        need |= ~dknown
    if need.any():  # what the state does not know: from the stored values before the slot
        w = np.flatnonzero(need)
        p_z, p_t, p_same = p_z.copy(), p_t.copy(), p_same.copy()
        first = s - max(zlen, flen) - 2
        if last_of_day:
            first = min(first, s - 47)
        found = _look_back(cur, at_v(sp)[w], first, s)
        p_z[w], p_t[w], p_same[w] = found.z, found.t, found.same
        if last_of_day:
            dknown = dknown.copy()
            dknown[w] = True
            before_n[w], before_sum[w] = found.day_n, found.day_sum
        need = (zero & adj & (p_z < 0)) | (same_new & adj & (p_t < 0))
    zrun = np.where(adj, p_z.astype(np.int64), 0) + 1
    f |= (zero & (zrun >= zlen)).astype(_U32) * _U32(bit("V08"))
    f |= (same_new & adj & (p_t.astype(np.int64) + 2 >= flen)).astype(_U32) * _U32(bit("V08F"))
    # V07 low: at the day's last slot, the whole day's import against the contract
    if last_of_day:
        r7 = cfg.rule("V07")
        low_wh, low_frac = r7.p("low_daily_wh"), r7.params.get("low_daily_fraction", 0.0)
        limit = np.fmax(low_wh, low_frac * params.capacity_wh * 48)
        low = (before_n + 1 == 48) & (before_sum + imp <= limit)
        if outage is not None:
            low &= ~outage
        f |= low.astype(_U32) * _U32(bit("V07L"))
    take_v = ~need  # the values stored here (the others: the general path)
    partial = bool(need.any())
    if partial:  # these values depend on what the state does not know
        ok[v[need]] = False
    reject = cfg.reject_mask()
    if r8.action == "reject":
        reject |= bit("V08F")
    invalid = (f & _U32(reject)) != 0
    quality = np.where(invalid, Q_INVALID, Q_MEASURED).astype(np.uint8)

    # the new state: value rows taken, and of those the usable values (V08, V07L)
    usable = ~invalid
    upd_u = take_v & usable
    vsp = at_v(sp)
    z_stored = (imp == 0) & (~exp_ok | (exp == 0))  # as a later tick will see it stored
    z_next = np.where(
        z_stored,
        np.where(adj, np.where(p_z < 0, -1, np.minimum(p_z.astype(np.int64) + 1, RUN_CAP)), 1),
        0,
    )
    same_known = p_last != LAST_UNKNOWN
    flat_l = (p_same == 1) | same_new
    flat_l_known = flat_l | (p_same != SAME_UNKNOWN)
    t_next = np.where(
        adj,
        np.where(
            flat_l,
            np.where(p_t < 0, -1, np.minimum(p_t.astype(np.int64) + 1, RUN_CAP)),
            np.where(flat_l_known, 0, -1),
        ),
        0,
    )
    cap = int(cfg.rule("V06").p("history_cap"))
    hist_ok = (quality == Q_MEASURED) & ((f & _U32(bit("V06") | bit("V10O"))) == 0)
    k = np.maximum(np.minimum(hn.astype(np.int64), cap - 1), 0)
    new_hn = np.where(hist_ok, np.minimum(hn.astype(np.int64) + 1, cap), hn)
    new_hm = np.where(hist_ok, (hm * k + imp.astype(np.float64)) / (k + 1), hm)
    hist_ok &= take_v

    def merged(old: npt.NDArray[Any], new: npt.NDArray[Any] | int, mask: BoolArr) -> Any:
        """Per row of the batch: ``new`` (per value) where ``mask`` (per value), else old."""
        if every:
            return np.where(mask, new, old).astype(old.dtype, copy=False)
        out = old.copy()
        out[v[mask]] = new[mask] if isinstance(new, np.ndarray) else new
        return out

    mb_next = np.where(ok, b, np.where(again, r.mb, -1)).astype(np.int32)
    upd = TickState(
        meter_id=meter,
        mb=mb_next,
        mi=np.where(ok, imp_r, r.mi),
        me=np.where(ok, np.where(ev_r, exp_r, 0), r.me),
        mev=np.where(ok, ev_r, r.mev),
        sp=merged(r.sp, vsp, take_v),
        p_any=merged(r.p_any, s, take_v),
        p_last=merged(r.p_last, s, upd_u),
        p_v=merged(r.p_v, imp, upd_u),
        p_same=merged(r.p_same, np.where(same_known, same_new, SAME_UNKNOWN), upd_u),
        p_t=merged(r.p_t, t_next, upd_u),
        p_z=merged(r.p_z, z_next, upd_u),
        p_dthru=merged(r.p_dthru, s, take_v),
        p_dn=merged(r.p_dn, np.where(dknown, before_n + usable, -1), take_v),
        p_dsum=merged(r.p_dsum, before_sum + np.where(usable, imp, 0), take_v),
        p_hn=merged(r.p_hn, new_hn, take_v),
        p_hm=merged(r.p_hm, new_hm, take_v),
    )
    _store_rows(keeper, got, ok, upd)
    # supply points written: through these rows (holders), or by the general path (rest)
    rest_idx = np.flatnonzero(~ok & ~again)
    if not keeper.was_empty:  # no other row can hold these supply points otherwise
        # rows that now describe a supply point afresh (filled from the store): any other
        # row that held it is stale; so is any row holding a point the general path writes
        fresh = at_v(cold) & take_v
        keeper.holders.append((vsp[fresh], at_v(meter)[fresh]))
        touched = [vsp[fresh]]
        if len(rest_idx):
            rs = sp[rest_idx]
            touched.append(rs[rs >= 0])
        keeper.touched.append(np.concatenate(touched))
    rest = None if len(rest_idx) == 0 else reads.take(pa.array(rest_idx))

    if partial:
        vsp, imp, exp, exp_ok, invalid = (
            vsp[take_v],
            imp[take_v],
            exp[take_v],
            exp_ok[take_v],
            invalid[take_v],
        )
        quality, f = quality[take_v], f[take_v]
    n_v = len(vsp)
    any_invalid = bool(invalid.any())
    exp_null = invalid | ~exp_ok
    values = pa.table(
        {
            "supply_point_key": vsp,
            "slot": np.full(n_v, s, dtype=np.int64),
            "import_wh": pa.array(imp, mask=invalid if any_invalid else None),
            "export_wh": pa.array(exp, mask=exp_null if bool(exp_null.any()) else None),
            "qcode": quality,
            "version": np.ones(n_v, dtype=np.int32),
            "vee_flags": f.astype(np.int32),
        },
        schema=db.VALUE_SCHEMA,
    )
    n_took = int(ok.sum())
    new_reads = reads.select(READ_SCHEMA.names)
    if n_took < n:  # the rows to append are marked, DuckDB skips the others as it inserts
        new_reads = new_reads.append_column(db.TAKE_COLUMN, pa.array(ok))
    history = None
    stored = np.zeros(0, dtype=np.bool_)
    if hist_ok.any():
        h = np.flatnonzero(hist_ok)
        all_v = at_v(sp)
        hk = all_v[h]
        if len(hk) > 1 and not bool(np.all(hk[1:] > hk[:-1])):
            h = h[np.argsort(hk)]
        history = pa.table(
            {
                "supply_point_key": all_v[h],
                "n": new_hn[h].astype(np.int64),
                "mean_wh": new_hm[h],
            }
        )
        stored = had_mean[h]
    n_again = int(again.sum())
    return (
        TickPlan(
            n_took + n_again,
            n_took,
            n_v,
            int(invalid.sum()),
            int(np.count_nonzero(f)),
            new_reads,
            values,
            history,
            stored,
            n_again,
        ),
        rest,
    )


def _store_rows(keeper: Keeper, got: _Rows, ok: BoolArr, upd: TickState) -> None:
    """Write the batch's rows into the state: rows already there in place (those not taken
    are out of step: ``upd.mb`` -1), rows taken that are not there to the batch's pending
    new rows."""
    st = keeper.state
    if isinstance(got.at, slice):  # the usual tick: a run of the state's rows, in place
        for f_ in fields(TickState):
            getattr(st, f_.name)[got.at] = getattr(upd, f_.name)
        return
    there = got.there
    if there.any():
        p = got.at[there]
        for f_ in fields(TickState):
            getattr(st, f_.name)[p] = getattr(upd, f_.name)[there]
    fresh = ok & ~there
    if fresh.any():
        keeper.pending.append(
            TickState(**{f_.name: getattr(upd, f_.name)[fresh] for f_ in fields(TickState)})
        )


def _fill_cold(
    cur: duckdb.DuckDBPyConnection,
    r: TickState,
    cold: BoolArr,
    meter: I64,
    sp: I64,
    b: int,
    ok: BoolArr,
) -> TickState:
    """Fields of the rows not in step, from the store: one slot's look-ups. Rows whose meter
    or supply point has anything stored at or after this tick go to the general path."""
    s = b - 1
    r = TickState(**{f.name: getattr(r, f.name).copy() for f in fields(TickState)})
    ci = np.flatnonzero(cold)
    cm = meter[ci]
    mtab = pa.table({"meter_id": cm})
    later = db.meters_with_reads_from(cur, mtab, b)
    if len(later):
        ok[ci[np.isin(cm, later)]] = False
    got = db.existing_reads(cur, mtab, b - 1, b - 1)
    r.mb[ci] = b - 2  # no read at b - 1 (nothing stored at b or later: see above)
    r.sp[ci] = sp[ci]
    if got.num_rows:
        gm = int_column(got, "meter_id")
        j = np.searchsorted(cm, gm)
        at = ci[j]
        r.mb[at] = b - 1
        r.mi[at] = int_column(got, "import_register_wh")
        r.me[at] = int_column(got, "export_register_wh")
        r.mev[at] = np.asarray(
            got.column("export_register_wh").is_valid().to_numpy(zero_copy_only=False), np.bool_
        )
    # supply points: the value just before, anything at or after the slot, the mean
    r.p_any[ci] = s - 1
    r.p_last[ci] = LAST_UNKNOWN
    r.p_v[ci] = 0
    r.p_same[ci] = SAME_UNKNOWN
    r.p_t[ci] = -1
    r.p_z[ci] = -1
    r.p_dthru[ci] = -1
    r.p_dn[ci] = -1
    r.p_dsum[ci] = 0
    r.p_hn[ci] = 0
    r.p_hm[ci] = 0.0
    with_sp = ci[sp[ci] >= 0]
    if len(with_sp) == 0:
        return r
    keys = np.unique(sp[with_sp])
    ktab = pa.table({"supply_point_key": keys})
    after = db.keys_with_values_from(cur, ktab, s)
    if len(after):
        ok[with_sp[np.isin(sp[with_sp], after)]] = False
    near = db.current_versions(cur, ktab, s - 1, s - 1)
    if near.num_rows:
        nk = int_column(near, "supply_point_key")
        usable = pc.is_in(near.column("quality"), value_set=pa.array(list(QUALITIES[:3])))
        known = np.asarray(near.column("import_wh").is_valid().to_numpy(zero_copy_only=False))
        known &= np.asarray(pc.fill_null(usable, False).to_numpy(zero_copy_only=False), bool)
        nv = int_column(near, "import_wh")
        ne = int_column(near, "export_wh")  # a null export counts as zero (general path)
        i = np.minimum(np.searchsorted(nk, sp[with_sp]), len(nk) - 1)
        hit = (nk[i] == sp[with_sp]) & known[i]
        rows, i = with_sp[hit], i[hit]
        r.p_last[rows] = s - 1
        r.p_v[rows] = nv[i]
        r.p_z[rows] = np.where((nv[i] == 0) & (ne[i] == 0), -1, 0)
        r.p_same[rows] = np.where(nv[i] > 0, SAME_UNKNOWN, 0)
    hist = db.history(cur, ktab)
    if hist.num_rows:
        hk = int_column(hist, "supply_point_key")
        i = np.minimum(np.searchsorted(hk, sp[with_sp]), len(hk) - 1)
        hit = hk[i] == sp[with_sp]
        rows, i = with_sp[hit], i[hit]
        r.p_hn[rows] = int_column(hist, "n")[i]
        r.p_hm[rows] = np.asarray(hist.column("mean_wh").to_numpy(), np.float64)[i]
    return r


@dataclass
class _Back:
    """Per supply point asked for, from its stored values before slot ``s``."""

    z: npt.NDArray[np.int16]  # zero run ending at s - 1 (0: s - 1 not a usable zero)
    t: npt.NDArray[np.int16]  # flat run ending just before s - 1 (see module: ``p_t``)
    same: npt.NDArray[np.int8]  # s - 1 equals the usable value before it (2: unknown)
    day_n: I64  # usable values of the JST day of slot s, before s
    day_sum: I64  # their import [Wh]


def _look_back(cur: duckdb.DuckDBPyConnection, sp: I64, first: int, s: int) -> _Back:
    """Run and day summaries for supply points ``sp`` from their current stored versions of
    slots ``first … s - 1``. A run that reaches back to ``first`` is counted from there: the
    window is longer than any run threshold, so the flags come out the same."""
    n = len(sp)
    out = _Back(
        np.zeros(n, np.int16),
        np.zeros(n, np.int16),
        np.zeros(n, np.int8),
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
    )
    keys = np.unique(sp)
    got = db.current_versions(cur, pa.table({"supply_point_key": keys}), first, s - 1)
    if got.num_rows == 0:
        return out
    usable = pc.is_in(got.column("quality"), value_set=pa.array(list(QUALITIES[:3])))
    known = np.asarray(got.column("import_wh").is_valid().to_numpy(zero_copy_only=False))
    known &= np.asarray(pc.fill_null(usable, False).to_numpy(zero_copy_only=False), bool)
    gk, gs = int_column(got, "supply_point_key")[known], int_column(got, "slot")[known]
    gv, ge = int_column(got, "import_wh")[known], int_column(got, "export_wh")[known]
    m = len(gk)
    if m == 0:
        return out
    same_key = np.zeros(m, dtype=np.bool_)
    same_key[1:] = gk[1:] == gk[:-1]
    adjacent = same_key.copy()
    adjacent[1:] &= gs[1:] == gs[:-1] + 1
    same = np.zeros(m, dtype=np.bool_)
    same[1:] = same_key[1:] & (gv[1:] == gv[:-1]) & (gv[1:] > 0)
    flat = same.copy()
    flat[:-1] |= same[1:]
    zero = (gv == 0) & (ge == 0)  # a null export counts as zero, as stored values do

    def run_ending(cond: BoolArr) -> I64:
        """Length of the run of adjacent elements where cond holds, ending at each one."""
        cont = np.zeros(m, dtype=np.bool_)
        cont[1:] = adjacent[1:] & cond[1:] & cond[:-1]
        start = cond & ~cont
        idx = np.arange(m)
        begin = np.maximum.accumulate(np.where(start, idx, -1))
        return np.where(cond, idx - begin + 1, 0)

    zr, fr = run_ending(zero), run_ending(flat)
    last = np.ones(m, dtype=np.bool_)
    last[:-1] = gk[1:] != gk[:-1]
    li = np.flatnonzero(last)  # each key's last usable value
    lk = gk[li]
    at_s1 = gs[li] == s - 1
    has_prev = same_key[li]
    z = np.where(at_s1, zr[li], 0)
    t = np.where(at_s1 & adjacent[li], fr[np.maximum(li - 1, 0)], 0)
    same_l = np.where(has_prev, same[li], np.where(gv[li] > 0, SAME_UNKNOWN, 0))
    day_first = s - (s + 18) % 48
    in_day = gs >= day_first
    grp = np.cumsum(np.r_[True, ~same_key[1:]]) - 1
    day_n = np.bincount(grp, weights=in_day, minlength=len(li)).astype(np.int64)
    day_sum = np.bincount(grp, weights=np.where(in_day, gv, 0), minlength=len(li))
    i = np.minimum(np.searchsorted(lk, sp), len(lk) - 1)
    hit = lk[i] == sp
    out.z[hit] = np.minimum(z[i[hit]], RUN_CAP)
    out.t[hit] = np.minimum(t[i[hit]], RUN_CAP)
    out.same[hit] = same_l[i[hit]]
    out.day_n[hit] = day_n[i[hit]]
    out.day_sum[hit] = np.rint(day_sum[i[hit]]).astype(np.int64)
    return out


def _events(
    cur: duckdb.DuckDBPyConnection, meter: I64, s: int, b: int
) -> tuple[BoolArr | None, BoolArr | None]:
    """(outage, tamper) per value of slot ``s`` from the event periods around the tick
    (the general path's window: boundaries b-1 … b+1)."""
    events = db.events_between(cur, (b - 1) * 1800.0, (b + 1) * 1800.0)
    if events.num_rows == 0 or len(meter) == 0:
        return None, None
    outage = np.zeros(len(meter), dtype=np.bool_)
    tamper = np.zeros(len(meter), dtype=np.bool_)
    for ev in events.to_pylist():  # one Python step per event, not per reading
        s0 = int(np.floor(ev["start_s"] / 1800.0))
        s1 = int(np.ceil(ev["end_s"] / 1800.0)) - 1
        if not s0 <= s <= s1:
            continue
        i0 = np.searchsorted(meter, ev["meter_id"], "left")
        i1 = np.searchsorted(meter, ev["meter_id"], "right")
        target = outage if ev["kind"] in OUTAGE_KINDS else tamper
        target[i0:i1] = True
    return outage, tamper
