"""The registry service: who is where, and since when.

The rules live here; the rows live in the registry repository
(:class:`openami.storage.repositories.registry.RegistryRepository`), which runs every change
in one transaction. No SQL here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from openami.clock.calendar import CalendarError, assign_reading_day_codes, check_code
from openami.registry.assets import Assets, Certification, ForecastRow
from openami.registry.certification import expired_from_s
from openami.registry.ids import validate_supply_point_id
from openami.registry.kinds import MeterKinds
from openami.registry.model import (
    COMM_METHODS,
    BalancingGroup,
    Meter,
    Retailer,
    SupplyPoint,
)
from openami.storage.repositories.reading_days import ReadingDayRepository
from openami.storage.repositories.registry_reads import OPEN_END as STORED_OPEN_END
from openami.storage.sql import Database, StorageError, open_database

#: ``valid_to`` of an open-ended period, as returned by the period reads
OPEN_END = STORED_OPEN_END


class RegistryError(ValueError):
    """A registry change that would break its rules."""


@contextmanager
def _rules() -> Iterator[None]:
    """A change the store refuses (conflict, duplicate, unknown reference) is a RegistryError."""
    try:
        yield
    except StorageError as exc:
        raise RegistryError(str(exc)) from exc


class Registry:
    """Supply points, meters, retailers and balancing groups with effective-dated links."""

    def __init__(self, database: Database) -> None:
        self._repository = database.registry
        self._reading_days = ReadingDayRepository(database)
        self._database = database

    @classmethod
    def open(cls, url_or_path: str | Path) -> Registry:
        """The registry in a database (SQLite path, ``:memory:`` or URL), upgraded to head."""
        return cls(open_database(url_or_path))

    @cached_property
    def kinds(self) -> MeterKinds:
        """Meter types and multipliers, supply point classes, manual reads."""
        return MeterKinds(self._database)

    def close(self) -> None:
        """Close the database this registry was opened on (with :meth:`open`)."""
        self._database.close()

    # -- writes (bulk, all-or-nothing) ------------------------------------------------------
    def add_balancing_groups(self, groups: Sequence[BalancingGroup]) -> None:
        with _rules():
            self._repository.add_balancing_groups([(g.balancing_group_id, g.name) for g in groups])

    def add_retailers(self, retailers: Sequence[Retailer]) -> None:
        with _rules():
            self._repository.add_retailers(
                [(r.retailer_id, r.name, r.balancing_group_id) for r in retailers]
            )

    def add_concentrators(self, rows: Sequence[tuple[str, str]]) -> None:
        """Rows of (concentrator_id, area_code)."""
        with _rules():
            self._repository.add_concentrators(rows)

    def add_supply_points(self, supply_point_ids: Sequence[str]) -> list[int]:
        """Register supply points; returns their integer keys (in order)."""
        for sp in supply_point_ids:
            validate_supply_point_id(sp)
        with _rules():
            return self._repository.add_supply_points([(sp, sp[:2]) for sp in supply_point_ids])

    def set_reading_days(self, rows: Sequence[tuple[int, int]]) -> None:
        """Rows of (supply_point_key, reading_day_code): each point's 計量日 schedule code
        (1 … 17, :mod:`openami.clock.calendar`), replacing an earlier one."""
        for _key, code in rows:
            try:
                check_code(int(code))
            except CalendarError as exc:
                raise RegistryError(str(exc)) from exc
        with _rules():
            self._reading_days.set_codes(rows)

    def reading_days_table(self) -> pa.Table:
        """Every supply point with its area and reading-day code, by key; a point without a
        stored code gets the seed's assignment (:func:`assign_reading_day_codes`)."""
        table = self._reading_days.table()
        stored = table.column("reading_day_code").to_numpy(zero_copy_only=False)
        keys = table.column("supply_point_key").to_numpy()
        missing = np.isnan(stored) if stored.dtype.kind == "f" else np.zeros(len(keys), bool)
        codes = np.where(missing, assign_reading_day_codes(keys), np.nan_to_num(stored))
        index = table.schema.get_field_index("reading_day_code")
        return table.set_column(
            index, "reading_day_code", pa.array(codes.astype(np.int64), pa.int64())
        )

    def add_meters(self, meters: Sequence[Meter]) -> None:
        for m in meters:
            if m.comm_method not in COMM_METHODS:
                raise RegistryError(
                    f"meter {m.meter_id}: unknown communication method {m.comm_method!r}"
                )
        with _rules():
            self._repository.add_meters(
                [
                    (
                        m.meter_id,
                        m.maker,
                        m.serial,
                        m.contract_amperage_a,
                        m.comm_method,
                        m.concentrator_id,
                        m.certification_expiry,
                    )
                    for m in meters
                ]
            )

    def install_meters(self, rows: Sequence[tuple[int, int]], valid_from_epoch_s: float) -> None:
        """Install meters from an instant on: rows of (supply_point_key, meter_id)."""
        with _rules():
            self._repository.install_meters(rows, valid_from_epoch_s)

    def exchange_meter(
        self, supply_point_key: int, old_meter_id: int, new_meter_id: int, at_epoch_s: float
    ) -> None:
        """Meter exchange: close the old meter's open installation at the supply point at
        ``at_epoch_s`` and install the new meter from that instant (one transaction)."""
        with _rules():
            self._repository.exchange_meter(
                supply_point_key, old_meter_id, new_meter_id, at_epoch_s
            )

    def remove_meter(self, supply_point_key: int, meter_id: int, at_epoch_s: float) -> None:
        """Meter removal: close the meter's open installation at ``at_epoch_s``."""
        with _rules():
            self._repository.remove_meter(supply_point_key, meter_id, at_epoch_s)

    def supply_point_key_of(self, supply_point_ids: Sequence[str]) -> dict[str, int]:
        """Keys of the known supply point IDs among ``supply_point_ids`` (unknown ones left
        out; IDs are not validated here)."""
        return self._repository.supply_point_key_of(supply_point_ids)

    def add_supply_contracts(self, rows: Sequence[tuple[int, str, date, date | None]]) -> None:
        """Rows of (supply_point_key, retailer_id, valid_from, valid_to)."""
        with _rules():
            self._repository.add_supply_contracts(rows)

    def end_supply_contract(self, supply_point_key: int, retailer_id: str, on_day: date) -> None:
        """The retailer stops supplying the supply point from the JST day ``on_day`` on: its
        contract covering ``on_day`` gets ``valid_to = on_day`` (it must have begun earlier)."""
        with _rules():
            self._repository.end_supply_contract(supply_point_key, retailer_id, on_day)

    def start_supply_contract(
        self, supply_point_key: int, retailer_id: str, from_day: date, switch: bool = False
    ) -> None:
        """The retailer supplies the supply point from ``from_day`` on (open-ended). With
        ``switch``, the contract of whoever supplies it on ``from_day`` ends that day (one
        transaction); without, no contract may cover ``from_day`` or any later day."""
        with _rules():
            self._repository.start_supply_contract(supply_point_key, retailer_id, from_day, switch)

    def contract_end(self, supply_point_key: int, retailer_id: str, on_day: date) -> date | None:
        """``valid_to`` of the retailer's contract covering ``on_day`` (None: open-ended)."""
        with _rules():
            return self._repository.contract_end(supply_point_key, retailer_id, on_day)

    def undo_contract_change(
        self,
        supply_point_key: int,
        started: tuple[str, date] | None,
        ended: tuple[str, date, date | None] | None,
    ) -> None:
        """Take back an accepted change (one transaction): delete the open-ended contract
        ``started`` = (retailer, from_day) and give the contract ``ended`` = (retailer,
        ended_on, former valid_to) its former end again."""
        with _rules():
            self._repository.undo_contract_change(supply_point_key, started, ended)

    def set_contract_amperage(self, meter_id: int, amperage_a: int) -> None:
        """Record the contract amperage a meter was set to (アンペア変更)."""
        if amperage_a <= 0:
            raise RegistryError("contract amperage must be positive")
        self._repository.set_contract_amperage(meter_id, amperage_a)

    # -- reads ------------------------------------------------------------------------------
    def supply_point(self, supply_point_id: str) -> SupplyPoint | None:
        """The supply point with this ID, or None; raises InvalidSupplyPointId if malformed."""
        validate_supply_point_id(supply_point_id)
        row = self._repository.supply_point(supply_point_id)
        return None if row is None else SupplyPoint(*row)

    def smart_since(self, supply_point_key: int) -> tuple[str, float] | None:
        """The point's ID and when a smart meter was first installed there [epoch s]; None
        for an unknown point or one that never had a smart meter (one registry query)."""
        return self._repository.smart_since(supply_point_key)

    def retailer_periods(self, supply_point_key: int, retailer_id: str) -> list[tuple[date, date]]:
        """Every period in which ``retailer_id`` supplies the point, as half-open ``[from, to)``
        JST days (``to`` = :data:`OPEN_END` when open-ended), by start. The one rule of who
        supplies a point when: access checks, jobs, feeds and notifications all ask this."""
        return self._repository.retailer_periods(supply_point_key, retailer_id)

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
        return self._repository.supplied_points(
            retailer_id, first_day, last_day, limit, offset, supply_point_key
        )

    def contracts_table(self, retailer_ids: Sequence[str] | None = None) -> pa.Table:
        """Supply contracts as columns (supply_point_key, retailer_id, valid_from, valid_to:
        date32, null = open-ended), of the given retailers or all of them."""
        return self._repository.contracts_table(retailer_ids)

    def members_on(self, day: date) -> pa.Table:
        """Supply points supplied on ``day`` with area, balancing group and retailer."""
        return self._repository.members_on(day)

    def current_meter(self, supply_point_key: int) -> int | None:
        """The meter installed at the supply point now, if any."""
        return self._repository.current_meter(supply_point_key)

    def current_amperages(self, supply_point_keys: Sequence[int]) -> dict[int, int]:
        """Contract amperage [A] of the meter installed now, per supply point key."""
        return self._repository.current_amperages(supply_point_keys)

    def supply_points_table(self) -> pa.Table:
        """Every supply point's key and area code, as columns."""
        return self._repository.supply_points_table()

    def meter_amperages_table(self) -> pa.Table:
        """Every meter's contract amperage [A], as columns (meter_id, contract_amperage_a)."""
        return self._repository.meter_amperages_table()

    # -- reads for the operator dashboard ----------------------------------------------------
    def watermark(self) -> tuple[int, int, float]:
        """Changes whenever a meter is added or an installation opened or closed."""
        return self._repository.watermark()

    def search_supply_points(self, digits: str, limit: int = 20) -> list[str]:
        """Supply point IDs starting with ``digits`` (ASCII digits only), in order."""
        return self._repository.search_supply_points(digits, limit)

    def installed_meter(self, supply_point_key: int) -> dict[str, Any] | None:
        """The meter installed at a supply point now, with its registry data and
        ``installed_at`` [epoch s]."""
        return self._repository.installed_meter(supply_point_key)

    def installations_of(self, supply_point_key: int) -> list[dict[str, Any]]:
        """Every meter installed at a supply point, oldest first (meter_id, maker, serial,
        valid_from, valid_to [epoch s], valid_to None while installed)."""
        return self._repository.installations_of(supply_point_key)

    def retailer_name(self, retailer_id: str) -> str | None:
        return self._repository.retailer_name(retailer_id)

    def installed_by_area(self) -> dict[str, int]:
        """Meters installed now per area code."""
        return self._repository.installed_by_area()

    def expiry_by_year(self) -> list[tuple[int, int]]:
        """Installed meters per calendar year of certification expiry, in order."""
        return self._repository.expiry_by_year()

    def certification_table(self) -> pa.Table:
        """Per meter: ``expired_from_s``, the instant from which its values are metered
        after its certification expired (:mod:`openami.registry.certification`)."""
        table = Assets(self._database).store.expiry_table()
        expired = expired_from_s(table.column("certification_expiry"))
        return pa.table({"meter_id": table.column("meter_id"), "expired_from_s": expired})

    def certification_of(self, meter_id: int) -> Certification | None:
        """The meter's newest certification record (its expiry counts), None without one."""
        records = Assets(self._database).store.certifications(meter_id)
        return max(records, key=lambda c: c.expires_on) if records else None

    def expiry_forecast(self) -> list[ForecastRow]:
        """Installed meters due for replacement at certification expiry (検満取替), per
        Japanese fiscal year and area (:meth:`openami.registry.assets.Assets.expiry_forecast`)."""
        return Assets(self._database).expiry_forecast()

    def expiring_meters(
        self, until: date, offset: int = 0, limit: int = 50
    ) -> tuple[int, pa.Table]:
        """Installed meters whose certification expires on or before ``until``: the total
        and one page (soonest first) with supply point ID and area."""
        return self._repository.expiring_meters(until, offset, limit)

    def retailer_on(self, supply_point_key: int, day: date) -> str | None:
        """The retailer supplying the supply point on a JST day, if any."""
        return self._repository.retailer_on(supply_point_key, day)

    def retailers(self) -> list[Retailer]:
        return [Retailer(*r) for r in self._repository.retailers()]

    def meter_count(self) -> int:
        return self._repository.meter_count()

    def supply_point_count(self) -> int:
        return self._repository.supply_point_count()

    def meters_table(self) -> pa.Table:
        """All meters with their current installation, as columns (meter_id, comm_method,
        concentrator_id, contract_amperage_a, supply_point_key, area_code), by meter."""
        return self._repository.meters_table()

    def installations_table(self) -> pa.Table:
        """Every installation period: meter_id, supply_point_key, valid_from, valid_to [epoch s]."""
        return self._repository.installations_table()

    def supply_point_ids(self, keys: Sequence[int] | np.ndarray) -> list[str]:
        """The supply point IDs of ``keys``, in order (KeyError for an unknown key)."""
        found = self.supply_point_id_map([int(k) for k in keys])
        return [found[int(k)] for k in keys]

    def supply_point_id_map(self, keys: Sequence[int]) -> dict[int, str]:
        """Supply point ID by key, for the known keys among ``keys``."""
        return self._repository.supply_point_ids(keys)

    def all_supply_point_ids(self) -> dict[int, str]:
        """Every supply point's ID by key."""
        return self._repository.all_supply_point_ids()
