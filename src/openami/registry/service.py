"""The registry service: who is where, and since when."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from openami.registry.ids import validate_supply_point_id
from openami.registry.model import (
    COMM_METHODS,
    BalancingGroup,
    Meter,
    Retailer,
    SupplyPoint,
)
from openami.storage import registry_reads as reads
from openami.storage import sqlite_access as access
from openami.storage.sqlite_registry import SqliteRegistryStore

#: ``valid_to`` of an open-ended period, as returned by the period reads
OPEN_END = access.OPEN_END


class RegistryError(ValueError):
    """A registry change that would break its rules."""


class Registry:
    """Supply points, meters, retailers and balancing groups with effective-dated links."""

    def __init__(self, store: SqliteRegistryStore) -> None:
        self.store = store

    @classmethod
    def open(cls, path: str | Path) -> Registry:
        return cls(SqliteRegistryStore(path))

    def close(self) -> None:
        """Close the database this registry was opened on (with :meth:`open`)."""
        self.store.close()

    # -- writes (bulk, all-or-nothing) ------------------------------------------------------
    def add_balancing_groups(self, groups: Sequence[BalancingGroup]) -> None:
        self.store.insert_many(
            "balancing_groups",
            ("balancing_group_id", "name"),
            [(g.balancing_group_id, g.name) for g in groups],
        )

    def add_retailers(self, retailers: Sequence[Retailer]) -> None:
        self.store.insert_many(
            "retailers",
            ("retailer_id", "name", "balancing_group_id"),
            [(r.retailer_id, r.name, r.balancing_group_id) for r in retailers],
        )

    def add_concentrators(self, rows: Sequence[tuple[str, str]]) -> None:
        self.store.insert_many("concentrators", ("concentrator_id", "area_code"), rows)

    def add_supply_points(self, supply_point_ids: Sequence[str]) -> list[int]:
        """Register supply points; returns their integer keys (in order)."""
        for sp in supply_point_ids:
            validate_supply_point_id(sp)
        start = (
            int(
                self.store.execute("SELECT COALESCE(MAX(supply_point_key), 0) FROM supply_points")[
                    0
                ][0]
            )
            + 1
        )
        keys = list(range(start, start + len(supply_point_ids)))
        self.store.insert_many(
            "supply_points",
            ("supply_point_key", "supply_point_id", "area_code"),
            [(k, sp, sp[:2]) for k, sp in zip(keys, supply_point_ids, strict=True)],
        )
        return keys

    def add_meters(self, meters: Sequence[Meter]) -> None:
        for m in meters:
            if m.comm_method not in COMM_METHODS:
                raise RegistryError(
                    f"meter {m.meter_id}: unknown communication method {m.comm_method!r}"
                )
        self.store.insert_many(
            "meters",
            (
                "meter_id",
                "maker",
                "serial",
                "contract_amperage_a",
                "comm_method",
                "concentrator_id",
                "certification_expiry",
            ),
            [
                (
                    m.meter_id,
                    m.maker,
                    m.serial,
                    m.contract_amperage_a,
                    m.comm_method,
                    m.concentrator_id,
                    m.certification_expiry.isoformat(),
                )
                for m in meters
            ],
        )

    def install_meters(self, rows: Sequence[tuple[int, int]], valid_from_epoch_s: float) -> None:
        """Install meters from an instant on: rows of (supply_point_key, meter_id)."""
        self.store.insert_many(
            "meter_installations",
            ("supply_point_key", "meter_id", "valid_from", "valid_to"),
            [(sp, m, valid_from_epoch_s, None) for sp, m in rows],
        )

    def exchange_meter(
        self, supply_point_key: int, old_meter_id: int, new_meter_id: int, at_epoch_s: float
    ) -> None:
        """Meter exchange: close the old meter's open installation at the supply point at
        ``at_epoch_s`` and install the new meter from that instant (one transaction)."""
        with self.store._lock:
            self.store.execute("BEGIN IMMEDIATE")
            try:
                open_rows = self.store.execute(
                    "SELECT valid_from FROM meter_installations WHERE supply_point_key = ? "
                    "AND meter_id = ? AND valid_to IS NULL",
                    (supply_point_key, old_meter_id),
                )
                if len(open_rows) != 1 or float(open_rows[0][0]) >= at_epoch_s:
                    raise RegistryError(
                        f"meter {old_meter_id} has no open installation at supply point key "
                        f"{supply_point_key} that began before the exchange"
                    )
                self.store.execute(
                    "UPDATE meter_installations SET valid_to = ? WHERE supply_point_key = ? "
                    "AND meter_id = ? AND valid_to IS NULL",
                    (at_epoch_s, supply_point_key, old_meter_id),
                )
                self.store.execute(
                    "INSERT INTO meter_installations (supply_point_key, meter_id, valid_from, "
                    "valid_to) VALUES (?, ?, ?, NULL)",
                    (supply_point_key, new_meter_id, at_epoch_s),
                )
            except BaseException:
                self.store.execute("ROLLBACK")
                raise
            self.store.execute("COMMIT")

    def supply_point_key_of(self, supply_point_ids: Sequence[str]) -> dict[str, int]:
        """Keys of the known supply point IDs among ``supply_point_ids`` (unknown ones left
        out; IDs are not validated here)."""
        out: dict[str, int] = {}
        ids = list(dict.fromkeys(supply_point_ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ", ".join("?" for _ in chunk)
            for key, sp in self.store.execute(
                "SELECT supply_point_key, supply_point_id FROM supply_points "
                f"WHERE supply_point_id IN ({marks})",
                chunk,
            ):
                out[str(sp)] = int(key)
        return out

    def add_supply_contracts(self, rows: Sequence[tuple[int, str, date, date | None]]) -> None:
        """Rows of (supply_point_key, retailer_id, valid_from, valid_to)."""
        self.store.insert_many(
            "supply_contracts",
            ("supply_point_key", "retailer_id", "valid_from", "valid_to"),
            [(sp, r, f.isoformat(), t.isoformat() if t else None) for sp, r, f, t in rows],
        )

    def end_supply_contract(self, supply_point_key: int, retailer_id: str, on_day: date) -> None:
        """The retailer stops supplying the supply point from the JST day ``on_day`` on: its
        contract covering ``on_day`` gets ``valid_to = on_day`` (it must have begun earlier)."""
        with self.store._lock:
            self.store.execute("BEGIN IMMEDIATE")
            try:
                self._end_contract(supply_point_key, retailer_id, on_day)
            except BaseException:
                self.store.execute("ROLLBACK")
                raise
            self.store.execute("COMMIT")

    def start_supply_contract(
        self, supply_point_key: int, retailer_id: str, from_day: date, switch: bool = False
    ) -> None:
        """The retailer supplies the supply point from ``from_day`` on (open-ended). With
        ``switch``, the contract of whoever supplies it on ``from_day`` ends that day (one
        transaction); without, no contract may cover ``from_day`` or any later day."""
        day = from_day.isoformat()
        with self.store._lock:
            self.store.execute("BEGIN IMMEDIATE")
            try:
                if switch:
                    current = self.retailer_on(supply_point_key, from_day)
                    if current == retailer_id:
                        raise RegistryError(f"{retailer_id} already supplies it on {day}")
                    if current is not None:
                        self._end_contract(supply_point_key, current, from_day)
                later = self.store.execute(
                    "SELECT retailer_id, valid_from FROM supply_contracts "
                    "WHERE supply_point_key = ? AND (valid_to IS NULL OR valid_to > ?)",
                    (supply_point_key, day),
                )
                if later:
                    raise RegistryError(
                        f"supply point key {supply_point_key} has a contract of {later[0][0]} "
                        f"from {later[0][1]} that covers {day} or later"
                    )
                self.store.execute(
                    "INSERT INTO supply_contracts (supply_point_key, retailer_id, valid_from, "
                    "valid_to) VALUES (?, ?, ?, NULL)",
                    (supply_point_key, retailer_id, day),
                )
            except BaseException:
                self.store.execute("ROLLBACK")
                raise
            self.store.execute("COMMIT")

    def contract_end(self, supply_point_key: int, retailer_id: str, on_day: date) -> date | None:
        """``valid_to`` of the retailer's contract covering ``on_day`` (None: open-ended)."""
        day = on_day.isoformat()
        rows = self.store.execute(
            "SELECT valid_to FROM supply_contracts WHERE supply_point_key = ? AND retailer_id = ? "
            "AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)",
            (supply_point_key, retailer_id, day, day),
        )
        if len(rows) != 1:
            raise RegistryError(f"{retailer_id} has no contract covering {day}")
        return date.fromisoformat(rows[0][0]) if rows[0][0] else None

    def undo_contract_change(
        self,
        supply_point_key: int,
        started: tuple[str, date] | None,
        ended: tuple[str, date, date | None] | None,
    ) -> None:
        """Take back an accepted change (one transaction): delete the open-ended contract
        ``started`` = (retailer, from_day) and give the contract ``ended`` = (retailer,
        ended_on, former valid_to) its former end again."""
        with self.store._lock:
            self.store.execute("BEGIN IMMEDIATE")
            try:
                if started is not None:
                    self.store.execute(
                        "DELETE FROM supply_contracts WHERE supply_point_key = ? AND "
                        "retailer_id = ? AND valid_from = ? AND valid_to IS NULL",
                        (supply_point_key, started[0], started[1].isoformat()),
                    )
                    if int(self.store.execute("SELECT changes()")[0][0]) != 1:
                        raise RegistryError("the contract to take back has changed since")
                if ended is not None:
                    retailer, on_day, valid_to = ended
                    self.store.execute(
                        "UPDATE supply_contracts SET valid_to = ? WHERE supply_point_key = ? "
                        "AND retailer_id = ? AND valid_to = ?",
                        (
                            valid_to.isoformat() if valid_to else None,
                            supply_point_key,
                            retailer,
                            on_day.isoformat(),
                        ),
                    )
                    restored = int(self.store.execute("SELECT changes()")[0][0])
                    clash = self.store.execute(
                        "SELECT COUNT(*) FROM supply_contracts WHERE supply_point_key = ? "
                        "AND valid_from >= ? AND (? IS NULL OR valid_from < ?)",
                        (
                            supply_point_key,
                            on_day.isoformat(),
                            valid_to.isoformat() if valid_to else None,
                            valid_to.isoformat() if valid_to else None,
                        ),
                    )
                    if restored != 1 or clash[0][0]:
                        raise RegistryError("the contract to restore has changed since")
            except BaseException:
                self.store.execute("ROLLBACK")
                raise
            self.store.execute("COMMIT")

    def _end_contract(self, supply_point_key: int, retailer_id: str, on_day: date) -> None:
        day = on_day.isoformat()
        rows = self.store.execute(
            "SELECT rowid, valid_from FROM supply_contracts WHERE supply_point_key = ? "
            "AND retailer_id = ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)",
            (supply_point_key, retailer_id, day, day),
        )
        if len(rows) != 1 or str(rows[0][1]) >= day:
            raise RegistryError(
                f"{retailer_id} has no contract at supply point key {supply_point_key} that "
                f"began before {day} and covers it"
            )
        self.store.execute(
            "UPDATE supply_contracts SET valid_to = ? WHERE rowid = ?", (day, rows[0][0])
        )

    def set_contract_amperage(self, meter_id: int, amperage_a: int) -> None:
        """Record the contract amperage a meter was set to (アンペア変更)."""
        if amperage_a <= 0:
            raise RegistryError("contract amperage must be positive")
        self.store.execute(
            "UPDATE meters SET contract_amperage_a = ? WHERE meter_id = ?", (amperage_a, meter_id)
        )

    # -- reads ------------------------------------------------------------------------------
    def supply_point(self, supply_point_id: str) -> SupplyPoint | None:
        """The supply point with this ID, or None; raises InvalidSupplyPointId if malformed."""
        validate_supply_point_id(supply_point_id)
        rows = self.store.execute(
            "SELECT supply_point_key, supply_point_id, area_code FROM supply_points "
            "WHERE supply_point_id = ?",
            (supply_point_id,),
        )
        return SupplyPoint(*rows[0]) if rows else None

    def retailer_periods(self, supply_point_key: int, retailer_id: str) -> list[tuple[date, date]]:
        """Every period in which ``retailer_id`` supplies the point, as half-open ``[from, to)``
        JST days (``to`` = :data:`OPEN_END` when open-ended), by start. The one rule of who
        supplies a point when: access checks, jobs, feeds and notifications all ask this."""
        return access.retailer_periods(self.store, supply_point_key, retailer_id)

    def supplied_days(
        self, supply_point_key: int, retailer_id: str, first_day: date, last_day: date
    ) -> list[date]:
        """The JST days of ``[first_day, last_day]`` on which ``retailer_id`` supplies it."""
        days: list[date] = []
        for start, end in self.retailer_periods(supply_point_key, retailer_id):
            day = max(start, first_day)
            while day < end and day <= last_day:
                days.append(day)
                day += timedelta(days=1)
        return sorted(set(days))

    def supplied_points(
        self,
        retailer_id: str,
        first_day: date,
        last_day: date,
        limit: int | None,
        offset: int = 0,
        supply_point_key: int | None = None,
    ) -> list[tuple[int, str, date, date]]:
        """One page (by supply point key) of the points ``retailer_id`` supplies on some day of
        ``[first_day, last_day]``, one row per overlapping contract: (key, supply point ID,
        from, to exclusive). ``limit`` None: every point; ``supply_point_key`` narrows it to
        one point."""
        return access.supplied_points(
            self.store, retailer_id, first_day, last_day, limit, offset, supply_point_key
        )

    def contracts_table(self, retailer_ids: Sequence[str] | None = None) -> pa.Table:
        """Supply contracts as columns (supply_point_key, retailer_id, valid_from, valid_to:
        date32, null = open-ended), of the given retailers or all of them."""
        return access.contracts_table(self.store, retailer_ids)

    def members_on(self, day: date) -> pa.Table:
        """Supply points supplied on ``day`` with area, balancing group and retailer."""
        return access.members_on(self.store, day)

    def current_meter(self, supply_point_key: int) -> int | None:
        """The meter installed at the supply point now, if any."""
        return access.current_meter(self.store, supply_point_key)

    def current_amperages(self, supply_point_keys: Sequence[int]) -> dict[int, int]:
        """Contract amperage [A] of the meter installed now, per supply point key."""
        return access.current_amperages(self.store, supply_point_keys)

    def supply_points_table(self) -> pa.Table:
        """Every supply point's key and area code, as columns."""
        return access.supply_points_table(self.store)

    def meter_amperages_table(self) -> pa.Table:
        """Every meter's contract amperage [A], as columns (meter_id, contract_amperage_a)."""
        return access.meter_amperages_table(self.store)

    # -- reads for the operator dashboard ----------------------------------------------------
    def watermark(self) -> tuple[int, int, float]:
        """Changes whenever a meter is added or an installation opened or closed."""
        return reads.registry_watermark(self.store)

    def search_supply_points(self, digits: str, limit: int = 20) -> list[str]:
        """Supply point IDs starting with ``digits`` (ASCII digits only), in order."""
        return reads.search_supply_points(self.store, digits, limit)

    def installed_meter(self, supply_point_key: int) -> dict[str, Any] | None:
        """The meter installed at a supply point now, with its registry data and
        ``installed_at`` [epoch s]."""
        return reads.installed_meter(self.store, supply_point_key)

    def installations_of(self, supply_point_key: int) -> list[dict[str, Any]]:
        """Every meter installed at a supply point, oldest first (meter_id, maker, serial,
        valid_from, valid_to [epoch s], valid_to None while installed)."""
        return reads.installations_of(self.store, supply_point_key)

    def retailer_name(self, retailer_id: str) -> str | None:
        return reads.retailer_name(self.store, retailer_id)

    def installed_by_area(self) -> dict[str, int]:
        """Meters installed now per area code."""
        return reads.installed_by_area(self.store)

    def expiry_by_year(self) -> list[tuple[int, int]]:
        """Installed meters per calendar year of certification expiry, in order."""
        return reads.expiry_by_year(self.store)

    def expiring_meters(
        self, until: date, offset: int = 0, limit: int = 50
    ) -> tuple[int, pa.Table]:
        """Installed meters whose certification expires on or before ``until``: the total
        and one page (soonest first) with supply point ID and area."""
        return reads.expiring_meters(self.store, until, offset, limit)

    def retailer_on(self, supply_point_key: int, day: date) -> str | None:
        """The retailer supplying the supply point on a JST day, if any."""
        rows = self.store.execute(
            "SELECT retailer_id FROM supply_contracts WHERE supply_point_key = ? "
            "AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)",
            (supply_point_key, day.isoformat(), day.isoformat()),
        )
        return str(rows[0][0]) if rows else None

    def retailers(self) -> list[Retailer]:
        return [
            Retailer(*r)
            for r in self.store.execute(
                "SELECT retailer_id, name, balancing_group_id FROM retailers ORDER BY retailer_id"
            )
        ]

    def meter_count(self) -> int:
        return int(self.store.execute("SELECT COUNT(*) FROM meters")[0][0])

    def meters_table(self) -> pa.Table:
        """All meters with their current installation, as columns."""
        return self.store.query_table(
            "SELECT m.meter_id, m.comm_method, m.concentrator_id, m.contract_amperage_a, "
            "i.supply_point_key, sp.area_code "
            "FROM meters m JOIN meter_installations i ON i.meter_id = m.meter_id "
            "JOIN supply_points sp ON sp.supply_point_key = i.supply_point_key "
            "WHERE i.valid_to IS NULL ORDER BY m.meter_id"
        )

    def installations_table(self) -> pa.Table:
        """Every installation period: meter_id, supply_point_key, valid_from, valid_to [epoch s]."""
        table = self.store.query_table(
            "SELECT meter_id, supply_point_key, valid_from, valid_to FROM meter_installations"
        )
        if table.num_rows == 0:
            return pa.table(
                {
                    "meter_id": pa.array([], pa.int64()),
                    "supply_point_key": pa.array([], pa.int64()),
                    "valid_from": pa.array([], pa.float64()),
                    "valid_to": pa.array([], pa.float64()),
                }
            )
        return table.cast(
            pa.schema(
                [
                    ("meter_id", pa.int64()),
                    ("supply_point_key", pa.int64()),
                    ("valid_from", pa.float64()),
                    ("valid_to", pa.float64()),
                ]
            )
        )

    def supply_point_ids(self, keys: Sequence[int] | np.ndarray) -> list[str]:
        """The supply point IDs of ``keys``, in order (KeyError for an unknown key)."""
        found = self.supply_point_id_map([int(k) for k in keys])
        return [found[int(k)] for k in keys]

    def supply_point_id_map(self, keys: Sequence[int]) -> dict[int, str]:
        """Supply point ID by key, for the known keys among ``keys``."""
        return access.supply_point_ids(self.store, keys)
