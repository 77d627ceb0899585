"""Sums of current half-hour values per supply point over a billing period (for
``mdms/billing.py``), with the register difference of the meter that served the whole period."""

from __future__ import annotations

import pyarrow as pa

from openami.bus.messages import Quality
from openami.clock import SLOT_SECONDS
from openami.storage.current_values_sql import (
    current_reads_sql,
    current_versions_sql,
    final_slots_sql,
)
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_reads import read_query
from openami.storage.quality_sql import NO_VALUE_SQL, quality_sql
from openami.storage.slot_sql import installed, of_day

#: a half-hour's energy [Wh] times this is its mean power [W]
_WH_PER_SLOT_TO_W = 3600 // SLOT_SECONDS

_KEY_VERSIONS = current_versions_sql(
    "$first", "$last", "WHERE supply_point_key IN (SELECT supply_point_key FROM q_keys)"
)

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
    GROUP BY e.supply_point_key),
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
