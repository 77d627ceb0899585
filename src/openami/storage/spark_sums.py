"""Settlement sums and billing determinants as Spark SQL jobs over the shared interval store.

The same rules as the DuckDB queries (``settlement_runs.py``, ``billing_queries.py``), in
Spark SQL over :func:`openami.storage.spark_values.current_values`: the current value is
the highest version; a slot without a usable value counts as missing (0 Wh in the sums);
membership comes from the registry's rows given per call (point in time: a retailer switch
mid-month is a change of the ``members`` a day is settled with); billing's grid is every
slot of every supply point asked for, so a meter exchange (two installations, values of
one supply point) changes nothing here. The small inputs the interval store does not hold —
members, installations, certification expiries, the declared final periods and the
register differences of the MDMS's reads — are handed to Spark as tables.
Quality names, slot arithmetic and the installation rule come from ``quality_sql`` and
``slot_sql``, as in the DuckDB queries, so the two engines share one definition of each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa

from openami.bus.messages import Quality
from openami.clock import SLOT_SECONDS
from openami.storage.quality_sql import NO_VALUE_SQL, quality_sql
from openami.storage.slot_sql import installed, of_day
from openami.storage.spark_values import (
    SnapshotFiles,
    arrow_view,
    current_values,
    drop_views,
    snapshot_files,
    temp_view,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: the columns and types of a settlement run's rows (as ``settlement_runs.settlement_sums``)
SETTLEMENT_SCHEMA = pa.schema(
    [
        ("slot", pa.int64()),
        ("level", pa.string()),
        ("area_code", pa.string()),
        ("balancing_group_id", pa.string()),
        ("retailer_id", pa.string()),
        ("import_wh", pa.int64()),
        ("export_wh", pa.int64()),
        ("points", pa.int64()),
        ("measured", pa.int64()),
        ("estimated", pa.int64()),
        ("edited", pa.int64()),
        ("missing", pa.int64()),
        ("estimated_wh", pa.int64()),
        ("quality", pa.string()),
    ]
)
#: the columns and types of ``billing_queries.billing_sums``
BILLING_SCHEMA = pa.schema(
    [
        ("supply_point_key", pa.int64()),
        ("import_wh", pa.int64()),
        ("export_wh", pa.int64()),
        ("day_import_wh", pa.int64()),
        ("night_import_wh", pa.int64()),
        ("max_demand_w", pa.int64()),
        ("slots", pa.int64()),
        ("measured", pa.int64()),
        ("estimated", pa.int64()),
        ("edited", pa.int64()),
        ("profiled", pa.int64()),
        ("missing", pa.int64()),
        ("not_billable_values", pa.int64()),
        ("billing_ready", pa.bool_()),
        ("register_wh", pa.int64()),
    ]
)
_WH_PER_SLOT_TO_W = 3600 // SLOT_SECONDS
_MISSING = quality_sql(Quality.MISSING)


def _sums_sql(members: str, cur: str, first: int, last: int) -> str:
    return f"""
WITH grid AS (
    SELECT m.supply_point_key, m.area_code, m.balancing_group_id, m.retailer_id, s.id AS slot
    FROM {members} m CROSS JOIN range({first}, {last} + 1) s),
joined AS (
    SELECT g.*, COALESCE(c.import_wh, 0) AS imp, COALESCE(c.export_wh, 0) AS ex,
           CASE WHEN c.quality IS NULL OR c.quality IN {NO_VALUE_SQL} THEN {_MISSING}
                ELSE c.quality END AS q
    FROM grid g LEFT JOIN {cur} c
      ON c.supply_point_key = g.supply_point_key AND c.slot = g.slot),
