"""Billing determinants per supply point and billing period (JST days, inclusive).

From the current half-hour values: import and export energy, import split into the
time-of-use bands of ``[billing]`` in vee.toml (day / night by JST time of day), the largest
half-hour import as demand [W], counts per quality, and whether the period is billing-ready
(no missing or invalid value, every value final). The validation runs again here (CA practice:
on ingest and on the billing cycle): V05 compares the period's import with the register
difference of the meter's reads at the period's two ends when one meter served it all, and
V12 counts the values metered after the meter's certification expired
(``not_billable_values``, :mod:`openami.mdms.certification`): such a period is not
billing-ready.

:func:`segment_determinants` gives the determinants over each supply point's own period
(billing periods by 計量日, cut at supply-contract changes), with a holiday band.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import SLOTS_PER_DAY, day_first_slot
from openami.clock.calendar import holiday_flags
from openami.mdms.certification import certified_installations
from openami.mdms.vee_config import VeeConfig
from openami.storage.billing_queries import billing_side_inputs, billing_sums, segment_sums
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.spark_sums import SparkSums

#: no expiry known for any meter (V12 finds nothing)
_NO_CERTIFICATION = pa.table(
    {"meter_id": pa.array([], pa.int64()), "expired_from_s": pa.array([], pa.float64())}
)


def _slot_of_day(hhmm: str) -> int:
    """Position of the slot starting at ``HH:00`` or ``HH:30`` JST within its day (24:00 is
    the end of the day, one past the last slot)."""
    hh, mm = hhmm.split(":")
    if not (0 <= int(hh) <= 24 and mm in ("00", "30")):
        raise ValueError(f"TOU band times must be HH:00 or HH:30, got {hhmm!r}")
    return int(hh) * SLOTS_PER_DAY // 24 + (1 if mm == "30" else 0)


def billing_determinants(
    store: DuckIntervalStore,
    installations: pa.Table,
    supply_point_keys: list[int],
    first_day: date,
    last_day: date,
    cfg: VeeConfig,
    day_band: tuple[str, str] = ("07:00", "23:00"),
    certification: pa.Table | None = None,
    spark: SparkSums | None = None,
) -> pa.Table:
    """One row per supply point (see the module docstring); ``v05_ok`` is NULL when the
    register reads at both period ends are not known or the meter changed. ``spark``:
    sum the values by Spark over the shared interval store instead of DuckDB over
    ``store`` (same rows)."""
    if last_day < first_day:
        raise ValueError("the billing period ends before it starts")
    slots = range(day_first_slot(first_day), day_first_slot(last_day) + SLOTS_PER_DAY)
    band = (_slot_of_day(day_band[0]), _slot_of_day(day_band[1]) - 1)
    cert = certification if certification is not None else _NO_CERTIFICATION
    certified = certified_installations(installations, cert)
    if spark is None:
        table = billing_sums(store, installations, supply_point_keys, slots, band, certified)
    else:  # the values from the shared interval store; reads and final periods from here
        finals, registers = billing_side_inputs(store, installations, supply_point_keys, slots)
        table = spark.billing_sums(supply_point_keys, slots, band, certified, finals, registers)
    r5 = cfg.rule("V05")
    reg = table.column("register_wh").cast(pa.float64())
    diff = pc.abs(pc.subtract(table.column("import_wh").cast(pa.float64()), reg))
    allowed = pc.max_element_wise(
        pc.multiply(pc.abs(reg), r5.p("tolerance_pct") / 100.0), r5.p("tolerance_wh")
    )
    return table.append_column("v05_ok", pc.less_equal(diff, allowed))


def segment_determinants(
    store: DuckIntervalStore,
    segments: pa.Table,
    first_day: date,
    last_day: date,
    day_band: tuple[str, str] = ("07:00", "23:00"),
) -> pa.Table:
    """Determinants per segment of a supply point's own billing period (``segments``:
    segment_id, supply_point_key, first_slot, last_slot, all within the JST days
    ``first_day`` … ``last_day``): kWh, day / night / holiday bands (holidays: weekends and
    Japanese national holidays, :mod:`openami.clock.calendar`), maximum 30-minute demand,
    missing and estimated slots; see :func:`openami.storage.billing_queries.segment_sums`."""
    if last_day < first_day:
        raise ValueError("the billing period ends before it starts")
    flags = holiday_flags(first_day, last_day)
    day_slots = day_first_slot(first_day) + SLOTS_PER_DAY * np.arange(len(flags), dtype=np.int64)
    band = (_slot_of_day(day_band[0]), _slot_of_day(day_band[1]) - 1)
    cols = segments.select(["segment_id", "supply_point_key", "first_slot", "last_slot"])
    return segment_sums(store, cols, pa.array(day_slots), pa.array(flags), band)
