"""MDMS jobs over stored data: estimation runs, manual edits, known totals, finalization.

Each job reads what it needs with a few set-based DuckDB queries, computes in NumPy
(:mod:`openami.mdms.estimate`) and appends new versions in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import slot_end_s, slot_start_s
from openami.mdms.estimate import METHOD_NAMES, GapInputs, distribute, estimate, gap_ids
from openami.mdms.events import event_slot_masks
from openami.mdms.indexes import MeterIndex
from openami.mdms.vee import Q_EDITED, Q_ESTIMATED, sum_check
from openami.mdms.vee_config import VeeConfig, bit
from openami.storage import duckdb_mdms as db
from openami.storage.duckdb_interval import DuckIntervalStore

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
WEEK_SLOTS = 336

_CANDIDATES = """
WITH grid AS (
    SELECT i.supply_point_key, i.meter_id, s.slot
    FROM q_inst i, range(?, ? + 1) s(slot)
    WHERE s.slot * 1800 >= i.valid_from
      AND (i.valid_to IS NULL OR (s.slot + 1) * 1800 <= i.valid_to)
      AND (? OR i.supply_point_key IN (SELECT supply_point_key FROM q_only))),
cur AS (
    SELECT supply_point_key, slot, max(version) AS version,
           arg_max(quality, version) AS quality, arg_max(final, version) AS final,
           arg_max(vee_flags, version) AS vee_flags
    FROM hh_slots(?, ?)
    GROUP BY supply_point_key, slot)
SELECT g.supply_point_key, g.meter_id, g.slot, COALESCE(c.version, 0) AS version,
       COALESCE(c.vee_flags, 0) AS vee_flags, c.quality
FROM grid g LEFT JOIN cur c USING (supply_point_key, slot)
WHERE c.quality IS NULL OR c.quality IN ('missing', 'invalid')
   OR (? AND c.quality = 'estimated' AND NOT COALESCE(c.final, false))
ORDER BY g.supply_point_key, g.meter_id, g.slot
"""

_END_READS = """
SELECT q.i, r.import_register_wh, r.export_register_wh
FROM q_ends q JOIN (
    SELECT meter_id, boundary, import_register_wh, export_register_wh FROM reads_between(?, ?)
    QUALIFY row_number() OVER (PARTITION BY meter_id, boundary ORDER BY ingest_seq DESC) = 1
) r ON r.meter_id = q.meter_id AND r.boundary = q.boundary
"""

_LIKE_DAY = """
WITH hist AS (
    SELECT supply_point_key, slot, arg_max(import_wh, version) AS import_wh,
           arg_max(export_wh, version) AS export_wh, arg_max(quality, version) AS quality
    FROM hh_slots(?, ?)
    WHERE supply_point_key IN (SELECT DISTINCT supply_point_key FROM q_cand)
    GROUP BY supply_point_key, slot)
