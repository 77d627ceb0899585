"""Who may see which supply point when: retailer supply periods from the registry.

Periods are half-open ``[valid_from, valid_to)`` JST days, ``valid_to`` None = open-ended.
"""

from __future__ import annotations

from datetime import date

from openami.storage.sqlite_registry import SqliteRegistryStore

OPEN_END = date(9999, 12, 31)


def retailer_periods(
    store: SqliteRegistryStore, supply_point_key: int, retailer_id: str
) -> list[tuple[date, date]]:
    """The periods in which ``retailer_id`` supplied the point, as ``[from, to)`` days."""
    rows = store.execute(
        "SELECT valid_from, valid_to FROM supply_contracts "
        "WHERE supply_point_key = ? AND retailer_id = ? ORDER BY valid_from",
        (supply_point_key, retailer_id),
    )
    return [(date.fromisoformat(f), date.fromisoformat(t) if t else OPEN_END) for f, t in rows]


def retailer_points(
    store: SqliteRegistryStore,
    retailer_id: str,
    first_day: date,
    last_day: date,
    limit: int,
    offset: int,
) -> list[tuple[str, date, date]]:
    """Supply points ``retailer_id`` supplies on some day of ``[first_day, last_day]``, one
    row per contract: (supply point ID, from, to exclusive), ordered by supply point."""
    rows = store.execute(
        "WITH keys AS (SELECT DISTINCT supply_point_key FROM supply_contracts "
        "  WHERE retailer_id = ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?) "
        "  ORDER BY supply_point_key LIMIT ? OFFSET ?) "
        "SELECT p.supply_point_id, c.valid_from, c.valid_to FROM supply_contracts c "
        "JOIN keys k ON k.supply_point_key = c.supply_point_key "
        "JOIN supply_points p ON p.supply_point_key = c.supply_point_key "
        "WHERE c.retailer_id = ? AND c.valid_from <= ? AND (c.valid_to IS NULL OR c.valid_to > ?) "
        "ORDER BY c.supply_point_key, c.valid_from",
        (
            retailer_id,
            last_day.isoformat(),
            first_day.isoformat(),
            limit,
            offset,
            retailer_id,
            last_day.isoformat(),
            first_day.isoformat(),
        ),
    )
    return [
        (str(sp), date.fromisoformat(f), date.fromisoformat(t) if t else OPEN_END)
        for sp, f, t in rows
    ]
