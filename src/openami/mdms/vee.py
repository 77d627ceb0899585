"""Validation of half-hour values, vectorized over a batch (NumPy, no object per reading).

Input is a series of register reads sorted by (meter, boundary) with at most one current
read per key. The value of slot ``s`` is the register at boundary ``s+1`` minus the one at
``s`` (times the meter's multiplier); each rule of docs/mdms.md sets a bit in ``flags``. A
value whose flags hit a rule with action ``reject`` becomes ``invalid``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openami.bus.messages import QUALITY_NAMES, Quality
from openami.clock import jst_day_number
from openami.mdms.vee_config import VeeConfig, bit

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U32 = npt.NDArray[np.uint32]
BoolArr = npt.NDArray[np.bool_]

QUALITIES = QUALITY_NAMES
Q_MEASURED, Q_ESTIMATED, Q_EDITED, Q_MISSING, Q_INVALID = (
    int(q)
    for q in (Quality.MEASURED, Quality.ESTIMATED, Quality.EDITED, Quality.MISSING, Quality.INVALID)
)
QUALITY_CODE = {q: i for i, q in enumerate(QUALITIES)}


@dataclass
class ReadSeries:
    """Current register reads, sorted by (meter_id, boundary); registers in Wh."""

    meter_id: I64
    boundary: I64
    import_wh: I64
    export_wh: I64  # 0 where ``export_valid`` is False
    export_valid: BoolArr
    is_new: BoolArr
    read_flags: U32  # per read: V02 / V09 / V11 bits that spill onto both adjacent slots


@dataclass
class MeterParams:
    """Per read (aligned with the series): register range, multiplier, slot capacity."""

    modulus_wh: I64
    multiplier: I64
    capacity_wh: F64  # contract amperage × voltage × 0.5 h × multiplier
    unit_wh: I64  # register unit (V11: registers must be whole units)


@dataclass
class SlotValues:
    """One row per computed half-hour value, in series order (meter, slot)."""

    meter_id: I64
    slot: I64
    import_wh: I64
    export_wh: I64
    export_valid: BoolArr
    quality: npt.NDArray[np.uint8]
    flags: U32

    def __len__(self) -> int:
        return len(self.slot)

    def take(self, index: npt.ArrayLike) -> SlotValues:
        idx = np.asarray(index)
        return SlotValues(
            self.meter_id[idx],
            self.slot[idx],
            self.import_wh[idx],
            self.export_wh[idx],
            self.export_valid[idx],
            self.quality[idx],
            self.flags[idx],
        )


def is_rollover(
    before_wh: I64,
    delta_wh: I64,
    modulus_wh: I64,
    multiplier: I64,
    high_wh: F64,
    window: float,
) -> BoolArr:
    """V04R: a negative register difference is a rollover when the register before it was
    in the top ``window`` of the register's range (``modulus_wh``) and the wrapped
    difference is plausible (at most ``high_wh``, V07's high limit); else it is V04."""
    near_top = before_wh >= modulus_wh * (1.0 - window)
    return near_top & ((delta_wh + modulus_wh) * multiplier <= high_wh)


def compute_values(series: ReadSeries, params: MeterParams, cfg: VeeConfig) -> SlotValues:
    """Values for every slot with reads at both ends of which at least one read is new.

    Applies V04 (negative delta / rollover) and V11-style read flags; the other rules need
    context and run in :func:`validate`.
    """
    m, b = series.meter_id, series.boundary
    pair = (m[1:] == m[:-1]) & (b[1:] == b[:-1] + 1) & (series.is_new[1:] | series.is_new[:-1])
    start = np.flatnonzero(pair)
    end = start + 1
    flags = (series.read_flags[start] | series.read_flags[end]).astype(np.uint32)
    mult = params.multiplier[start]
    modulus = params.modulus_wh[start]
    window = cfg.rule("V04").p("rollover_window")
    cap = params.capacity_wh[start] * cfg.rule("V07").p("high_factor")

    unit_mult = bool(np.all(mult == 1))

    def delta(reg: I64) -> tuple[I64, BoolArr, BoolArr]:
        d = reg[end] - reg[start]
        neg = d < 0
        roll = np.zeros(len(d), dtype=np.bool_)
        if neg.any():  # rare: look at the negative deltas only
            i = np.flatnonzero(neg)
            r = is_rollover(reg[start[i]], d[i], modulus[i], mult[i], cap[i], window)
            roll[i[r]] = True
            d[i[r]] += modulus[i[r]]
            neg[i[r]] = False
        return (d if unit_mult else d * mult), neg, roll

    imp, imp_bad, imp_roll = delta(series.import_wh)
    exp_valid = series.export_valid[start] & series.export_valid[end]
    exp, exp_bad, exp_roll = delta(series.export_wh)
    exp_bad &= exp_valid
    exp_roll &= exp_valid
    flags |= np.where(imp_bad | exp_bad, bit("V04"), 0).astype(np.uint32)
    flags |= np.where(imp_roll | exp_roll, bit("V04R"), 0).astype(np.uint32)
    return SlotValues(
        m[start],
        b[start],
        imp,
        np.where(exp_valid, exp, 0),
        exp_valid,
        np.zeros(len(start), dtype=np.uint8),
        flags,
    )


@dataclass
class SlotContext:
    """Per value (aligned with :class:`SlotValues`): what the rules compare against."""

    capacity_wh: F64  # contract capacity of the slot [Wh]
    history_mean_wh: F64  # supply point's running mean import [Wh]
    history_n: I64  # values behind that mean
    outage: BoolArr  # slot overlaps an outage or an open switch
    tamper: BoolArr  # slot overlaps a tamper, reset or test-mode event
    supply_point_key: I64 | None = None  # with ``prior``: runs continue stored values
    prior: PriorValues | None = None


@dataclass
class PriorValues:
    """Stored current values just before a narrow batch (slots not in the batch), so that
    zero and flat-line runs (V08) can begin before the batch."""

    supply_point_key: I64
    slot: I64
    import_wh: I64
    zero: BoolArr  # import and export both zero


def _low_days(
    key: I64,
    slot: I64,
    imp: I64,
    outage: BoolArr,
    capacity_wh: F64,
    low_wh: float,
    low_frac: float,
) -> BoolArr:
    """V07 low, for values sorted by (key, slot): in a JST day of 48 values whose import is
    at most max(low_wh, low_frac × capacity × 48) with no outage. NaN capacities (stored
    values) are ignored."""
    n = len(imp)
    if n == 0:
        return np.zeros(0, dtype=np.bool_)
    day = jst_day_number(slot)
    newg = np.ones(n, dtype=np.bool_)
    newg[1:] = (key[1:] != key[:-1]) | (day[1:] != day[:-1])
    starts = np.flatnonzero(newg)
    group = np.cumsum(newg) - 1
    count = np.bincount(group)
    total = np.bincount(group, weights=imp.astype(np.float64))
    outage_any = np.bincount(group, weights=outage.astype(np.float64)) > 0
    with np.errstate(invalid="ignore"):
        cap = np.fmax.reduceat(capacity_wh, starts)
    low = np.fmax(low_wh, low_frac * cap * 48)
    return ((count == 48) & (total <= low) & ~outage_any)[group]


def run_masks(
    key: I64, slot: I64, imp: I64, zero: BoolArr, zero_len: int, flat_len: int
) -> tuple[BoolArr, BoolArr]:
    """(in a zero run, in a flat-line run) for values sorted by (key, slot)."""
    same = np.zeros(len(imp), dtype=np.bool_)
    same[1:] = (imp[1:] == imp[:-1]) & (imp[1:] > 0) & (key[1:] == key[:-1])
    flat_cond = same.copy()
    flat_cond[:-1] |= same[1:]  # the first value of a flat run belongs to it too
    return _runs(key, slot, zero, zero_len), _runs(key, slot, flat_cond, flat_len)


def _runs(key: I64, slot: I64, cond: BoolArr, min_len: int) -> BoolArr:
    """True for values in runs of ≥ ``min_len`` consecutive slots (same key) where cond."""
    n = len(cond)
    out = np.zeros(n, dtype=np.bool_)
    if n == 0 or min_len <= 0:
        return out
    cont = np.zeros(n, dtype=np.bool_)
    cont[1:] = (key[1:] == key[:-1]) & (slot[1:] == slot[:-1] + 1) & cond[1:] & cond[:-1]
    first = cond & ~cont
    run_id = np.cumsum(first) - 1
    # length of each run = number of values with that run id
    lengths = np.bincount(run_id[cond], minlength=int(first.sum()))
    long_run = lengths >= min_len
    out[cond] = long_run[run_id[cond]]
    return out


def validate(values: SlotValues, ctx: SlotContext, cfg: VeeConfig) -> SlotValues:
    """Apply V06–V10 to computed values, then set quality from the flags (in place)."""
    imp, exp = values.import_wh, values.export_wh
    f = values.flags
    # V07 high: one import value above the contract capacity (the limiter's ceiling)
    high = ctx.capacity_wh * cfg.rule("V07").p("high_factor")
    f |= np.where(imp > high, bit("V07"), 0).astype(np.uint32)  # export is not limited
    # V06 spike against the supply point's own history
    r6 = cfg.rule("V06")
    spike = (
        (ctx.history_n >= r6.p("min_history"))
        & (imp > r6.p("min_wh"))
        & (imp > r6.p("factor") * ctx.history_mean_wh)
    )
    f |= np.where(spike, bit("V06"), 0).astype(np.uint32)
    # V10 events: outage slots are valid zeros; tamper/reset/test flag
    f |= np.where(ctx.outage, bit("V10O"), 0).astype(np.uint32)
    f |= np.where(ctx.tamper, bit("V10"), 0).astype(np.uint32)
    # V08 zero and flat-line runs while connected (not in an outage), V07 low days
    zero = (imp == 0) & (~values.export_valid | (exp == 0)) & ~ctx.outage
    zero_run, flat_run, low_day = _runs_and_days(values, ctx, zero, cfg)
    f |= np.where(zero_run, bit("V08"), 0).astype(np.uint32)
    f |= np.where(flat_run, bit("V08F"), 0).astype(np.uint32)
    f |= np.where(low_day, bit("V07L"), 0).astype(np.uint32)
    values.flags = f
    # V04R, V07L and V10O are information only; V08F shares the action of V08
    reject = cfg.reject_mask()
    if cfg.rule("V08").action == "reject":
        reject |= bit("V08F")
    values.quality = np.where((f & reject) != 0, Q_INVALID, Q_MEASURED).astype(np.uint8)
    return values


def _runs_and_days(
    values: SlotValues, ctx: SlotContext, zero: BoolArr, cfg: VeeConfig
) -> tuple[BoolArr, BoolArr, BoolArr]:
    """(in a zero run, in a flat-line run, in a low day) per value, continuing the stored
    values before a narrow batch (``ctx.prior``) where there are any."""
    r8, r7 = cfg.rule("V08"), cfg.rule("V07")
    zlen, flen = int(r8.p("zero_run_slots")), int(r8.p("flat_run_slots"))
    low_wh, low_frac = r7.p("low_daily_wh"), r7.params.get("low_daily_fraction", 0.0)
    imp, prior = values.import_wh, ctx.prior
    if prior is None or ctx.supply_point_key is None or not len(prior.slot):
        zero_run, flat_run = run_masks(values.meter_id, values.slot, imp, zero, zlen, flen)
        low_day = _low_days(
            values.meter_id, values.slot, imp, ctx.outage, ctx.capacity_wh, low_wh, low_frac
        )
        return zero_run, flat_run, low_day
    n_prior = len(prior.slot)
    k = np.concatenate([prior.supply_point_key, ctx.supply_point_key])
    sl = np.concatenate([prior.slot, values.slot])
    order = np.lexsort((sl, k))
    ks, ss = k[order], sl[order]
    imps = np.concatenate([prior.import_wh, imp])[order]
    zmask, fmask = run_masks(ks, ss, imps, np.concatenate([prior.zero, zero])[order], zlen, flen)
    lmask = _low_days(
        ks,
        ss,
        imps,
        np.concatenate([np.zeros(n_prior, np.bool_), ctx.outage])[order],
        np.concatenate([np.full(n_prior, np.nan), ctx.capacity_wh])[order],
        low_wh,
        low_frac,
    )
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return zmask[back][n_prior:], fmask[back][n_prior:], lmask[back][n_prior:]


def sum_check(
    values_wh: F64, register_delta_wh: float, tolerance_wh: float, tolerance_pct: float
) -> bool:
    """V05: do the values of a span add up to the register difference over it?"""
    total = float(np.sum(values_wh))
    allowed = max(tolerance_wh, abs(register_delta_wh) * tolerance_pct / 100.0)
    return abs(total - register_delta_wh) <= allowed
