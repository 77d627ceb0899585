"""Sums of current half-hour values per supply point over a billing period (for
``mdms/billing.py``), with the register difference of the meter that served the whole period;
and the same determinants over each supply point's own period (:func:`segment_sums`, for
billing periods by meter-reading day and wheeling charges)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import Quality
from openami.clock import SLOT_SECONDS
from openami.storage.current_values_sql import (
    current_reads_sql,
    current_versions_sql,
    final_slots_sql,
)
from openami.storage.duckdb_interval import (
    DAY_VALUE_COLS,
    DAY_VALUE_PRESENT,
    HH_SELECT,
    DuckIntervalStore,
)
from openami.storage.duckdb_reads import read_query
from openami.storage.quality_sql import NO_VALUE_SQL, WITH_VALUE_SQL, quality_sql
from openami.storage.slot_sql import day_first, installed, of_day

#: a half-hour's energy [Wh] times this is its mean power [W]
_WH_PER_SLOT_TO_W = 3600 // SLOT_SECONDS

_KEY_VERSIONS = current_versions_sql(
    "$first", "$last", "WHERE supply_point_key IN (SELECT supply_point_key FROM q_keys)"
)

#: the register difference over the period of the meter installed for all of it
_REGISTERS = f"""
ends AS (
    SELECT i.supply_point_key, i.meter_id FROM q_inst i
    WHERE {installed("i", "$first", "$last")}),
regs AS (
    SELECT e.supply_point_key,
           max(r.import_register_wh) FILTER (WHERE r.boundary = $last + 1)
             - max(r.import_register_wh) FILTER (WHERE r.boundary = $first) AS register_wh
    FROM ends e JOIN (
        {current_reads_sql("$first", "$first")}
        UNION ALL {current_reads_sql("$last + 1", "$last + 1")}) r
      ON r.meter_id = e.meter_id
    GROUP BY e.supply_point_key)"""

_BILL = f"""
WITH cur AS ({_KEY_VERSIONS}),
finals AS ({final_slots_sql("$first", "$last")}),
vals AS (
    SELECT c.*, c.final OR f.in_final AS in_final_now, {of_day("c.slot")} AS slot_of_day
    FROM cur c JOIN finals f USING (slot)),
grid AS (
    SELECT k.supply_point_key, s.slot FROM q_keys k, range($first, $last + 1) s(slot)),
joined AS (
    SELECT g.supply_point_key, g.slot, v.import_wh AS imp, v.export_wh AS exp,
           v.in_final_now AS final, v.slot_of_day,
           COALESCE(v.quality, {quality_sql(Quality.MISSING)}) AS q
    FROM grid g LEFT JOIN vals v USING (supply_point_key, slot)),
{_REGISTERS},
expired AS (
    SELECT j.supply_point_key, count(*) AS n
    FROM joined j JOIN q_cert c ON c.supply_point_key = j.supply_point_key
      AND {installed("c", "j.slot")} AND j.slot * {SLOT_SECONDS} >= c.expired_from_s
    WHERE j.q NOT IN {NO_VALUE_SQL}
    GROUP BY j.supply_point_key)
SELECT j.supply_point_key,
       CAST(COALESCE(sum(j.imp), 0) AS BIGINT) AS import_wh,
       CAST(COALESCE(sum(j.exp), 0) AS BIGINT) AS export_wh,
       CAST(COALESCE(sum(j.imp) FILTER (WHERE j.slot_of_day BETWEEN $day0 AND $day1), 0)
            AS BIGINT) AS day_import_wh,
       CAST(COALESCE(sum(j.imp) FILTER (WHERE NOT j.slot_of_day BETWEEN $day0 AND $day1), 0)
            AS BIGINT) AS night_import_wh,
       CAST(COALESCE(max(j.imp), 0) * {_WH_PER_SLOT_TO_W} AS BIGINT) AS max_demand_w,
       count(*) AS slots,
       count(*) FILTER (WHERE j.q = {quality_sql(Quality.MEASURED)}) AS measured,
       count(*) FILTER (WHERE j.q = {quality_sql(Quality.ESTIMATED)}) AS estimated,
       count(*) FILTER (WHERE j.q = {quality_sql(Quality.EDITED)}) AS edited,
       count(*) FILTER (WHERE j.q = {quality_sql(Quality.PROFILED)}) AS profiled,
       count(*) FILTER (WHERE j.q IN {NO_VALUE_SQL}) AS missing,
       CAST(COALESCE(any_value(x.n), 0) AS BIGINT) AS not_billable_values,
       count(*) FILTER (WHERE j.q IN {NO_VALUE_SQL}) = 0
           AND bool_and(COALESCE(j.final, false))
           AND COALESCE(any_value(x.n), 0) = 0 AS billing_ready,
       any_value(g.register_wh) AS register_wh
FROM joined j LEFT JOIN regs g USING (supply_point_key)
     LEFT JOIN expired x USING (supply_point_key)
