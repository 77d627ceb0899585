"""Bulk import of register reads from CSV or Parquet, and CSV export of half-hour values.

Import columns: ``supply_point_id``, ``slot_start`` (ISO 8601 with a UTC offset: the instant
the registers were read, on the :00/:30 grid), ``import_register_wh``,
``export_register_wh`` (may be empty) and optionally ``meter_id`` (needed only to tell the
old and the new meter apart at a meter exchange). Every row is checked with set-based SQL;
bad rows are reported with their line and reason and the good rows are kept. Rows go to the
MDMS in chunks of one transaction each, so an interrupted import can simply be run again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from openami.bus.messages import READ_SCHEMA, ReadSource
from openami.mdms.vee_config import VeeConfig, decode_flags_array

REQUIRED = ("supply_point_id", "slot_start", "import_register_wh", "export_register_wh")
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
    SELECT *, round(epoch_s / 1800) AS boundary, epoch_s - round(epoch_s / 1800) * 1800 AS off_s,
      CASE
        WHEN supply_point_id IS NULL OR NOT regexp_full_match(supply_point_id, '{_SP}')
          THEN 'supply_point_id: must be 22 digits starting with an area code 01-10'
        WHEN epoch_given IS NULL
             AND (slot_start IS NULL OR NOT regexp_full_match(slot_start, '{_ISO}'))
          THEN 'slot_start: must be ISO 8601 with a UTC offset, e.g. 2026-11-01T10:30:00+09:00'
        WHEN epoch_s IS NULL THEN 'slot_start: not a valid date and time'
        WHEN abs(epoch_s - round(epoch_s / 1800) * 1800) > $max_off
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
     AND i.valid_from <= k.boundary * 1800
     AND (i.valid_to IS NULL OR k.boundary * 1800 < i.valid_to
          OR (k.meter_id IS NOT NULL AND k.boundary * 1800 = i.valid_to))
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


@dataclass
class ImportCheck:
    """Rows of a file split into good reads and bad rows with reasons."""

    rows: int
    reads: pa.Table  # READ_SCHEMA + clock_offset_s, ordered by line
    bad: list[tuple[int, str]] = field(default_factory=list)
    same_duplicates: int = 0


def read_file(path: Path) -> pa.Table:
    """The file's rows as strings (Parquet timestamps with a zone become epoch seconds)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        table = pq.read_table(path)
    else:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(_csv_header(path), pa.string()),
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}")
    return table


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def check_rows(
    table: pa.Table,
    keys: pa.Table,
    installations: pa.Table,
    cfg: VeeConfig,
    received_at: float,
    header_lines: int = 1,
) -> ImportCheck:
    """Validate rows; ``keys`` maps supply_point_id → supply_point_key (known ones only)."""
    n = table.num_rows
    epoch_given = pa.nulls(n, pa.float64())
    col = table.column("slot_start")
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            raise ValueError("slot_start: Parquet timestamps must carry a time zone (UTC offset)")
        epoch_given = pc.divide(col.cast(pa.timestamp("us", "UTC")).cast(pa.int64()), 1e6)
        col = pa.nulls(n, pa.string())

    def text(name: str) -> pa.ChunkedArray | pa.Array:
        if name not in table.column_names:
            return pa.nulls(n, pa.string())
        return table.column(name).cast(pa.string())

    raw = pa.table(
        {
            "line": np.arange(n, dtype=np.int64) + 1 + header_lines,
            "supply_point_id": text("supply_point_id"),
            "slot_start": col.cast(pa.string()),
            "epoch_given": epoch_given,
            "import_register_wh": text("import_register_wh"),
            "export_register_wh": text("export_register_wh"),
            "meter_id_text": text("meter_id"),
        }
    )
    con = duckdb.connect()
    try:
        con.register("raw", raw)
        con.register("keys", keys)
        con.register("inst", installations)
        sql = _CHECK.replace("$max_off", str(float(cfg.rule("V09").p("max_s"))))
        out = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    reason = out.column("reason")
    bad_mask = np.asarray(reason.is_valid(), dtype=bool)
    bad = list(
        zip(
            out.column("line").filter(pa.array(bad_mask)).to_pylist(),
            reason.filter(pa.array(bad_mask)).to_pylist(),
            strict=True,
        )
    )
    same_dup = np.asarray(pc.fill_null(out.column("same_dup"), False), dtype=bool)
    good = out.filter(pa.array(~bad_mask & ~same_dup))
    reads = pa.table(
        {
            "meter_id": good.column("meter_id"),
            "boundary": good.column("boundary"),
            "import_register_wh": good.column("imp"),
            "export_register_wh": good.column("exp"),
            "received_at": pa.array(np.full(good.num_rows, received_at)),
            "source": pa.array(np.full(good.num_rows, ReadSource.BULK, dtype=np.uint8)),
        },
        schema=READ_SCHEMA,
    ).append_column("clock_offset_s", good.column("off_s"))
    return ImportCheck(n, reads, bad, int(same_dup.sum()))


