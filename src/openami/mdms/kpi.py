"""Collection KPIs per JST day, by communication method and by area.

For day D the expected register reads are those at the 48 slot *ends* of D (boundaries
``first+1 … first+48``), one per installed meter. A read counts once, at its first arrival.

- ``collection_30min_rate``: reads received within 30 minutes of their boundary ÷ expected.
- ``delivery_60min_rate``: reads received within 60 minutes ÷ expected (the C-route rule).
- ``collection_48h_rate``: reads received within 48 hours (after retries and backfill).
- ``automatic_reading_rate`` (自動検針率): meters whose 48 half-hour values of D are all
  measured from A-route reads ÷ meters installed.
- ``network_connection_rate``: meters with at least one register read *received* during D
  (00:00–24:00 JST; scheduled, retried or backfilled) ÷ meters installed.

With the HES journal (:class:`openami.hes.journal.HesJournal`) two more:
- ``remote_operation_success_rate``: disconnect, reconnect and ampere-setting commands
  issued during D that were confirmed by read-back within their timeout ÷ those issued
  that reached a terminal state (confirmed, timed out, failed);
- ``clock_compliance_rate``: meters whose clock was within the threshold at their last
  contact of D ÷ meters whose clock was read during D.
Without a journal, or without any such command or clock read, these are ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from openami.bus.messages import REMOTE_OPERATIONS
from openami.clock import slots_of_day
from openami.hes.journal import HesJournal
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore

KPI_NAMES = (
    "network_connection_rate",
    "collection_30min_rate",
    "delivery_60min_rate",
    "collection_48h_rate",
    "automatic_reading_rate",
    "remote_operation_success_rate",
    "clock_compliance_rate",
)
GROUPINGS = ("comm_method", "area_code", "concentrator_id")
REMOTE_OPERATION_KINDS = tuple(int(k) for k in REMOTE_OPERATIONS)


@dataclass(frozen=True)
class KpiRow:
    group: str
    meters: int
    collection_30min_rate: float
    delivery_60min_rate: float
    collection_48h_rate: float
    automatic_reading_rate: float
    network_connection_rate: float = 0.0
    remote_operation_success_rate: float | None = None
    clock_compliance_rate: float | None = None


def daily_kpis(
    store: DuckIntervalStore,
    registry: Registry,
    day: date,
    by: str = "comm_method",
    journal: HesJournal | None = None,
    meters: pa.Table | None = None,
) -> list[KpiRow]:
    """KPI rows for ``day`` grouped by ``comm_method``, ``area_code`` or ``concentrator_id``;
    the last row is the total (group ``all``). ``meters`` defaults to the registry's."""
    if by not in GROUPINGS:
        raise ValueError(f"cannot group KPIs by {by!r}")
    if meters is None:
        meters = registry.meters_table()
    slots = slots_of_day(day)
    first, last = slots.start, slots.stop - 1
    table = store.query(
        f"""
        WITH m AS (SELECT meter_id, supply_point_key,
                          COALESCE(CAST({by} AS VARCHAR), '-') AS grp FROM meters),
        reads AS (
            SELECT meter_id, boundary, MIN(received_at) - boundary * 1800.0 AS delay_s
            FROM reads_between(?, ?)
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
                SELECT supply_point_key, slot, quality FROM hh_slots(?, ?)
                QUALIFY row_number() OVER (
                    PARTITION BY supply_point_key, slot ORDER BY version DESC) = 1)
            WHERE quality = 'measured' GROUP BY supply_point_key),
        amr AS (
            SELECT m.grp, m.meter_id, COALESCE(v.measured, 0) = 48 AS complete
            FROM m LEFT JOIN values_ok v ON v.supply_point_key = m.supply_point_key),
        connected AS (
            SELECT DISTINCT meter_id FROM register_reads
            WHERE received_at >= ? AND received_at < ?)
        SELECT p.grp, COUNT(*) AS meters,
               SUM(p.r30) AS r30, SUM(p.r60) AS r60, SUM(p.r48h) AS r48h,
               SUM(CASE WHEN a.complete THEN 1 ELSE 0 END) AS amr,
               COUNT(c.meter_id) AS connected
        FROM per_meter p JOIN amr a ON a.meter_id = p.meter_id
        LEFT JOIN connected c ON c.meter_id = p.meter_id
        GROUP BY GROUPING SETS ((p.grp), ())
        ORDER BY p.grp NULLS LAST
        """,
        [first + 1, last + 1, first, last, first * 1800.0, (last + 1) * 1800.0],
        meters=meters,
    )
    extra = _journal_kpis(store, meters, by, day, journal) if journal is not None else {}
    return [_row(r, extra) for r in table.to_pylist()]


