"""Read-only queries behind the operator dashboard (aggregated on the server).

Every function reads; none writes. These are interval queries on the DuckDB store (its
public ``query``); the dashboard's registry reads are the registry service's
(``storage/registry_reads.py``). Results are small: aggregates, one page of rows, or one
supply point's day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa

from openami.bus.messages import DELIVERY_DEADLINE_S
from openami.clock import SLOTS_PER_DAY, day_of_slot, slot_start_s, slots_of_day
from openami.storage.current_values_sql import current_reads_sql
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_reads import read_query
from openami.storage.slot_sql import SLOT_S, delay_s


def data_day_range(store: DuckIntervalStore) -> tuple[date, date] | None:
    """First and last JST day for which register reads were received, or None."""
    table = store.query(  # from the physical tables: the views would unnest every day row
        "SELECT least((SELECT MIN(boundary) FROM hh_reads), "
        "(SELECT MIN(day_first_slot) + 1 FROM day_rows)) AS lo, "
        "greatest((SELECT MAX(boundary) FROM hh_reads), "
        f"(SELECT MAX(day_first_slot) + {SLOTS_PER_DAY} FROM day_rows)) AS hi"
    )
    lo, hi = table.column("lo")[0].as_py(), table.column("hi")[0].as_py()
    if lo is None or hi is None:
        return None
    return day_of_slot(int(lo)), day_of_slot(int(hi) - 1)


def ingest_watermark(store: DuckIntervalStore) -> tuple[int, int, int]:
    """Changes whenever data was stored: reads ingested, values marked, estimated or edited,
    days packed (each writes an ``ingest_log`` row, so ``seq`` grows; ``reads``
    counts narrow reads plus day rows)."""
    table = store.query(
        "SELECT (SELECT COALESCE(MAX(ingest_seq), 0) FROM ingest_log) AS seq, "
        "(SELECT COUNT(*) FROM hh_reads) + (SELECT COUNT(*) FROM day_rows) AS reads, "
        "(SELECT COUNT(*) FROM hh_values) AS hhv"
    )
    row = table.to_pylist()[0]
    return int(row["seq"]), int(row["reads"]), int(row["hhv"])


def day_watermark(store: DuckIntervalStore, day: date) -> tuple[int, int, int]:
    """Changes whenever data about ``day`` was stored: reads at its boundaries, reads received
    during it, value versions of its slots. Cheap: the filters prune by zone maps, since the
    append-only tables are written roughly in time order."""
    slots = slots_of_day(day)
    t0, t1 = slot_start_s(slots.start), slot_start_s(slots.stop)
    table = store.query(
        "SELECT (SELECT COUNT(*) FROM reads_between(?, ?)) AS b, "
        "(SELECT COUNT(*) FROM register_reads WHERE received_at >= ? AND received_at < ?) AS r, "
        "(SELECT COUNT(*) FROM hh_slots(?, ?)) AS v",
        [slots.start, slots.stop, t0, t1, slots.start, slots.stop - 1],
    )
    row = table.to_pylist()[0]
    return int(row["b"]), int(row["r"]), int(row["v"])


@dataclass(frozen=True)
class SlotCollection:
    """Collection of the register reads taken at one boundary (the end of a slot)."""

    boundary: int
    group: str
    expected: int
    within_30min: int
    within_60min: int
    received: int


def slot_timeline(
    store: DuckIntervalStore, meters: pa.Table, day: date, by: str = "comm_method"
) -> list[SlotCollection]:
    """Per slot end of ``day`` and per group (``comm_method`` or ``all``): reads expected
    and received within one slot (30 min), 60 min and so far (first arrival counts)."""
    if by not in ("comm_method", "area_code", "concentrator_id"):
        raise ValueError(f"cannot group a timeline by {by!r}")
    slots = slots_of_day(day)
    table = store.query(
        f"""
        WITH m AS (SELECT meter_id, COALESCE(CAST({by} AS VARCHAR), '-') AS grp FROM meters),
        b AS (SELECT * FROM range(?, ? + 1) t(boundary)),
        reads AS (
            SELECT meter_id, boundary, {delay_s("MIN(received_at)", "boundary")} AS delay_s
            FROM reads_between(?, ?)
            GROUP BY meter_id, boundary),
        groups AS (SELECT grp, COUNT(*) AS n FROM m GROUP BY GROUPING SETS ((grp), ())),
        expected AS (SELECT b.boundary, groups.grp, groups.n FROM b CROSS JOIN groups),
        got AS (
            SELECT r.boundary, m.grp,
                   COUNT(*) FILTER (WHERE r.delay_s <= {SLOT_S}) AS r30,
                   COUNT(*) FILTER (WHERE r.delay_s <= {DELIVERY_DEADLINE_S}) AS r60,
                   COUNT(*) AS received
            FROM reads r JOIN m ON m.meter_id = r.meter_id
            GROUP BY GROUPING SETS ((r.boundary, m.grp), (r.boundary)))
        SELECT e.boundary, COALESCE(e.grp, 'all') AS grp, e.n AS expected,
               COALESCE(g.r30, 0) AS r30, COALESCE(g.r60, 0) AS r60,
               COALESCE(g.received, 0) AS received
        FROM expected e LEFT JOIN got g
          ON g.boundary = e.boundary AND g.grp IS NOT DISTINCT FROM e.grp
        ORDER BY grp, e.boundary
        """,
        [slots.start + 1, slots.stop, slots.start + 1, slots.stop],
        meters=meters,
    )
    return [
        SlotCollection(
            int(r["boundary"]),
            str(r["grp"]),
            int(r["expected"]),
            int(r["r30"]),
            int(r["r60"]),
            int(r["received"]),
        )
        for r in table.to_pylist()
    ]


_METER_REGISTER_READS = f"""
WITH cur AS ({current_reads_sql("$first", "$last", "WHERE meter_id = $meter")}),
arrivals AS (
    SELECT boundary, MIN(received_at) AS first_received_at,
           arg_min(source, received_at) AS source, COUNT(*) AS reads
    FROM reads_between($first, $last) WHERE meter_id = $meter
    GROUP BY boundary)