def chunks(table: pa.Table, rows: int) -> Iterator[pa.Table]:
    """Slices of about ``rows`` rows; a slice ends where the meter changes (within another
    ``rows`` rows), so that a file grouped by supply point keeps each meter-day in one chunk
    and the MDMS can take the whole chunk as day rows (``mdms/grid.py``)."""
    n = table.num_rows
    meter = np.asarray(pc.fill_null(table.column("meter_id"), -1).to_numpy(), dtype=np.int64)
    start = 0
    while start < n:
        stop = min(start + rows, n)
        if stop < n:
            change = np.flatnonzero(meter[stop : stop + rows] != meter[stop - 1])
            stop = stop + int(change[0]) if len(change) else min(stop + rows, n)
        yield table.slice(start, stop - start)
        start = stop


def values_csv(values: pa.Table, supply_point_id: str, first_slot: int, last_slot: int) -> str:
    """CSV of every slot in the range: values with quality, final, method, flags, version
    and the ESPI QualityOfReading code. Slots without any value yet have quality
    ``not_yet_available``."""
    flags = pa.array(decode_flags_array(pc.fill_null(values.column("vee_flags"), 0).to_numpy()))
    vals = (
        values.append_column("flags", flags)
        if values.num_rows
        else values.append_column("flags", pa.array([], pa.string()))
    )
    con = duckdb.connect()
    try:
        con.register("vals", vals)
        out = con.sql(
            """
            SELECT ? AS supply_point_id,
                   strftime(make_timestamp(CAST((s.slot * 1800 + 32400) * 1000000 AS BIGINT)),
                            '%Y-%m-%dT%H:%M:%S+09:00') AS slot_start,
                   v.import_wh, v.export_wh,
                   COALESCE(v.quality, 'not_yet_available') AS quality,
                   CASE WHEN COALESCE(v.final, false) THEN 'true' ELSE 'false' END AS final,
                   COALESCE(v.method, '') AS method, COALESCE(v.flags, '') AS flags,
                   COALESCE(v.version, 0) AS version,
                   -- ESPI QualityOfReading: 0 valid, 7 manually edited, 8 estimated with a
                   -- reference day, 9 estimated by interpolation, 10 questionable,
                   -- 11 derived (profiles, known totals, outage zeros)
                   CASE WHEN v.quality = 'measured' AND COALESCE(v.vee_flags, 0) = 0 THEN '0'
                        WHEN v.quality = 'measured' THEN '10'
                        WHEN v.quality = 'edited' THEN '7'
                        WHEN v.quality = 'estimated' AND v.method = 'E1' THEN '9'
                        WHEN v.quality = 'estimated' AND v.method = 'E2' THEN '8'
                        WHEN v.quality = 'estimated' THEN '11'
                        WHEN v.quality = 'invalid' THEN '10'
                        ELSE '' END AS espi_quality
            FROM range(?, ? + 1) s(slot) LEFT JOIN vals v USING (slot)
            ORDER BY s.slot
            """,
            params=[supply_point_id, first_slot, last_slot],
        ).to_arrow_table()
    finally:
        con.close()
    buf = io.BytesIO()
    pacsv.write_csv(out, buf, pacsv.WriteOptions(quoting_style="needed"))
    return buf.getvalue().decode("utf-8")
