"""Lookups the VEE pipeline needs per read, as sorted NumPy arrays (no object per meter).

- :func:`installed_slots`, :func:`installed_during`: "a meter is installed during the slot",
  the one rule for installations (``clock.slots_within``; in SQL ``slot_sql.installed``);
- :class:`InstallIndex`: meter → supply point at a slot, from the registry's installations;
- :class:`MeterIndex`: register modulus, unit, multiplier and contract capacity per meter.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import slots_within
from openami.mdms.columns import run_starts
from openami.mdms.vee import MeterParams
from openami.mdms.vee_config import VeeConfig

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
SLOT_BITS = 21  # slot indexes stay below 2**21 until 2089


def installed_slots(installations: pa.Table) -> tuple[I64, I64]:
    """Per installation row (``valid_from``, ``valid_to`` [epoch s], NULL: still installed):
    the first slot its meter is installed during and the stop (one past the last). A meter
    is installed during a slot when the slot lies wholly inside ``[valid_from, valid_to)``."""
    vf = installations.column("valid_from").to_numpy(zero_copy_only=False)
    vt = pc.fill_null(installations.column("valid_to"), np.inf).to_numpy(zero_copy_only=False)
    return slots_within(vf, vt)


def installed_during(installations: pa.Table, first_slot: int, last_slot: int) -> Bools:
    """Per installation row: whether its meter is installed during at least one slot of
    ``first_slot..last_slot`` (:func:`installed_slots`)."""
    first, stop = installed_slots(installations)
    return np.maximum(first, first_slot) < np.minimum(stop, last_slot + 1)


def narrowest_int(values: npt.NDArray[np.integer]) -> npt.NDArray[np.integer]:
    """``values`` as int32 when every one fits (half the memory of int64), else as int64."""
    if len(values) == 0 or (
        int(values.min()) >= np.iinfo(np.int32).min and int(values.max()) <= np.iinfo(np.int32).max
    ):
        return values.astype(np.int32)
    return values.astype(np.int64)


class InstallIndex:
    """Point-in-time lookup meter → supply point from the registry's installation periods
    (a slot belongs to an installation if its meter is installed during it:
    :func:`installed_slots`).

    Memory (81.5 M meters): slots are kept as int32 (they stay below ``2**SLOT_BITS``), keys
    as int32 where the registry's keys fit, and a registry with one installation per meter
    and meter IDs without holes keeps no meter column at all (the position is the ID minus
    the first): 12 bytes per installation instead of 32."""

    def __init__(self, installations: pa.Table) -> None:
        meter = installations.column("meter_id").to_numpy().astype(np.int64)
        first, stop = installed_slots(installations)
        stop = np.minimum(stop, 2**SLOT_BITS)
        order = np.lexsort((first, meter))
        meter = meter[order]
        self.first = np.clip(first[order], -1, 2**SLOT_BITS).astype(np.int32)
        self.stop = stop[order].astype(np.int32)
        del first, stop
        key = installations.column("supply_point_key").to_numpy()
        self.key = narrowest_int(key[order])
        n = len(meter)
        self._first_meter = int(meter[0]) if n else 0
        #: one installation per meter and meter IDs without holes (a registry's serial keys):
        #: the installation of a meter is at ``meter_id - first meter``, no search needed
        self._dense = n > 0 and int(meter[-1]) - int(meter[0]) == n - 1
        self._dense = self._dense and (n < 2 or bool(np.all(meter[1:] > meter[:-1])))
        self.meter = np.zeros(0, dtype=np.int64) if self._dense else meter
        self._comp = (
            np.zeros(0, dtype=np.int64)
            if self._dense
            else (meter << SLOT_BITS) + np.clip(self.first, 0, 2**SLOT_BITS - 1)
        )

    def __len__(self) -> int:
        return len(self.key)

    def nbytes(self) -> int:
        """Bytes of the index's arrays."""
        return sum(a.nbytes for a in (self.meter, self.first, self.stop, self.key, self._comp))

    def lookup(self, meter_id: I64, slot: I64) -> I64:
        """Supply point key per (meter, slot), -1 where no installation covers the slot."""
        n = len(self.key)
        if n == 0:
            return np.full(len(slot), -1, dtype=np.int64)
        if self._dense:
            off = meter_id - self._first_meter
            j = np.clip(off, 0, n - 1)
            hit = (off >= 0) & (off < n) & (slot >= self.first[j])
            hit &= slot < self.stop[j]
            return np.where(hit, self.key[j], -1).astype(np.int64, copy=False)
        comp = (meter_id << SLOT_BITS) + slot
        i = np.searchsorted(self._comp, comp, side="right") - 1
        ok = i >= 0
        i = np.maximum(i, 0)
        ok &= (self.meter[i] == meter_id) & (slot >= self.first[i]) & (slot < self.stop[i])
        return np.where(ok, self.key[i], -1).astype(np.int64, copy=False)

    def lookup_run(self, meter_id: I64, slot: int) -> I64 | None:
        """:meth:`lookup` for meters that are a run of consecutive IDs (a tick's part), all
        at one slot, as a slice of the index (no search); ``None`` where that does not apply
        (then use :meth:`lookup`)."""
        n = len(meter_id)
        if not self._dense or n == 0 or int(meter_id[-1]) - int(meter_id[0]) != n - 1:
            return None
        i0 = int(meter_id[0]) - self._first_meter
        if i0 < 0 or i0 + n > len(self.key):
            return None
        sl = slice(i0, i0 + n)
        key = self.key[sl].astype(np.int64)
        if bool(np.all((self.first[sl] <= slot) & (slot < self.stop[sl]))):
            return key
        return np.where((self.first[sl] <= slot) & (slot < self.stop[sl]), key, -1)


