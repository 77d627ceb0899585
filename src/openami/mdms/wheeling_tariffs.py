"""Wheeling tariffs (託送料金) per area and menu, effective-dated, from TOML configuration.

The shipped example is ``openami/config/wheeling_tariffs.toml`` (figures and their sources in
docs/mdms.md); :func:`load_tariffs` reads it or another file with the same layout. A
lookup for an area, menu or day the tables do not cover raises :class:`UnknownTariff`
(``E_UNKNOWN_TARIFF``), naming what is known.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

BASIC_UNITS = ("kva", "kw_demand", "contract")
#: consumption tax included in every tariff figure
TAX_RATE = 0.10


class TariffError(ValueError):
    """A tariff file that breaks the layout (missing field, overlapping periods, …)."""


class UnknownTariff(LookupError):
    """No tariff for an area, menu or day: ``code`` is ``E_UNKNOWN_TARIFF``."""

    code = "E_UNKNOWN_TARIFF"


@dataclass(frozen=True)
class Tariff:
    area_code: str
    menu: str
    valid_from: date
    valid_to: date | None  # exclusive; None: open-ended
    basic_unit: str
    basic_yen: float  # per kVA, per kW or per contract, per month
    day_yen_per_kwh: float
    night_yen_per_kwh: float
    holiday_yen_per_kwh: float
    adjustment_yen_per_kwh: float = 0.0

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


@dataclass(frozen=True)
class TariffTables:
    tariffs: tuple[Tariff, ...]
    menus: dict[str, str]  # area code → menu of its supply points

    def menu_of(self, area_code: str) -> str:
        if area_code not in self.menus:
            raise UnknownTariff(
                f"no wheeling tariff for area {area_code!r} "
                f"(known areas: {', '.join(sorted(self.menus)) or 'none'})"
            )
        return self.menus[area_code]

    def lookup(self, area_code: str, menu: str, day: date) -> Tariff:
        """The tariff of ``area_code`` and ``menu`` in force on ``day``."""
        for tariff in self.tariffs:
            if tariff.area_code == area_code and tariff.menu == menu and tariff.covers(day):
                return tariff
        raise UnknownTariff(
            f"no wheeling tariff for area {area_code!r}, menu {menu!r} on {day.isoformat()}"
        )


def _rate(row: dict[str, Any], name: str, default: float | None = None) -> float:
    value = row.get(name, default)
    if not isinstance(value, int | float) or value < 0:
        raise TariffError(f"{name} must be a number ≥ 0 (tariff {row.get('menu')!r})")
    return float(value)


def _tariff(row: dict[str, Any]) -> Tariff:
    for name in ("area_code", "menu", "valid_from", "basic_unit", "basic_yen"):
        if name not in row:
            raise TariffError(f"a [[tariff]] lacks {name}")
    if row["basic_unit"] not in BASIC_UNITS:
        raise TariffError(f"basic_unit must be one of {BASIC_UNITS}, got {row['basic_unit']!r}")
    valid_from, valid_to = row["valid_from"], row.get("valid_to")
    if not isinstance(valid_from, date) or not (valid_to is None or isinstance(valid_to, date)):
        raise TariffError("valid_from and valid_to are dates (YYYY-MM-DD)")
    if valid_to is not None and valid_to <= valid_from:
        raise TariffError(f"tariff {row['menu']!r} ends before it starts")
    flat = row.get("energy_yen_per_kwh")
    day = _rate(row, "day_yen_per_kwh", flat)
    return Tariff(
        area_code=str(row["area_code"]),
        menu=str(row["menu"]),
        valid_from=valid_from,
        valid_to=valid_to,
        basic_unit=str(row["basic_unit"]),
        basic_yen=_rate(row, "basic_yen"),
        day_yen_per_kwh=day,
        night_yen_per_kwh=_rate(row, "night_yen_per_kwh", flat),
        holiday_yen_per_kwh=_rate(row, "holiday_yen_per_kwh", day),
        adjustment_yen_per_kwh=_rate(row, "adjustment_yen_per_kwh", 0.0),
    )


def _check_overlaps(tariffs: list[Tariff]) -> None:
    far = date.max
    for i, a in enumerate(tariffs):
        for b in tariffs[i + 1 :]:
            same = (a.area_code, a.menu) == (b.area_code, b.menu)
            if same and a.valid_from < (b.valid_to or far) and b.valid_from < (a.valid_to or far):
                raise TariffError(f"tariffs of area {a.area_code} menu {a.menu} overlap")


def parse_tariffs(data: dict[str, Any]) -> TariffTables:
    rows = data.get("tariff", [])
    if not isinstance(rows, list):
        raise TariffError("tariffs are [[tariff]] tables")
    tariffs = [_tariff(row) for row in rows]
    _check_overlaps(tariffs)
    menus = {str(k): str(v) for k, v in data.get("menus", {}).items()}
    return TariffTables(tuple(tariffs), menus)


def load_tariffs(path: str | Path | None = None) -> TariffTables:
    """The tariff tables of ``path``, or the shipped example configuration."""
    if path is None:
        text = resources.files("openami").joinpath("config/wheeling_tariffs.toml")
        return parse_tariffs(tomllib.loads(text.read_text("utf-8")))
    return parse_tariffs(tomllib.loads(Path(path).read_text("utf-8")))