agg AS (
    SELECT slot, area_code, balancing_group_id, retailer_id,
           grouping(balancing_group_id) * 2 + grouping(retailer_id) AS gid,
           CAST(sum(imp) AS BIGINT) AS import_wh, CAST(sum(ex) AS BIGINT) AS export_wh,
           count(*) AS points,
           count(*) FILTER (WHERE q = {quality_sql(Quality.MEASURED)}) AS measured,
           count(*) FILTER (WHERE q = {quality_sql(Quality.ESTIMATED)}) AS estimated,
           count(*) FILTER (WHERE q = {quality_sql(Quality.EDITED)}) AS edited,
           count(*) FILTER (WHERE q = {_MISSING}) AS missing,
           CAST(COALESCE(sum(imp) FILTER (
               WHERE q IN {quality_sql(Quality.ESTIMATED, Quality.EDITED)}), 0) AS BIGINT)
               AS estimated_wh
    FROM joined
    GROUP BY GROUPING SETS ((slot, area_code, balancing_group_id, retailer_id),
                            (slot, area_code, balancing_group_id), (slot, area_code)))
SELECT slot,
       CASE gid WHEN 0 THEN 'retailer' WHEN 1 THEN 'balancing_group' ELSE 'area' END AS level,
       area_code, balancing_group_id, retailer_id, import_wh, export_wh, points, measured,
       estimated, edited, missing, estimated_wh,
       CASE WHEN measured = points THEN 'measured'
            WHEN missing = 0 THEN 'estimated'
            WHEN missing = points THEN 'missing'
            ELSE 'partially_missing' END AS quality
FROM agg
ORDER BY slot, area_code NULLS LAST, gid DESC, balancing_group_id NULLS LAST,
         retailer_id NULLS LAST
"""


def _not_billable_sql(cur: str, keys: str, cert: str) -> str:
    return f"""
SELECT count(*) AS n
FROM {cur} v JOIN {cert} c ON c.supply_point_key = v.supply_point_key
  AND {installed("c", "v.slot")} AND v.slot * {SLOT_SECONDS} >= c.expired_from_s
WHERE v.quality NOT IN {NO_VALUE_SQL}
  AND v.supply_point_key IN (SELECT supply_point_key FROM {keys})
"""


def _bill_sql(views: dict[str, str], first: int, last: int, band: tuple[int, int]) -> str:
    cur, keys, finals = views["cur"], views["keys"], views["finals"]
    regs, cert = views["regs"], views["cert"]
    day0, day1 = band
    return f"""
WITH vals AS (
    SELECT c.*, c.final OR f.in_final AS in_final_now, {of_day("c.slot")} AS slot_of_day
    FROM {cur} c JOIN {finals} f ON f.slot = c.slot),
grid AS (
    SELECT k.supply_point_key, s.id AS slot
    FROM {keys} k CROSS JOIN range({first}, {last} + 1) s),
joined AS (
    SELECT g.supply_point_key, g.slot, v.import_wh AS imp, v.export_wh AS ex,
           v.in_final_now AS final, v.slot_of_day, COALESCE(v.quality, {_MISSING}) AS q
    FROM grid g LEFT JOIN vals v
      ON v.supply_point_key = g.supply_point_key AND v.slot = g.slot),
expired AS (
    SELECT j.supply_point_key, count(*) AS n
    FROM joined j JOIN {cert} c ON c.supply_point_key = j.supply_point_key
      AND {installed("c", "j.slot")} AND j.slot * {SLOT_SECONDS} >= c.expired_from_s
    WHERE j.q NOT IN {NO_VALUE_SQL}
    GROUP BY j.supply_point_key)
