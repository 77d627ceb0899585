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
    """Append events (columns meter_id, kind, start_s, end_s) in one transaction."""
    with store.transaction() as cur:
        cur.register("q_events", events)
        cur.execute(
            "INSERT INTO meter_events SELECT meter_id, kind, start_s, end_s, ? FROM q_events",
            [recorded_at],
        )
    return events.num_rows


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
