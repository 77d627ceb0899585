"""Registry reads behind the operator dashboard: search, installed meters, expiry, areas.

Part of :class:`~openami.storage.repositories.registry.RegistryRepository`; the dashboard
asks the registry service. Certification expiry days are returned as ISO text.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from openami.storage.sql import tables as t
from openami.storage.sql.bulk import select_table
from openami.storage.sql.database import Database

EXPIRING_SCHEMA = pa.schema(
    [
        ("meter_id", pa.int64()),
        ("supply_point_id", pa.string()),
        ("area_code", pa.string()),
        ("maker", pa.string()),
        ("serial", pa.string()),
        ("comm_method", pa.string()),
        ("certification_expiry", pa.string()),
    ]
)
_INSTALLED_METER_FIELDS = (
    "meter_id",
    "maker",
    "serial",
    "contract_amperage_a",
    "comm_method",
    "concentrator_id",
    "certification_expiry",
    "installed_at",
)


def _installed() -> sa.ColumnElement[bool]:
    return t.meter_installations.c.valid_to.is_(None)


class RegistryDashboardReads:
    def __init__(self, database: Database) -> None:
        self.database = database

    def watermark(self) -> tuple[int, int, float]:
        """Changes whenever a meter is added or an installation opened or closed."""
        i = t.meter_installations
        meters = sa.select(sa.func.count()).select_from(t.meters).scalar_subquery()
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(meters, sa.func.count(), sa.func.coalesce(sa.func.max(i.c.valid_to), 0))
            ).one()
        return int(row[0]), int(row[1]), float(row[2])

    def search_supply_points(self, digits: str, limit: int = 20) -> list[str]:
        """Supply point IDs starting with ``digits`` (ASCII digits only), in order."""
        if not digits.isascii() or not digits.isdigit():
            return []
        p = t.supply_points.c.supply_point_id
        # IDs are digits: those starting with ``digits`` sort in [digits, digits + ":")
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(p).where(p >= digits, p < digits + ":").order_by(p).limit(int(limit))
            ).all()
        return [str(r[0]) for r in rows]

    def installed_meter(self, supply_point_key: int) -> dict[str, Any] | None:
        """The meter installed at a supply point now, with its registry data and
        ``installed_at`` [epoch s]."""
        m, i = t.meters, t.meter_installations
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(
                    m.c.meter_id,
                    m.c.maker,
                    m.c.serial,
                    m.c.contract_amperage_a,
                    m.c.comm_method,
                    m.c.concentrator_id,
                    m.c.certification_expiry,
                    i.c.valid_from,
                )
                .join_from(i, m, m.c.meter_id == i.c.meter_id)
                .where(i.c.supply_point_key == int(supply_point_key), _installed())
                .order_by(i.c.valid_from.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        found = dict(zip(_INSTALLED_METER_FIELDS, row, strict=True))
        found["certification_expiry"] = row.certification_expiry.isoformat()
        return found

    def installations_of(self, supply_point_key: int) -> list[dict[str, Any]]:
        """Every meter installed at a supply point, oldest first (meter_id, maker, serial,
        valid_from, valid_to [epoch s], valid_to None while installed)."""
        m, i = t.meters, t.meter_installations
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(i.c.meter_id, m.c.maker, m.c.serial, i.c.valid_from, i.c.valid_to)
                .join_from(i, m, m.c.meter_id == i.c.meter_id)
                .where(i.c.supply_point_key == int(supply_point_key))
                .order_by(i.c.valid_from, i.c.meter_id)
            ).all()
        names = ("meter_id", "maker", "serial", "valid_from", "valid_to")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def retailer_name(self, retailer_id: str) -> str | None:
        r = t.retailers
        with self.database.read() as connection:
            name = connection.execute(
                sa.select(r.c.name).where(r.c.retailer_id == retailer_id)
            ).scalar()
        return None if name is None else str(name)

    def installed_by_area(self) -> dict[str, int]:
        """Meters installed now per area code."""
        i, p = t.meter_installations, t.supply_points
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(p.c.area_code, sa.func.count())
                .join_from(i, p, p.c.supply_point_key == i.c.supply_point_key)
                .where(_installed())
                .group_by(p.c.area_code)
            ).all()
        return {str(a): int(n) for a, n in rows}

    def expiry_by_year(self) -> list[tuple[int, int]]:
        """Installed meters per calendar year of certification expiry, in order."""
        m, i = t.meters, t.meter_installations
        year = sa.extract("year", m.c.certification_expiry).label("year")
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(year, sa.func.count())
                .join_from(m, i, i.c.meter_id == m.c.meter_id)
                .where(_installed())
                .group_by(year)
                .order_by(year)
            ).all()
        return [(int(y), int(n)) for y, n in rows]

    def expiring_meters(
        self, until: date, offset: int = 0, limit: int = 50
    ) -> tuple[int, pa.Table]:
        """Installed meters whose certification expires on or before ``until``: the total
        and one page (soonest first) with supply point ID and area."""
        m, i, p = t.meters, t.meter_installations, t.supply_points
        joined = sa.join(m, i, i.c.meter_id == m.c.meter_id).join(
            p, p.c.supply_point_key == i.c.supply_point_key
        )
        due = (_installed(), m.c.certification_expiry <= until)
        page = (
            sa.select(
                m.c.meter_id,
                p.c.supply_point_id,
                p.c.area_code,
                m.c.maker,
                m.c.serial,
                m.c.comm_method,
                m.c.certification_expiry,
            )
            .select_from(joined)
            .where(*due)
            .order_by(m.c.certification_expiry, m.c.meter_id)
            .limit(int(limit))
            .offset(int(offset))
        )
        with self.database.read() as connection:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(joined).where(*due)
            ).scalar_one()
            table = select_table(connection, page, EXPIRING_SCHEMA)
        return int(total), table
