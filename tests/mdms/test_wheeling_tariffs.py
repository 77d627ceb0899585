"""Tariff tables: the shipped example parses, lookups by effective date, broken files are
refused with a clear message."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from openami.mdms.wheeling_tariffs import TariffError, UnknownTariff, load_tariffs, parse_tariffs

ROW = {
    "area_code": "01",
    "menu": "m",
    "valid_from": date(2024, 4, 1),
    "basic_unit": "kva",
    "basic_yen": 100.0,
    "energy_yen_per_kwh": 5.0,
}


def test_shipped_tables_cover_hokkaido_and_tokyo_with_their_dates() -> None:
    tables = load_tariffs()
    assert tables.menu_of("01") == "lighting_standard" and tables.menu_of("03")
    tokyo_old = tables.lookup("03", "lighting_standard", date(2023, 3, 31))
    tokyo_new = tables.lookup("03", "lighting_standard", date(2023, 4, 1))
    assert (tokyo_old.basic_yen, tokyo_old.day_yen_per_kwh) == (214.50, 7.45)
    assert (tokyo_new.basic_yen, tokyo_new.day_yen_per_kwh) == (230.67, 7.48)
    assert tokyo_new.basic_unit == "kw_demand" and tokyo_new.valid_to is None
    with pytest.raises(UnknownTariff, match="known areas: 01, 03"):
        tables.menu_of("10")


def test_flat_energy_fills_every_band_and_tou_holiday_defaults_to_day() -> None:
    flat = parse_tariffs({"tariff": [ROW]}).lookup("01", "m", date(2030, 1, 1))
    assert flat.day_yen_per_kwh == flat.night_yen_per_kwh == flat.holiday_yen_per_kwh == 5.0
    tou = dict(ROW, day_yen_per_kwh=6.0, night_yen_per_kwh=4.0)
    t = parse_tariffs({"tariff": [tou]}).lookup("01", "m", date(2030, 1, 1))
    assert (t.day_yen_per_kwh, t.night_yen_per_kwh, t.holiday_yen_per_kwh) == (6.0, 4.0, 6.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"basic_unit": "per_lamp"}, "basic_unit"),
        ({"basic_yen": -1}, "basic_yen"),
        ({"energy_yen_per_kwh": "seven"}, "day_yen_per_kwh"),
        ({"valid_to": date(2024, 1, 1)}, "ends before it starts"),
        ({"valid_from": "2024-04-01"}, "dates"),
    ],
)
def test_broken_rows_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(TariffError, match=message):
        parse_tariffs({"tariff": [dict(ROW, **change)]})


def test_missing_fields_and_overlaps_are_refused(tmp_path: Path) -> None:
    without = {k: v for k, v in ROW.items() if k != "basic_yen"}
    with pytest.raises(TariffError, match="lacks basic_yen"):
        parse_tariffs({"tariff": [without]})
    later = dict(ROW, valid_from=date(2025, 1, 1))
    with pytest.raises(TariffError, match="overlap"):
        parse_tariffs({"tariff": [ROW, later]})  # the first is open-ended
    path = tmp_path / "t.toml"
    path.write_text(
        '[menus]\n"05" = "x"\n[[tariff]]\narea_code = "05"\nmenu = "x"\n'
        'valid_from = 2024-01-01\nbasic_unit = "contract"\nbasic_yen = 50\n'
        "energy_yen_per_kwh = 3\n",
        "utf-8",
    )
    assert load_tariffs(path).lookup("05", "x", date(2024, 6, 1)).basic_unit == "contract"