GROUP BY j.supply_point_key
ORDER BY j.supply_point_key
"""


def billing_sums(
    store: DuckIntervalStore,
    installations: pa.Table,
    supply_point_keys: list[int],
    slots: range,
    day_band: tuple[int, int],
    certified: pa.Table,
) -> pa.Table:
    """One row per supply point over ``slots``: import/export [Wh], import in the day band
    (slots of the JST day ``day_band[0]..day_band[1]``) and outside it, the largest
    half-hour import as demand [W], counts per quality, billing-ready (no missing or
    invalid value, every value final) and the register difference over the period of the
    meter installed for all of it (NULL when there is none or an end read is missing)."""
    keys = pa.table({"supply_point_key": pa.array(supply_point_keys, pa.int64())})
    params = {
        "first": slots.start,
        "last": slots.stop - 1,
        "day0": day_band[0],
        "day1": day_band[1],
    }
    return read_query(store, _BILL, params, q_keys=keys, q_inst=installations, q_cert=certified)


_SIDE_REGISTERS = f"""
WITH {_REGISTERS}
SELECT supply_point_key, CAST(register_wh AS BIGINT) AS register_wh FROM regs
WHERE supply_point_key IN (SELECT supply_point_key FROM q_keys)
ORDER BY supply_point_key"""
_SIDE_FINALS = f"""
SELECT slot, in_final FROM ({final_slots_sql("$first", "$last")}) ORDER BY slot"""


def billing_side_inputs(
    store: DuckIntervalStore, installations: pa.Table, supply_point_keys: list[int], slots: range
) -> tuple[pa.Table, pa.Table]:
    """What :func:`billing_sums` takes from the MDMS store besides the values, for an
    engine that reads the values elsewhere (Spark over the shared interval store):
    (``finals``: slot, in_final — within a declared final period; ``registers``:
    supply_point_key, register_wh — as in :func:`billing_sums`, rows only where known)."""
    keys = pa.table({"supply_point_key": pa.array(supply_point_keys, pa.int64())})
    params = {"first": slots.start, "last": slots.stop - 1}
    finals = read_query(store, _SIDE_FINALS, params)
    registers = read_query(store, _SIDE_REGISTERS, params, q_keys=keys, q_inst=installations)
    return finals, registers


# -- determinants per segment (billing periods by 計量日) -----------------------------------
# Segments cover whole JST days. A day row with no narrow value in its (supply point, day) is
# current as stored (every element version 1): its sums come from its lists, one row per
# day and no row per value. Every other (supply point, day) — narrow ticks, later versions
# — takes the current-version rule per slot (current_versions_sql), over the narrow values
# and the elements of those days' day rows only.
_WITH_VALUE_CODES = ", ".join(
    str(int(q)) for q in (Quality.MEASURED, Quality.ESTIMATED, Quality.EDITED)
)
_NOT_MEASURED_CODES = f"{int(Quality.ESTIMATED)}, {int(Quality.EDITED)}"


#: the largest of the 48 register differences of a day row, for rows stored without their
#: ``max_import_wh`` (no captured column in the lambda: DuckDB runs such a lambda
#: vectorised, one with a capture row by row)
_TOP_DIFFERENCE = (
    "list_max(list_transform(list_zip(d.import_register_wh, list_prepend("
    "d.prev_import_register_wh, d.import_register_wh[1:47])), lambda x: x[1] - x[2]))"
)


_NARROW = f"""
    SELECT {HH_SELECT} FROM hh_values
    WHERE slot BETWEEN $first AND $last
      AND supply_point_key IN (SELECT supply_point_key FROM q_keys)"""
_DIRTY_ELEMENTS = f"""
    SELECT {DAY_VALUE_COLS}
    FROM day_rows d
    JOIN dirty x ON x.supply_point_key = d.supply_point_key
                AND x.day_first_slot = d.day_first_slot
    CROSS JOIN range(1, 49) r(i) JOIN ingest_log l USING (ingest_seq)
    WHERE {DAY_VALUE_PRESENT}"""
_REST_VERSIONS = current_versions_sql(
    "$first", "$last", source=f"({_NARROW} UNION ALL {_DIRTY_ELEMENTS})"
)

_SEGMENTS = f"""
WITH dirty AS (
    SELECT DISTINCT supply_point_key, {day_first("slot")} AS day_first_slot
    FROM hh_values
    WHERE slot BETWEEN $first AND $last
      AND supply_point_key IN (SELECT supply_point_key FROM q_keys)),
