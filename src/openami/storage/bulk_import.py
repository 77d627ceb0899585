"""Bulk import files: reading CSV or Parquet rows, and checking every row with set-based SQL.

The rows of a file are read as strings (a Parquet timestamp with a zone becomes epoch
seconds), so that a bad value becomes a reason on its line instead of a failed import; the
check (:func:`check_import_rows`) runs on an in-memory DuckDB of its own, never on the store.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from openami.storage.slot_sql import SLOT_S, start_s

#: the columns every import file has (``meter_id`` is optional)
REQUIRED_COLUMNS = ("supply_point_id", "slot_start", "import_register_wh", "export_register_wh")
PARQUET_SUFFIXES = (".parquet", ".pq")

_ISO = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})"
)
_SP = "(0[1-9]|10)[0-9]{20}"

_CHECK = f"""
WITH parsed AS (
    SELECT line, supply_point_id, meter_id_text,
           import_register_wh AS imp_text, export_register_wh AS exp_text,
           COALESCE(epoch_given, epoch(try_cast(slot_start AS TIMESTAMPTZ))) AS epoch_s,
           slot_start, epoch_given, try_cast(import_register_wh AS BIGINT) AS imp,
           try_cast(NULLIF(trim(export_register_wh), '') AS BIGINT) AS exp,
           try_cast(NULLIF(trim(meter_id_text), '') AS BIGINT) AS meter_id
    FROM raw),
checked AS (
    SELECT *, round(epoch_s / {SLOT_S}) AS boundary,
           epoch_s - round(epoch_s / {SLOT_S}) * {SLOT_S} AS off_s,
      CASE
        WHEN supply_point_id IS NULL OR NOT regexp_full_match(supply_point_id, '{_SP}')
          THEN 'supply_point_id: must be 22 digits starting with an area code 01-10'
        WHEN epoch_given IS NULL
             AND (slot_start IS NULL OR NOT regexp_full_match(slot_start, '{_ISO}'))
          THEN 'slot_start: must be ISO 8601 with a UTC offset, e.g. 2026-11-01T10:30:00+09:00'
        WHEN epoch_s IS NULL THEN 'slot_start: not a valid date and time'
        WHEN abs(epoch_s - round(epoch_s / {SLOT_S}) * {SLOT_S}) > $max_offset_s
          THEN 'slot_start: not on the half-hour grid (V01)'
        WHEN imp_text IS NULL OR imp IS NULL OR NOT regexp_full_match(trim(imp_text), '-?[0-9]+')
          THEN 'import_register_wh: must be a whole number of Wh'
        WHEN imp < 0 THEN 'import_register_wh: must not be negative'
        WHEN NULLIF(trim(exp_text), '') IS NOT NULL
             AND (exp IS NULL OR NOT regexp_full_match(trim(exp_text), '-?[0-9]+'))
          THEN 'export_register_wh: must be a whole number of Wh or empty'
        WHEN exp < 0 THEN 'export_register_wh: must not be negative'
        WHEN NULLIF(trim(meter_id_text), '') IS NOT NULL AND meter_id IS NULL
          THEN 'meter_id: must be an integer or empty'
      END AS reason
    FROM parsed),
keyed AS (
    SELECT c.*, k.supply_point_key FROM checked c LEFT JOIN keys k USING (supply_point_id)),
placed AS (
    SELECT k.*, i.meter_id AS installed_meter
    FROM keyed k LEFT JOIN inst i
      ON i.supply_point_key = k.supply_point_key
     AND (k.meter_id IS NULL OR i.meter_id = k.meter_id)
     AND i.valid_from <= {start_s("k.boundary")}
     AND (i.valid_to IS NULL OR {start_s("k.boundary")} < i.valid_to
          OR (k.meter_id IS NOT NULL AND {start_s("k.boundary")} = i.valid_to))
    QUALIFY row_number() OVER (PARTITION BY k.line ORDER BY i.valid_from DESC NULLS LAST) = 1),
judged AS (
    SELECT *, CASE
        WHEN reason IS NOT NULL THEN reason
        WHEN supply_point_key IS NULL THEN 'supply_point_id: unknown supply point'
        WHEN installed_meter IS NULL THEN 'no meter installed at the supply point at slot_start'
      END AS reason2
    FROM placed),
ranked AS (
    SELECT *, first_value(line) OVER w AS first_line,
           first_value(imp) OVER w AS first_imp, first_value(exp) OVER w AS first_exp,
           row_number() OVER w AS nth
    FROM judged WHERE reason2 IS NULL
    WINDOW w AS (PARTITION BY installed_meter, boundary ORDER BY line))
