"""Wheeling charges (託送料金) per supply point and billing period, for the TSO's invoices.

The monthly run for period ``YYYY-MM``:

1. **Periods.** Each supply point's billing period runs from the previous month's 計量日 to
   the day before this month's (:func:`openami.clock.calendar.billing_period`, by the point's
   ``reading_day_code`` in the registry).
2. **Segments.** The period is cut at supply-contract changes: one segment per (supply point,
   retailer) that supplied the point during the period, each billed to its retailer. A point
   nobody supplied in the period has no line.
3. **Determinants** per segment (:func:`openami.mdms.billing.segment_determinants`): kWh;
   day / night / holiday bands; the maximum 30-minute demand.
4. **Charges.** The tariff of the point's area and menu in force on the period's first day
   (:mod:`openami.mdms.wheeling_tariffs`): basic charge (per kVA of the contract amperage at
   100 V, per kW of the period's maximum demand, or per contract) pro-rated by the segment's
   share of the period's days, plus energy (flat or per band) and adjustments per kWh; each
   rounded down to whole yen. Figures include consumption tax; ``tax_yen`` is the tax they
   include (10/110, rounded down).

Everything runs on Arrow/NumPy columns: no Python object per supply point or value, except
the calendar's ≤ 17 codes and the tariff lookups per (area, period start).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import SLOTS_PER_DAY, day_first_slot
from openami.clock.calendar import month_span, parse_month, period_slots
from openami.mdms.billing import segment_determinants
from openami.mdms.wheeling_tariffs import BASIC_UNITS, TAX_RATE, TariffTables
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore

if TYPE_CHECKING:
    from openami.mdms.service import Mdms

_EPOCH_SLOT = day_first_slot(date(1970, 1, 1))
_NO_END_SLOT = np.iinfo(np.int64).max // 2
#: contract amperage [A] x 100 V = kVA x 10 (single-phase 100 V convention of SB contracts)
_AMPERES_PER_KVA = 10.0


@dataclass(frozen=True)
class WheelingInputs:
    """Registry columns a run needs: ``points`` (supply_point_key, area_code,
    reading_day_code), ``contracts`` (supply_point_key, retailer_id, valid_from, valid_to as
    JST days, valid_to exclusive or NULL) and ``amperages`` (supply_point_key,
    contract_amperage_a of the meter installed now)."""

    points: pa.Table
    contracts: pa.Table
    amperages: pa.Table


def wheeling_inputs(registry: Registry, retailer_ids: list[str] | None = None) -> WheelingInputs:
    """The registry columns of a run (the contracts of ``retailer_ids`` only, if given)."""
    meters = registry.meters_table()
    return WheelingInputs(
        points=registry.reading_days_table().select(
            ["supply_point_key", "area_code", "reading_day_code"]
        ),
        contracts=registry.contracts_table(retailer_ids),
        amperages=meters.select(["supply_point_key", "contract_amperage_a"]),
    )


def _day_slots(days: pa.ChunkedArray, open_end: int) -> np.ndarray:
    """First slot of each JST day (date32 column); NULL → ``open_end``."""
    numbers = pc.cast(days, pa.int32()).to_numpy(zero_copy_only=False)
    out = _EPOCH_SLOT + np.nan_to_num(numbers, nan=0).astype(np.int64) * SLOTS_PER_DAY
    nulls = pc.is_null(days).to_numpy(zero_copy_only=False)
    return np.where(nulls, open_end, out)


def billing_segments(inputs: WheelingInputs, year: int, month: int) -> pa.Table:
    """Segments of the period ``year-month``: segment_id, supply_point_key, area_code,
    reading_day_code, retailer_id, first_slot, last_slot, period_first_slot,
    period_last_slot; ordered by retailer, supply point and first slot."""
    points = inputs.points
    first, last = period_slots(points.column("reading_day_code").to_numpy(), year, month)
    periods = points.append_column("period_first_slot", pa.array(first)).append_column(
        "period_last_slot", pa.array(last)
    )
    c = inputs.contracts
    contracts = pa.table(
        {
            "supply_point_key": c.column("supply_point_key"),
            "retailer_id": c.column("retailer_id"),
            "contract_first_slot": _day_slots(c.column("valid_from"), 0),
            "contract_end_slot": _day_slots(c.column("valid_to"), _NO_END_SLOT),
        }
    )
    joined = periods.join(contracts, "supply_point_key", join_type="inner")
    seg_first = np.maximum(
        joined.column("period_first_slot").to_numpy(),
        joined.column("contract_first_slot").to_numpy(),
    )
    seg_last = np.minimum(
        joined.column("period_last_slot").to_numpy(),
        joined.column("contract_end_slot").to_numpy() - 1,
    )
    keep = pa.array(seg_first <= seg_last)
    table = (
        joined.append_column("first_slot", pa.array(seg_first))
        .append_column("last_slot", pa.array(seg_last))
        .filter(keep)
        .drop_columns(["contract_first_slot", "contract_end_slot"])
        .sort_by(
            [
                ("retailer_id", "ascending"),
                ("supply_point_key", "ascending"),
                ("first_slot", "ascending"),
            ]
        )
    )
    ids = pa.array(np.arange(table.num_rows, dtype=np.int64))
    return table.add_column(0, "segment_id", ids)


def _slot_day(slots: np.ndarray) -> pa.Array:
    """JST day of each first slot of a day, as date32."""
    return pa.array((slots - _EPOCH_SLOT) // SLOTS_PER_DAY, pa.int32()).cast(pa.date32())


_RATE_NAMES = ("basic_yen", "day", "night", "holiday", "adjustment", "unit")


def _tariff_columns(
    segments: pa.Table, tariffs: TariffTables
) -> tuple[pa.Array, dict[str, np.ndarray]]:
    """Per segment: its menu and the rates of the tariff in force on its period's first
    day (one lookup per distinct (area, period start), indexed back with NumPy)."""
    areas = segments.column("area_code").to_numpy(zero_copy_only=False).astype(str)
    area_names, area_index = np.unique(areas, return_inverse=True)
    starts = segments.column("period_first_slot").to_numpy()
    pair_key = area_index.reshape(-1).astype(np.int64) * (1 << 40) + starts
    pairs, inverse = np.unique(pair_key, return_inverse=True)
    per_pair: dict[str, list[float]] = {n: [] for n in _RATE_NAMES}
    menus = []
    for pair in pairs.tolist():
        area = str(area_names[pair >> 40])
        start_slot = pair & ((1 << 40) - 1)
        day = date(1970, 1, 1) + timedelta(days=(start_slot - _EPOCH_SLOT) // SLOTS_PER_DAY)
        menu = tariffs.menu_of(area)
        t = tariffs.lookup(area, menu, day)
        menus.append(menu)
        values = (
            t.basic_yen,
            t.day_yen_per_kwh,
            t.night_yen_per_kwh,
            t.holiday_yen_per_kwh,
            t.adjustment_yen_per_kwh,
            float(BASIC_UNITS.index(t.basic_unit)),
        )
        for name, value in zip(_RATE_NAMES, values, strict=True):
            per_pair[name].append(value)
    inverse = inverse.reshape(-1)
    columns = {n: np.asarray(v, dtype=np.float64)[inverse] for n, v in per_pair.items()}
    return pa.array(menus, pa.string()).take(pa.array(inverse)), columns


def _amperages_of(keys: np.ndarray, amperages: pa.Table) -> np.ndarray:
    """Contract amperage [A] of each key (0 where no meter is installed)."""
    table = amperages.sort_by("supply_point_key")
    akeys = table.column("supply_point_key").to_numpy()
    avals = table.column("contract_amperage_a").fill_null(0).to_numpy()
    if len(akeys) == 0:
        return np.zeros(len(keys), np.int64)
    at = np.clip(np.searchsorted(akeys, keys), 0, len(akeys) - 1)
    return np.where(akeys[at] == keys, avals[at], 0).astype(np.int64)


def charge_lines(
    segments: pa.Table, determinants: pa.Table, amperages: pa.Table, tariffs: TariffTables
) -> pa.Table:
    """Invoice lines (one per segment) from the segments, their determinants (same order)
    and the points' contract amperages."""
    menus, rates = (
        _tariff_columns(segments, tariffs)
        if segments.num_rows
        else (pa.array([], pa.string()), {n: np.zeros(0) for n in _RATE_NAMES})
    )
    amperage_a = _amperages_of(segments.column("supply_point_key").to_numpy(), amperages)
    d = {n: determinants.column(n).to_numpy().astype(np.float64) for n in determinants.column_names}
    share = (d["slots"]) / (
        segments.column("period_last_slot").to_numpy()
        - segments.column("period_first_slot").to_numpy()
        + 1
    )
    unit = rates["unit"].astype(np.int64)
    quantity = np.select(
        [unit == BASIC_UNITS.index("kva"), unit == BASIC_UNITS.index("kw_demand")],
        [amperage_a / _AMPERES_PER_KVA, np.ceil(d["max_demand_w"] / 100.0) / 10.0],
        default=1.0,
    )
    basic_yen = np.floor(rates["basic_yen"] * quantity * share + 1e-9)
    energy_yen = np.floor(
        (
            d["day_import_wh"] * rates["day"]
            + d["night_import_wh"] * rates["night"]
            + d["holiday_import_wh"] * rates["holiday"]
            + d["import_wh"] * rates["adjustment"]
        )
        / 1000.0
        + 1e-9
    )
    return _lines_table(
        segments, determinants, amperage_a, menus, quantity, share, basic_yen, energy_yen
    )


