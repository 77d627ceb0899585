"""Wheeling charges: determinants per billing period by 計量日 (holiday band, maximum
demand), tariffs across an effective-date change, unknown tariffs, contract changes, and
invoices whose totals are the sums of their lines."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import numpy as np
import pytest
from tests.mdms.wheeling_world import flat, ingest_days, make_world

from openami.clock import SLOTS_PER_DAY
from openami.clock.calendar import billing_period
from openami.mdms.wheeling import supply_point_ids_of, wheeling_for
from openami.mdms.wheeling_invoices import invoices
from openami.mdms.wheeling_tariffs import UnknownTariff, load_tariffs

TARIFFS = load_tariffs()


def lines_of(mdms: object, period: str, retailer: str | None = None) -> list[dict[str, object]]:
    table = wheeling_for(mdms, TARIFFS, period, retailer)  # type: ignore[arg-type]
    return table.to_pylist()  # type: ignore[no-any-return]


def test_period_determinants_holiday_band_and_max_demand() -> None:
    """Point 1 (Hokkaido, code 1): period 2026-10 is 2026-09-01 … 09-30. 100 Wh every slot;
    a 900 Wh slot at 12:00 on 09-24 (Thursday). 09-21/22/23 are national holidays."""
    mdms = make_world([("01", 1, 30)])
    values = flat(31)  # 09-01 … 10-01
    spike = 23 * SLOTS_PER_DAY + 24  # 09-24 12:00 JST
    values[spike] = 900
    ingest_days(mdms, 101, date(2026, 9, 1), values)
    (line,) = lines_of(mdms, "2026-10")
    assert (line["period_start"], line["period_end"]) == (date(2026, 9, 1), date(2026, 10, 1))
    # 30 days × 48 slots, the spike adds 800 Wh; nothing of 10-01 is in the period
    assert line["kwh"] == pytest.approx((30 * 48 * 100 + 800) / 1000)
    # September 2026: 8 weekend days + 3 national holidays (21, 22, 23) = 11 holidays
    day_band = 32 * 100  # 07:00-23:00 is 32 slots
    assert line["kwh_holiday"] == pytest.approx(11 * day_band / 1000)
    assert line["kwh_day"] == pytest.approx((19 * day_band + 800) / 1000)
    assert line["kwh_night"] == pytest.approx(30 * 16 * 100 / 1000)
    assert line["max_demand_kw"] == pytest.approx(1.8)  # 900 Wh in half an hour
    assert (line["missing_slots"], line["estimated_slots"]) == (0, 0)


def test_periods_follow_each_points_reading_day_across_month_ends() -> None:
    """Two points with codes 1 and 17 get different periods of the same billing month, and
    the kWh of exactly their days."""
    mdms = make_world([("03", 1, 30), ("03", 17, 30)])
    for meter in (101, 102):
        ingest_days(mdms, meter, date(2026, 8, 31), flat(65))  # 08-31 … 11-03
    by_code = {line["reading_day_code"]: line for line in lines_of(mdms, "2026-10")}
    for code, line in by_code.items():
        first, last = billing_period(int(code), 2026, 10)  # type: ignore[arg-type]
        days = (last - first).days + 1
        assert line["period_start"] == first and line["kwh"] == pytest.approx(days * 4.8)
        assert line["missing_slots"] == 0
    # September: 1-4, 7-11, 14-18, 24, 25, 28 (21-23 are holidays): the 17th is the 28th
    assert by_code[17]["period_start"] == date(2026, 9, 28)
    assert by_code[17]["period_end"] == date(2026, 10, 26)  # 17th business day of October


def test_missing_values_are_counted_not_billed() -> None:
    mdms = make_world([("03", 1, 30)])
    ingest_days(mdms, 101, date(2026, 9, 1), flat(10))  # only the first 10 days
    (line,) = lines_of(mdms, "2026-10")
    assert line["kwh"] == pytest.approx(10 * 4.8)
    assert line["missing_slots"] == 20 * SLOTS_PER_DAY


def test_tariffs_change_on_their_effective_date() -> None:
    """Hokkaido 電灯標準: 7.90 ¥/kWh and 221.10 ¥/kVA until 2025-09-30, 8.24 and 236.50 from
    2025-10-01. Period 2025-10 (from 09-01) is priced at the old tariff, 2025-11 (from
    10-01) at the new one."""
    mdms = make_world([("01", 1, 30)])
    ingest_days(mdms, 101, date(2025, 9, 1), flat(61))
    old = lines_of(mdms, "2025-10")[0]
    new = lines_of(mdms, "2025-11")[0]
    assert old["period_start"] == date(2025, 9, 1) and new["period_start"] == date(2025, 10, 1)
    assert old["basic_quantity"] == 3.0  # 30 A × 100 V
    assert old["basic_yen"] == int(221.10 * 3) and new["basic_yen"] == int(236.50 * 3)
    assert old["energy_yen"] == int(old["kwh"] * 7.90)  # type: ignore[operator]
    assert new["energy_yen"] == int(new["kwh"] * 8.24)  # type: ignore[operator]
    tou = TARIFFS.lookup("01", "lighting_tou", date(2025, 10, 1))
    assert (tou.day_yen_per_kwh, tou.night_yen_per_kwh) == (8.56, 7.88)
    assert TARIFFS.lookup("01", "lighting_tou", date(2025, 9, 30)).day_yen_per_kwh == 8.27


def test_unknown_area_or_day_is_a_clear_error() -> None:
    mdms = make_world([("02", 1, 30)])  # Tohoku: no tariff in the example tables
    with pytest.raises(UnknownTariff, match="area '02'") as err:
        lines_of(mdms, "2026-10")
    assert err.value.code == "E_UNKNOWN_TARIFF"
    with pytest.raises(UnknownTariff, match="on 2016-03-01"):  # Tokyo's start 2016-04-01
        TARIFFS.lookup("03", "lighting_standard", date(2016, 3, 1))
    with pytest.raises(UnknownTariff, match="menu 'nope'"):
        TARIFFS.lookup("03", "nope", date(2026, 1, 1))


def test_a_contract_change_splits_the_period_between_retailers() -> None:
    """Point 1 moves from R1 to R2 on 2026-09-16: two lines, the basic charge pro-rated by
    days, the kWh of each retailer's days."""
    mdms = make_world([("01", 1, 40)])
    mdms.registry.end_supply_contract(1, "R1", date(2026, 9, 16))
    mdms.registry.start_supply_contract(1, "R2", date(2026, 9, 16))
    ingest_days(mdms, 101, date(2026, 9, 1), flat(30))
    lines = {line["retailer_id"]: line for line in lines_of(mdms, "2026-10")}
    r1, r2 = lines["R1"], lines["R2"]
    assert (r1["supply_start"], r1["supply_end"]) == (date(2026, 9, 1), date(2026, 9, 16))
    assert (r2["supply_start"], r2["supply_end"]) == (date(2026, 9, 16), date(2026, 10, 1))
    assert (r1["days_share"], r2["days_share"]) == (0.5, 0.5)
    assert r1["kwh"] == pytest.approx(15 * 4.8) and r2["kwh"] == pytest.approx(15 * 4.8)
    full = 236.50 * 4.0  # 40 A
    assert r1["basic_yen"] == int(full / 2) and r2["basic_yen"] == int(full / 2)
    # a retailer's own run reads only its own contracts
    assert [line["retailer_id"] for line in lines_of(mdms, "2026-10", "R2")] == ["R2"]


