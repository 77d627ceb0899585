"""The rules of "the current value" and "the current read" in SQL, for queries over many
supply points or meters at once.

Settlement, billing, completeness, the KPIs, the estimation and the day partitions all read
the current version of many (supply point, slot) pairs; they share these fragments instead
of each spelling the rule. One supply point's values come from :mod:`point_read` (NumPy,
faster for one point), which is tested equal to :func:`current_versions_sql`. Every query
that needs the current version of a value or the current read of a boundary builds it here
(:func:`current_versions_sql`, :func:`current_reads_sql`); none spells the rule again.

DuckDB drops the aggregates a query does not use, so selecting a few columns of the
fragment costs no more than a fragment with only those. ``arg_max_null``, not ``arg_max``:
the latter skips NULL arguments, so a current version without an import (invalid, missing,
an edit without export) would show the import of the version before it.
"""

from __future__ import annotations


def current_versions_sql(
    first_slot: str, last_slot: str, where: str = "", source: str | None = None
) -> str:
    """SQL of the highest version of each (supply point, slot) in ``[first_slot,
    last_slot]`` (SQL expressions) that has one: supply_point_key, slot, version, import_wh,
    export_wh, quality, method, vee_flags, final (as stored with the version; see
    :func:`final_slots_sql` for declared final periods), recorded_at, reason, edited_by.
    ``where`` (e.g. ``WHERE supply_point_key IN (…)``) filters the versions first;
    ``source`` replaces the versions of every point in the slots (``hh_slots``) with a
    subquery of the same columns (a query that picks its versions itself)."""
    return f"""
    SELECT supply_point_key, slot, max(version) AS version,
           arg_max_null(import_wh, version) AS import_wh,
           arg_max_null(export_wh, version) AS export_wh,
           arg_max_null(quality, version) AS quality,
           arg_max_null(method, version) AS method,
           arg_max_null(vee_flags, version) AS vee_flags,
           arg_max_null(final, version) AS final,
           arg_max_null(recorded_at, version) AS recorded_at,
           arg_max_null(reason, version) AS reason,
           arg_max_null(edited_by, version) AS edited_by
    FROM {source or f"hh_slots({first_slot}, {last_slot})"} {where}
    GROUP BY supply_point_key, slot"""


def final_slots_sql(first_slot: str, last_slot: str) -> str:
    """SQL of every slot in ``[first_slot, last_slot]`` with ``in_final``: whether it lies in
    a period declared final (``final_periods``)."""
    return f"""
    SELECT s.slot, count(f.first_slot) > 0 AS in_final
    FROM range({first_slot}, {last_slot} + 1) s(slot)
    LEFT JOIN final_periods f ON s.slot BETWEEN f.first_slot AND f.last_slot
    GROUP BY s.slot"""


def current_reads_sql(first_boundary: str, last_boundary: str, where: str = "") -> str:
    """SQL of the current register read of each (meter, boundary) in ``[first_boundary,
    last_boundary]`` (SQL expressions) that has one: the read stored last (highest
    ``ingest_seq``; a correction or an exchange's closing read replaces an earlier one):
    meter_id, boundary, import_register_wh, export_register_wh, source, received_at,
    ingest_seq. ``where`` (e.g. ``WHERE meter_id = $meter``) filters the reads first. One
    meter's reads (``meter_reads.current_reads``) use this too."""
    return f"""
    SELECT meter_id, boundary,
           arg_max_null(import_register_wh, ingest_seq) AS import_register_wh,
           arg_max_null(export_register_wh, ingest_seq) AS export_register_wh,
           arg_max_null(source, ingest_seq) AS source,
           arg_max_null(received_at, ingest_seq) AS received_at,
           max(ingest_seq) AS ingest_seq
    FROM reads_between({first_boundary}, {last_boundary}) {where}
    GROUP BY meter_id, boundary"""