def _lines_table(
    segments: pa.Table,
    determinants: pa.Table,
    amperage_a: np.ndarray,
    menus: pa.Array,
    quantity: np.ndarray,
    share: np.ndarray,
    basic_yen: np.ndarray,
    energy_yen: np.ndarray,
) -> pa.Table:
    total = basic_yen + energy_yen
    tax = np.floor(total * TAX_RATE / (1 + TAX_RATE) + 1e-9)
    period_end = segments.column("period_last_slot").to_numpy() + 1
    seg_end = segments.column("last_slot").to_numpy() + 1
    return pa.table(
        {
            "retailer_id": segments.column("retailer_id"),
            "supply_point_key": segments.column("supply_point_key"),
            "area_code": segments.column("area_code"),
            "reading_day_code": segments.column("reading_day_code"),
            "menu": menus,
            "period_start": _slot_day(segments.column("period_first_slot").to_numpy()),
            "period_end": _slot_day(period_end),
            "supply_start": _slot_day(segments.column("first_slot").to_numpy()),
            "supply_end": _slot_day(seg_end),
            "days_share": pa.array(np.round(share, 6), pa.float64()),
            "contract_amperage_a": pa.array(amperage_a.astype(np.int64)),
            "basic_quantity": pa.array(np.round(quantity, 3), pa.float64()),
            "kwh": _kwh(determinants, "import_wh"),
            "kwh_day": _kwh(determinants, "day_import_wh"),
            "kwh_night": _kwh(determinants, "night_import_wh"),
            "kwh_holiday": _kwh(determinants, "holiday_import_wh"),
            "max_demand_kw": pa.array(
                determinants.column("max_demand_w").to_numpy() / 1000.0, pa.float64()
            ),
            "missing_slots": determinants.column("missing_slots"),
            "estimated_slots": determinants.column("estimated_slots"),
            "basic_yen": pa.array(basic_yen.astype(np.int64)),
            "energy_yen": pa.array(energy_yen.astype(np.int64)),
            "total_yen": pa.array(total.astype(np.int64)),
            "tax_yen": pa.array(tax.astype(np.int64)),
        }
    )


