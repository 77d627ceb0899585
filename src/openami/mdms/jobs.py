"""MDMS jobs over stored data: estimation runs, manual edits, known totals.

Each job is one transaction of the store (:func:`openami.storage.value_jobs.value_job`): it
reads what it needs through the job with a few set-based queries, computes in NumPy
(:mod:`openami.mdms.estimate`) and appends its new versions through it, so either all of a
job is stored or none of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import SLOT_SECONDS, slot_end_s, slot_start_s
from openami.mdms.estimate import (
    METHOD_NAMES,
    Estimates,
    GapInputs,
    distribute,
    estimate,
    gap_ids,
)
from openami.mdms.events import event_slot_masks
from openami.mdms.indexes import MeterIndex
from openami.mdms.vee import Q_EDITED, Q_ESTIMATED, MeterParams, sum_check
from openami.mdms.vee_config import VeeConfig, bit
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.value_jobs import WEEK_SLOTS, ValueJob, value_job

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
#: hours in one slot (energy [Wh] in a slot = power [W] × this)
SLOT_HOURS = SLOT_SECONDS / 3600


@dataclass(frozen=True)
class EstimationResult:
    candidates: int
    gaps: int
    by_method: dict[str, int]


def _arr(table: pa.Table, name: str) -> I64:
    return np.asarray(pc.fill_null(table.column(name), 0).to_numpy(), dtype=np.int64)


def _farr(table: pa.Table, name: str) -> F64:
    return np.asarray(pc.fill_null(table.column(name), 0).to_numpy(), dtype=np.float64)


def event_masks(
    job: ValueJob, meter: I64, slot: I64
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(outage or disconnected, tamper/reset/test) per (meter, slot)."""
    if len(slot) == 0:
        return np.zeros(0, dtype=np.bool_), np.zeros(0, dtype=np.bool_)
    events = job.events_between(slot_start_s(int(slot.min())), slot_end_s(int(slot.max())))
    return event_slot_masks(events, meter, slot)


@dataclass(frozen=True)
class _Candidates:
    """The slots an estimation run fills, sorted by (supply point, meter, slot)."""

    table: pa.Table
    key: I64
    meter: I64
    slot: I64

    @classmethod
    def of(cls, table: pa.Table) -> _Candidates:
        return cls(
            table, _arr(table, "supply_point_key"), _arr(table, "meter_id"), _arr(table, "slot")
        )


def run_estimation(
    store: DuckIntervalStore,
    installations: pa.Table,
    meters: MeterIndex,
    cfg: VeeConfig,
    first_slot: int,
    last_slot: int,
    recorded_at: float,
    supply_point_keys: list[int] | None = None,
    final: bool = False,
    user: str = "vee",
) -> EstimationResult:
    """Estimate every missing, invalid or absent value in the slot range (re-estimate
    preliminary estimates too when ``final``) and store them as ``estimated`` versions."""
    with value_job(store) as job:
        found = job.estimation_candidates(
            installations, first_slot, last_slot, supply_point_keys, final
        )
        if found.num_rows == 0:
            return EstimationResult(0, 0, {})
        cand = _Candidates.of(found)
        gap = _gap_ids(job, cand, first_slot, last_slot)
        gap_start = np.searchsorted(gap, np.arange(int(gap[-1]) + 1))
        params = meters.params(cand.meter[gap_start])
        total_import_wh, total_export_wh = _gap_totals(
            job, cand, gap, params, first_slot, last_slot
        )
        like_import_wh, like_export_wh = _like_day_means(job, cand, cfg, first_slot, last_slot)
        outage, _ = event_masks(job, cand.meter, cand.slot)
        amperage_a = meters.params(cand.meter).capacity_wh / (meters.volts * SLOT_HOURS)
        inputs = GapInputs(
            cand.key,
            cand.meter,
            cand.slot,
            outage,
            like_import_wh,
            like_export_wh,
            amperage_a,
            total_import_wh,
            total_export_wh,
        )
        est = estimate(inputs, cfg, gap)
        job.append_values(
            _estimated_versions(cand, est, params, gap, cfg),
            recorded_at,
            "estimated",
            final=final,
            edited_by=user,
        )
    names, counts = np.unique(est.method, return_counts=True)
    return EstimationResult(
        len(cand.slot),
        len(gap_start),
        {METHOD_NAMES[int(k)]: int(c) for k, c in zip(names, counts, strict=True)},
    )