SELECT j.supply_point_key,
       CAST(COALESCE(sum(j.imp), 0) AS BIGINT) AS import_wh,
       CAST(COALESCE(sum(j.ex), 0) AS BIGINT) AS export_wh,
       CAST(COALESCE(sum(j.imp) FILTER (WHERE j.slot_of_day BETWEEN {day0} AND {day1}), 0)
            AS BIGINT) AS day_import_wh,
       CAST(COALESCE(sum(j.imp) FILTER (WHERE NOT j.slot_of_day BETWEEN {day0} AND {day1}), 0)
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
       CAST(any_value(g.register_wh) AS BIGINT) AS register_wh
FROM joined j LEFT JOIN {regs} g ON g.supply_point_key = j.supply_point_key
     LEFT JOIN expired x ON x.supply_point_key = j.supply_point_key
GROUP BY j.supply_point_key
ORDER BY j.supply_point_key
"""


class SparkSums:
    """Settlement and billing sums on a Spark session over one shared interval store:
    each call reads the snapshot ``snapshot_of()`` gives when it starts (normally a
    :class:`SnapshotSource`: the table's current one)."""

    def __init__(self, spark: SparkSession, snapshot_of: Callable[[], SnapshotFiles]) -> None:
        self.spark = spark
        self._snapshot_of = snapshot_of

    def settlement_sums(self, members: pa.Table, first_slot: int, last_slot: int) -> pa.Table:
        """As ``settlement_runs.settlement_sums`` (``members``: supply_point_key,
        area_code, balancing_group_id, retailer_id)."""
        snapshot = self._snapshot_of()
        views = [
            arrow_view(self.spark, _members(members), "q_members"),
            temp_view(current_values(self.spark, snapshot, first_slot, last_slot), "cur"),
        ]
        try:
            query = _sums_sql(views[0], views[1], int(first_slot), int(last_slot))
            return _arrow(self.spark.sql(query).toArrow(), SETTLEMENT_SCHEMA)
        finally:
            drop_views(self.spark, views)

    def not_billable_count(self, members: pa.Table, certified: pa.Table, slots: range) -> int:
        """As ``settlement_runs.not_billable_count``."""
        snapshot = self._snapshot_of()
        keys = members.select(["supply_point_key"])
        views = [
            temp_view(current_values(self.spark, snapshot, slots.start, slots.stop - 1), "cur"),
            arrow_view(self.spark, keys, "q_keys"),
            arrow_view(self.spark, certified, "q_cert"),
        ]
        try:
            found = self.spark.sql(_not_billable_sql(*views)).collect()
            return int(found[0]["n"])
        finally:
            drop_views(self.spark, views)

    def billing_sums(
        self,
        supply_point_keys: list[int],
        slots: range,
        day_band: tuple[int, int],
        certified: pa.Table,
        finals: pa.Table,
        registers: pa.Table,
    ) -> pa.Table:
        """As ``billing_queries.billing_sums``, with the two inputs the MDMS store holds
        given: ``finals`` (slot, in_final) and ``registers`` (supply_point_key,
        register_wh), from ``billing_queries.billing_side_inputs``."""
        snapshot = self._snapshot_of()
        first, last = slots.start, slots.stop - 1
        keys = pa.table({"supply_point_key": pa.array(supply_point_keys, pa.int64())})
        views = {
            "cur": temp_view(current_values(self.spark, snapshot, first, last), "cur"),
            "keys": arrow_view(self.spark, keys, "q_keys"),
            "finals": arrow_view(self.spark, finals, "q_finals"),
            "regs": arrow_view(self.spark, registers, "q_regs"),
            "cert": arrow_view(self.spark, certified, "q_cert"),
        }
        try:
            query = _bill_sql(views, first, last, day_band)
            return _arrow(self.spark.sql(query).toArrow(), BILLING_SCHEMA)
        finally:
            drop_views(self.spark, list(views.values()))


class SnapshotSource:
    """Where :class:`SparkSums` gets the snapshot each call reads (a callable)."""

    def __init__(self, uri: str, storage_options: dict[str, str] | None = None) -> None:
        self.uri = uri
        self.storage_options = storage_options

    def __call__(self) -> SnapshotFiles:
        return snapshot_files(self.uri, self.storage_options)


def _members(members: pa.Table) -> pa.Table:
    names = ["supply_point_key", "area_code", "balancing_group_id", "retailer_id"]
    schema = pa.schema(
        [pa.field(n, pa.int64() if n == "supply_point_key" else pa.string()) for n in names]
    )
    return members.select(names).cast(schema)


def _arrow(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return table.select(schema.names).cast(schema)
