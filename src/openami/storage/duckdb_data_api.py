"""Queries behind the C-route JSON data API (``/v1/supply-points/{id}/...``).

Every query takes the slot ranges the caller may see (``ranges``: an Arrow table with
``first_slot``, ``last_slot``, inclusive; already cut to the contract or consent period),
so authorization is a join, not a filter in Python. "Updated" is when the current version
of a value (or a register read) was recorded; ``updated_since`` keeps only later ones.
"""

from __future__ import annotations

import pyarrow as pa

from openami.storage.duckdb_interval import DuckIntervalStore

JST_OFFSET_S = 9 * 3600

_CURRENT = """
WITH cur AS (
    SELECT h.slot, h.import_wh, h.export_wh, h.quality, h.method, h.version, h.recorded_at,
           h.final OR EXISTS (SELECT 1 FROM final_periods f
                              WHERE h.slot BETWEEN f.first_slot AND f.last_slot) AS final
    FROM hh_point($key, $lo, $hi) h
    QUALIFY row_number() OVER (PARTITION BY h.slot ORDER BY h.version DESC) = 1
), visible AS (
    SELECT * FROM cur
    WHERE EXISTS (SELECT 1 FROM ranges r WHERE cur.slot BETWEEN r.first_slot AND r.last_slot)
)
"""


def _bounds(ranges: pa.Table) -> tuple[int, int]:
    return (
        int(min(ranges.column("first_slot").to_pylist())),
        int(max(ranges.column("last_slot").to_pylist())),
    )


def half_hour_page(
    store: DuckIntervalStore,
    supply_point_key: int,
    ranges: pa.Table,
    updated_since_s: float | None,
    limit: int,
    offset: int,
) -> tuple[pa.Table, int]:
    """One page of current half-hour values (by slot) and how many match in all."""
    lo, hi = _bounds(ranges)
    table = store.query(
        _CURRENT
        + """
        SELECT slot, import_wh, export_wh, quality, method, final, version, recorded_at,
               count(*) OVER () AS total
        FROM visible WHERE $since IS NULL OR recorded_at > $since
        ORDER BY slot LIMIT $limit OFFSET $offset
        """,
        {  # type: ignore[arg-type]
            "key": supply_point_key,
            "lo": lo,
            "hi": hi,
            "since": updated_since_s,
            "limit": limit,
            "offset": offset,
        },
        ranges=ranges,
    )
    total = int(table.column("total")[0].as_py()) if table.num_rows else 0
    if not table.num_rows and offset:
        total = _count(store, supply_point_key, ranges, updated_since_s)
    return table.drop(["total"]), total


def _count(
    store: DuckIntervalStore, supply_point_key: int, ranges: pa.Table, since: float | None
) -> int:
    lo, hi = _bounds(ranges)
    table = store.query(
        _CURRENT + "SELECT count(*) AS n FROM visible WHERE $since IS NULL OR recorded_at > $since",
        {"key": supply_point_key, "lo": lo, "hi": hi, "since": since},  # type: ignore[arg-type]
        ranges=ranges,
    )
    return int(table.column("n")[0].as_py())


def daily_sums(
    store: DuckIntervalStore, supply_point_key: int, ranges: pa.Table, updated_since_s: float | None
) -> pa.Table:
    """Per JST day (``day`` = days since 1970-01-01 JST): import/export sums [Wh] over the
    values present, counts by quality, whether every slot is final, and the latest
    recording time. Days whose latest recording is not after ``updated_since_s`` are left out.
    """
    lo, hi = _bounds(ranges)
    return store.query(
        _CURRENT
        + f"""
        SELECT (slot * 1800 + {JST_OFFSET_S}) // 86400 AS day,
               sum(import_wh)::BIGINT AS import_wh, sum(export_wh)::BIGINT AS export_wh,
               count(import_wh) AS values_present,
               count(*) FILTER (WHERE quality = 'measured') AS measured,
               count(*) FILTER (WHERE quality = 'estimated') AS estimated,
               count(*) FILTER (WHERE quality = 'edited') AS edited,
               bool_and(final) AS all_final,
               count(*) FILTER (WHERE final) AS final_slots,
               max(recorded_at) AS updated_at
        FROM visible GROUP BY day
        HAVING $since IS NULL OR max(recorded_at) > $since
        ORDER BY day
        """,
        {"key": supply_point_key, "lo": lo, "hi": hi, "since": updated_since_s},  # type: ignore[arg-type]
        ranges=ranges,
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
        """
        WITH cur AS (
            SELECT r.meter_id, r.boundary, r.import_register_wh, r.export_register_wh,
                   r.source, r.ingest_seq, r.received_at
            FROM reads_between($lo, $hi) r
            JOIN m ON r.meter_id = m.meter_id
                  AND r.boundary BETWEEN m.first_boundary AND m.last_boundary
            QUALIFY row_number() OVER (
                PARTITION BY r.meter_id, r.boundary ORDER BY r.ingest_seq DESC) = 1
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
