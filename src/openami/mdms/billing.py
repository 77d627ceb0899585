"""Billing determinants per supply point and billing period (JST days, inclusive).

From the current half-hour values: import and export energy, import split into the
time-of-use bands of ``[billing]`` in vee.toml (day / night by JST time of day), the largest
half-hour import as demand [W], counts per quality, and whether the period is billing-ready
(no missing or invalid value, every value final). The validation runs again here (CA practice:
on ingest and on the billing cycle): V05 compares the period's import with the register
difference of the meter's reads at the period's two ends when one meter served it all.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import slots_of_day
from openami.mdms.vee_config import VeeConfig
from openami.storage.duckdb_interval import DuckIntervalStore

_BILL = """
WITH cur AS (
    SELECT supply_point_key, slot, arg_max(import_wh, version) AS imp,
           arg_max(export_wh, version) AS exp, arg_max(quality, version) AS q,
           arg_max(final, version) AS fin
    FROM hh_slots($first, $last)
    WHERE supply_point_key IN (SELECT supply_point_key FROM q_keys)
    GROUP BY supply_point_key, slot),
finals AS (
    SELECT s.slot, count(f.first_slot) > 0 AS in_final
    FROM range($first, $last + 1) s(slot)
    LEFT JOIN final_periods f ON s.slot BETWEEN f.first_slot AND f.last_slot
    GROUP BY s.slot),
vals AS (
    SELECT c.*, c.fin OR f.in_final AS final, ((c.slot + 18) % 48) AS slot_of_day
    FROM cur c JOIN finals f USING (slot)),
grid AS (
    SELECT k.supply_point_key, s.slot FROM q_keys k, range($first, $last + 1) s(slot)),
joined AS (
    SELECT g.supply_point_key, g.slot, v.imp, v.exp, v.final, v.slot_of_day,
           COALESCE(v.q, 'missing') AS q
    FROM grid g LEFT JOIN vals v USING (supply_point_key, slot)),
ends AS (
    SELECT i.supply_point_key, i.meter_id FROM q_inst i
    WHERE i.valid_from <= $first * 1800
      AND (i.valid_to IS NULL OR i.valid_to >= ($last + 1) * 1800)),
regs AS (
    SELECT e.supply_point_key,
           max(r.import_register_wh) FILTER (WHERE r.boundary = $last + 1)
             - max(r.import_register_wh) FILTER (WHERE r.boundary = $first) AS register_wh
    FROM ends e JOIN (
        SELECT meter_id, boundary, arg_max(import_register_wh, ingest_seq) AS import_register_wh
        FROM (SELECT * FROM reads_between($first, $first)
              UNION ALL SELECT * FROM reads_between($last + 1, $last + 1))
        GROUP BY ALL) r
      ON r.meter_id = e.meter_id
    GROUP BY e.supply_point_key)
SELECT j.supply_point_key,
       CAST(COALESCE(sum(j.imp), 0) AS BIGINT) AS import_wh,
       CAST(COALESCE(sum(j.exp), 0) AS BIGINT) AS export_wh,
       CAST(COALESCE(sum(j.imp) FILTER (WHERE j.slot_of_day BETWEEN $day0 AND $day1), 0)
            AS BIGINT) AS day_import_wh,
       CAST(COALESCE(sum(j.imp) FILTER (WHERE NOT j.slot_of_day BETWEEN $day0 AND $day1), 0)
            AS BIGINT) AS night_import_wh,
       CAST(COALESCE(max(j.imp), 0) * 2 AS BIGINT) AS max_demand_w,
       count(*) AS slots,
       count(*) FILTER (WHERE j.q = 'measured') AS measured,
       count(*) FILTER (WHERE j.q = 'estimated') AS estimated,
       count(*) FILTER (WHERE j.q = 'edited') AS edited,
       count(*) FILTER (WHERE j.q IN ('missing', 'invalid')) AS missing,
       count(*) FILTER (WHERE j.q IN ('missing', 'invalid')) = 0
           AND bool_and(COALESCE(j.final, false)) AS billing_ready,
       any_value(g.register_wh) AS register_wh
FROM joined j LEFT JOIN regs g USING (supply_point_key)
GROUP BY j.supply_point_key
ORDER BY j.supply_point_key
"""


def _slot_of_day(hhmm: str) -> int:
    hh, mm = hhmm.split(":")
    if not (0 <= int(hh) <= 24 and mm in ("00", "30")):
        raise ValueError(f"TOU band times must be HH:00 or HH:30, got {hhmm!r}")
    return int(hh) * 2 + (1 if mm == "30" else 0)


def billing_determinants(
    store: DuckIntervalStore,
    installations: pa.Table,
    supply_point_keys: list[int],
    first_day: date,
    last_day: date,
    cfg: VeeConfig,
    day_band: tuple[str, str] = ("07:00", "23:00"),
) -> pa.Table:
    """One row per supply point (see the module docstring); ``v05_ok`` is NULL when the
    register reads at both period ends are not known or the meter changed."""
    if last_day < first_day:
        raise ValueError("the billing period ends before it starts")
    first = slots_of_day(first_day).start
    last = slots_of_day(last_day).stop - 1
    d0, d1 = _slot_of_day(day_band[0]), _slot_of_day(day_band[1]) - 1
    sql = (
        _BILL.replace("$first", str(first))
        .replace("$last", str(last))
        .replace("$day0", str(d0))
        .replace("$day1", str(d1))
    )
    keys = pa.table({"supply_point_key": pa.array(supply_point_keys, pa.int64())})
    table = store.query(sql, q_keys=keys, q_inst=installations)
    r5 = cfg.rule("V05")
    reg = table.column("register_wh").cast(pa.float64())
    diff = pc.abs(pc.subtract(table.column("import_wh").cast(pa.float64()), reg))
    allowed = pc.max_element_wise(
        pc.multiply(pc.abs(reg), r5.p("tolerance_pct") / 100.0), r5.p("tolerance_wh")
    )
    return table.append_column("v05_ok", pc.less_equal(diff, allowed))