SELECT c.i, avg(h.import_wh) AS import_wh, avg(h.export_wh) AS export_wh
FROM q_cand c, range(1, ? + 1) w(k)
JOIN hist h ON h.supply_point_key = c.supply_point_key AND h.slot = c.slot - 336 * w.k
WHERE h.quality = 'measured'
GROUP BY c.i
"""


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
    cur: duckdb.DuckDBPyConnection, meter: I64, slot: I64
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(outage or disconnected, tamper/reset/test) per (meter, slot)."""
    if len(slot) == 0:
        return np.zeros(0, dtype=np.bool_), np.zeros(0, dtype=np.bool_)
    events = db.events_between(cur, slot_start_s(int(slot.min())), slot_end_s(int(slot.max())))
    return event_slot_masks(events, meter, slot)


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
    only = pa.table({"supply_point_key": pa.array(supply_point_keys or [], pa.int64())})
    with store.transaction() as cur:
        cur.register("q_inst", installations)
        cur.register("q_only", only)
        cand = cur.sql(
            _CANDIDATES,
            params=[
                first_slot,
                last_slot,
                supply_point_keys is None,
                first_slot,
                last_slot,
                final,
            ],
        ).to_arrow_table()
        n = cand.num_rows
        if n == 0:
            return EstimationResult(0, 0, {})
        key = _arr(cand, "supply_point_key")
        meter = _arr(cand, "meter_id")
        slot = _arr(cand, "slot")
        cur.register("q_cmeters", pa.table({"meter_id": np.unique(meter)}))
        stored = cur.sql(
            "SELECT DISTINCT meter_id, boundary FROM reads_between(?, ?) "
            "WHERE meter_id IN (SELECT meter_id FROM q_cmeters) ORDER BY meter_id, boundary",
            params=[first_slot, last_slot],
        ).to_arrow_table()
        span = last_slot - first_slot + 2
        sk = _arr(stored, "meter_id") * span + (_arr(stored, "boundary") - first_slot)
        ck = meter * span + (slot - first_slot)
        at = np.minimum(np.searchsorted(sk, ck), max(len(sk) - 1, 0))
        read_at_start = (sk[at] == ck) if len(sk) else np.zeros(n, dtype=np.bool_)
        # a read between two invalid values is the suspect one: the gap runs through it
        invalid = np.asarray(
            pc.fill_null(pc.equal(cand.column("quality"), "invalid"), False), dtype=bool
        )
        both_invalid = np.zeros(n, dtype=np.bool_)
        if n > 1:
            both_invalid[1:] = invalid[1:] & invalid[:-1] & (slot[1:] == slot[:-1] + 1)
        read_at_start &= ~both_invalid
        gap = gap_ids(key, meter, slot, read_at_start)
        n_gaps = int(gap[-1]) + 1
        start = np.searchsorted(gap, np.arange(n_gaps))
        end = np.append(start[1:], n) - 1
        ends = pa.table(
            {
                "i": np.arange(2 * n_gaps),
                "meter_id": np.concatenate([meter[start], meter[end]]),
                "boundary": np.concatenate([slot[start], slot[end] + 1]),
            }
        )
        cur.register("q_ends", ends)
        got = cur.sql(_END_READS, params=[first_slot, last_slot + 1]).to_arrow_table()
        reg_i = np.full(2 * n_gaps, np.nan)
        reg_e = np.full(2 * n_gaps, np.nan)
        gi = _arr(got, "i")
        reg_i[gi] = _farr(got, "import_register_wh")
        e_valid = np.asarray(got.column("export_register_wh").is_valid(), dtype=bool)
        reg_e[gi] = np.where(e_valid, _farr(got, "export_register_wh"), np.nan)
        params = meters.params(meter[start])
        mult = params.multiplier.astype(np.float64)

        def total(reg: F64) -> F64:
            d = reg[n_gaps:] - reg[:n_gaps]
            d = np.where(d < 0, d + params.modulus_wh, d)  # rollover inside the gap
            return d * mult

        q_cand = pa.table({"i": np.arange(n), "supply_point_key": key, "slot": slot})
        cur.register("q_cand", q_cand)
        weeks = cfg.like_day_weeks
        like = cur.sql(
            _LIKE_DAY,
            params=[first_slot - WEEK_SLOTS * weeks, last_slot - WEEK_SLOTS, weeks],
        ).to_arrow_table()
        like_i = np.full(n, np.nan)
        like_e = np.full(n, np.nan)
        li = _arr(like, "i")
        like_i[li] = _farr(like, "import_wh")
        le_valid = np.asarray(like.column("export_wh").is_valid(), dtype=bool)
        like_e[li] = np.where(le_valid, _farr(like, "export_wh"), np.nan)
        outage, _ = event_masks(cur, meter, slot)
        amps = meters.params(meter).capacity_wh / (meters.volts * 0.5)
        est = estimate(
            GapInputs(key, meter, slot, outage, like_i, like_e, amps, total(reg_i), total(reg_e)),
            cfg,
            gap,
        )
        missing_before = np.asarray(cand.column("quality").is_null(), dtype=bool) | np.asarray(
            pc.fill_null(pc.equal(cand.column("quality"), "missing"), False), dtype=bool
        )
        flags = _arr(cand, "vee_flags") | np.where(missing_before, bit("V03"), 0)
        high = params.capacity_wh[gap] * cfg.rule("V07").p("high_factor")
        flags |= np.where(est.import_wh > high, bit("V07"), 0)  # validation reruns on estimates
        values = pa.table(
            {
                "supply_point_key": key,
                "slot": slot,
                "import_wh": est.import_wh,
                "export_wh": pa.array(est.export_wh, mask=~est.export_known),
                "qcode": np.full(n, Q_ESTIMATED, np.uint8),
                "version": (_arr(cand, "version") + 1).astype(np.int32),
                "vee_flags": flags.astype(np.int32),
                "method": np.array(METHOD_NAMES, dtype=object)[est.method],
            }
        )
        db.append_values(cur, values, recorded_at, "estimated", final=final, edited_by=user)
    names, counts = np.unique(est.method, return_counts=True)
    return EstimationResult(
        n, n_gaps, {METHOD_NAMES[int(k)]: int(c) for k, c in zip(names, counts, strict=True)}
    )