def test_invoice_totals_are_the_sums_of_the_per_point_charges() -> None:
    mdms = make_world()
    rng = np.random.default_rng(7)
    for meter in (101, 102, 103, 104):
        ingest_days(mdms, meter, date(2026, 8, 31), rng.integers(0, 700, 65 * 48))
    mdms.registry.end_supply_contract(4, "R1", date(2026, 10, 1))
    mdms.registry.start_supply_contract(4, "R2", date(2026, 10, 1))
    table = wheeling_for(mdms, TARIFFS, "2026-10")
    ids = supply_point_ids_of(mdms.registry, table)
    bills = {bill.retailer_id: bill for bill in invoices(table, ids, "2026-10")}
    assert sorted(bills) == ["R1", "R2"]
    per_point = {(r["retailer_id"], r["supply_point_key"]): r for r in table.to_pylist()}
    for rid, bill in bills.items():
        rows = list(csv.DictReader(io.StringIO(bill.csv.decode())))
        assert bill.lines == len(rows) > 0
        assert sum(int(r["total_yen"]) for r in rows) == bill.total_yen
        expected = sum(int(v["total_yen"]) for (r, _), v in per_point.items() if r == rid)
        assert bill.total_yen == expected
        for r in rows:
            assert int(r["total_yen"]) == int(r["basic_yen"]) + int(r["energy_yen"])
        total = re.search(r"Invoice total: <strong>¥([\d,]+)</strong>", bill.html.decode())
        assert total is not None and int(total.group(1).replace(",", "")) == bill.total_yen
        assert bill.file_stem() == f"wheeling_{rid}_2026-10"
