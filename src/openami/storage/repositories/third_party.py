"""Meters installed by parties other than the utility: the installation types with their
responsibility matrix and cost attribution (seeded by revision 0010_thirdparty), the
type-approval register of metering parts, each meter's type and owner (effective-dated) and
the register reads of sub-meters, which never reach the interval store.

The rules (which type needs an approval, who may submit what) are
:mod:`openami.registry.third_party`'s; this module keeps the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import sqlalchemy as sa

from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as
from openami.storage.sql.third_party_tables import (
    STAGES,
    cost_attributions,
    installation_types,
    lifecycle_responsibilities,
    sub_meter_readings,
    third_party_meters,
    type_approvals,
)

__all__ = [
    "STAGES",
    "ExpiryDue",
    "InstallationType",
    "MeterGap",
    "ThirdPartyDuties",
    "ThirdPartyMeter",
    "ThirdPartyStore",
    "TypeApproval",
]

SUB_METER_SCHEMA = pa.schema(
    [("read_at", pa.float64()), ("import_register_wh", pa.int64()), ("received_at", pa.float64())]
)


@dataclass(frozen=True)
class InstallationType:
    installation_type: str
    description: str
    readings_route: str  # aroute, operator_submission or none
    enters_settlement: bool


@dataclass(frozen=True)
class TypeApproval:
    approval_id: str
    maker: str
    model: str
    interface_version: str
    approved_on: date
    withdrawn_on: date | None = None

    def valid_on(self, day: date) -> bool:
        return self.approved_on <= day and (self.withdrawn_on is None or day < self.withdrawn_on)


@dataclass(frozen=True)
class ThirdPartyMeter:
    meter_id: int
    valid_from: date
    installation_type: str
    owner_party_id: str
    chooser_party_id: str | None = None
    approval_id: str | None = None
    chosen_model: str | None = None
    extra_cost_yen: int = 0
    valid_to: date | None = None
    supply_point_key: int | None = None  # where a sub-meter (i-2) sits


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


class ThirdPartyStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- the seeded matrix --------------------------------------------------------------
    def installation_types(self) -> dict[str, InstallationType]:
        it = installation_types
        with self.database.read() as connection:
            rows = connection.execute(sa.select(it)).all()
        return {r.installation_type: InstallationType(*r) for r in rows}

    def responsibilities(self) -> dict[str, dict[str, str]]:
        """Type → stage → ``utility`` or ``third_party``."""
        lr = lifecycle_responsibilities
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(lr.c.installation_type, lr.c.stage, lr.c.responsible)
            ).all()
        out: dict[str, dict[str, str]] = {}
        for kind, stage, who in rows:
            out.setdefault(kind, {})[stage] = who
        return out

    def cost_attributions(self) -> dict[str, dict[str, tuple[str, str]]]:
        """Type → cost item → (payer, source)."""
        ca = cost_attributions
        with self.database.read() as connection:
            rows = connection.execute(sa.select(ca)).all()
        out: dict[str, dict[str, tuple[str, str]]] = {}
        for kind, item, payer, source in rows:
            out.setdefault(kind, {})[item] = (payer, source)
        return out

    # -- type approvals -----------------------------------------------------------------
    def add_approval(self, approval: TypeApproval) -> None:
        with self.database.write() as connection, refusals_as(f"approval {approval.approval_id}"):
            connection.execute(
                type_approvals.insert().values(
                    approval_id=approval.approval_id,
                    maker=approval.maker,
                    model=approval.model,
                    interface_version=approval.interface_version,
                    approved_on=approval.approved_on.isoformat(),
                    withdrawn_on=None
                    if approval.withdrawn_on is None
                    else approval.withdrawn_on.isoformat(),
                )
            )

    def withdraw_approval(self, approval_id: str, on_day: date) -> bool:
        ta = type_approvals
        with self.database.write() as connection:
            done = connection.execute(
                ta.update()
                .where(ta.c.approval_id == approval_id, ta.c.withdrawn_on.is_(None))
                .values(withdrawn_on=on_day.isoformat())
            )
        return bool(done.rowcount)

    def approvals(self, maker: str | None = None, model: str | None = None) -> list[TypeApproval]:
        ta = type_approvals
        query = sa.select(ta).order_by(ta.c.approval_id)
        if maker is not None:
            query = query.where(ta.c.maker == maker)
        if model is not None:
            query = query.where(ta.c.model == model)
        with self.database.read() as connection:
            rows = connection.execute(query).all()
        return [
            TypeApproval(r[0], r[1], r[2], r[3], date.fromisoformat(r[4]), _day(r[5])) for r in rows
        ]

    # -- meters ---------------------------------------------------------------------------
    def assign(self, row: ThirdPartyMeter) -> None:
        """Record a meter's type from ``row.valid_from``, ending its open period then."""
        tp = third_party_meters
        start = row.valid_from.isoformat()
        with self.database.write() as connection, refusals_as(f"meter {row.meter_id}"):
            connection.execute(
                tp.update()
                .where(
                    tp.c.meter_id == row.meter_id,
                    tp.c.valid_to.is_(None),
                    tp.c.valid_from < start,
                )
                .values(valid_to=start)
            )
            connection.execute(
                tp.insert().values(
                    meter_id=row.meter_id,
                    valid_from=start,
                    valid_to=None if row.valid_to is None else row.valid_to.isoformat(),
                    installation_type=row.installation_type,
                    owner_party_id=row.owner_party_id,
                    chooser_party_id=row.chooser_party_id,
                    approval_id=row.approval_id,
                    chosen_model=row.chosen_model,
                    extra_cost_yen=row.extra_cost_yen,
                    supply_point_key=row.supply_point_key,
                )
            )

    def meters_on(
        self, day: date, installation_type: str | None = None, meter_id: int | None = None
    ) -> list[ThirdPartyMeter]:
        tp = third_party_meters
        d = day.isoformat()
        query = sa.select(tp).where(
            tp.c.valid_from <= d, sa.or_(tp.c.valid_to.is_(None), tp.c.valid_to > d)
        )
        if installation_type is not None:
            query = query.where(tp.c.installation_type == installation_type)
        if meter_id is not None:
            query = query.where(tp.c.meter_id == meter_id)
        with self.database.read() as connection:
            rows = connection.execute(query.order_by(tp.c.meter_id)).mappings().all()
        return [
            ThirdPartyMeter(
                meter_id=int(r["meter_id"]),
                valid_from=date.fromisoformat(r["valid_from"]),
                valid_to=_day(r["valid_to"]),
                installation_type=r["installation_type"],
                owner_party_id=r["owner_party_id"],
                chooser_party_id=r["chooser_party_id"],
                approval_id=r["approval_id"],
                chosen_model=r["chosen_model"],
                extra_cost_yen=int(r["extra_cost_yen"]),
                supply_point_key=None
                if r["supply_point_key"] is None
                else int(r["supply_point_key"]),
            )
            for r in rows
        ]

    def counts_on(self, day: date) -> dict[str, int]:
        """Meters per installation type in force on ``day``."""
        tp = third_party_meters
        d = day.isoformat()
        query = (
            sa.select(tp.c.installation_type, sa.func.count())
            .where(tp.c.valid_from <= d, sa.or_(tp.c.valid_to.is_(None), tp.c.valid_to > d))
            .group_by(tp.c.installation_type)
        )
        with self.database.read() as connection:
            return {str(k): int(n) for k, n in connection.execute(query).all()}

    def meters_outside_settlement(self, day: date) -> list[int]:
        """Meters whose type does not enter billing and settlement on ``day`` (sub-meters)."""
        tp, it = third_party_meters, installation_types
        d = day.isoformat()
        query = (
            sa.select(tp.c.meter_id)
            .join(it, it.c.installation_type == tp.c.installation_type)
            .where(
                it.c.enters_settlement.is_(False),
                tp.c.valid_from <= d,
                sa.or_(tp.c.valid_to.is_(None), tp.c.valid_to > d),
            )
            .order_by(tp.c.meter_id)
        )
        with self.database.read() as connection:
            return [int(v) for v in connection.execute(query).scalars()]

    # -- sub-meter reads --------------------------------------------------------------------
    def add_sub_meter_reads(
        self,
        meter_id: int,
        read_at_s: npt.NDArray[np.float64],
        import_register_wh: npt.NDArray[np.int64],
        received_at_s: float,
    ) -> int:
        """Store a sub-meter's register reads (few per day; a repeated instant is refused)."""
        rows: Sequence[dict[str, object]] = [
            {
                "meter_id": meter_id,
                "read_at": float(t),
                "import_register_wh": int(v),
                "received_at": received_at_s,
            }
            for t, v in zip(read_at_s.tolist(), import_register_wh.tolist(), strict=True)
        ]
        if not rows:
            return 0
        with self.database.write() as connection, refusals_as(f"sub-meter {meter_id} reads"):
            connection.execute(sub_meter_readings.insert(), rows)
        return len(rows)

    def sub_meter_reads(self, meter_id: int, from_s: float, to_s: float) -> pa.Table:
        sm = sub_meter_readings
        query = (
            sa.select(sm.c.read_at, sm.c.import_register_wh, sm.c.received_at)
            .where(sm.c.meter_id == meter_id, sm.c.read_at >= from_s, sm.c.read_at < to_s)
            .order_by(sm.c.read_at)
        )
        with self.database.read() as connection:
            rows = connection.execute(query).all()
        return pa.table(
            {
                f.name: pa.array([r[i] for r in rows], type=f.type)
                for i, f in enumerate(SUB_METER_SCHEMA)
            },
            schema=SUB_METER_SCHEMA,
        )


