"""Settlement sums of current half-hour values per slot and level, and the stored runs.

``settlement_runs`` holds one row per run (run_id, JST day, kind, when, who);
``settlement_values`` the run's rows. Runs are appended, never changed.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from openami.bus.messages import Quality
from openami.clock import SLOT_SECONDS
from openami.storage.current_values_sql import current_versions_sql
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_reads import read_query
from openami.storage.quality_sql import NO_VALUE_SQL, quality_sql
from openami.storage.slot_sql import installed

_MEMBER_VERSIONS = current_versions_sql(
    "$first", "$last", "WHERE supply_point_key IN (SELECT supply_point_key FROM q_members)"
)

_SUMS = f"""
WITH cur AS ({_MEMBER_VERSIONS}),
grid AS (
    SELECT m.supply_point_key, m.area_code, m.balancing_group_id, m.retailer_id, s.slot
    FROM q_members m, range($first, $last + 1) s(slot)),
joined AS (
    SELECT g.*, COALESCE(c.import_wh, 0) AS imp, COALESCE(c.export_wh, 0) AS exp,
           CASE WHEN c.quality IS NULL OR c.quality IN {NO_VALUE_SQL}
                THEN {quality_sql(Quality.MISSING)}
                ELSE c.quality END AS q
    FROM grid g LEFT JOIN cur c USING (supply_point_key, slot)),
agg AS (
    SELECT slot, area_code, balancing_group_id, retailer_id,
           GROUPING(balancing_group_id, retailer_id) AS g,
           CAST(sum(imp) AS BIGINT) AS import_wh, CAST(sum(exp) AS BIGINT) AS export_wh,
           count(*) AS points,
           count(*) FILTER (WHERE q = {quality_sql(Quality.MEASURED)}) AS measured,
           count(*) FILTER (WHERE q = {quality_sql(Quality.ESTIMATED)}) AS estimated,
           count(*) FILTER (WHERE q = {quality_sql(Quality.EDITED)}) AS edited,
           count(*) FILTER (WHERE q = {quality_sql(Quality.MISSING)}) AS missing,
           CAST(COALESCE(sum(imp) FILTER (
               WHERE q IN {quality_sql(Quality.ESTIMATED, Quality.EDITED)}), 0) AS BIGINT)
               AS estimated_wh
    FROM joined
    GROUP BY GROUPING SETS ((slot, area_code, balancing_group_id, retailer_id),
                            (slot, area_code, balancing_group_id), (slot, area_code)))
SELECT slot,
       CASE g WHEN 0 THEN 'retailer' WHEN 1 THEN 'balancing_group' ELSE 'area' END AS level,
       area_code, balancing_group_id, retailer_id, import_wh, export_wh, points, measured,
       estimated, edited, missing, estimated_wh,
       CASE WHEN measured = points THEN 'measured'
            WHEN missing = 0 THEN 'estimated'
            WHEN missing = points THEN 'missing'
            ELSE 'partially_missing' END AS quality
FROM agg
ORDER BY slot, area_code, g DESC, balancing_group_id, retailer_id
"""


def _sums(
    cur: duckdb.DuckDBPyConnection, members: pa.Table, first_slot: int, last_slot: int
) -> pa.Table:
    cur.register("q_members", members)
    params = {"first": first_slot, "last": last_slot}
    return cur.sql(_SUMS, params=params).to_arrow_table()


def settlement_sums(
    store: DuckIntervalStore, members: pa.Table, first_slot: int, last_slot: int
) -> pa.Table:
    """Σ of the members' current values per slot of ``[first_slot, last_slot]`` and per
    (area, balancing group, retailer), (area, balancing group) and area, with counts per
    quality and an aggregate quality (see ``mdms/settlement.py``). ``members``: columns
    supply_point_key, area_code, balancing_group_id, retailer_id."""
    params = {"first": first_slot, "last": last_slot}
    return read_query(store, _SUMS, params, q_members=members)


def store_settlement_run(
    store: DuckIntervalStore,
    members: pa.Table,
    day: date,
    kind: str,
    created_at: float,
    user: str,
    slots: range,
    computed: pa.Table | None = None,
) -> tuple[int, pa.Table]:
    """Compute the sums of ``slots`` and store them as the next run of ``day``, in one
    transaction; returns the run's id and rows. ``computed``: the rows, already summed by
    another engine (Spark over the shared interval store), stored as they are."""
    with store.transaction() as cur:
        rows = (
            computed if computed is not None else _sums(cur, members, slots.start, slots.stop - 1)
        )
        got = cur.execute("SELECT COALESCE(max(run_id), 0) + 1 FROM settlement_runs").fetchall()
        run_id = int(got[0][0])
        cur.execute(
            "INSERT INTO settlement_runs VALUES (?, ?, ?, ?, ?)",
            [run_id, day, kind, created_at, user],
        )
        cur.register("q_rows", rows)
        cur.execute("INSERT INTO settlement_values SELECT ?, * FROM q_rows", [run_id])
    return run_id, rows


_RUN = """
SELECT run_id, kind, created_at FROM settlement_runs
WHERE day = $day AND ($kind IS NULL OR kind = $kind)
ORDER BY run_id DESC LIMIT 1
"""
_BG_ROWS = """
SELECT slot, area_code, balancing_group_id, import_wh, export_wh, points, quality
FROM settlement_values WHERE run_id = $run_id AND level = 'balancing_group'
ORDER BY slot, area_code, balancing_group_id
"""


def stored_group_sums(
    store: DuckIntervalStore, day: date, kind: str | None
) -> tuple[int, str, float, pa.Table] | None:
    """The newest stored run of ``day`` (of ``kind``, or of any kind if None) with its rows
    at the balancing-group level (slot, area_code, balancing_group_id, import_wh,
    export_wh, points, quality): (run_id, kind, created_at, rows), or None if none."""
    found = read_query(store, _RUN, {"day": day, "kind": kind}).to_pylist()
    if not found:
        return None
    run = found[0]
    rows = read_query(store, _BG_ROWS, {"run_id": run["run_id"]})
    return int(run["run_id"]), str(run["kind"]), float(run["created_at"]), rows


def settlement_runs_of(store: DuckIntervalStore, day: date) -> pa.Table:
    """Every stored run of ``day``: run_id, kind, created_at, user_name, by run."""
    return read_query(
        store,
        "SELECT run_id, kind, created_at, user_name FROM settlement_runs WHERE day = $day"
        " ORDER BY run_id",
        {"day": day},
    )


_NOT_BILLABLE = f"""
WITH cur AS ({_MEMBER_VERSIONS})
SELECT count(*) AS n
FROM cur v JOIN q_cert c ON c.supply_point_key = v.supply_point_key
  AND {installed("c", "v.slot")} AND v.slot * {SLOT_SECONDS} >= c.expired_from_s
WHERE v.quality NOT IN {NO_VALUE_SQL}
"""


def not_billable_count(
    store: DuckIntervalStore, members: pa.Table, certified: pa.Table, slots: range
) -> int:
    """How many of the members' current values in ``slots`` were metered after their
    meter's certification expired (VEE rule V12; ``certified``: installations with
    ``expired_from_s``, see ``mdms/certification.py``)."""
    params = {"first": slots.start, "last": slots.stop - 1}
    found = read_query(store, _NOT_BILLABLE, params, q_members=members, q_cert=certified)
    return int(found.column("n")[0].as_py())
