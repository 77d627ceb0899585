"""Registry reads for the rules "who supplies this point when" and "which meter is where".

Periods are half-open ``[valid_from, valid_to)`` JST days, ``valid_to`` None = open-ended
(returned as :data:`OPEN_END`). The registry service (:class:`openami.registry.Registry`) is
the only caller; everything else asks the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pyarrow as pa

from openami.storage.sqlite_registry import SqliteRegistryStore

OPEN_END = date(9999, 12, 31)

CONTRACT_SCHEMA = pa.schema(
    [
        ("supply_point_key", pa.int64()),
        ("retailer_id", pa.string()),
        ("valid_from", pa.date32()),
        ("valid_to", pa.date32()),  # null: open-ended
    ]
)
MEMBER_SCHEMA = pa.schema(
    [
        ("supply_point_key", pa.int64()),
        ("area_code", pa.string()),
        ("balancing_group_id", pa.string()),
        ("retailer_id", pa.string()),
    ]
)
_CHUNK = 900  # stay below SQLite's bound-parameter limit


def _day(text: str | None) -> date:
    return date.fromisoformat(text) if text else OPEN_END


def retailer_periods(
    store: SqliteRegistryStore, supply_point_key: int, retailer_id: str
) -> list[tuple[date, date]]:
    """The periods in which ``retailer_id`` supplied the point, as ``[from, to)`` days."""
    rows = store.execute(
        "SELECT valid_from, valid_to FROM supply_contracts "
        "WHERE supply_point_key = ? AND retailer_id = ? ORDER BY valid_from",
        (supply_point_key, retailer_id),
    )
    return [(date.fromisoformat(f), _day(t)) for f, t in rows]


def supplied_points(
    store: SqliteRegistryStore,
    retailer_id: str,
    first_day: date,
    last_day: date,
    limit: int | None,
    offset: int,
    supply_point_key: int | None = None,
) -> list[tuple[int, str, date, date]]:
    """One page of the supply points ``retailer_id`` supplies on some day of ``[first_day,
    last_day]`` (paged by supply point key), one row per contract overlapping those days:
    (supply point key, supply point ID, from, to exclusive), by key and start."""
    where = "c.retailer_id = ? AND c.valid_from <= ? AND (c.valid_to IS NULL OR c.valid_to > ?)"
    params: tuple[object, ...] = (retailer_id, last_day.isoformat(), first_day.isoformat())
    if supply_point_key is not None:
        where += " AND c.supply_point_key = ?"
        params += (supply_point_key,)
    rows = store.execute(
        f"WITH keys AS (SELECT DISTINCT c.supply_point_key FROM supply_contracts c WHERE {where} "
        "  ORDER BY c.supply_point_key LIMIT ? OFFSET ?) "
        "SELECT c.supply_point_key, p.supply_point_id, c.valid_from, c.valid_to "
        "FROM supply_contracts c JOIN keys k ON k.supply_point_key = c.supply_point_key "
        "JOIN supply_points p ON p.supply_point_key = c.supply_point_key "
        f"WHERE {where} ORDER BY c.supply_point_key, c.valid_from",
        (*params, -1 if limit is None else limit, offset, *params),
    )
    return [(int(k), str(sp), date.fromisoformat(f), _day(t)) for k, sp, f, t in rows]


def contracts_table(store: SqliteRegistryStore, retailer_ids: Sequence[str] | None) -> pa.Table:
    """Supply contracts (of the given retailers, or all) as :data:`CONTRACT_SCHEMA` columns."""
    sql = "SELECT supply_point_key, retailer_id, valid_from, valid_to FROM supply_contracts"
    rows: list[tuple[object, ...]] = []
    if retailer_ids is None:
        rows = store.execute(sql)
    else:
        ids = list(retailer_ids)
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows += store.execute(f"{sql} WHERE retailer_id IN ({marks})", chunk)
    return pa.table(
        {
            "supply_point_key": pa.array([int(str(r[0])) for r in rows], pa.int64()),
            "retailer_id": pa.array([str(r[1]) for r in rows], pa.string()),
            "valid_from": pa.array([date.fromisoformat(str(r[2])) for r in rows], pa.date32()),
            "valid_to": pa.array(
                [date.fromisoformat(str(r[3])) if r[3] else None for r in rows], pa.date32()
            ),
        },
        schema=CONTRACT_SCHEMA,
    )


def members_on(store: SqliteRegistryStore, day: date) -> pa.Table:
    """Supply points supplied on ``day`` with their area, balancing group and retailer."""
    table = store.query_table(
        "SELECT c.supply_point_key, s.area_code, r.balancing_group_id, c.retailer_id "
        "FROM supply_contracts c JOIN retailers r ON r.retailer_id = c.retailer_id "
        "JOIN supply_points s ON s.supply_point_key = c.supply_point_key "
        "WHERE c.valid_from <= ? AND (c.valid_to IS NULL OR c.valid_to > ?)",
        (day.isoformat(), day.isoformat()),
    )
    return table.cast(MEMBER_SCHEMA) if table.num_rows else MEMBER_SCHEMA.empty_table()


def current_meter(store: SqliteRegistryStore, supply_point_key: int) -> int | None:
    """The meter installed at the supply point now (open installation), if any."""
    rows = store.execute(
        "SELECT meter_id FROM meter_installations WHERE supply_point_key = ? AND valid_to IS NULL",
        (supply_point_key,),
    )
    return int(rows[0][0]) if rows else None


def current_amperages(
    store: SqliteRegistryStore, supply_point_keys: Sequence[int]
) -> dict[int, int]:
    """Contract amperage [A] of the meter installed now at each of the supply points."""
    out: dict[int, int] = {}
    keys = list(supply_point_keys)
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        for key, amps in store.execute(
            "SELECT i.supply_point_key, m.contract_amperage_a FROM meter_installations i "
            "JOIN meters m ON m.meter_id = i.meter_id WHERE i.valid_to IS NULL "
            f"AND i.supply_point_key IN ({', '.join('?' for _ in chunk)})",
            chunk,
        ):
            out[int(key)] = int(amps)
    return out


def supply_point_ids(store: SqliteRegistryStore, keys: Sequence[int]) -> dict[int, str]:
    """Supply point IDs of the known keys among ``keys`` (unknown ones left out)."""
    out: dict[int, str] = {}
    wanted = list(dict.fromkeys(int(k) for k in keys))
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        for key, sp in store.execute(
            "SELECT supply_point_key, supply_point_id FROM supply_points "
            f"WHERE supply_point_key IN ({', '.join('?' for _ in chunk)})",
            chunk,
        ):
            out[int(key)] = str(sp)
    return out


def supply_points_table(store: SqliteRegistryStore) -> pa.Table:
    """Every supply point's key and area code."""
    table = store.query_table("SELECT supply_point_key, area_code FROM supply_points")
    schema = pa.schema([("supply_point_key", pa.int64()), ("area_code", pa.string())])
    return table.cast(schema) if table.num_rows else schema.empty_table()


def meter_amperages_table(store: SqliteRegistryStore) -> pa.Table:
    """Every meter's contract amperage [A]."""
    table = store.query_table("SELECT meter_id, contract_amperage_a FROM meters")
    schema = pa.schema([("meter_id", pa.int64()), ("contract_amperage_a", pa.int64())])
    return table.cast(schema) if table.num_rows else schema.empty_table()