@dataclass(frozen=True)
class EditResult:
    versions: int
    sum_check_ok: bool | None  # None when the day's register reads are not both known


def edit_values(
    store: DuckIntervalStore,
    supply_point_key: int,
    slots: I64,
    import_wh: I64,
    export_wh: npt.NDArray[np.float64],
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
    with store.transaction() as cur:
        prev = cur.sql(
            "SELECT slot, max(version) AS version FROM hh_point(?, ?, ?) GROUP BY slot",
            params=[supply_point_key, int(slots.min()), int(slots.max())],
        ).to_arrow_table()
        ver = dict(
            zip(prev.column("slot").to_pylist(), prev.column("version").to_pylist(), strict=True)
        )
        version = np.array([ver.get(int(s), 0) + 1 for s in slots], dtype=np.int32)
        ok: bool | None = None
        flags = np.zeros(len(slots), dtype=np.int32)
        if meter_id is not None and cfg is not None:
            lo, hi = int(slots.min()), int(slots.max())
            ends = cur.sql(
                "SELECT boundary, arg_max(import_register_wh, ingest_seq) AS r FROM ("
                "SELECT * FROM reads_between(?, ?) UNION ALL SELECT * FROM reads_between(?, ?)) "
                "WHERE meter_id = ? GROUP BY boundary",
                params=[lo, lo, hi + 1, hi + 1, meter_id],
            ).to_arrow_table()
            reg = dict(
                zip(ends.column("boundary").to_pylist(), ends.column("r").to_pylist(), strict=True)
            )
            if lo in reg and hi + 1 in reg:
                cur_vals = cur.sql(
                    "SELECT slot, arg_max(import_wh, version) AS v FROM hh_point(?, ?, ?) "
                    "GROUP BY slot",
                    params=[supply_point_key, lo, hi],
                ).to_arrow_table()
                span_vals = dict(
                    zip(
                        cur_vals.column("slot").to_pylist(),
                        cur_vals.column("v").to_pylist(),
                        strict=True,
                    )
                )
                for s, v in zip(slots.tolist(), import_wh.tolist(), strict=True):
                    span_vals[s] = v
                r5 = cfg.rule("V05")
                ok = (
                    sum_check(
                        np.array([v or 0 for v in span_vals.values()], dtype=np.float64),
                        float(reg[hi + 1] - reg[lo]),
                        r5.p("tolerance_wh"),
                        r5.p("tolerance_pct"),
                    )
                    and len(span_vals) == hi - lo + 1
                )
                if not ok:
                    flags |= bit("V05")
        values = pa.table(
            {
                "supply_point_key": np.full(len(slots), supply_point_key, np.int64),
                "slot": slots.astype(np.int64),
                "import_wh": import_wh.astype(np.int64),
                "export_wh": pa.array(
                    np.nan_to_num(export_wh).astype(np.int64), mask=np.isnan(export_wh)
                ),
                "qcode": np.full(len(slots), quality, np.uint8),
                "version": version,
                "vee_flags": flags,
                "method": np.full(len(slots), method, dtype=object),
            }
        )
        db.append_values(cur, values, recorded_at, reason, edited_by=user)
    return EditResult(len(slots), ok)


def flat_total(total_wh: int, n_slots: int) -> I64:
    """E4: a known total spread evenly (integers adding up to the total)."""
    return distribute(
        np.array([float(total_wh)]), np.ones(n_slots), np.zeros(n_slots, dtype=np.int64)
    )