def _journal_kpis(
    store: DuckIntervalStore, meters: pa.Table, by: str, day: date, journal: HesJournal
) -> dict[str, tuple[float | None, float | None]]:
    """Per group: (remote operation success rate, clock compliance rate)."""
    first = slots_of_day(day).start
    t0, t1 = first * 1800.0, (first + 48) * 1800.0
    kinds = ", ".join(str(k) for k in REMOTE_OPERATION_KINDS)
    table = store.query(
        f"""
        WITH m AS (SELECT meter_id, COALESCE(CAST({by} AS VARCHAR), '-') AS grp FROM meters),
        ops AS (
            SELECT m.grp, COUNT(*) AS issued, COUNT(*) FILTER (WHERE c.state = 1) AS confirmed
            FROM cmds c JOIN m ON m.meter_id = c.meter_id
            WHERE c.kind IN ({kinds}) AND c.issued_at >= ? AND c.issued_at < ?
            GROUP BY GROUPING SETS ((m.grp), ())),
        clk AS (
            SELECT m.grp, COUNT(*) FILTER (WHERE k.clock_checked) AS checked,
                   COUNT(*) FILTER (WHERE k.clock_ok) AS ok
            FROM clocks k JOIN m ON m.meter_id = k.meter_id
            WHERE k.day = ?
            GROUP BY GROUPING SETS ((m.grp), ()))
        SELECT COALESCE(o.grp, k.grp) AS grp, o.issued, o.confirmed, k.checked, k.ok
        FROM ops o FULL OUTER JOIN clk k ON o.grp IS NOT DISTINCT FROM k.grp
        """,
        [t0, t1, day],
        meters=meters,
        cmds=journal.commands(),
        clocks=journal.clock_days(),
    )
    out: dict[str, tuple[float | None, float | None]] = {}
    for r in table.to_pylist():
        grp = "all" if r["grp"] is None else str(r["grp"])
        issued, checked = r["issued"] or 0, r["checked"] or 0
        out[grp] = (
            r["confirmed"] / issued if issued else None,
            r["ok"] / checked if checked else None,
        )
    return out


def _row(r: dict[str, object], extra: dict[str, tuple[float | None, float | None]]) -> KpiRow:
    n = int(r["meters"])  # type: ignore[call-overload]
    expected = max(n * 48, 1)
    group = str(r["grp"]) if r["grp"] is not None else "all"
    remote, clock = extra.get(group, (None, None))

    def rate(key: str) -> float:
        return float(r[key] or 0) / expected  # type: ignore[arg-type]

    return KpiRow(
        group=group,
        meters=n,
        collection_30min_rate=rate("r30"),
        delivery_60min_rate=rate("r60"),
        collection_48h_rate=rate("r48h"),
        automatic_reading_rate=float(r["amr"] or 0) / max(n, 1),  # type: ignore[arg-type]
        network_connection_rate=float(r["connected"] or 0) / max(n, 1),  # type: ignore[arg-type]
        remote_operation_success_rate=remote,
        clock_compliance_rate=clock,
    )


def kpi_table(rows: list[KpiRow]) -> pa.Table:
    return pa.Table.from_pylist([row.__dict__ for row in rows])
