"""Registry reads: who supplies a point when, which meter is where, and the registry as
columns (Arrow tables, fetched without a Python object per value's type conversion).

Part of :class:`~openami.storage.repositories.registry.RegistryRepository`. Contract periods
are half-open ``[valid_from, valid_to)`` JST days; an open end reads as :data:`OPEN_END`
where a day is needed, as null in the tables.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date

import pyarrow as pa
import sqlalchemy as sa

from openami.storage.repositories.registry_dashboard import RegistryDashboardReads
from openami.storage.sql import tables as t
from openami.storage.sql.bulk import select_table
from openami.storage.sql.conventional_tables import meter_kinds
from openami.storage.sql.prepared import Prepared, as_date, day_param

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
METERS_SCHEMA = pa.schema(
    [
        ("meter_id", pa.int64()),
        ("comm_method", pa.string()),
        ("concentrator_id", pa.string()),
        ("contract_amperage_a", pa.int64()),
        ("supply_point_key", pa.int64()),
        ("area_code", pa.string()),
    ]
)
INSTALLATIONS_SCHEMA = pa.schema(
    [
        ("meter_id", pa.int64()),
        ("supply_point_key", pa.int64()),
        ("valid_from", pa.float64()),
        ("valid_to", pa.float64()),  # null: installed now
    ]
)
SUPPLY_POINTS_SCHEMA = pa.schema([("supply_point_key", pa.int64()), ("area_code", pa.string())])
AMPERAGES_SCHEMA = pa.schema([("meter_id", pa.int64()), ("contract_amperage_a", pa.int64())])
_CHUNK = 500  # keys per IN (...) list


# hot statements (API requests), built once: values are bound per call
_p, _c, _i = t.supply_points, t.supply_contracts, t.meter_installations
_SUPPLY_POINT = Prepared(
    sa.select(_p.c.supply_point_key, _p.c.supply_point_id, _p.c.area_code).where(
        _p.c.supply_point_id == sa.bindparam("supply_point_id")
    )
)
_SUPPLY_POINT_COUNT = Prepared(sa.select(sa.func.count()).select_from(_p))
_RETAILER_PERIODS = Prepared(
    sa.select(_c.c.valid_from, _c.c.valid_to)
    .where(
        _c.c.supply_point_key == sa.bindparam("supply_point_key"),
        _c.c.retailer_id == sa.bindparam("retailer_id"),
    )
    .order_by(_c.c.valid_from)
)
_CURRENT_METER = Prepared(
    sa.select(_i.c.meter_id).where(
        _i.c.supply_point_key == sa.bindparam("supply_point_key"), _i.c.valid_to.is_(None)
    )
)
_CURRENT_AMPERAGE = Prepared(
    sa.select(t.meters.c.contract_amperage_a)
    .join_from(_i, t.meters, t.meters.c.meter_id == _i.c.meter_id)
    .where(_i.c.supply_point_key == sa.bindparam("supply_point_key"), _i.c.valid_to.is_(None))
)

_k = meter_kinds  # a meter without a row is a smart one (``Registry.kinds``)
_SMART_SINCE = Prepared(
    sa.select(_p.c.supply_point_id, sa.func.min(_i.c.valid_from))
    .join_from(_p, _i, _i.c.supply_point_key == _p.c.supply_point_key)
    .join(t.meters, t.meters.c.meter_id == _i.c.meter_id)
    .outerjoin(_k, _k.c.meter_id == _i.c.meter_id)
    .where(
        _p.c.supply_point_key == sa.bindparam("supply_point_key"),
        sa.or_(_k.c.meter_type.is_(None), _k.c.meter_type == "smart"),
    )
    .group_by(_p.c.supply_point_id)
)


def _covers(first_day: date, last_day: date) -> tuple[sa.ColumnElement[bool], ...]:
    """Contracts covering some day of ``[first_day, last_day]``."""
    c = t.supply_contracts
    return (c.c.valid_from <= last_day, sa.or_(c.c.valid_to.is_(None), c.c.valid_to > first_day))


@functools.cache
def _supplied_points_statement(paged: bool, one_point: bool) -> Prepared:
    """The page query of :meth:`RegistryReads.supplied_points` (one per shape)."""
    c, p = t.supply_contracts, t.supply_points
    where = [
        c.c.retailer_id == sa.bindparam("retailer_id"),
        c.c.valid_from <= sa.bindparam("last_day"),
        sa.or_(c.c.valid_to.is_(None), c.c.valid_to > sa.bindparam("first_day")),
    ]
    if one_point:
        where.append(c.c.supply_point_key == sa.bindparam("supply_point_key"))
    keys = (
        sa.select(c.c.supply_point_key)
        .where(*where)
        .distinct()
        .order_by(c.c.supply_point_key)
        .offset(sa.bindparam("offset", type_=sa.Integer))
    )
    if paged:
        keys = keys.limit(sa.bindparam("limit", type_=sa.Integer))
    page = keys.cte("keys")
    return Prepared(
        sa.select(c.c.supply_point_key, p.c.supply_point_id, c.c.valid_from, c.c.valid_to)
        .join_from(c, page, page.c.supply_point_key == c.c.supply_point_key)
        .join(p, p.c.supply_point_key == c.c.supply_point_key)
        .where(*where)
        .order_by(c.c.supply_point_key, c.c.valid_from)
    )


class RegistryReads(RegistryDashboardReads):
    @property
    def _dialect(self) -> sa.Dialect:
        return self.database.engine.dialect

    # -- single rows ----------------------------------------------------------------------
    def supply_point(self, supply_point_id: str) -> tuple[int, str, str] | None:
        """(key, ID, area code) of the supply point with this ID, if any."""
        with self.database.driver_read() as connection:
            rows = _SUPPLY_POINT.rows(connection, self._dialect, supply_point_id=supply_point_id)
        return (int(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None

    def retailers(self) -> list[tuple[str, str, str]]:
        """(retailer_id, name, balancing_group_id) of every retailer, by ID."""
        r = t.retailers
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(r.c.retailer_id, r.c.name, r.c.balancing_group_id).order_by(
                    r.c.retailer_id
                )
            ).all()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def meter_count(self) -> int:
        with self.database.read() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(t.meters)).scalar_one()
            )

    def supply_point_count(self) -> int:
        with self.database.driver_read() as connection:
            return int(_SUPPLY_POINT_COUNT.rows(connection, self._dialect)[0][0])

    def current_meter(self, supply_point_key: int) -> int | None:
        """The meter installed at the supply point now (open installation), if any."""
        with self.database.driver_read() as connection:
            rows = _CURRENT_METER.rows(
                connection, self._dialect, supply_point_key=int(supply_point_key)
            )
        return int(rows[0][0]) if rows else None

    def smart_since(self, supply_point_key: int) -> tuple[str, float] | None:
        """The point's ID and the earliest installation of a smart meter there [epoch s]
        (None: unknown point, or never a smart meter); one statement."""
        with self.database.driver_read() as connection:
            rows = _SMART_SINCE.rows(
                connection, self._dialect, supply_point_key=int(supply_point_key)
            )
        return (str(rows[0][0]), float(rows[0][1])) if rows else None

    # -- periods --------------------------------------------------------------------------
    def retailer_periods(self, supply_point_key: int, retailer_id: str) -> list[tuple[date, date]]:
        """The periods in which ``retailer_id`` supplied the point, as ``[from, to)`` days."""
        with self.database.driver_read() as connection:
            rows = _RETAILER_PERIODS.rows(
                connection,
                self._dialect,
                supply_point_key=int(supply_point_key),
                retailer_id=retailer_id,
            )
        return [(as_date(start), OPEN_END if end is None else as_date(end)) for start, end in rows]

    def supplied_points(
        self,
        retailer_id: str,
        first_day: date,
        last_day: date,
        limit: int | None,
        offset: int,
        supply_point_key: int | None = None,
    ) -> list[tuple[int, str, date, date]]:
        """One page (by supply point key) of the points ``retailer_id`` supplies on some day
        of ``[first_day, last_day]``, one row per such contract: (key, supply point ID,
        from, to exclusive), by key and start."""
        statement = _supplied_points_statement(limit is not None, supply_point_key is not None)
        params: dict[str, object] = {
            "retailer_id": retailer_id,
            "first_day": day_param(self._dialect, first_day),
            "last_day": day_param(self._dialect, last_day),
            "offset": int(offset),
        }
        if limit is not None:
            params["limit"] = int(limit)
        if supply_point_key is not None:
            params["supply_point_key"] = int(supply_point_key)
        with self.database.driver_read() as connection:
            rows = statement.rows(connection, self._dialect, **params)
        return [
            (int(k), str(sp), as_date(start), OPEN_END if end is None else as_date(end))
            for k, sp, start, end in rows
        ]

    # -- columns --------------------------------------------------------------------------
    def contracts_table(self, retailer_ids: Sequence[str] | None) -> pa.Table:
        """Supply contracts (of the given retailers, or all) as :data:`CONTRACT_SCHEMA`."""
        c = t.supply_contracts
        statement = sa.select(c.c.supply_point_key, c.c.retailer_id, c.c.valid_from, c.c.valid_to)
        with self.database.read() as connection:
            if retailer_ids is None:
                return select_table(connection, statement, CONTRACT_SCHEMA)
            ids = list(retailer_ids)
            parts = [
                select_table(
                    connection,
                    statement.where(c.c.retailer_id.in_(ids[i : i + _CHUNK])),
                    CONTRACT_SCHEMA,
                )
                for i in range(0, len(ids), _CHUNK)
            ]
        return pa.concat_tables(parts) if parts else CONTRACT_SCHEMA.empty_table()

    def members_on(self, day: date) -> pa.Table:
        """Supply points supplied on ``day`` with their area, balancing group and retailer."""
        c, r, p = t.supply_contracts, t.retailers, t.supply_points
        statement = (
            sa.select(c.c.supply_point_key, p.c.area_code, r.c.balancing_group_id, c.c.retailer_id)
            .join_from(c, r, r.c.retailer_id == c.c.retailer_id)
            .join(p, p.c.supply_point_key == c.c.supply_point_key)
            .where(*_covers(day, day))
        )
        with self.database.read() as connection:
            return select_table(connection, statement, MEMBER_SCHEMA)

    def current_amperages(self, supply_point_keys: Sequence[int]) -> dict[int, int]:
        """Contract amperage [A] of the meter installed now at each of the supply points."""
        i, m = t.meter_installations, t.meters
        out: dict[int, int] = {}
        keys = [int(k) for k in supply_point_keys]
        if len(keys) == 1:  # one UsagePoint (an API request): the prepared statement
            with self.database.driver_read() as connection:
                rows = _CURRENT_AMPERAGE.rows(connection, self._dialect, supply_point_key=keys[0])
            return {keys[0]: int(rows[0][0])} if rows else {}
        with self.database.read() as connection:
            for start in range(0, len(keys), _CHUNK):
                for key, amperage_a in connection.execute(
                    sa.select(i.c.supply_point_key, m.c.contract_amperage_a)
                    .join_from(i, m, m.c.meter_id == i.c.meter_id)
                    .where(
                        i.c.valid_to.is_(None),
                        i.c.supply_point_key.in_(keys[start : start + _CHUNK]),
                    )
                ):
                    out[int(key)] = int(amperage_a)
        return out

    def supply_point_ids(self, keys: Sequence[int]) -> dict[int, str]:
        """Supply point IDs of the known keys among ``keys`` (unknown ones left out)."""
        p = t.supply_points
        out: dict[int, str] = {}
        wanted = list(dict.fromkeys(int(k) for k in keys))
        with self.database.read() as connection:
            for start in range(0, len(wanted), _CHUNK):
                for key, sp in connection.execute(
                    sa.select(p.c.supply_point_key, p.c.supply_point_id).where(
                        p.c.supply_point_key.in_(wanted[start : start + _CHUNK])
                    )
                ):
                    out[int(key)] = str(sp)
        return out

    def all_supply_point_ids(self) -> dict[int, str]:
        """Every supply point's ID by key."""
        p = t.supply_points
        schema = pa.schema([("supply_point_key", pa.int64()), ("supply_point_id", pa.string())])
        with self.database.read() as connection:
            table = select_table(
                connection, sa.select(p.c.supply_point_key, p.c.supply_point_id), schema
            )
        return dict(
            zip(
                table.column(0).to_pylist(),
                table.column(1).to_pylist(),
                strict=True,
            )
        )

    def supply_points_table(self) -> pa.Table:
        p = t.supply_points
        with self.database.read() as connection:
            return select_table(
                connection, sa.select(p.c.supply_point_key, p.c.area_code), SUPPLY_POINTS_SCHEMA
            )

    def meter_amperages_table(self) -> pa.Table:
        m = t.meters
        with self.database.read() as connection:
            return select_table(
                connection, sa.select(m.c.meter_id, m.c.contract_amperage_a), AMPERAGES_SCHEMA
            )

    def meters_table(self) -> pa.Table:
        """Meters installed now with their installation, by meter."""
        m, i, p = t.meters, t.meter_installations, t.supply_points
        statement = (
            sa.select(
                m.c.meter_id,
                m.c.comm_method,
                m.c.concentrator_id,
                m.c.contract_amperage_a,
                i.c.supply_point_key,
                p.c.area_code,
            )
            .join_from(m, i, i.c.meter_id == m.c.meter_id)
            .join(p, p.c.supply_point_key == i.c.supply_point_key)
            .where(i.c.valid_to.is_(None))
            .order_by(m.c.meter_id)
        )
        with self.database.read() as connection:
            return select_table(connection, statement, METERS_SCHEMA)

    def installations_table(self) -> pa.Table:
        i = t.meter_installations
        statement = sa.select(i.c.meter_id, i.c.supply_point_key, i.c.valid_from, i.c.valid_to)
        with self.database.read() as connection:
            return select_table(connection, statement, INSTALLATIONS_SCHEMA)