def _gap_ids(job: ValueJob, cand: _Candidates, first_slot: int, last_slot: int) -> I64:
    """Gap number per candidate: runs of consecutive slots of one supply point and meter,
    cut where a register read is stored at a slot's start, so that every gap is bounded by
    reads. A read between two invalid values is the suspect one: the gap runs through it."""
    stored = job.stored_boundaries(pa.array(np.unique(cand.meter)), first_slot, last_slot)
    span = last_slot - first_slot + 2
    stored_key = _arr(stored, "meter_id") * span + (_arr(stored, "boundary") - first_slot)
    cand_key = cand.meter * span + (cand.slot - first_slot)
    if len(stored_key):
        at = np.minimum(np.searchsorted(stored_key, cand_key), len(stored_key) - 1)
        read_at_start = stored_key[at] == cand_key
    else:
        read_at_start = np.zeros(len(cand_key), dtype=np.bool_)
    quality = cand.table.column("quality")
    invalid = np.asarray(pc.fill_null(pc.equal(quality, "invalid"), False), dtype=bool)
    both_invalid = np.zeros(len(cand_key), dtype=np.bool_)
    if len(cand_key) > 1:
        after_invalid = invalid[1:] & invalid[:-1] & (cand.slot[1:] == cand.slot[:-1] + 1)
        both_invalid[1:] = after_invalid
    return gap_ids(cand.key, cand.meter, cand.slot, read_at_start & ~both_invalid)


def _gap_totals(
    job: ValueJob,
    cand: _Candidates,
    gap: I64,
    params: MeterParams,
    first_slot: int,
    last_slot: int,
) -> tuple[F64, F64]:
    """Import and export energy of each gap [Wh] from the current registers at its two ends
    (NaN where an end read is missing), with register rollover and multiplier applied."""
    n_gaps = int(gap[-1]) + 1
    start = np.searchsorted(gap, np.arange(n_gaps))
    end = np.append(start[1:], len(gap)) - 1
    ends = pa.table(
        {
            "i": np.arange(2 * n_gaps),
            "meter_id": np.concatenate([cand.meter[start], cand.meter[end]]),
            "boundary": np.concatenate([cand.slot[start], cand.slot[end] + 1]),
        }
    )
    got = job.end_reads(ends, first_slot, last_slot + 1)
    row = _arr(got, "i")
    import_register_wh = np.full(2 * n_gaps, np.nan)
    import_register_wh[row] = _farr(got, "import_register_wh")
    export_register_wh = np.full(2 * n_gaps, np.nan)
    export_known = np.asarray(got.column("export_register_wh").is_valid(), dtype=bool)
    export_register_wh[row] = np.where(export_known, _farr(got, "export_register_wh"), np.nan)
    multiplier = params.multiplier.astype(np.float64)

    def total(register_wh: F64) -> F64:
        delta_wh = register_wh[n_gaps:] - register_wh[:n_gaps]
        delta_wh = np.where(delta_wh < 0, delta_wh + params.modulus_wh, delta_wh)  # rollover
        return delta_wh * multiplier

    return total(import_register_wh), total(export_register_wh)


def _like_day_means(
    job: ValueJob, cand: _Candidates, cfg: VeeConfig, first_slot: int, last_slot: int
) -> tuple[F64, F64]:
    """Per candidate: the mean measured import and export of the same slot 1…``weeks``
    weeks before [Wh] (NaN where there is none)."""
    n = len(cand.slot)
    weeks = cfg.like_day_weeks
    candidates = pa.table({"i": np.arange(n), "supply_point_key": cand.key, "slot": cand.slot})
    like = job.like_day_means(
        candidates, first_slot - WEEK_SLOTS * weeks, last_slot - WEEK_SLOTS, weeks
    )
    row = _arr(like, "i")
    import_wh = np.full(n, np.nan)
    import_wh[row] = _farr(like, "import_wh")
    export_wh = np.full(n, np.nan)
    export_known = np.asarray(like.column("export_wh").is_valid(), dtype=bool)
    export_wh[row] = np.where(export_known, _farr(like, "export_wh"), np.nan)
    return import_wh, export_wh


def _estimated_versions(
    cand: _Candidates, est: Estimates, params: MeterParams, gap: I64, cfg: VeeConfig
) -> pa.Table:
    """The new versions: the estimates with V03 where the value was missing or absent and
    V07 where an estimate exceeds the contract capacity (validation reruns on estimates)."""
    quality = cand.table.column("quality")
    missing_before = np.asarray(quality.is_null(), dtype=bool) | np.asarray(
        pc.fill_null(pc.equal(quality, "missing"), False), dtype=bool
    )
    flags = _arr(cand.table, "vee_flags") | np.where(missing_before, bit("V03"), 0)
    high_wh = params.capacity_wh[gap] * cfg.rule("V07").p("high_factor")
    flags |= np.where(est.import_wh > high_wh, bit("V07"), 0)
    n = len(cand.slot)
    return pa.table(
        {
            "supply_point_key": cand.key,
            "slot": cand.slot,
            "import_wh": est.import_wh,
            "export_wh": pa.array(est.export_wh, mask=~est.export_known),
            "qcode": np.full(n, Q_ESTIMATED, np.uint8),
            "version": (_arr(cand.table, "version") + 1).astype(np.int32),
            "vee_flags": flags.astype(np.int32),
            "method": np.array(METHOD_NAMES, dtype=object)[est.method],
        }
    )


