"""Counts behind the MDMS's KPIs (``mdms/kpi.py``) and value completeness
(``mdms/completeness.py``), per JST day and group.

Each function returns the raw counts of one day; the MDMS turns them into rates and
compares them with targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pyarrow as pa

from openami.bus.messages import Quality
from openami.clock import SLOTS_PER_DAY, slot_start_s, slots_of_day
from openami.storage.current_values_sql import current_versions_sql
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_reads import read_query
from openami.storage.quality_sql import quality_sql
from openami.storage.slot_sql import delay_s, end_s, installed, start_s


def _group_column(meters: pa.Table, by: str) -> str:
    """``by`` as a column of ``meters`` that may be spelt into SQL (never anything else)."""
    if not by.isidentifier() or by not in meters.column_names:
        raise ValueError(f"cannot group by {by!r}: not a column of the meters")
    return by


def _identifiers(names: Sequence[str]) -> list[str]:
    """Names of result columns that may be spelt into SQL (never anything else)."""
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"{name!r} is not an identifier")
    return list(names)


def _collection_sql(by: str, within_names: Sequence[str]) -> str:
    within = ",\n".join(
        f"COUNT(*) FILTER (WHERE r.delay_s <= ${name}) AS {name}" for name in within_names
    )
    sums = ", ".join(f"SUM(p.{name}) AS {name}" for name in within_names)
    return f"""
    WITH m AS (SELECT meter_id, supply_point_key,
                      COALESCE(CAST({by} AS VARCHAR), '-') AS grp FROM meters),
    reads AS (
        SELECT meter_id, boundary, {delay_s("MIN(received_at)", "boundary")} AS delay_s
        FROM reads_between($first + 1, $last + 1)
        GROUP BY meter_id, boundary),
    per_meter AS (
        SELECT m.grp, m.meter_id, {within}
        FROM m LEFT JOIN reads r ON r.meter_id = m.meter_id
        GROUP BY m.grp, m.meter_id),
    values_ok AS (
        SELECT supply_point_key, COUNT(*) AS measured
        FROM ({current_versions_sql("$first", "$last")})
        WHERE quality = {quality_sql(Quality.MEASURED)} GROUP BY supply_point_key),
    amr AS (
        SELECT m.grp, m.meter_id, COALESCE(v.measured, 0) = {SLOTS_PER_DAY} AS complete
        FROM m LEFT JOIN values_ok v ON v.supply_point_key = m.supply_point_key),
    connected AS (
        SELECT DISTINCT meter_id FROM register_reads
        WHERE received_at >= {start_s("$first")} AND received_at < {end_s("$last")})
    SELECT p.grp, COUNT(*) AS meters, {sums},
           SUM(CASE WHEN a.complete THEN 1 ELSE 0 END) AS amr,
           COUNT(c.meter_id) AS connected
    FROM per_meter p JOIN amr a ON a.meter_id = p.meter_id
    LEFT JOIN connected c ON c.meter_id = p.meter_id
    GROUP BY GROUPING SETS ((p.grp), ())
    ORDER BY p.grp NULLS LAST
    """


def collection_counts(
    store: DuckIntervalStore, meters: pa.Table, by: str, day: date, within_s: dict[str, float]
) -> pa.Table:
    """Per group of ``meters`` (column ``by``; NULL group: all meters) for the JST ``day``:
    meters; for each name of ``within_s``: the reads at the day's 48 slot ends first
    received within that many seconds of their boundary; ``amr``: meters whose supply
    point's 48 current values are all measured; ``connected``: meters with any read
    received during the day."""
    slots = slots_of_day(day)
    params = {
        "first": slots.start,
        "last": slots.stop - 1,
        **within_s,
    }
    sql = _collection_sql(_group_column(meters, by), _identifiers(list(within_s)))
    return read_query(store, sql, params, meters=meters)


def _journal_sql(by: str, kinds: Sequence[int]) -> str:
    kind_list = ", ".join(str(int(k)) for k in kinds)
    return f"""
    WITH m AS (SELECT meter_id, COALESCE(CAST({by} AS VARCHAR), '-') AS grp FROM meters),
    ops AS (
        SELECT m.grp, COUNT(*) AS issued,
               COUNT(*) FILTER (WHERE c.state = $confirmed) AS confirmed
        FROM cmds c JOIN m ON m.meter_id = c.meter_id
        WHERE c.kind IN ({kind_list}) AND c.issued_at >= $t0 AND c.issued_at < $t1
        GROUP BY GROUPING SETS ((m.grp), ())),
    clk AS (
        SELECT m.grp, COUNT(*) FILTER (WHERE k.clock_checked) AS checked,
               COUNT(*) FILTER (WHERE k.clock_ok) AS ok
        FROM clocks k JOIN m ON m.meter_id = k.meter_id
        WHERE k.day = $day
        GROUP BY GROUPING SETS ((m.grp), ()))
    SELECT COALESCE(o.grp, k.grp) AS grp, o.issued, o.confirmed, k.checked, k.ok
    FROM ops o FULL OUTER JOIN clk k ON o.grp IS NOT DISTINCT FROM k.grp
    """


def journal_counts(
    store: DuckIntervalStore,
    meters: pa.Table,
    by: str,
    day: date,
    journal_tables: tuple[pa.Table, pa.Table],
    kinds: Sequence[int],
    confirmed_state: int,
) -> pa.Table:
    """Per group (NULL: all): remote operations of ``kinds`` issued during the JST ``day``
    and those of them in ``confirmed_state``; meters whose clock was checked that day and
    those within the threshold. ``journal_tables``: the HES journal's commands and clock
    days."""
    commands, clock_days = journal_tables
    slots = slots_of_day(day)
    params = {
        "t0": slot_start_s(slots.start),
        "t1": slot_start_s(slots.stop),
        "day": day,
        "confirmed": confirmed_state,
    }
    sql = _journal_sql(_group_column(meters, by), kinds)
    return read_query(store, sql, params, meters=meters, cmds=commands, clocks=clock_days)


def _completeness_sql(horizon_names: Sequence[str]) -> str:
    within = ",\n".join(
        f"count(*) FILTER (WHERE delay_s <= ${name}) AS {name}" for name in horizon_names
    )
    shares = ",\n".join(f"sum({name}) / sum(n) AS {name}" for name in horizon_names)
    return f"""
    WITH expected AS (
        SELECT i.supply_point_key, p.area_code, s.slot
        FROM q_inst i JOIN q_points p USING (supply_point_key), range($first, $last + 1) s(slot)
        WHERE {installed("i", "s.slot")}),
    firsts AS (
        SELECT supply_point_key, slot, min(recorded_at) AS first_measured_at
        FROM hh_slots($first, $last)
        WHERE quality = {quality_sql(Quality.MEASURED)}
        GROUP BY supply_point_key, slot),
    current AS ({current_versions_sql("$first", "$last")}),
    per_value AS (
        SELECT e.supply_point_key, e.area_code, e.slot,
               f.first_measured_at - {end_s("e.slot")} AS delay_s,
               COALESCE(c.quality = {quality_sql(Quality.MEASURED)}, false) AS measured_now
        FROM expected e
        LEFT JOIN firsts f USING (supply_point_key, slot)
        LEFT JOIN current c USING (supply_point_key, slot)),
    per_point AS (
        SELECT area_code, supply_point_key, count(*) AS n, {within},
               bool_and(measured_now) AND count(*) = {SLOTS_PER_DAY} AS complete
        FROM per_value GROUP BY area_code, supply_point_key)
    SELECT COALESCE(area_code, 'all') AS area_code, count(*) AS points,
           CAST(sum(n) AS BIGINT) AS expected_values, {shares},
           avg(CASE WHEN complete THEN 1.0 ELSE 0.0 END) AS reading_rate
    FROM per_point
    GROUP BY GROUPING SETS ((area_code), ())
    ORDER BY area_code NULLS LAST
    """


def completeness_shares(
    store: DuckIntervalStore,
    installations: pa.Table,
    points: pa.Table,
    day: date,
    horizons_s: dict[str, float],
) -> pa.Table:
    """Per area and for ``all``: supply points with a meter on the JST ``day`` (``points``:
    supply_point_key, area_code), the values expected of them (each slot with a meter for
    all of it), for each horizon the share of those whose first ``measured`` version was
    recorded within that many seconds of the slot end (a column named after the horizon),
    and ``reading_rate``: the share of points whose 48 values are all measured now."""
    slots = slots_of_day(day)
    params = {"first": slots.start, "last": slots.stop - 1, **horizons_s}
    sql = _completeness_sql(_identifiers(list(horizons_s)))
    return read_query(store, sql, params, q_inst=installations, q_points=points)