SELECT line, reason2 AS reason, NULL::BIGINT AS meter_id, NULL::BIGINT AS boundary,
       NULL::BIGINT AS imp, NULL::BIGINT AS exp, NULL::DOUBLE AS off_s, false AS same_dup
FROM judged WHERE reason2 IS NOT NULL
UNION ALL
SELECT line,
       CASE WHEN nth > 1 AND (imp IS DISTINCT FROM first_imp OR exp IS DISTINCT FROM first_exp)
            THEN 'duplicate of line ' || first_line || ' with other registers (V02)' END,
       installed_meter, CAST(boundary AS BIGINT), imp, exp, off_s,
       nth > 1 AND imp IS NOT DISTINCT FROM first_imp AND exp IS NOT DISTINCT FROM first_exp
FROM ranked
ORDER BY line
"""


def read_import_file(path: Path) -> pa.Table:
    """The file's rows: CSV columns as strings, Parquet as stored. A file without one of
    :data:`REQUIRED_COLUMNS`, with a column name given twice, or with one of them (or
    ``meter_id``) of a type that holds no single value (a list, struct, map or interval
    column), is refused with a ValueError naming it;
    so is a file pyarrow cannot read (damaged Parquet metadata: every pyarrow error but an
    OSError becomes a ValueError) or whose Parquet data is not valid (text not UTF-8)."""
    try:
        table = _read_table(path)
    except OSError:
        raise
    except pa.ArrowException as exc:  # e.g. ArrowNotImplementedError for damaged metadata
        raise ValueError(f"{path.name}: not a readable import file: {exc}") from exc
    twice = sorted({c for c in table.column_names if table.column_names.count(c) > 1})
    if twice:
        raise ValueError(f"{path.name}: column(s) {', '.join(twice)} given more than once")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}")
    unreadable = [
        f"{field.name} ({field.type})"
        for field in table.schema
        if field.name in _VALUE_COLUMNS and not _scalar_type(field.type)
    ]
    if unreadable:
        raise ValueError(f"{path.name}: column(s) {', '.join(unreadable)} do not hold values")
    return table


_VALUE_COLUMNS = frozenset((*REQUIRED_COLUMNS, "meter_id"))


def _scalar_type(kind: pa.DataType) -> bool:
    """A Parquet column type whose values read as text (a list, struct, map or interval
    column cannot be one row's value; casting it would fail outside ValueError)."""
    if pa.types.is_dictionary(kind):
        return _scalar_type(kind.value_type)
    checks = (
        pa.types.is_string,
        pa.types.is_large_string,
        pa.types.is_binary,
        pa.types.is_large_binary,
        pa.types.is_fixed_size_binary,
        pa.types.is_integer,
        pa.types.is_floating,
        pa.types.is_decimal,
        pa.types.is_boolean,
        pa.types.is_timestamp,
        pa.types.is_date,
        pa.types.is_time,
        pa.types.is_duration,
        pa.types.is_null,
    )
    return any(check(kind) for check in checks)


def _read_table(path: Path) -> pa.Table:
    if path.suffix.lower() in PARQUET_SUFFIXES:
        table = pq.read_table(path)
        try:  # pyarrow does not check a Parquet file's UTF-8 on reading; DuckDB would fail
            table.validate(full=True)
        except pa.ArrowInvalid as exc:
            raise ValueError(f"{path.name}: invalid Parquet data: {exc}") from exc
        return table
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(_csv_header(path), pa.string()),
            strings_can_be_null=True,
            null_values=[""],
        ),
    )


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def check_import_rows(
    raw: pa.Table, keys: pa.Table, installations: pa.Table, max_offset_s: float
) -> pa.Table:
    """Judge every row of ``raw`` (columns line, supply_point_id, slot_start, epoch_given,
    import_register_wh, export_register_wh, meter_id_text; all text but ``epoch_given``):
    the format of each field, the supply point (``keys``: supply_point_id →
    supply_point_key of the known ones), the meter installed there at ``slot_start``
    (``installations``), the half-hour grid within ``max_offset_s`` (V01) and duplicates
    (V02). One row per line, by line: ``reason`` (NULL when good), and for good rows
    meter_id, boundary, imp, exp, off_s (the clock offset [s]) and ``same_dup`` (a repeat of
    an earlier line with the same registers)."""
    con = duckdb.connect()
    try:
        con.register("raw", raw)
        con.register("keys", keys)
        con.register("inst", installations)
        return con.sql(_CHECK, params={"max_offset_s": float(max_offset_s)}).to_arrow_table()
    finally:
        con.close()
