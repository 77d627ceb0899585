"""Meter assets: the model catalogue, procurement lots, meters with their lifecycle history
and certification records (tables of :mod:`openami.storage.sql.asset_tables`).

The rules (which lifecycle steps are allowed, how long a certification is valid) are the
registry's (:mod:`openami.registry.lifecycle`, :mod:`openami.registry.certification`);
this module keeps rows. A lifecycle step is appended with the sequence number the caller
saw as the newest plus one, so two concurrent steps of one meter cannot both succeed (the
second raises :class:`AlreadyExists`). Recording a certification also writes its expiry
into the registry's ``meters`` row of that meter, if there is one, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from openami.storage.sql import asset_tables as at
from openami.storage.sql import tables as t
from openami.storage.sql.bulk import select_table
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as

EXPIRY_SCHEMA = pa.schema([("meter_id", pa.int64()), ("certification_expiry", pa.date32())])


@dataclass(frozen=True)
class MeterModel:
    model_id: str
    maker: str
    model: str
    rated_current_a: int
    phase_wires: str  # e.g. "1P2W", "1P3W", "3P3W"
    comm_unit_options: tuple[str, ...]  # e.g. ("mesh", "cellular", "plc")
    utility_spec: str
    meter_kind: str  # a key of openami.registry.certification.VALIDITY_RULES


@dataclass(frozen=True)
class ProcurementLot:
    lot_id: str
    model_id: str
    supplier: str
    ordered_on: date
    quantity: int


@dataclass(frozen=True)
class StateRow:
    seq: int
    state: str
    effective_from: date
    reason: str
    recorded_by: str
    recorded_at: float


@dataclass(frozen=True)
class Certification:
    certificate_no: str
    meter_id: int
    certified_on: date
    validity_years: int
    rule_source: str
    expires_on: date


@dataclass(frozen=True)
class AssetMeter:
    meter_id: int
    model_id: str
    lot_id: str | None
    serial: str
    state: str
    state_since: date
    expires_on: date | None


def _model(row: Any) -> MeterModel:
    return MeterModel(
        row.model_id,
        row.maker,
        row.model,
        int(row.rated_current_a),
        row.phase_wires,
        tuple(o for o in row.comm_unit_options.split(",") if o),
        row.utility_spec,
        row.meter_kind,
    )


def _newest_state() -> sa.Subquery:
    s = at.asset_states
    return (
        sa.select(s.c.meter_id, sa.func.max(s.c.seq).label("seq")).group_by(s.c.meter_id).subquery()
    )


def _newest_expiry() -> sa.Subquery:
    c = at.certifications
    return (
        sa.select(c.c.meter_id, sa.func.max(c.c.expires_on).label("expires_on"))
        .group_by(c.c.meter_id)
        .subquery()
    )


class AssetStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- catalogue and lots ----------------------------------------------------------------
    def add_model(self, m: MeterModel) -> None:
        with self.database.write() as connection, refusals_as(f"meter model {m.model_id}"):
            connection.execute(
                at.meter_models.insert().values(
                    model_id=m.model_id,
                    maker=m.maker,
                    model=m.model,
                    rated_current_a=m.rated_current_a,
                    phase_wires=m.phase_wires,
                    comm_unit_options=",".join(m.comm_unit_options),
                    utility_spec=m.utility_spec,
                    meter_kind=m.meter_kind,
                )
            )

    def models(self) -> list[MeterModel]:
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(at.meter_models).order_by(at.meter_models.c.model_id)
            ).all()
        return [_model(r) for r in rows]

    def model(self, model_id: str) -> MeterModel | None:
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(at.meter_models).where(at.meter_models.c.model_id == model_id)
            ).first()
        return None if row is None else _model(row)

    def add_lot(self, lot: ProcurementLot) -> None:
        with self.database.write() as connection, refusals_as(f"procurement lot {lot.lot_id}"):
            connection.execute(
                at.procurement_lots.insert().values(
                    lot_id=lot.lot_id,
                    model_id=lot.model_id,
                    supplier=lot.supplier,
                    ordered_on=lot.ordered_on.isoformat(),
                    quantity=lot.quantity,
                )
            )

    def lots(self) -> list[ProcurementLot]:
        p = at.procurement_lots
        with self.database.read() as connection:
            rows = connection.execute(sa.select(p).order_by(p.c.lot_id)).all()
        return [
            ProcurementLot(
                r.lot_id, r.model_id, r.supplier, date.fromisoformat(r.ordered_on), r.quantity
            )
            for r in rows
        ]

    # -- meters and their states -----------------------------------------------------------
    def add_meters(
        self,
        rows: list[tuple[int, str, str | None, str]],
        state: str,
        day: date,
        by: str,
        now_s: float,
    ) -> None:
        """Meters (meter_id, model_id, lot_id, serial), each with a first state row."""
        with self.database.write() as connection, refusals_as("adding meters"):
            connection.execute(
                at.asset_meters.insert(),
                [
                    {"meter_id": m, "model_id": k, "lot_id": lot, "serial": s}
                    for m, k, lot, s in rows
                ],
            )
            connection.execute(
                at.asset_states.insert(),
                [
                    {
                        "meter_id": m,
                        "seq": 1,
                        "state": state,
                        "effective_from": day.isoformat(),
                        "reason": "delivered",
                        "recorded_by": by,
                        "recorded_at": now_s,
                    }
                    for m, _, _, _ in rows
                ],
            )

    def append_state(
        self, meter_id: int, seq: int, state: str, day: date, reason: str, by: str, now_s: float
    ) -> None:
        """Append the state row number ``seq`` (the newest seen plus one)."""
        with self.database.write() as connection, refusals_as(f"meter {meter_id} state"):
            connection.execute(
                at.asset_states.insert().values(
                    meter_id=meter_id,
                    seq=seq,
                    state=state,
                    effective_from=day.isoformat(),
                    reason=reason,
                    recorded_by=by,
                    recorded_at=now_s,
                )
            )

    def history(self, meter_id: int) -> list[StateRow]:
        s = at.asset_states
        query = sa.select(
            s.c.seq, s.c.state, s.c.effective_from, s.c.reason, s.c.recorded_by, s.c.recorded_at
        ).where(s.c.meter_id == meter_id)
        with self.database.read() as connection:
            rows = connection.execute(query.order_by(s.c.seq)).all()
        return [
            StateRow(int(q), st, date.fromisoformat(d), why, by, float(at_s))
            for q, st, d, why, by, at_s in rows
        ]

    def meters(
        self, state: str | None = None, meter_ids: list[int] | None = None, limit: int = 1000
    ) -> list[AssetMeter]:
        """Meters with their current state and certification expiry, by meter ID."""
        m, s = at.asset_meters, at.asset_states
        newest, expiry = _newest_state(), _newest_expiry()
        query = (
            sa.select(
                m.c.meter_id,
                m.c.model_id,
                m.c.lot_id,
                m.c.serial,
                s.c.state,
                s.c.effective_from,
                expiry.c.expires_on,
            )
            .join(newest, newest.c.meter_id == m.c.meter_id)
            .join(s, sa.and_(s.c.meter_id == m.c.meter_id, s.c.seq == newest.c.seq))
            .outerjoin(expiry, expiry.c.meter_id == m.c.meter_id)
        )
        if state is not None:
            query = query.where(s.c.state == state)
        if meter_ids is not None:
            query = query.where(m.c.meter_id.in_(meter_ids))
        with self.database.read() as connection:
            rows = connection.execute(query.order_by(m.c.meter_id).limit(limit)).all()
        return [
            AssetMeter(
                int(r.meter_id),
                r.model_id,
                r.lot_id,
                r.serial,
                r.state,
                date.fromisoformat(r.effective_from),
                None if r.expires_on is None else date.fromisoformat(r.expires_on),
            )
            for r in rows
        ]

    # -- certification ---------------------------------------------------------------------
    def add_certification(self, c: Certification, now_s: float) -> None:
        """Store the record and write its expiry into the registry's meter row (if any)."""
        with self.database.write() as connection, refusals_as(f"certificate {c.certificate_no}"):
            connection.execute(
                at.certifications.insert().values(
                    certificate_no=c.certificate_no,
                    meter_id=c.meter_id,
                    certified_on=c.certified_on.isoformat(),
                    validity_years=c.validity_years,
                    rule_source=c.rule_source,
                    expires_on=c.expires_on.isoformat(),
                    recorded_at=now_s,
                )
            )
            newest = connection.execute(
                sa.select(sa.func.max(at.certifications.c.expires_on)).where(
                    at.certifications.c.meter_id == c.meter_id
                )
            ).scalar_one()
            connection.execute(
                t.meters.update()
                .where(t.meters.c.meter_id == c.meter_id)
                .values(certification_expiry=date.fromisoformat(newest))
            )

    def certifications(self, meter_id: int) -> list[Certification]:
        c = at.certifications
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(c).where(c.c.meter_id == meter_id).order_by(c.c.certified_on)
            ).all()
        return [
            Certification(
                r.certificate_no,
                int(r.meter_id),
                date.fromisoformat(r.certified_on),
                int(r.validity_years),
                r.rule_source,
                date.fromisoformat(r.expires_on),
            )
            for r in rows
        ]

    def expiries(self, meter_ids: list[int]) -> dict[int, date]:
        """The newest certification expiry of each of ``meter_ids`` that has one."""
        expiry = _newest_expiry()
        query = sa.select(expiry.c.meter_id, expiry.c.expires_on).where(
            expiry.c.meter_id.in_(meter_ids)
        )
        with self.database.read() as connection:
            rows = connection.execute(query).all()
        return {int(m): date.fromisoformat(d) for m, d in rows}

    # -- forecast --------------------------------------------------------------------------
    def expiry_months_by_area(self) -> list[tuple[str, int, int, int]]:
        """(area code, expiry year, expiry month, installed meters) of the meters installed
        now, from the registry's ``certification_expiry`` (kept by :meth:`add_certification`)."""
        m, i, p = t.meters, t.meter_installations, t.supply_points
        year = sa.extract("year", m.c.certification_expiry).label("year")
        month = sa.extract("month", m.c.certification_expiry).label("month")
        query = (
            sa.select(p.c.area_code, year, month, sa.func.count())
            .select_from(
                sa.join(m, i, i.c.meter_id == m.c.meter_id).join(
                    p, p.c.supply_point_key == i.c.supply_point_key
                )
            )
            .where(i.c.valid_to.is_(None))
            .group_by(p.c.area_code, year, month)
        )
        with self.database.read() as connection:
            rows = connection.execute(query).all()
        return [(str(a), int(y), int(mo), int(n)) for a, y, mo, n in rows]

    def in_registry(self, meter_id: int) -> bool:
        """Whether the registry's ``meters`` has a row of this meter."""
        with self.database.read() as connection:
            found = connection.execute(
                sa.select(t.meters.c.meter_id).where(t.meters.c.meter_id == meter_id)
            ).first()
        return found is not None

    def expiry_table(self) -> pa.Table:
        """(meter_id, certification_expiry) of every registry meter, as Arrow columns."""
        m = t.meters
        with self.database.read() as connection:
            return select_table(
                connection, sa.select(m.c.meter_id, m.c.certification_expiry), EXPIRY_SCHEMA
            )