clean AS (
    SELECT d.supply_point_key, d.day_first_slot,
           CASE WHEN d.qcode IS NULL
                THEN d.import_register_wh[48] - d.prev_import_register_wh
                ELSE list_sum(d.import_wh) END AS imp,
           CASE WHEN d.qcode IS NULL
                THEN d.import_register_wh[$day1 + 1] - CASE WHEN $day0 = 0
                     THEN d.prev_import_register_wh ELSE d.import_register_wh[$day0] END
                ELSE list_sum(d.import_wh[$day0 + 1:$day1 + 1]) END AS band,
           CASE WHEN d.max_import_wh IS NOT NULL THEN d.max_import_wh
                WHEN d.qcode IS NULL THEN {_TOP_DIFFERENCE}
                ELSE list_max(d.import_wh) END AS top,
           CASE WHEN d.qcode IS NULL THEN 48
                ELSE len(list_filter(d.qcode, lambda q: q IN ({_WITH_VALUE_CODES}))) END AS n_value,
           CASE WHEN d.qcode IS NULL THEN 0
                ELSE len(list_filter(d.qcode, lambda q: q IN ({_NOT_MEASURED_CODES}))) END AS n_est
    FROM day_rows d
    WHERE d.day_first_slot BETWEEN $first AND $last
      AND d.supply_point_key IN (SELECT supply_point_key FROM q_keys)
      AND NOT EXISTS (SELECT 1 FROM dirty x WHERE x.supply_point_key = d.supply_point_key
                                              AND x.day_first_slot = d.day_first_slot)),
day_parts AS (
    SELECT s.segment_id, k.holiday, c.imp, c.band, c.top, c.n_value, c.n_est
    FROM clean c
    JOIN q_seg s ON s.supply_point_key = c.supply_point_key
                AND c.day_first_slot BETWEEN s.first_slot AND s.last_slot
    JOIN q_days k ON k.day_first_slot = c.day_first_slot),
rest AS ({_REST_VERSIONS}),
slot_parts AS (
    SELECT s.segment_id, k.holiday, r.import_wh AS imp,
           CASE WHEN {of_day("r.slot")} BETWEEN $day0 AND $day1 THEN r.import_wh END AS band,
           r.import_wh AS top,
           CAST(r.quality IN {WITH_VALUE_SQL} AS INTEGER) AS n_value,
           CAST(r.quality IN {WITH_VALUE_SQL} AND r.quality <> {quality_sql(Quality.MEASURED)}
                AS INTEGER) AS n_est
    FROM rest r
    JOIN q_seg s ON s.supply_point_key = r.supply_point_key
                AND r.slot BETWEEN s.first_slot AND s.last_slot
    JOIN q_days k ON k.day_first_slot = {day_first("r.slot")}),
parts AS (SELECT * FROM day_parts UNION ALL SELECT * FROM slot_parts),
sums AS (
    SELECT segment_id,
           sum(imp) AS import_wh,
           sum(band) FILTER (WHERE NOT holiday) AS day_import_wh,
           sum(imp) - COALESCE(sum(band), 0) AS night_import_wh,
           sum(band) FILTER (WHERE holiday) AS holiday_import_wh,
           max(top) AS max_slot_wh,
           sum(n_value) AS value_slots, sum(n_est) AS estimated_slots
    FROM parts GROUP BY segment_id)
SELECT s.segment_id,
       CAST(COALESCE(m.import_wh, 0) AS BIGINT) AS import_wh,
       CAST(COALESCE(m.day_import_wh, 0) AS BIGINT) AS day_import_wh,
       CAST(COALESCE(m.night_import_wh, 0) AS BIGINT) AS night_import_wh,
       CAST(COALESCE(m.holiday_import_wh, 0) AS BIGINT) AS holiday_import_wh,
       CAST(COALESCE(m.max_slot_wh, 0) * {_WH_PER_SLOT_TO_W} AS BIGINT) AS max_demand_w,
       s.last_slot - s.first_slot + 1 AS slots,
       CAST(s.last_slot - s.first_slot + 1 - COALESCE(m.value_slots, 0) AS BIGINT)
           AS missing_slots,
       CAST(COALESCE(m.estimated_slots, 0) AS BIGINT) AS estimated_slots
FROM q_seg s LEFT JOIN sums m USING (segment_id)
ORDER BY s.segment_id
"""


def segment_sums(
    store: DuckIntervalStore,
    segments: pa.Table,
    day_first_slots: pa.Array,
    holidays: pa.Array,
    day_band: tuple[int, int],
) -> pa.Table:
    """Billing determinants per segment: ``segments`` has ``segment_id``,
    ``supply_point_key``, ``first_slot``, ``last_slot`` (each segment its own slots); the days
    they cover are ``day_first_slots`` with a ``holidays`` flag each. One row per segment, in
    segment order: import [Wh] (not export: no wheeling charge is on it, and reading the
    export lists would double the query's work); import in the day band (slots
    ``day_band[0]..[1]`` of the JST day) on business days, outside the day band on any
    day (night), in the day band on holidays; the largest half-hour import as demand [W];
    the segment's slots, those without a value (missing, invalid or never received) and
    those estimated or edited."""
    first, last = 0, -1
    if segments.num_rows:
        first = int(pc.min(segments.column("first_slot")).as_py())
        last = int(pc.max(segments.column("last_slot")).as_py())
    params = {"first": first, "last": last, "day0": day_band[0], "day1": day_band[1]}
    days = pa.table({"day_first_slot": day_first_slots, "holiday": holidays})
    keys = pa.table({"supply_point_key": pc.unique(segments.column("supply_point_key"))})
    return read_query(store, _SEGMENTS, params, q_seg=segments, q_days=days, q_keys=keys)
