"""Delivery SLO per half-hour slot, in SQL over the MDMS tables (DuckDB).

For each slot ``s`` (its end: ``slot_sql.end_s``):
- ``expected``: supply points with a meter installed during the slot (``slot_sql.installed``);
- availability of a (supply point, slot) = ``recorded_at`` of its first *measured* version
  (when the hub could first serve a measured value); latency = availability − slot end;
- ``latency_p50_s``, ``latency_p95_s``, ``latency_max_s`` over the slot's measured values
  (``latency_max_s`` = when the last collected value became available);
- ``within_60min`` / ``within_24h``: values available by slot end + 60 min / + 24 h
  (NULL while that moment is still ahead of ``now_s``);
- ``measured_now``: values with a measured version by ``now_s``; ``with_value_now``: current
  versions with a value (measured, estimated or edited);
- ``final``: the slot lies in a period declared final (then the ``*_now`` counts are the
  completeness "at final").
"""

from __future__ import annotations

import pyarrow as pa

from openami.bus.messages import DELIVERY_DEADLINE_S, Quality
from openami.storage.current_values_sql import current_versions_sql
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.quality_sql import WITH_VALUE_SQL, quality_sql
from openami.storage.slot_sql import DAY_S, end_s, installed

SLO_SQL = f"""
WITH slots AS (SELECT range AS slot FROM range(?, ? + 1)),
expected AS (
    SELECT s.slot, count(DISTINCT i.supply_point_key) AS expected
    FROM slots s JOIN inst i ON {installed("i", "s.slot")}
    GROUP BY s.slot),
first_measured AS (
    SELECT supply_point_key, slot, min(recorded_at) - {end_s("slot")} AS latency_s
    FROM hh_slots(?, ?)
    WHERE quality = {quality_sql(Quality.MEASURED)} AND recorded_at <= ?
    GROUP BY supply_point_key, slot),
latency AS (
    SELECT slot,
           count(*) AS measured_now,
           quantile_cont(latency_s, 0.5) AS latency_p50_s,
           quantile_cont(latency_s, 0.95) AS latency_p95_s,
           max(latency_s) AS latency_max_s,
           count(*) FILTER (WHERE latency_s <= {DELIVERY_DEADLINE_S}) AS within_60min,
           count(*) FILTER (WHERE latency_s <= {DAY_S}) AS within_24h
    FROM first_measured GROUP BY slot),
current AS (
    SELECT slot, count(*) FILTER (WHERE quality IN {WITH_VALUE_SQL})
               AS with_value_now
    FROM ({current_versions_sql("?", "?", "WHERE recorded_at <= ?")})
    GROUP BY slot)
SELECT s.slot,
       COALESCE(e.expected, 0) AS expected,
       COALESCE(l.measured_now, 0) AS measured_now,
       COALESCE(c.with_value_now, 0) AS with_value_now,
       l.latency_p50_s, l.latency_p95_s, l.latency_max_s,
       CASE WHEN {end_s("s.slot")} + {DELIVERY_DEADLINE_S} <= ?
            THEN COALESCE(l.within_60min, 0) END AS within_60min,
       CASE WHEN {end_s("s.slot")} + {DAY_S} <= ? THEN COALESCE(l.within_24h, 0) END
           AS within_24h,
       EXISTS (SELECT 1 FROM final_periods f WHERE s.slot BETWEEN f.first_slot AND f.last_slot)
           AS final
FROM slots s
LEFT JOIN expected e USING (slot)
LEFT JOIN latency l USING (slot)
LEFT JOIN current c USING (slot)
ORDER BY s.slot
"""


def delivery_slo(
    store: DuckIntervalStore,
    installations: pa.Table,
    first_slot: int,
    last_slot: int,
    now_s: float,
) -> pa.Table:
    """One row per slot ``first_slot..last_slot`` (see the module doc for the columns).

    ``installations`` is the registry's installation table (``Mdms.installations``:
    supply_point_key, valid_from, valid_to in epoch s). This is the query function for
    the dashboard too.
    """
    inst = installations.select(["supply_point_key", "valid_from", "valid_to"])
    return store.query(
        SLO_SQL,
        [
            first_slot,
            last_slot,
            first_slot,
            last_slot,
            now_s,
            first_slot,
            last_slot,
            now_s,
            now_s,
            now_s,
        ],
        inst=inst,
    )
