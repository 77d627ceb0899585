"""CSV of one supply point's half-hour values, one line per slot of a range."""

from __future__ import annotations

import io

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from openami.bus.messages import Quality
from openami.clock import JST_OFFSET_S
from openami.storage.quality_sql import quality_sql
from openami.storage.slot_sql import start_s

_LINES = f"""
SELECT $supply_point_id AS supply_point_id,
       strftime(make_timestamp(CAST(({start_s("s.slot")} + {JST_OFFSET_S}) * 1000000 AS BIGINT)),
                '%Y-%m-%dT%H:%M:%S+09:00') AS slot_start,
       v.import_wh, v.export_wh,
       COALESCE(v.quality, 'not_yet_available') AS quality,
       CASE WHEN COALESCE(v.final, false) THEN 'true' ELSE 'false' END AS final,
       COALESCE(v.method, '') AS method, COALESCE(v.flags, '') AS flags,
       COALESCE(v.version, 0) AS version,
       -- ESPI QualityOfReading: 0 valid, 7 manually edited, 8 estimated with a
       -- reference day, 9 estimated by interpolation, 10 questionable,
       -- 11 derived (profiles, known totals, outage zeros)
       CASE WHEN v.quality = {quality_sql(Quality.MEASURED)} AND COALESCE(v.vee_flags, 0) = 0
            THEN '0'
            WHEN v.quality = {quality_sql(Quality.MEASURED)} THEN '10'
            WHEN v.quality = {quality_sql(Quality.EDITED)} THEN '7'
            WHEN v.quality = {quality_sql(Quality.ESTIMATED)} AND v.method = 'E1' THEN '9'
            WHEN v.quality = {quality_sql(Quality.ESTIMATED)} AND v.method = 'E2' THEN '8'
            WHEN v.quality = {quality_sql(Quality.ESTIMATED)} THEN '11'
            WHEN v.quality = {quality_sql(Quality.PROFILED)} THEN '11'
            WHEN v.quality = {quality_sql(Quality.INVALID)} THEN '10'
            ELSE '' END AS espi_quality
FROM range($first, $last + 1) s(slot) LEFT JOIN vals v USING (slot)
ORDER BY s.slot
"""


def values_csv_text(values: pa.Table, supply_point_id: str, first_slot: int, last_slot: int) -> str:
    """CSV text, one line per slot of ``[first_slot, last_slot]``: supply_point_id,
    slot_start (JST, ISO 8601), import_wh, export_wh, quality (``not_yet_available`` where
    the slot has no value), final, method, flags, version and the ESPI QualityOfReading.
    ``values``: the current values (``Mdms.current_values`` columns) and ``flags`` (the
    VEE rule IDs as text)."""
    con = duckdb.connect()
    try:
        con.register("vals", values)
        params = {"supply_point_id": supply_point_id, "first": first_slot, "last": last_slot}
        lines = con.sql(_LINES, params=params).to_arrow_table()
    finally:
        con.close()
    buf = io.BytesIO()
    pacsv.write_csv(lines, buf, pacsv.WriteOptions(quoting_style="needed"))
    return buf.getvalue().decode("utf-8")
