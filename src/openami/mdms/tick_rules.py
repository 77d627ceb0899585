"""The VEE rules on a tick's values, against the facts of the tick cache.

A tick's values are the register differences between each read and the meter's last read
in the cache; the rules that look beyond one value (V06's running mean, V08's runs, V07's
low day) use the cache's summaries of the supply point's stored values instead of reading
them. What the general path would compute from the stored values, this computes from the
summaries: ``tests/mdms/test_tick_state.py`` compares both over many ticks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from openami.clock import SLOTS_PER_DAY, slot_of_day, slot_start_s
from openami.mdms.events import event_slot_masks
from openami.mdms.ingest_context import IngestContext
from openami.mdms.tick_cache import TickRows
from openami.mdms.tick_lookups import TickKeys, look_back
from openami.mdms.vee import MeterParams, is_rollover
from openami.mdms.vee_config import bit
from openami.storage.interval_ingest import IngestTransaction

I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]
BoolArr = npt.NDArray[np.bool_]
_U32 = np.uint32


@dataclass(frozen=True)
class ValueIndex:
    """The reads of a tick that have a value; ``every``: all of them (the usual tick), so
    arrays are used as they are, without a gather."""

    index: npt.NDArray[np.intp]
    every: bool

    def __call__(self, per_read: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """``per_read`` at the reads with a value."""
        return per_read if self.every else per_read[self.index]

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class TickRegisters:
    """A tick's registers per read (aligned with its keys)."""

    import_register_wh: I64
    export_register_wh: I64
    export_valid: BoolArr
    flags: U32  # V09 / V11 per read


@dataclass
class TickValues:
    """Per value of a tick: energies, flags, and the meter parameters behind them."""

    supply_point_key: I64
    import_wh: I64
    export_wh: I64  # 0 where not ``export_ok``
    export_ok: BoolArr
    flags: U32
    params: MeterParams
    outage: BoolArr | None  # in an outage (V10O); None: no event anywhere


def tick_values(
    tx: IngestTransaction,
    keys: TickKeys,
    registers: TickRegisters,
    rows: TickRows,
    at: ValueIndex,
    ctx: IngestContext,
) -> TickValues:
    """Register differences against the cache's last reads (V04/V04R), then V07 high, V06
    spikes against the cached running means and V10 events."""
    meters, cfg = ctx.meters, ctx.vee
    params = (meters.params_run(keys.meter_id) if at.every else None) or meters.params(
        at(keys.meter_id)
    )
    high = params.capacity_wh * cfg.rule("V07").p("high_factor")
    flags = at(registers.flags)
    deltas = _Deltas(params, high, cfg.rule("V04").p("rollover_window"), flags)
    import_wh = deltas.of(at(registers.import_register_wh), at(rows.last_import_register_wh))
    export_ok = at(rows.last_export_valid) & at(registers.export_valid)
    export_wh = np.where(
        export_ok,
        deltas.of(at(registers.export_register_wh), at(rows.last_export_register_wh), export_ok),
        0,
    )
    flags |= (import_wh > high).astype(_U32) * _U32(bit("V07"))
    r6 = cfg.rule("V06")
    count, mean_wh = at(rows.v06_count), at(rows.v06_mean_wh)  # views: read only
    spike = (count >= r6.p("min_history")) & (import_wh > r6.p("min_wh"))
    spike &= import_wh > r6.p("factor") * mean_wh
    flags |= spike.astype(_U32) * _U32(bit("V06"))
    outage, tamper = _events(tx, at(keys.meter_id), keys)
    if outage is not None:
        flags |= outage.astype(_U32) * _U32(bit("V10O"))
    if tamper is not None:
        flags |= tamper.astype(_U32) * _U32(bit("V10"))
    return TickValues(
        at(keys.supply_point_key), import_wh, export_wh, export_ok, flags, params, outage
    )


class _Deltas:
    """Register differences, judged for V04 (set back) or V04R (rollover) where negative."""

    def __init__(
        self, params: MeterParams, high: npt.NDArray[np.float64], window: float, flags: U32
    ) -> None:
        self.params, self.high, self.window, self.flags = params, high, window, flags
        self.unit_multiplier = bool(np.all(params.multiplier == 1))

    def of(self, new: I64, previous: I64, valid: BoolArr | None = None) -> I64:
        d = new - previous
        negative = d < 0
        if valid is not None:
            negative &= valid
        if negative.any():  # rare: judge the negative deltas one by one as arrays
            i = np.flatnonzero(negative)
            modulus, multiplier = self.params.modulus_wh, self.params.multiplier
            roll = is_rollover(
                previous[i], d[i], modulus[i], multiplier[i], self.high[i], self.window
            )
            d[i[roll]] += modulus[i[roll]]
            self.flags[i[roll]] |= _U32(bit("V04R"))
            self.flags[i[~roll]] |= _U32(bit("V04"))
        return d if self.unit_multiplier else d * self.params.multiplier


def _events(
    tx: IngestTransaction, meter_id: I64, keys: TickKeys
) -> tuple[BoolArr | None, BoolArr | None]:
    """(outage, tamper) per value from the event periods around the tick (the general
    path's window: boundaries b-1 … b+1); ``None`` where there is no event."""
    b = keys.boundary
    events = tx.events_between(slot_start_s(b - 1), slot_start_s(b + 1))
    if events.num_rows == 0 or len(meter_id) == 0:
        return None, None
    return event_slot_masks(events, meter_id, np.full(len(meter_id), keys.slot, np.int64))