@dataclass(frozen=True)
class ExpiryDue:
    meter_id: int
    installation_type: str
    owner_party_id: str
    certification_expiry: date


@dataclass(frozen=True)
class MeterGap:
    """A type (i) meter removed from a supply point with no meter installed after it."""

    meter_id: int
    owner_party_id: str
    supply_point_key: int
    removed_at: float  # Unix s


def _active_on(d: str) -> sa.ColumnElement[bool]:
    tp = third_party_meters
    return sa.and_(tp.c.valid_from <= d, sa.or_(tp.c.valid_to.is_(None), tp.c.valid_to > d))


class ThirdPartyDuties:
    """Reads behind the checks of the operators' duties (expiry, continuity)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def expiring(self, day: date, until: date) -> list[ExpiryDue]:
        """Operator-run meters (types i and i-2) in force on ``day`` whose certification
        expires on or before ``until``; a type (i) meter only while installed."""
        tp, m, i = third_party_meters, t.meters, t.meter_installations
        installed = sa.exists().where(i.c.meter_id == tp.c.meter_id, i.c.valid_to.is_(None))
        query = (
            sa.select(
                tp.c.meter_id, tp.c.installation_type, tp.c.owner_party_id, m.c.certification_expiry
            )
            .join(m, m.c.meter_id == tp.c.meter_id)
            .where(
                _active_on(day.isoformat()),
                m.c.certification_expiry <= until,
                sa.or_(
                    tp.c.installation_type == "i-2",
                    sa.and_(tp.c.installation_type == "i", installed),
                ),
            )
            .order_by(m.c.certification_expiry, tp.c.meter_id)
        )
        with self.database.read() as connection:
            rows = connection.execute(query).all()
        return [ExpiryDue(int(a), str(b), str(c), d) for a, b, c, d in rows]

    def gaps(self, from_s: float, to_s: float) -> list[MeterGap]:
        """Type (i) meters removed in ``[from_s, to_s)`` with no meter installed at the same
        supply point from that instant on."""
        tp, i = third_party_meters, t.meter_installations
        after = i.alias("after")
        successor = sa.exists().where(
            after.c.supply_point_key == i.c.supply_point_key,
            after.c.valid_from <= i.c.valid_to,
            sa.or_(after.c.valid_to.is_(None), after.c.valid_to > i.c.valid_to),
            after.c.meter_id != i.c.meter_id,
        )
        query = (
            sa.select(i.c.meter_id, tp.c.owner_party_id, i.c.supply_point_key, i.c.valid_to)
            .join(tp, tp.c.meter_id == i.c.meter_id)
            .where(
                tp.c.installation_type == "i",
                i.c.valid_to >= from_s,
                i.c.valid_to < to_s,
                ~successor,
            )
            .distinct()
            .order_by(i.c.valid_to, i.c.meter_id)
        )
        with self.database.read() as connection:
            rows = connection.execute(query).all()
        return [MeterGap(int(a), str(b), int(c), float(d)) for a, b, c, d in rows]
