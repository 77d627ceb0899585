"""Effective-dated contract demand [kW] (契約電力) of high-voltage supply points.

One row per (supply point, first JST day); a value holds until the next row's day. Set by
a ``contract_change`` request when it takes effect; see
:mod:`openami.storage.sql.retail_tables`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from openami.storage.sql.database import Database
from openami.storage.sql.errors import InvalidValue
from openami.storage.sql.retail_tables import contract_demand_kw as _c
from openami.storage.sql.upsert import insert_or_update


@dataclass(frozen=True)
class ContractDemand:
    supply_point_key: int
    effective_date: str  # ISO JST day
    contract_kw: float
    request_id: str
    recorded_at: float


class ContractDemandStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def set(
        self, supply_point_key: int, day: date, contract_kw: float, request_id: str, at_s: float
    ) -> None:
        """The contract kW from ``day`` on (a second value for the same day replaces it)."""
        if not math.isfinite(contract_kw) or contract_kw <= 0:
            raise InvalidValue(f"contract kW must be positive, not {contract_kw}")
        values = {
            "supply_point_key": supply_point_key,
            "effective_date": day.isoformat(),
            "contract_kw": float(contract_kw),
            "request_id": request_id,
            "recorded_at": at_s,
        }
        with self.database.write() as connection:
            insert_or_update(connection, _c, values, ("supply_point_key", "effective_date"))

    def on(self, supply_point_key: int, day: date) -> float | None:
        """The contract kW in force on ``day`` (None: never set)."""
        with self.database.read() as connection:
            value = connection.execute(
                sa.select(_c.c.contract_kw)
                .where(
                    _c.c.supply_point_key == supply_point_key,
                    _c.c.effective_date <= day.isoformat(),
                )
                .order_by(_c.c.effective_date.desc())
                .limit(1)
            ).scalar()
        return None if value is None else float(value)

    def history(self, supply_point_key: int) -> list[ContractDemand]:
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(_c.c.supply_point_key, _c.c.effective_date, _c.c.contract_kw)
                .add_columns(_c.c.request_id, _c.c.recorded_at)
                .where(_c.c.supply_point_key == supply_point_key)
                .order_by(_c.c.effective_date)
            ).all()
        return [
            ContractDemand(int(k), str(d), float(v), str(r), float(a)) for k, d, v, r, a in rows
        ]