@dataclass
class RunFacts:
    """Per value: the cache's run and day facts, completed by a look-back where the value
    depends on one it did not know."""

    adjacent: BoolArr  # the last usable value is the slot before
    last_usable_slot: npt.NDArray[np.int32]
    zero_run_slots: npt.NDArray[np.int16]
    flat_run_slots: npt.NDArray[np.int16]
    last_equals_previous: npt.NDArray[np.int8]
    same_as_last: BoolArr  # positive and equal to the last usable value
    day_known: BoolArr
    day_count_before: I64
    day_import_before_wh: I64
    #: the value depends on what neither the cache nor the look-back knew: general path
    needs_general: BoolArr


def run_rules(
    tx: IngestTransaction,
    values: TickValues,
    rows: TickRows,
    at: ValueIndex,
    keys: TickKeys,
    ctx: IngestContext,
) -> RunFacts:
    """V08 zero and flat-line runs continuing the stored values, and V07 low at the day's
    last slot (flags set in ``values.flags``)."""
    s = keys.slot
    facts = _cached_facts(values, rows, at, s)
    r8 = ctx.vee.rule("V08")
    zero_len, flat_len = int(r8.p("zero_run_slots")), int(r8.p("flat_run_slots"))
    zero = _zero(values)
    last_of_day = slot_of_day(s) == SLOTS_PER_DAY - 1
    facts.needs_general = _unknown(facts, zero, last_of_day)
    if facts.needs_general.any():  # from the stored values before the slot
        first = s - max(zero_len, flat_len) - 2
        if last_of_day:
            first = min(first, s - SLOTS_PER_DAY + 1)
        _look_back_into(tx, facts, values, first, s, last_of_day)
        facts.needs_general = _unknown(facts, zero, False)
    zero_run = np.where(facts.adjacent, facts.zero_run_slots.astype(np.int64), 0) + 1
    flags = values.flags
    flags |= (zero & (zero_run >= zero_len)).astype(_U32) * _U32(bit("V08"))
    flat = facts.same_as_last & facts.adjacent
    flat &= facts.flat_run_slots.astype(np.int64) + 2 >= flat_len
    flags |= flat.astype(_U32) * _U32(bit("V08F"))
    if last_of_day:
        flags |= _low_day(values, facts, ctx).astype(_U32) * _U32(bit("V07L"))
    return facts


def _cached_facts(values: TickValues, rows: TickRows, at: ValueIndex, s: int) -> RunFacts:
    last_slot = at(rows.last_usable_slot)
    same = (values.import_wh == at(rows.last_usable_import_wh)) & (values.import_wh > 0)
    same &= last_slot >= 0
    n = len(values.import_wh)
    if slot_of_day(s) == 0:  # the day begins with this value
        day_known = np.ones(n, dtype=np.bool_)
        count, import_wh = np.zeros(n, np.int64), np.zeros(n, np.int64)
    else:
        day_known = (at(rows.day_through_slot) == s - 1) & (at(rows.day_usable_count) >= 0)
        count = np.where(day_known, at(rows.day_usable_count), 0).astype(np.int64)
        import_wh = np.where(day_known, at(rows.day_import_wh), 0).astype(np.int64)
    return RunFacts(
        last_slot == s - 1,
        last_slot,
        at(rows.zero_run_slots),
        at(rows.flat_run_slots),
        at(rows.last_equals_previous),
        same,
        day_known,
        count,
        import_wh,
        np.zeros(n, dtype=np.bool_),
    )


def _zero(values: TickValues) -> BoolArr:
    """Zero import and export, not in an outage."""
    zero = (values.import_wh == 0) & (~values.export_ok | (values.export_wh == 0))
    if values.outage is not None:
        zero &= ~values.outage
    return zero


def _unknown(facts: RunFacts, zero: BoolArr, last_of_day: bool) -> BoolArr:
    """Values whose V08 (or, at the day's last slot, V07 low) needs an unknown fact."""
    need = (zero & facts.adjacent & (facts.zero_run_slots < 0)) | (
        facts.same_as_last & facts.adjacent & (facts.flat_run_slots < 0)
    )
    if last_of_day:
        need |= ~facts.day_known
    return need


def _look_back_into(
    tx: IngestTransaction, facts: RunFacts, values: TickValues, first: int, s: int, day: bool
) -> None:
    """The unknown facts of the values that need them, from the stored values (the cache's
    arrays are views: they are copied before they change)."""
    w = np.flatnonzero(facts.needs_general)
    found = look_back(tx, values.supply_point_key[w], first, s)
    facts.zero_run_slots = facts.zero_run_slots.copy()
    facts.flat_run_slots = facts.flat_run_slots.copy()
    facts.last_equals_previous = facts.last_equals_previous.copy()
    facts.zero_run_slots[w] = found.zero_run_slots
    facts.flat_run_slots[w] = found.flat_run_slots
    facts.last_equals_previous[w] = found.last_equals_previous
    if day:
        facts.day_known = facts.day_known.copy()
        facts.day_known[w] = True
        facts.day_count_before[w] = found.day_usable_count
        facts.day_import_before_wh[w] = found.day_import_wh


def _low_day(values: TickValues, facts: RunFacts, ctx: IngestContext) -> BoolArr:
    """V07 low at the day's last slot: the whole day's import against the contract."""
    r7 = ctx.vee.rule("V07")
    low_wh, low_fraction = r7.p("low_daily_wh"), r7.params.get("low_daily_fraction", 0.0)
    limit = np.fmax(low_wh, low_fraction * values.params.capacity_wh * SLOTS_PER_DAY)
    low = (facts.day_count_before + 1 == SLOTS_PER_DAY) & (
        facts.day_import_before_wh + values.import_wh <= limit
    )
    if values.outage is not None:
        low &= ~values.outage
    return low
