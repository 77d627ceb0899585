"""The registry repository: supply points, meters, retailers, balancing groups and their
effective-dated links (meter installations, supply contracts).

Periods are half-open: installations ``[valid_from, valid_to)`` in Unix seconds, supply
contracts ``[valid_from, valid_to)`` in JST days; ``valid_to`` None is open-ended. Every
change runs in one transaction; changes of one supply point's links lock its row first
(``SELECT ... FOR UPDATE`` on PostgreSQL, the write lock on SQLite), so two of them never
interleave. Broken rules raise :class:`~openami.storage.sql.errors.Conflict`; duplicate or
dangling rows raise the matching :class:`~openami.storage.sql.errors.StorageError`.
The registry service (:class:`openami.registry.Registry`) is the one caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa

from openami.storage.repositories.registry_reads import RegistryReads
from openami.storage.sql import tables as t
from openami.storage.sql.bulk import insert_rows
from openami.storage.sql.errors import Conflict, refusals_as

MeterRow = tuple[int, str, str, int, str, str | None, date]
"""meter_id, maker, serial, contract_amperage_a, comm_method, concentrator_id,
certification_expiry"""

_CHUNK = 500  # keys per IN (...) list


class RegistryRepository(RegistryReads):
    # -- bulk writes (all or nothing) -----------------------------------------------------
    def add_balancing_groups(self, rows: Sequence[tuple[str, str]]) -> None:
        """Rows of (balancing_group_id, name)."""
        self._insert(t.balancing_groups, ("balancing_group_id", "name"), rows)

    def add_retailers(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Rows of (retailer_id, name, balancing_group_id)."""
        self._insert(t.retailers, ("retailer_id", "name", "balancing_group_id"), rows)

    def add_concentrators(self, rows: Sequence[tuple[str, str]]) -> None:
        """Rows of (concentrator_id, area_code)."""
        self._insert(t.concentrators, ("concentrator_id", "area_code"), rows)

    def add_supply_points(self, rows: Sequence[tuple[str, str]]) -> list[int]:
        """Rows of (supply_point_id, area_code); returns their new keys, in order."""
        points = t.supply_points
        with self.database.write() as connection, refusals_as("adding supply points"):
            top = connection.execute(
                sa.select(sa.func.coalesce(sa.func.max(points.c.supply_point_key), 0))
            ).scalar_one()
            keys = list(range(int(top) + 1, int(top) + 1 + len(rows)))
            insert_rows(
                connection,
                points,
                ("supply_point_key", "supply_point_id", "area_code"),
                [(k, sp, area) for k, (sp, area) in zip(keys, rows, strict=True)],
            )
        return keys

    def add_meters(self, rows: Sequence[MeterRow]) -> None:
        columns = (
            "meter_id",
            "maker",
            "serial",
            "contract_amperage_a",
            "comm_method",
            "concentrator_id",
            "certification_expiry",
        )
        self._insert(t.meters, columns, rows)

    def install_meters(self, rows: Sequence[tuple[int, int]], valid_from_epoch_s: float) -> None:
        """Open installations from an instant on: rows of (supply_point_key, meter_id)."""
        self._insert(
            t.meter_installations,
            ("supply_point_key", "meter_id", "valid_from", "valid_to"),
            [(key, meter, valid_from_epoch_s, None) for key, meter in rows],
        )

    def add_supply_contracts(self, rows: Sequence[tuple[int, str, date, date | None]]) -> None:
        """Rows of (supply_point_key, retailer_id, valid_from, valid_to)."""
        self._insert(
            t.supply_contracts, ("supply_point_key", "retailer_id", "valid_from", "valid_to"), rows
        )

    def _insert(
        self, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[object]]
    ) -> None:
        if not rows:
            return
        with self.database.write() as connection, refusals_as(f"adding {table.name}"):
            insert_rows(connection, table, columns, rows)

    # -- changes of one supply point ------------------------------------------------------
    def exchange_meter(
        self, supply_point_key: int, old_meter_id: int, new_meter_id: int, at_epoch_s: float
    ) -> None:
        """Close the old meter's open installation at ``at_epoch_s`` and install the new
        meter from that instant (one transaction)."""
        i = t.meter_installations
        open_old = sa.and_(
            i.c.supply_point_key == supply_point_key,
            i.c.meter_id == old_meter_id,
            i.c.valid_to.is_(None),
        )
        with self.database.write() as connection, refusals_as("exchanging a meter"):
            _lock_supply_point(connection, supply_point_key)
            starts = connection.execute(sa.select(i.c.valid_from).where(open_old)).all()
            if len(starts) != 1 or float(starts[0][0]) >= at_epoch_s:
                raise Conflict(
                    f"meter {old_meter_id} has no open installation at supply point key "
                    f"{supply_point_key} that began before the exchange"
                )
            connection.execute(i.update().where(open_old).values(valid_to=at_epoch_s))
            connection.execute(
                i.insert().values(
                    supply_point_key=supply_point_key,
                    meter_id=new_meter_id,
                    valid_from=at_epoch_s,
                    valid_to=None,
                )
            )

    def remove_meter(self, supply_point_key: int, meter_id: int, at_epoch_s: float) -> None:
        """Close the meter's open installation at the supply point at ``at_epoch_s`` (a
        removal without a successor)."""
        i = t.meter_installations
        open_one = sa.and_(
            i.c.supply_point_key == supply_point_key,
            i.c.meter_id == meter_id,
            i.c.valid_to.is_(None),
            i.c.valid_from < at_epoch_s,
        )
        with self.database.write() as connection, refusals_as("removing a meter"):
            _lock_supply_point(connection, supply_point_key)
            if (
                connection.execute(i.update().where(open_one).values(valid_to=at_epoch_s)).rowcount
                != 1
            ):
                raise Conflict(
                    f"meter {meter_id} has no open installation at supply point key "
                    f"{supply_point_key} that began before the removal"
                )

    def end_supply_contract(self, supply_point_key: int, retailer_id: str, on_day: date) -> None:
        """The retailer's contract covering ``on_day`` (begun earlier) ends that day."""
        with self.database.write() as connection:
            _lock_supply_point(connection, supply_point_key)
            _end_contract(connection, supply_point_key, retailer_id, on_day)

    def start_supply_contract(
        self, supply_point_key: int, retailer_id: str, from_day: date, switch: bool
    ) -> None:
        """An open-ended contract from ``from_day``; with ``switch`` whoever supplies the
        point that day stops then; without, no contract may cover ``from_day`` or later."""
        c = t.supply_contracts
        with self.database.write() as connection, refusals_as("starting a supply contract"):
            _lock_supply_point(connection, supply_point_key)
            if switch:
                current = _retailer_on(connection, supply_point_key, from_day)
                if current == retailer_id:
                    raise Conflict(f"{retailer_id} already supplies it on {from_day}")
                if current is not None:
                    _end_contract(connection, supply_point_key, current, from_day)
            later = connection.execute(
                sa.select(c.c.retailer_id, c.c.valid_from).where(
                    c.c.supply_point_key == supply_point_key,
                    sa.or_(c.c.valid_to.is_(None), c.c.valid_to > from_day),
                )
            ).first()
            if later is not None:
                raise Conflict(
                    f"supply point key {supply_point_key} has a contract of {later[0]} "
                    f"from {later[1]} that covers {from_day} or later"
                )
            connection.execute(
                c.insert().values(
                    supply_point_key=supply_point_key,
                    retailer_id=retailer_id,
                    valid_from=from_day,
                    valid_to=None,
                )
            )

    def contract_end(self, supply_point_key: int, retailer_id: str, on_day: date) -> date | None:
        """``valid_to`` of the retailer's contract covering ``on_day`` (None: open-ended)."""
        c = t.supply_contracts
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(c.c.valid_to).where(
                    c.c.supply_point_key == supply_point_key,
                    c.c.retailer_id == retailer_id,
                    *_covers(on_day),
                )
            ).all()
        if len(rows) != 1:
            raise Conflict(f"{retailer_id} has no contract covering {on_day}")
        return rows[0][0]

    def undo_contract_change(
        self,
        supply_point_key: int,
        started: tuple[str, date] | None,
        ended: tuple[str, date, date | None] | None,
    ) -> None:
        """Delete the open-ended contract ``started`` = (retailer, from_day) and give the
        contract ``ended`` = (retailer, ended_on, former valid_to) its former end again."""
        with self.database.write() as connection:
            _lock_supply_point(connection, supply_point_key)
            if started is not None:
                _delete_started(connection, supply_point_key, *started)
            if ended is not None:
                _restore_end(connection, supply_point_key, *ended)

    def set_contract_amperage(self, meter_id: int, amperage_a: int) -> None:
        with self.database.write() as connection:
            connection.execute(
                t.meters.update()
                .where(t.meters.c.meter_id == meter_id)
                .values(contract_amperage_a=amperage_a)
            )

    # -- lookups --------------------------------------------------------------------------
    def retailer_on(self, supply_point_key: int, day: date) -> str | None:
        with self.database.read() as connection:
            return _retailer_on(connection, supply_point_key, day)

    def supply_point_key_of(self, supply_point_ids: Sequence[str]) -> dict[str, int]:
        """Keys of the known IDs among ``supply_point_ids``."""
        p = t.supply_points
        out: dict[str, int] = {}
        wanted = list(dict.fromkeys(supply_point_ids))
        with self.database.read() as connection:
            for i in range(0, len(wanted), _CHUNK):
                chunk = wanted[i : i + _CHUNK]
                for key, sp in connection.execute(
                    sa.select(p.c.supply_point_key, p.c.supply_point_id).where(
                        p.c.supply_point_id.in_(chunk)
                    )
                ):
                    out[str(sp)] = int(key)
        return out