SELECT c.boundary, c.import_register_wh, c.export_register_wh, a.first_received_at, a.source,
       a.reads
FROM cur c JOIN arrivals a USING (boundary)
ORDER BY c.boundary
"""


def meter_register_reads(
    store: DuckIntervalStore, meter_id: int, first_boundary: int, last_boundary: int
) -> list[dict[str, Any]]:
    """The register reads of one meter at boundaries in a range (inclusive): the latest
    stored value, when it first arrived, how (``source``: the ``ReadSource`` code of the
    first arrival), and how many distinct reads were stored."""
    params = {"first": int(first_boundary), "last": int(last_boundary), "meter": int(meter_id)}
    table = read_query(store, _METER_REGISTER_READS, params)
    rows = table.to_pylist()
    for r in rows:
        r["delay_s"] = float(r["first_received_at"]) - slot_start_s(int(r["boundary"]))
    return rows


def value_versions(
    store: DuckIntervalStore, supply_point_key: int, first_slot: int, last_slot: int
) -> dict[int, tuple[int, str]]:
    """Per slot of one supply point: (number of versions, reason of the current one)."""
    table = store.query(
        """
        SELECT slot, COUNT(*) AS versions, arg_max(reason, version) AS reason
        FROM hh_point(?, ?, ?)
        GROUP BY slot
        """,
        [int(supply_point_key), int(first_slot), int(last_slot)],
    )
    return {
        int(s): (int(n), str(r))
        for s, n, r in zip(
            table.column("slot").to_pylist(),
            table.column("versions").to_pylist(),
            table.column("reason").to_pylist(),
            strict=True,
        )
    }
