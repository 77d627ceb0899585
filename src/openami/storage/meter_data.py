"""The MDMS's own data about meters: master data for VEE and meter events.

- ``meter_master``: register digits, register unit [Wh] and multiplier per meter (V04/V11);
- ``meter_events``: outage, disconnected, tamper, reset, test, last gasp and restore events
  per meter with their period [Unix s] and when they were recorded.
"""

from __future__ import annotations

import pyarrow as pa

from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_reads import read_query


def record_meter_events(store: DuckIntervalStore, events: pa.Table, recorded_at: float) -> int:
    """Append events (columns meter_id, kind, start_s, end_s) in one transaction; an event
    already stored (same meter, kind, start and end: a re-sent or redelivered batch) is not
    stored again. Returns the events added."""
    with store.transaction() as cur:
        cur.register("q_events", events)
        cur.execute(
            "INSERT INTO meter_events SELECT DISTINCT q.meter_id, q.kind, q.start_s, q.end_s, ? "
            "FROM q_events q WHERE NOT EXISTS (SELECT 1 FROM meter_events e "
            "WHERE e.meter_id = q.meter_id AND e.kind = q.kind AND e.start_s = q.start_s "
            "AND e.end_s = q.end_s)",
            [recorded_at],
        )
        row = cur.fetchone()
    return int(row[0]) if row else 0


def set_meter_master(store: DuckIntervalStore, rows: pa.Table) -> None:
    """Insert or replace the master data of the meters in ``rows`` (columns meter_id,
    register_digits, register_unit_wh, multiplier) in one transaction."""
    with store.transaction() as cur:
        cur.register("q_master", rows)
        cur.execute(
            "INSERT OR REPLACE INTO meter_master SELECT meter_id, register_digits, "
            "register_unit_wh, multiplier FROM q_master"
        )


def meter_parameters(store: DuckIntervalStore, amperages: pa.Table) -> pa.Table:
    """``amperages`` (meter_id, contract_amperage_a) with each meter's master data:
    register_digits, register_unit_wh, multiplier (NULL where none is stored)."""
    return read_query(
        store,
        "SELECT a.meter_id, a.contract_amperage_a, m.register_digits, m.register_unit_wh, "
        "m.multiplier FROM amps a LEFT JOIN meter_master m USING (meter_id)",
        {},
        amps=amperages,
    )
