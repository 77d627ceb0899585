"""Imbalance settlement input (計画値同時同量): Σ half-hour values per slot and balancing group.

For one JST day the run sums the current value of every supply point that a retailer
supplied that day (point-in-time membership from the registry's supply contracts) per slot
and per (area, balancing group, retailer), with roll-ups per (area, balancing group) and per
area. Each row says how many points it holds and how many of their values were measured,
estimated, edited or missing, the estimated energy and an aggregate quality:
``measured`` (all measured), ``estimated`` (complete, some estimated or edited),
``partially_missing`` or ``missing``. Missing values count as 0 Wh in the sums — run the
estimation first (the default) so a sum has no holes.

Runs are versioned and append-only: ``preliminary`` (after the day), ``final`` (after
:meth:`Mdms.finalize`), ``correction`` (later re-runs); the latest run of a day is current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from openami.clock import slots_of_day
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore

RUN_KINDS = ("preliminary", "final", "correction")

SETTLEMENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS settlement_runs (
    run_id BIGINT PRIMARY KEY,
    day DATE NOT NULL,
    kind VARCHAR NOT NULL,
    created_at DOUBLE NOT NULL,
    user_name VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS settlement_values (
    run_id BIGINT NOT NULL,
    slot BIGINT NOT NULL,
    level VARCHAR NOT NULL,
    area_code VARCHAR NOT NULL,
    balancing_group_id VARCHAR,
    retailer_id VARCHAR,
    import_wh BIGINT NOT NULL,
    export_wh BIGINT NOT NULL,
    points BIGINT NOT NULL,
    measured BIGINT NOT NULL,
    estimated BIGINT NOT NULL,
    edited BIGINT NOT NULL,
    missing BIGINT NOT NULL,
    estimated_wh BIGINT NOT NULL,
    quality VARCHAR NOT NULL
);
"""

_SUMS = """
WITH cur AS (
    SELECT supply_point_key, slot, arg_max(import_wh, version) AS imp,
           arg_max(export_wh, version) AS exp, arg_max(quality, version) AS q
    FROM hh_slots(?, ?)
    WHERE supply_point_key IN (SELECT supply_point_key FROM q_members)
    GROUP BY supply_point_key, slot),
grid AS (
    SELECT m.supply_point_key, m.area_code, m.balancing_group_id, m.retailer_id, s.slot
    FROM q_members m, range(?, ? + 1) s(slot)),
joined AS (
    SELECT g.*, COALESCE(c.imp, 0) AS imp, COALESCE(c.exp, 0) AS exp,
           CASE WHEN c.q IS NULL OR c.q IN ('missing', 'invalid') THEN 'missing' ELSE c.q END
               AS q
    FROM grid g LEFT JOIN cur c USING (supply_point_key, slot)),
agg AS (
    SELECT slot, area_code, balancing_group_id, retailer_id,
           GROUPING(balancing_group_id, retailer_id) AS g,
           CAST(sum(imp) AS BIGINT) AS import_wh, CAST(sum(exp) AS BIGINT) AS export_wh,
           count(*) AS points,
           count(*) FILTER (WHERE q = 'measured') AS measured,
           count(*) FILTER (WHERE q = 'estimated') AS estimated,
           count(*) FILTER (WHERE q = 'edited') AS edited,
           count(*) FILTER (WHERE q = 'missing') AS missing,
           CAST(COALESCE(sum(imp) FILTER (WHERE q IN ('estimated', 'edited')), 0) AS BIGINT)
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


@dataclass(frozen=True)
class SettlementRun:
    run_id: int
    day: date
    kind: str
    rows: pa.Table


def members_on(registry: Registry, day: date) -> pa.Table:
    """Supply points supplied on ``day`` with their area, balancing group and retailer."""
    return registry.members_on(day)


def settle_day(
    store: DuckIntervalStore,
    registry: Registry,
    day: date,
    kind: str,
    created_at: float,
    user: str,
) -> SettlementRun:
    """Compute and store one settlement run of a JST day (all slots, all levels)."""
    if kind not in RUN_KINDS:
        raise ValueError(f"settlement run kind must be one of {RUN_KINDS}, got {kind!r}")
    slots = slots_of_day(day)
    first, last = slots.start, slots.stop - 1
    members = members_on(registry, day)
    with store.transaction() as cur:
        cur.execute(SETTLEMENT_SCHEMA)
        cur.register("q_members", members)
        rows = cur.sql(_SUMS, params=[first, last, first, last]).to_arrow_table()
        got = cur.execute("SELECT COALESCE(max(run_id), 0) + 1 FROM settlement_runs").fetchall()
        run_id = int(got[0][0])
        cur.execute(
            "INSERT INTO settlement_runs VALUES (?, ?, ?, ?, ?)",
            [run_id, day, kind, created_at, user],
        )
        cur.register("q_rows", rows)
        cur.execute("INSERT INTO settlement_values SELECT ?, * FROM q_rows", [run_id])
    return SettlementRun(run_id, day, kind, rows)
