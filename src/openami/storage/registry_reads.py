"""Registry reads behind the operator dashboard: search, installed meters, expiry, areas.

Called only by :class:`openami.registry.Registry`; the dashboard asks the registry service.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa

from openami.storage.sqlite_registry import SqliteRegistryStore


def registry_watermark(store: SqliteRegistryStore) -> tuple[int, int, float]:
    """Changes whenever a meter is added or an installation opened or closed."""
    row = store.execute(
        "SELECT (SELECT COUNT(*) FROM meters), COUNT(*), COALESCE(MAX(valid_to), 0) "
        "FROM meter_installations"
    )[0]
    return int(row[0]), int(row[1]), float(row[2])


def search_supply_points(store: SqliteRegistryStore, digits: str, limit: int = 20) -> list[str]:
    """Supply point IDs starting with ``digits`` (ASCII digits only), in order."""
    if not digits.isascii() or not digits.isdigit():
        return []
    rows = store.execute(
        "SELECT supply_point_id FROM supply_points WHERE supply_point_id GLOB ? "
        "ORDER BY supply_point_id LIMIT ?",
        (digits + "*", int(limit)),
    )
    return [str(r[0]) for r in rows]


def installed_meter(store: SqliteRegistryStore, supply_point_key: int) -> dict[str, Any] | None:
    """The meter currently installed at a supply point, with its registry data."""
    rows = store.execute(
        "SELECT m.meter_id, m.maker, m.serial, m.contract_amperage_a, m.comm_method, "
        "m.concentrator_id, m.certification_expiry, i.valid_from "
        "FROM meter_installations i JOIN meters m ON m.meter_id = i.meter_id "
        "WHERE i.supply_point_key = ? AND i.valid_to IS NULL "
        "ORDER BY i.valid_from DESC LIMIT 1",
        (int(supply_point_key),),
    )
    if not rows:
        return None
    names = (
        "meter_id",
        "maker",
        "serial",
        "contract_amperage_a",
        "comm_method",
        "concentrator_id",
        "certification_expiry",
        "installed_at",
    )
    return dict(zip(names, rows[0], strict=True))


def installations_of(store: SqliteRegistryStore, supply_point_key: int) -> list[dict[str, Any]]:
    """Every meter installed at a supply point, oldest first: meter, maker, serial, period
    ``[valid_from, valid_to)`` in epoch seconds (``valid_to`` None while installed)."""
    rows = store.execute(
        "SELECT i.meter_id, m.maker, m.serial, i.valid_from, i.valid_to "
        "FROM meter_installations i JOIN meters m ON m.meter_id = i.meter_id "
        "WHERE i.supply_point_key = ? ORDER BY i.valid_from, i.meter_id",
        (int(supply_point_key),),
    )
    names = ("meter_id", "maker", "serial", "valid_from", "valid_to")
    return [dict(zip(names, r, strict=True)) for r in rows]


def retailer_name(store: SqliteRegistryStore, retailer_id: str) -> str | None:
    rows = store.execute("SELECT name FROM retailers WHERE retailer_id = ?", (retailer_id,))
    return str(rows[0][0]) if rows else None


def installed_by_area(store: SqliteRegistryStore) -> dict[str, int]:
    """Meters currently installed per area code."""
    rows = store.execute(
        "SELECT sp.area_code, COUNT(*) FROM meter_installations i "
        "JOIN supply_points sp ON sp.supply_point_key = i.supply_point_key "
        "WHERE i.valid_to IS NULL GROUP BY sp.area_code"
    )
    return {str(a): int(n) for a, n in rows}


def expiry_by_year(store: SqliteRegistryStore) -> list[tuple[int, int]]:
    """Installed meters per calendar year of certification expiry, in order."""
    rows = store.execute(
        "SELECT CAST(substr(m.certification_expiry, 1, 4) AS INTEGER) AS y, COUNT(*) "
        "FROM meters m JOIN meter_installations i ON i.meter_id = m.meter_id "
        "WHERE i.valid_to IS NULL GROUP BY y ORDER BY y"
    )
    return [(int(y), int(n)) for y, n in rows]


def expiring_meters(
    store: SqliteRegistryStore, until: date, offset: int = 0, limit: int = 50
) -> tuple[int, pa.Table]:
    """Installed meters whose certification expires on or before ``until``: the total and
    one page (soonest first) with their supply point ID and area."""
    where = (
        "FROM meters m JOIN meter_installations i ON i.meter_id = m.meter_id "
        "JOIN supply_points sp ON sp.supply_point_key = i.supply_point_key "
        "WHERE i.valid_to IS NULL AND m.certification_expiry <= ?"
    )
    total = int(store.execute(f"SELECT COUNT(*) {where}", (until.isoformat(),))[0][0])
    page = store.query_table(
        "SELECT m.meter_id, sp.supply_point_id, sp.area_code, m.maker, m.serial, "
        f"m.comm_method, m.certification_expiry {where} "
        "ORDER BY m.certification_expiry, m.meter_id LIMIT ? OFFSET ?",
        (until.isoformat(), int(limit), int(offset)),
    )
    return total, page