def _lock_supply_point(connection: sa.Connection, supply_point_key: int) -> None:
    """Serialise changes of one supply point (PostgreSQL row lock; SQLite holds the write
    lock already)."""
    p = t.supply_points
    connection.execute(
        sa.select(p.c.supply_point_key)
        .where(p.c.supply_point_key == supply_point_key)
        .with_for_update()
    )


def _covers(day: date) -> tuple[sa.ColumnElement[bool], ...]:
    c = t.supply_contracts
    return (c.c.valid_from <= day, sa.or_(c.c.valid_to.is_(None), c.c.valid_to > day))


_RETAILER_ON = sa.select(t.supply_contracts.c.retailer_id).where(
    t.supply_contracts.c.supply_point_key == sa.bindparam("supply_point_key"),
    *_covers(sa.bindparam("day", type_=sa.Date)),  # type: ignore[arg-type]
)


def _retailer_on(connection: sa.Connection, supply_point_key: int, day: date) -> str | None:
    found = connection.execute(
        _RETAILER_ON, {"supply_point_key": supply_point_key, "day": day}
    ).first()
    return None if found is None else str(found[0])


def _end_contract(
    connection: sa.Connection, supply_point_key: int, retailer_id: str, on_day: date
) -> None:
    c = t.supply_contracts
    mine = (c.c.supply_point_key == supply_point_key, c.c.retailer_id == retailer_id)
    rows = connection.execute(sa.select(c.c.valid_from).where(*mine, *_covers(on_day))).all()
    if len(rows) != 1 or rows[0][0] >= on_day:
        raise Conflict(
            f"{retailer_id} has no contract at supply point key {supply_point_key} that "
            f"began before {on_day} and covers it"
        )
    connection.execute(
        c.update().where(*mine, c.c.valid_from == rows[0][0]).values(valid_to=on_day)
    )


