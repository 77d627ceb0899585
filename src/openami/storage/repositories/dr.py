"""Demand response: enrolled VENs, events and their participants, load reports.

Each method is one transaction on SQLite or PostgreSQL. The VTN (``openami dr serve``) keeps
nothing of its own across a restart: VEN registrations, events, opt-in/opt-out and reports
live here (openleadr keeps them in memory only).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openami.storage.sql.database import Database
from openami.storage.sql.dr_tables import (
    EVENT_SIGNALS,
    OPTS,
    dr_events,
    dr_participants,
    dr_reports,
    dr_vens,
)
from openami.storage.sql.errors import InvalidValue, MissingReference, refusals_as
from openami.storage.sql.upsert import insert_statement

_v, _e, _p, _r = dr_vens, dr_events, dr_participants, dr_reports
MAX_REPORT_ROWS = 10_000  # one call stores at most this many load samples


@dataclass(frozen=True)
class DrVen:
    ven_name: str
    ven_id: str
    aggregator_id: str
    supply_point_id: str
    cert_fingerprint: str
    registration_id: str | None
    registered_at: float | None
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class DrEvent:
    event_id: str
    aggregator_id: str
    signal: str  # level (0–3), target_w, price (JPY/kWh)
    value: float
    start_s: float
    duration_s: float
    status: str
    created_at: float
    created_by: str

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class DrParticipant:
    event_id: str
    ven_name: str
    ven_id: str
    supply_point_id: str
    opt: str  # none, optIn, optOut
    opt_at: float | None


def _ven(r: Any) -> DrVen:
    return DrVen(
        r.ven_name,
        r.ven_id,
        r.aggregator_id,
        r.supply_point_id,
        r.cert_fingerprint,
        r.registration_id,
        None if r.registered_at is None else float(r.registered_at),
        None if r.revoked_at is None else float(r.revoked_at),
    )


def _event(r: Any) -> DrEvent:
    return DrEvent(
        r.event_id,
        r.aggregator_id,
        r.signal,
        float(r.value),
        float(r.start_s),
        float(r.duration_s),
        r.status,
        float(r.created_at),
        r.created_by,
    )


class DrStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- VENs -------------------------------------------------------------------------------
    def enrol(
        self,
        ven_name: str,
        aggregator_id: str,
        supply_point_id: str,
        cert_fingerprint: str,
        now_s: float,
    ) -> DrVen:
        """A VEN that may register with the certificate of this fingerprint."""
        ven_id = "ven-" + secrets.token_hex(8)
        with self.database.write() as connection, refusals_as(f"enrolling VEN {ven_name}"):
            connection.execute(
                _v.insert().values(
                    ven_name=ven_name,
                    ven_id=ven_id,
                    aggregator_id=aggregator_id,
                    supply_point_id=supply_point_id,
                    cert_fingerprint=cert_fingerprint,
                    created_at=now_s,
                )
            )
            return _ven(connection.execute(sa.select(_v).where(_v.c.ven_name == ven_name)).one())

    def ven(self, ven_name: str) -> DrVen | None:
        with self.database.read() as connection:
            row = connection.execute(sa.select(_v).where(_v.c.ven_name == ven_name)).first()
        return None if row is None else _ven(row)

    def ven_by_id(self, ven_id: str) -> DrVen | None:
        with self.database.read() as connection:
            row = connection.execute(sa.select(_v).where(_v.c.ven_id == ven_id)).first()
        return None if row is None else _ven(row)

    def vens_of(self, aggregator_id: str) -> list[DrVen]:
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(_v).where(_v.c.aggregator_id == aggregator_id).order_by(_v.c.ven_name)
            )
            return [_ven(r) for r in rows]

    def registered(self, ven_name: str, registration_id: str, now_s: float) -> None:
        with self.database.write() as connection:
            connection.execute(
                _v.update()
                .where(_v.c.ven_name == ven_name)
                .values(registration_id=registration_id, registered_at=now_s)
            )

    def revoke(self, ven_name: str, now_s: float) -> bool:
        with self.database.write() as connection:
            done = connection.execute(
                _v.update()
                .where(_v.c.ven_name == ven_name, _v.c.revoked_at.is_(None))
                .values(revoked_at=now_s, registration_id=None)
            ).rowcount
        return bool(done)

    # -- events -----------------------------------------------------------------------------
    def create_event(
        self, event: DrEvent, ven_names: Sequence[str] | None = None
    ) -> list[DrParticipant]:
        """Store a ``pending`` event for the named VENs of its aggregator (all its active
        VENs when none are named); a VEN of another aggregator is refused."""
        if event.signal not in EVENT_SIGNALS:
            raise InvalidValue(f"signal must be one of {EVENT_SIGNALS}")
        with self.database.write() as connection, refusals_as(f"event {event.event_id}"):
            query = sa.select(_v).where(
                _v.c.aggregator_id == event.aggregator_id, _v.c.revoked_at.is_(None)
            )
            if ven_names is not None:
                query = query.where(_v.c.ven_name.in_(list(ven_names)))
            vens = [_ven(r) for r in connection.execute(query)]
            unknown = set(ven_names or ()) - {v.ven_name for v in vens}
            if unknown:
                raise MissingReference(f"no active VEN of {event.aggregator_id}: {sorted(unknown)}")
            if not vens:
                raise MissingReference(f"{event.aggregator_id} has no active VEN")
            connection.execute(_e.insert().values(**event.__dict__))
            connection.execute(
                _p.insert(),
                [
                    {
                        "event_id": event.event_id,
                        "ven_name": v.ven_name,
                        "supply_point_id": v.supply_point_id,
                        "opt": "none",
                    }
                    for v in vens
                ],
            )
        return self.participants(event.event_id)

    def event(self, event_id: str) -> DrEvent | None:
        with self.database.read() as connection:
            row = connection.execute(sa.select(_e).where(_e.c.event_id == event_id)).first()
        return None if row is None else _event(row)

    def events(self, status: str | None = None, limit: int = 200) -> list[DrEvent]:
        query = sa.select(_e).order_by(_e.c.start_s.desc()).limit(limit)
        if status is not None:
            query = query.where(_e.c.status == status)
        with self.database.read() as connection:
            return [_event(r) for r in connection.execute(query)]

    def set_status(self, event_id: str, status: str) -> None:
        with self.database.write() as connection, refusals_as(f"event {event_id}"):
            connection.execute(_e.update().where(_e.c.event_id == event_id).values(status=status))

    def cancel_event(self, event_id: str, aggregator_id: str) -> bool:
        """Cancel a pending or distributed event of this aggregator; False if there is none."""
        with self.database.write() as connection:
            done = connection.execute(
                _e.update()
                .where(
                    _e.c.event_id == event_id,
                    _e.c.aggregator_id == aggregator_id,
                    _e.c.status.in_(("pending", "distributed")),
                )
                .values(status="cancelled")
            ).rowcount
        return bool(done)

    def participants(self, event_id: str) -> list[DrParticipant]:
        query = (
            sa.select(_p, _v.c.ven_id)
            .join(_v, _v.c.ven_name == _p.c.ven_name)
            .where(_p.c.event_id == event_id)
            .order_by(_p.c.ven_name)
        )
        with self.database.read() as connection:
            return [
                DrParticipant(
                    r.event_id,
                    r.ven_name,
                    r.ven_id,
                    r.supply_point_id,
                    r.opt,
                    None if r.opt_at is None else float(r.opt_at),
                )
                for r in connection.execute(query)
            ]

    def record_opt(self, event_id: str, ven_id: str, opt: str, now_s: float) -> bool:
        """The VEN's opt-in or opt-out of the event; False if it is not a participant."""
        if opt not in OPTS:
            raise InvalidValue(f"opt must be one of {OPTS}")
        with self.database.write() as connection:
            names = sa.select(_v.c.ven_name).where(_v.c.ven_id == ven_id).scalar_subquery()
            done = connection.execute(
                _p.update()
                .where(_p.c.event_id == event_id, _p.c.ven_name == names)
                .values(opt=opt, opt_at=now_s)
            ).rowcount
        return bool(done)

    def events_of_point(self, supply_point_id: str, limit: int = 100) -> list[DrEvent]:
        """The events a supply point took part in (newest first): e.g. for its customer."""
        query = (
            sa.select(_e)
            .join(_p, _p.c.event_id == _e.c.event_id)
            .where(_p.c.supply_point_id == supply_point_id)
            .order_by(_e.c.start_s.desc())
            .limit(limit)
        )
        with self.database.read() as connection:
            return [_event(r) for r in connection.execute(query)]

    def event_spans_of_points(
        self, supply_point_ids: Sequence[str], first_s: float, last_s: float
    ) -> list[tuple[str, float, float]]:
        """(supply point, start, end) of every event that was not cancelled and included the
        points between ``first_s`` and ``last_s`` (the DR days a baseline skips)."""
        query = (
            sa.select(_p.c.supply_point_id, _e.c.start_s, _e.c.duration_s)
            .join(_e, _e.c.event_id == _p.c.event_id)
            .where(
                _p.c.supply_point_id.in_(list(supply_point_ids)),
                _e.c.status != "cancelled",
                _e.c.start_s < last_s,
                _e.c.start_s + _e.c.duration_s > first_s,
            )
        )
        with self.database.read() as connection:
            return [
                (r.supply_point_id, float(r.start_s), float(r.start_s + r.duration_s))
                for r in connection.execute(query)
            ]

    # -- reports ----------------------------------------------------------------------------
    def add_reports(
        self, ven_name: str, samples: Sequence[tuple[float, float]], now_s: float
    ) -> None:
        """Store (instant, power W) samples of the VEN's home; a repeated instant is kept
        once (the first)."""
        if len(samples) > MAX_REPORT_ROWS:
            raise InvalidValue(f"at most {MAX_REPORT_ROWS} samples per report")
        if not samples:
            return
        rows = [
            {"ven_name": ven_name, "measured_at": t, "power_w": w, "received_at": now_s}
            for t, w in samples
        ]
        with self.database.write() as connection, refusals_as(f"reports of {ven_name}"):
            connection.execute(insert_statement(connection, _r).on_conflict_do_nothing(), rows)

    def reports(self, ven_name: str, since_s: float = 0.0) -> list[tuple[float, float]]:
        query = (
            sa.select(_r.c.measured_at, _r.c.power_w)
            .where(_r.c.ven_name == ven_name, _r.c.measured_at >= since_s)
            .order_by(_r.c.measured_at)
        )
        with self.database.read() as connection:
            return [(float(r.measured_at), float(r.power_w)) for r in connection.execute(query)]
