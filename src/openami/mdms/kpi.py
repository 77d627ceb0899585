"""Collection KPIs per JST day, by communication method and by area.

For day D the expected register reads are those at the 48 slot *ends* of D (boundaries
``first+1 … first+48``), one per installed meter. A read counts once, at its first arrival.

- ``collection_30min_rate``: reads received within 30 minutes of their boundary ÷ expected.
- ``delivery_60min_rate``: reads received within 60 minutes ÷ expected (the C-route rule).
- ``collection_48h_rate``: reads received within 48 hours (after retries and backfill).
- ``automatic_reading_rate`` (自動検針率): meters whose 48 half-hour values of D are all
  measured from A-route reads ÷ meters installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from openami.clock import slots_of_day
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore

KPI_NAMES = (
    "collection_30min_rate",
    "delivery_60min_rate",
    "collection_48h_rate",
    "automatic_reading_rate",
)


@dataclass(frozen=True)
class KpiRow:
    group: str
    meters: int
    collection_30min_rate: float
    delivery_60min_rate: float
    collection_48h_rate: float
    automatic_reading_rate: float


def daily_kpis(
    store: DuckIntervalStore, registry: Registry, day: date, by: str = "comm_method"
) -> list[KpiRow]:
    """KPI rows for ``day`` grouped by ``comm_method``, ``area_code`` or ``concentrator_id``;
    the last row is the total (group ``all``)."""
    if by not in ("comm_method", "area_code", "concentrator_id"):
        raise ValueError(f"cannot group KPIs by {by!r}")
    meters = registry.meters_table()
    slots = slots_of_day(day)
    first, last = slots.start, slots.stop - 1
    table = store.query(
        f"""
        WITH m AS (SELECT meter_id, supply_point_key,
                          COALESCE(CAST({by} AS VARCHAR), '-') AS grp FROM meters),
        reads AS (
            SELECT meter_id, boundary, MIN(received_at) - boundary * 1800.0 AS delay_s
            FROM register_reads
            WHERE boundary BETWEEN ? AND ?
            GROUP BY meter_id, boundary),
        per_meter AS (
            SELECT m.grp, m.meter_id,
                   COUNT(*) FILTER (WHERE r.delay_s <= 1800) AS r30,
                   COUNT(*) FILTER (WHERE r.delay_s <= 3600) AS r60,
                   COUNT(*) FILTER (WHERE r.delay_s <= 172800) AS r48h
            FROM m LEFT JOIN reads r ON r.meter_id = m.meter_id
            GROUP BY m.grp, m.meter_id),
        values_ok AS (
            SELECT supply_point_key, COUNT(*) AS measured FROM (
                SELECT supply_point_key, slot, quality FROM half_hour_values
                WHERE slot BETWEEN ? AND ?
                QUALIFY row_number() OVER (
                    PARTITION BY supply_point_key, slot ORDER BY version DESC) = 1)
            WHERE quality = 'measured' GROUP BY supply_point_key),
        amr AS (
            SELECT m.grp, m.meter_id, COALESCE(v.measured, 0) = 48 AS complete
            FROM m LEFT JOIN values_ok v ON v.supply_point_key = m.supply_point_key)
        SELECT p.grp, COUNT(*) AS meters,
               SUM(p.r30) AS r30, SUM(p.r60) AS r60, SUM(p.r48h) AS r48h,
               SUM(CASE WHEN a.complete THEN 1 ELSE 0 END) AS amr
        FROM per_meter p JOIN amr a ON a.meter_id = p.meter_id
        GROUP BY GROUPING SETS ((p.grp), ())
        ORDER BY p.grp NULLS LAST
        """,
        [first + 1, last + 1, first, last],
        meters=meters,
    )
    return [_row(r) for r in table.to_pylist()]


def _row(r: dict[str, object]) -> KpiRow:
    n = int(r["meters"])  # type: ignore[call-overload]
    expected = max(n * 48, 1)

    def rate(key: str) -> float:
        return float(r[key] or 0) / expected  # type: ignore[arg-type]

    return KpiRow(
        group=str(r["grp"]) if r["grp"] is not None else "all",
        meters=n,
        collection_30min_rate=rate("r30"),
        delivery_60min_rate=rate("r60"),
        collection_48h_rate=rate("r48h"),
        automatic_reading_rate=float(r["amr"] or 0) / max(n, 1),  # type: ignore[arg-type]
    )


def kpi_table(rows: list[KpiRow]) -> pa.Table:
    return pa.Table.from_pylist([row.__dict__ for row in rows])