@dataclass(frozen=True)
class EditResult:
    versions: int
    sum_check_ok: bool | None  # None when the span's register reads are not both known


def edit_values(
    store: DuckIntervalStore,
    supply_point_key: int,
    slots: I64,
    import_wh: I64,
    export_wh: F64,
    user: str,
    reason: str,
    recorded_at: float,
    quality: int = Q_EDITED,
    method: str = "M",
    meter_id: int | None = None,
    cfg: VeeConfig | None = None,
) -> EditResult:
    """Store edited values (one version each) with who and why; then run the sum check
    (V05) over the edited span against the meter's register reads at its ends."""
    if not user.strip() or not reason.strip():
        raise ValueError("a manual edit needs a user and a reason")
    if len(slots) == 0:
        return EditResult(0, None)
    if np.any(import_wh < 0) or np.any(np.nan_to_num(export_wh) < 0):
        raise ValueError("edited energy must not be negative")
    with value_job(store) as job:
        current = job.current_values(supply_point_key, int(slots.min()), int(slots.max()))
        ok: bool | None = None
        if meter_id is not None and cfg is not None:
            ok = _span_sum_check(job, current, slots, import_wh, meter_id, cfg)
        values = pa.table(
            {
                "supply_point_key": np.full(len(slots), supply_point_key, np.int64),
                "slot": slots.astype(np.int64),
                "import_wh": import_wh.astype(np.int64),
                "export_wh": pa.array(
                    np.nan_to_num(export_wh).astype(np.int64), mask=np.isnan(export_wh)
                ),
                "qcode": np.full(len(slots), quality, np.uint8),
                "version": _next_versions(current, slots),
                "vee_flags": np.full(len(slots), bit("V05") if ok is False else 0, np.int32),
                "method": np.full(len(slots), method, dtype=object),
            }
        )
        job.append_values(values, recorded_at, reason, edited_by=user)
    return EditResult(len(slots), ok)


def _next_versions(current: pa.Table, slots: I64) -> npt.NDArray[np.int32]:
    """The version after the current one of each slot (1 where a slot has none yet)."""
    current_slot = _arr(current, "slot")
    current_version = _arr(current, "version")
    if len(current_slot) == 0:
        return np.ones(len(slots), dtype=np.int32)
    at = np.minimum(np.searchsorted(current_slot, slots), len(current_slot) - 1)
    found = current_slot[at] == slots
    return (np.where(found, current_version[at], 0) + 1).astype(np.int32)


def _span_sum_check(
    job: ValueJob, current: pa.Table, slots: I64, import_wh: I64, meter_id: int, cfg: VeeConfig
) -> bool | None:
    """V05 over the edited span: do its values, the edited ones replacing the current, add
    up to the meter's register difference over it? None when a register end is not known;
    False also when a slot of the span has no value at all."""
    first, last = int(slots.min()), int(slots.max())
    reads = job.current_reads(meter_id, first, last + 1)
    boundary = _arr(reads, "boundary")
    register_wh = _arr(reads, "import_register_wh")
    at_start, at_end = boundary == first, boundary == last + 1
    if not (at_start.any() and at_end.any()):
        return None
    span_wh = np.zeros(last - first + 1)
    known = np.zeros(last - first + 1, dtype=np.bool_)
    position = _arr(current, "slot") - first
    span_wh[position] = _farr(current, "import_wh")
    known[position] = True
    span_wh[slots - first] = import_wh
    known[slots - first] = True
    v05 = cfg.rule("V05")
    register_delta_wh = float(register_wh[at_end][0] - register_wh[at_start][0])
    matches = sum_check(
        span_wh[known], register_delta_wh, v05.p("tolerance_wh"), v05.p("tolerance_pct")
    )
    return matches and bool(known.all())


def flat_total(total_wh: int, n_slots: int) -> I64:
    """E4: a known total spread evenly (integers adding up to the total)."""
    return distribute(
        np.array([float(total_wh)]), np.ones(n_slots), np.zeros(n_slots, dtype=np.int64)
    )