def _kwh(determinants: pa.Table, name: str) -> pa.Array:
    return pa.array(determinants.column(name).to_numpy() / 1000.0, pa.float64())


def wheeling_run(
    store: DuckIntervalStore,
    inputs: WheelingInputs,
    tariffs: TariffTables,
    period: str,
    day_band: tuple[str, str] = ("07:00", "23:00"),
    progress: Callable[[str], None] | None = None,
) -> pa.Table:
    """Invoice lines of every supplied point for billing month ``period`` (``YYYY-MM``);
    ``progress`` hears the name of each step as it starts."""
    step = progress or (lambda _name: None)
    year, month = parse_month(period)
    step("periods")
    segments = billing_segments(inputs, year, month)
    # every area and tariff is looked up before the long query: unknown ones fail at once
    first_day, last_day = month_span(year, month)
    if segments.num_rows:
        pairs = segments.group_by(["area_code", "period_first_slot"]).aggregate([])
        _tariff_columns(pairs, tariffs)
    step("determinants")
    determinants = segment_determinants(store, segments, first_day, last_day, day_band)
    step("charges")
    return charge_lines(segments, determinants, inputs.amperages, tariffs)


def supply_point_ids_of(registry: Registry, lines: pa.Table) -> pa.Array:
    """The supply point ID of each line (one read of every ID for a large run)."""
    keys = lines.column("supply_point_key").to_numpy()
    if len(keys) <= 10_000:
        return pa.array(registry.supply_point_ids(keys), pa.string())
    by_key = registry.all_supply_point_ids()
    return pa.array([by_key[k] for k in keys.tolist()], pa.string())


def wheeling_for(
    mdms: Mdms,
    tariffs: TariffTables,
    period: str,
    retailer_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> pa.Table:
    """:func:`wheeling_run` on an MDMS and its registry: every retailer's lines, or one
    retailer's own (only its contracts are read)."""
    inputs = wheeling_inputs(mdms.registry, None if retailer_id is None else [retailer_id])
    return wheeling_run(mdms.store, inputs, tariffs, period, progress=progress)
