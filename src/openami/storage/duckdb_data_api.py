"""Interval-store queries behind the C route: the current values of many supply points at
once (one page of an ESPI bulk feed; one point's values are ``Mdms.current_values``),
register reads of the meters installed at a supply point, and the half-hour value versions
recorded in a time window (webhook notifications).

Callers pass what the registry knows as Arrow tables (the meters and boundaries visible,
the supply contracts): storage never asks the registry itself. "Updated" is when a version
(or a register read) was recorded; ``updated_since_s`` keeps only later ones.
"""

from __future__ import annotations

import pyarrow as pa

from openami.storage import slot_sql
from openami.storage.current_values_sql import current_reads_sql, current_versions_sql
from openami.storage.duckdb_interval import DuckIntervalStore

_POINTS_VERSIONS = current_versions_sql(
    "?", "?", "WHERE supply_point_key IN (SELECT supply_point_key FROM points)"
)
_METERS_READS = current_reads_sql("$lo", "$hi", "WHERE meter_id IN (SELECT meter_id FROM m)")


def current_values_of_points(
    store: DuckIntervalStore, supply_point_keys: pa.Table, first_slot: int, last_slot: int
) -> pa.Table:
    """The current value (highest version) of each slot in ``[first_slot, last_slot]`` of
    the points in ``supply_point_keys`` (column ``supply_point_key``) that has one, by point
    and slot: supply_point_key, then the columns of ``Mdms.current_values`` (the same rule,
    ``final`` including declared final periods; tested equal to it point by point). One
    query for a whole page of points instead of one read per point."""
    return store.query(
        f"""
        WITH cur AS ({_POINTS_VERSIONS})
        SELECT c.supply_point_key, c.slot, c.import_wh, c.export_wh, c.quality, c.method,
               c.vee_flags,
               c.final OR EXISTS (SELECT 1 FROM final_periods f
                                  WHERE c.slot BETWEEN f.first_slot AND f.last_slot) AS final,
               c.version, c.recorded_at, c.reason, c.edited_by
        FROM cur c ORDER BY c.supply_point_key, c.slot
        """,
        [first_slot, last_slot],
        points=supply_point_keys,
    )


def register_reads_page(
    store: DuckIntervalStore,
    meter_ranges: pa.Table,
    updated_since_s: float | None,
    limit: int,
    offset: int,
) -> tuple[pa.Table, int]:
    """Current register reads of the meters in ``meter_ranges`` (``meter_id``,
    ``first_boundary``, ``last_boundary``, inclusive), by boundary, with the time they were
    stored (``updated_at``) and whether the slot they close is final."""
    lo = int(min(meter_ranges.column("first_boundary").to_pylist()))
    hi = int(max(meter_ranges.column("last_boundary").to_pylist()))
    table = store.query(
        f"""
        WITH cur AS (
            SELECT r.* FROM ({_METERS_READS}) r
            JOIN m ON r.meter_id = m.meter_id
                  AND r.boundary BETWEEN m.first_boundary AND m.last_boundary
        )
        SELECT c.meter_id, c.boundary, c.import_register_wh, c.export_register_wh, c.source,
               COALESCE(l.recorded_at, c.received_at) AS updated_at,
               EXISTS (SELECT 1 FROM final_periods f
                       WHERE c.boundary - 1 BETWEEN f.first_slot AND f.last_slot) AS final,
               count(*) OVER () AS total
        FROM cur c LEFT JOIN ingest_log l ON l.ingest_seq = c.ingest_seq
        WHERE $since IS NULL OR COALESCE(l.recorded_at, c.received_at) > $since
        ORDER BY c.boundary, c.meter_id LIMIT $limit OFFSET $offset
        """,
        {  # type: ignore[arg-type]
            "lo": lo,
            "hi": hi,
            "since": updated_since_s,
            "limit": limit,
            "offset": offset,
        },
        m=meter_ranges,
    )
    total = int(table.column("total")[0].as_py()) if table.num_rows else 0
    return table.drop(["total"]), total


def changed_slots(
    store: DuckIntervalStore,
    after_s: float,
    until_s: float,
    contracts: pa.Table,
    max_keys: int,
) -> pa.Table:
    """Per retailer and slot, the supply points with a half-hour value version recorded in
    ``(after_s, until_s]`` that the retailer supplies on the slot's JST day: ``retailer_id``,
    ``slot``, ``n`` (how many points) and ``keys`` (the first ``max_keys`` supply point keys,
    in order). ``contracts``: supply_point_key, retailer_id, valid_from, valid_to (date32,
    null = open-ended), as ``Registry.contracts_table`` gives them."""
    changed = """
        SELECT DISTINCT supply_point_key, slot FROM half_hour_values
        WHERE recorded_at > ? AND recorded_at <= ?"""
    return store.query(_by_retailer(changed, max_keys), [after_s, until_s], contracts=contracts)


def changed_slots_of(
    store: DuckIntervalStore, changes: pa.Table, contracts: pa.Table, max_keys: int
) -> pa.Table:
    """:func:`changed_slots` of the given ``changes`` (supply_point_key, slot; e.g. what
    the shared interval store committed since a version) instead of a recording-time
    window of ``store``'s own values (``store`` only runs the query)."""
    changed = "SELECT DISTINCT supply_point_key, slot FROM changes"
    return store.query(_by_retailer(changed, max_keys), [], contracts=contracts, changes=changes)


def _by_retailer(changed: str, max_keys: int) -> str:
    day = f"(DATE '1970-01-01' + CAST({slot_sql.day_number('ch.slot')} AS INTEGER))"
    return f"""
        WITH ch AS ({changed})
        SELECT c.retailer_id, ch.slot, count(*) AS n,
               list(ch.supply_point_key ORDER BY ch.supply_point_key)[1:{int(max_keys)}] AS keys
        FROM ch JOIN contracts c ON c.supply_point_key = ch.supply_point_key
         AND CAST(c.valid_from AS DATE) <= {day}
         AND (c.valid_to IS NULL OR CAST(c.valid_to AS DATE) > {day})
        GROUP BY c.retailer_id, ch.slot ORDER BY c.retailer_id, ch.slot
        """