def _codes(
    column: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Per row the index of its value in the distinct values (hash-based, no sort)."""
    dictionary = pc.dictionary_encode(pa.array(column))
    codes = np.asarray(dictionary.indices.to_numpy(), dtype=np.int64)
    return codes, np.asarray(dictionary.dictionary.to_numpy(), dtype=np.float64)


class MeterIndex:
    """Per meter: register modulus [Wh], multiplier and slot capacity [Wh]; defaults else.

    The parameters are kept per *class* (each distinct combination of register digits,
    unit, multiplier and contract amperage: a fleet has a few dozen), with one small class
    code per meter (uint8/uint16/int32, whatever holds the classes); meters with IDs without
    holes keep no ID column (position = ID minus the first). 81.5 M meters: 1-2 bytes each
    instead of 40."""

    def __init__(self, meters: pa.Table, cfg: VeeConfig) -> None:
        d = cfg.meter_defaults
        ids = meters.column("meter_id").to_numpy().astype(np.int64)
        order = np.argsort(ids)
        ids = ids[order]
        n = len(ids)
        self._dense = n > 0 and int(ids[-1]) - int(ids[0]) == n - 1
        self._dense = self._dense and (n < 2 or bool(np.all(ids[1:] > ids[:-1])))
        self._first_id = int(ids[0]) if n else 0
        self._n = n
        self.ids = np.zeros(0, dtype=np.int64) if self._dense else ids
        del ids

        def col(name: str, default: float) -> npt.NDArray[np.float64]:
            if name not in meters.column_names:
                return np.full(n, default)
            c = pc.fill_null(meters.column(name).cast(pa.float64()), default)
            return np.asarray(c.to_numpy(), dtype=np.float64)[order]

        self.volts = volts = d.get("supply_voltage_v", 100)
        # one code per meter for its (digits, unit, amperage, multiplier) combination
        combined = np.zeros(n, dtype=np.int64)
        parts: list[npt.NDArray[np.float64]] = []
        for name, default in (
            ("register_digits", d.get("register_digits", 9)),
            ("register_unit_wh", d.get("register_unit_wh", 1)),
            ("contract_amperage_a", d.get("contract_amperage_a", 60)),
            ("multiplier", d.get("multiplier", 1)),
        ):
            codes, distinct = _codes(col(name, default))
            combined = combined * len(distinct) + codes
            parts.append(distinct)
            del codes
        class_of = pc.dictionary_encode(pa.array(combined))
        del combined
        code = np.asarray(class_of.indices.to_numpy(), dtype=np.int64)
        key = np.asarray(class_of.dictionary.to_numpy(), dtype=np.int64)
        per_class = []
        for distinct in reversed(parts):
            per_class.append(distinct[key % len(distinct)])
            key = key // len(distinct)
        multiplier, amps, unit, digits = per_class
        self.modulus = (10.0**digits * unit).astype(np.int64)
        self.unit = unit.astype(np.int64)
        self.multiplier = multiplier.astype(np.int64)
        # a transformer-operated meter's rating is on the secondary side: × its multiplier
        self.capacity = amps * volts * 0.5 * self.multiplier
        n_classes = len(self.unit)
        code_type = np.uint8 if n_classes <= 256 else np.uint16 if n_classes <= 65536 else np.int32
        #: per meter (in ID order): its class, the row of ``modulus``, ``unit``, ...
        self.code = code.astype(code_type)
        del code
        #: the largest register unit of any meter (1: no V11 whole-unit check needed)
        self.max_unit_wh = int(max(self.unit.max(initial=1), d.get("register_unit_wh", 1)))
        self._default = (
            int(10 ** d.get("register_digits", 9) * d.get("register_unit_wh", 1)),
            int(d.get("multiplier", 1)),
            d.get("contract_amperage_a", 60) * volts * 0.5 * d.get("multiplier", 1),
            int(d.get("register_unit_wh", 1)),
        )

    def __len__(self) -> int:
        return self._n

    def nbytes(self) -> int:
        """Bytes of the index's arrays."""
        arrays = (self.ids, self.code, self.modulus, self.unit, self.multiplier, self.capacity)
        return sum(a.nbytes for a in arrays)

    def params(self, meter_id: I64) -> MeterParams:
        """Per read; meters come in runs (sorted batches), so look up each run once."""
        n = len(meter_id)
        heads = np.flatnonzero(run_starts(meter_id)) if n else np.zeros(0, dtype=np.int64)
        if n > 64 and len(heads) * 4 < n:
            per_run = self._params(meter_id[heads])
            counts = np.diff(np.append(heads, n))
            return MeterParams(
                np.repeat(per_run.modulus_wh, counts),
                np.repeat(per_run.multiplier, counts),
                np.repeat(per_run.capacity_wh, counts),
                np.repeat(per_run.unit_wh, counts),
            )
        return self._params(meter_id)

    def _params(self, meter_id: I64) -> MeterParams:
        n = len(meter_id)
        mod, mult, cap, unit = self._default
        if self._n == 0:
            return MeterParams(
                np.full(n, mod, np.int64),
                np.full(n, mult, np.int64),
                np.full(n, cap),
                np.full(n, unit, np.int64),
            )
        lo, last = self._first_id, self._n - 1
        if self._dense:  # sorted IDs without holes: position = ID - first
            i = np.clip(meter_id - lo, 0, last)
            known = (meter_id >= lo) & (meter_id - lo <= last)
        else:
            i = np.minimum(np.searchsorted(self.ids, meter_id), last)
            known = self.ids[i] == meter_id
        c = self.code[i]
        return MeterParams(
            np.where(known, self.modulus[c], mod),
            np.where(known, self.multiplier[c], mult),
            np.where(known, self.capacity[c], cap),
            np.where(known, self.unit[c], unit),
        )

    def params_run(self, meter_id: I64) -> MeterParams | None:
        """:meth:`params` for meters that are a run of consecutive IDs all in the master data
        (a tick's part): the class codes' slice, no search; ``None`` where that does not
        apply."""
        n = len(meter_id)
        if not self._dense or n == 0 or int(meter_id[-1]) - int(meter_id[0]) != n - 1:
            return None
        i0 = int(meter_id[0]) - self._first_id
        if i0 < 0 or i0 + n > self._n:
            return None
        c = self.code[i0 : i0 + n]
        return MeterParams(self.modulus[c], self.multiplier[c], self.capacity[c], self.unit[c])
