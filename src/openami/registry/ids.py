"""Supply point IDs (供給地点特定番号) and utility areas."""

from __future__ import annotations

import re

AREAS: dict[str, tuple[str, str]] = {
    "01": ("Hokkaido", "北海道"),
    "02": ("Tohoku", "東北"),
    "03": ("Tokyo", "東京"),
    "04": ("Chubu", "中部"),
    "05": ("Hokuriku", "北陸"),
    "06": ("Kansai", "関西"),
    "07": ("Chugoku", "中国"),
    "08": ("Shikoku", "四国"),
    "09": ("Kyushu", "九州"),
    "10": ("Okinawa", "沖縄"),
}

_DIGITS = re.compile(r"\d{22}")


class InvalidSupplyPointId(ValueError):
    """A string that is not a valid 22-digit supply point ID."""


def validate_supply_point_id(value: str) -> str:
    """Return ``value`` if it is a valid supply point ID, else raise with the reason.

    A supply point ID is exactly 22 ASCII digits whose first two give the utility area
    (01 Hokkaido … 10 Okinawa). Spaces and hyphens are not accepted.
    """
    if not isinstance(value, str):
        raise InvalidSupplyPointId(f"supply point ID must be a string, got {type(value).__name__}")
    if not value.isascii() or not _DIGITS.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise InvalidSupplyPointId(
            f"supply point ID must be exactly 22 digits, got {len(value)} characters: {shown!r}"
        )
    if value[:2] not in AREAS:
        raise InvalidSupplyPointId(
            f"supply point ID {value} starts with area code {value[:2]!r}; "
            "valid area codes are 01 (Hokkaido) to 10 (Okinawa)"
        )
    return value


def area_of(supply_point_id: str) -> str:
    """Two-digit area code of a valid supply point ID."""
    return validate_supply_point_id(supply_point_id)[:2]


def make_supply_point_id(area_code: str, customer_number: int, contract_type: int = 1) -> str:
    """Build a syntactically valid ID: area, fixed ``0000``, 14-digit customer number,
    contract type digit (1 = 電灯) and contract count digit ``0``, then a ``0`` pad."""
    if area_code not in AREAS:
        raise InvalidSupplyPointId(f"unknown area code {area_code!r}")
    if not 0 <= customer_number < 10**14:
        raise ValueError("customer_number must have at most 14 digits")
    sp = f"{area_code}0000{customer_number:014d}{contract_type:d}0"
    return validate_supply_point_id(sp)