def _delete_started(
    connection: sa.Connection, supply_point_key: int, retailer_id: str, from_day: date
) -> None:
    c = t.supply_contracts
    deleted = connection.execute(
        c.delete().where(
            c.c.supply_point_key == supply_point_key,
            c.c.retailer_id == retailer_id,
            c.c.valid_from == from_day,
            c.c.valid_to.is_(None),
        )
    )
    if deleted.rowcount != 1:
        raise Conflict("the contract to take back has changed since")


def _restore_end(
    connection: sa.Connection,
    supply_point_key: int,
    retailer_id: str,
    ended_on: date,
    former_valid_to: date | None,
) -> None:
    c = t.supply_contracts
    restored = connection.execute(
        c.update()
        .where(
            c.c.supply_point_key == supply_point_key,
            c.c.retailer_id == retailer_id,
            c.c.valid_to == ended_on,
        )
        .values(valid_to=former_valid_to)
    )
    clash = [c.c.supply_point_key == supply_point_key, c.c.valid_from >= ended_on]
    if former_valid_to is not None:
        clash.append(c.c.valid_from < former_valid_to)
    clashes = connection.execute(sa.select(sa.func.count()).where(*clash)).scalar_one()
    if restored.rowcount != 1 or clashes:
        raise Conflict("the contract to restore has changed since")
