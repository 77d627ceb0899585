"""Work orders with their step history, and fault tickets (tables of
:mod:`openami.storage.sql.asset_tables`).

Which steps are allowed is the hub's rule (:mod:`openami.hub.work_orders`); this module
keeps rows. A step is written only if the order is still in the state the caller saw
(compare-and-set), so two concurrent steps cannot both succeed: the loser gets
:class:`Conflict`. A fault ticket's ``open_key`` is unique while it is open, so opening a
second open ticket for the same meter and cause returns the first one instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openami.storage.sql import asset_tables as at
from openami.storage.sql.database import Database
from openami.storage.sql.errors import AlreadyExists, Conflict, refusals_as

_wo, _ev, _ft = at.work_orders, at.work_order_events, at.fault_tickets


@dataclass(frozen=True)
class WorkOrderRow:
    work_order_id: int
    kind: str
    state: str
    supply_point_id: str
    old_meter_id: int | None
    new_meter_id: int | None
    requested_at: float
    target_days: int
    assigned_to: str | None
    completed_at: float | None
    old_final_import_wh: int | None
    new_initial_import_wh: int | None
    fault_ticket_id: int | None
    note: str


@dataclass(frozen=True)
class StepRow:
    state: str
    at: float
    actor: str


@dataclass(frozen=True)
class FaultTicket:
    ticket_id: int
    meter_id: int
    cause: str
    source: str
    opened_at: float
    closed_at: float | None
    work_order_id: int | None


def _order(r: Any) -> WorkOrderRow:
    def opt(v: Any) -> int | None:
        return None if v is None else int(v)

    return WorkOrderRow(
        int(r.work_order_id),
        r.kind,
        r.state,
        r.supply_point_id,
        opt(r.old_meter_id),
        opt(r.new_meter_id),
        float(r.requested_at),
        int(r.target_days),
        r.assigned_to,
        None if r.completed_at is None else float(r.completed_at),
        opt(r.old_final_import_wh),
        opt(r.new_initial_import_wh),
        opt(r.fault_ticket_id),
        r.note,
    )


def _ticket(r: Any) -> FaultTicket:
    return FaultTicket(
        int(r.ticket_id),
        int(r.meter_id),
        r.cause,
        r.source,
        float(r.opened_at),
        None if r.closed_at is None else float(r.closed_at),
        None if r.work_order_id is None else int(r.work_order_id),
    )


class WorkOrderStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, values: dict[str, Any], actor: str) -> WorkOrderRow:
        """A new order (columns of ``work_orders`` but the ID) with its first step."""
        with self.database.write() as connection, refusals_as("adding a work order"):
            new_id = connection.execute(
                _wo.insert().values(**values).returning(_wo.c.work_order_id)
            ).scalar_one()
            connection.execute(
                _ev.insert().values(
                    work_order_id=new_id,
                    seq=1,
                    state=values["state"],
                    at=values["requested_at"],
                    actor=actor,
                )
            )
            if values.get("fault_ticket_id") is not None:
                connection.execute(
                    _ft.update()
                    .where(_ft.c.ticket_id == values["fault_ticket_id"])
                    .values(work_order_id=new_id)
                )
            row = connection.execute(sa.select(_wo).where(_wo.c.work_order_id == new_id)).one()
        return _order(row)

    def step(
        self, work_order_id: int, seen_state: str, changes: dict[str, Any], at_s: float, actor: str
    ) -> WorkOrderRow:
        """Move the order from ``seen_state`` (else :class:`Conflict`) with ``changes``
        (including the new ``state``), and record the step."""
        with self.database.write() as connection, refusals_as(f"work order {work_order_id}"):
            done = connection.execute(
                _wo.update()
                .where(_wo.c.work_order_id == work_order_id, _wo.c.state == seen_state)
                .values(**changes)
            ).rowcount
            if done != 1:
                raise Conflict(f"work order {work_order_id} is no longer {seen_state}")
            seq = connection.execute(
                sa.select(sa.func.count()).where(_ev.c.work_order_id == work_order_id)
            ).scalar_one()
            connection.execute(
                _ev.insert().values(
                    work_order_id=work_order_id,
                    seq=int(seq) + 1,
                    state=changes["state"],
                    at=at_s,
                    actor=actor,
                )
            )
            row = connection.execute(
                sa.select(_wo).where(_wo.c.work_order_id == work_order_id)
            ).one()
        return _order(row)

    def get(self, work_order_id: int) -> WorkOrderRow | None:
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(_wo).where(_wo.c.work_order_id == work_order_id)
            ).first()
        return None if row is None else _order(row)

    def steps(self, work_order_id: int) -> list[StepRow]:
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(_ev.c.state, _ev.c.at, _ev.c.actor)
                .where(_ev.c.work_order_id == work_order_id)
                .order_by(_ev.c.seq)
            ).all()
        return [StepRow(s, float(a), who) for s, a, who in rows]

    def listing(
        self, states: tuple[str, ...] | None = None, limit: int = 200
    ) -> list[WorkOrderRow]:
        query = sa.select(_wo)
        if states is not None:
            query = query.where(_wo.c.state.in_(states))
        with self.database.read() as connection:
            rows = connection.execute(query.order_by(_wo.c.work_order_id).limit(limit)).all()
        return [_order(r) for r in rows]

    def count(self, states: tuple[str, ...]) -> int:
        query = sa.select(sa.func.count()).select_from(_wo).where(_wo.c.state.in_(states))
        with self.database.read() as connection:
            return int(connection.execute(query).scalar_one())

    def lead_time_sums(
        self, open_states: tuple[str, ...]
    ) -> dict[str, tuple[int, int, float, int]]:
        """Per kind: (open orders, completed orders, Σ lead time [s], completed within
        ``target_days``), aggregated in the database."""
        lead_s = _wo.c.completed_at - _wo.c.requested_at
        done = _wo.c.state == "completed"
        query = sa.select(
            _wo.c.kind,
            sa.func.count().filter(_wo.c.state.in_(open_states)),
            sa.func.count().filter(done),
            sa.func.coalesce(sa.func.sum(lead_s).filter(done), 0.0),
            sa.func.count().filter(done, lead_s <= _wo.c.target_days * 86400.0),
        ).group_by(_wo.c.kind)
        with self.database.read() as connection:
            rows = connection.execute(query).all()
        return {k: (int(o), int(c), float(s), int(w)) for k, o, c, s, w in rows}

    def open_supply_points(self, kind: str, open_states: tuple[str, ...]) -> set[str]:
        """Supply points with an open order of ``kind``."""
        query = sa.select(_wo.c.supply_point_id).where(
            _wo.c.kind == kind, _wo.c.state.in_(open_states)
        )
        with self.database.read() as connection:
            return {str(r[0]) for r in connection.execute(query).all()}

    # -- fault tickets ---------------------------------------------------------------------
    def open_ticket(
        self, meter_id: int, cause: str, source: str, now_s: float
    ) -> tuple[FaultTicket, bool]:
        """The open ticket of (meter, cause): a new one (True) or the one already open."""
        key = f"{meter_id}:{cause}"
        try:
            with self.database.write() as connection, refusals_as(f"fault ticket {key}"):
                connection.execute(
                    _ft.insert().values(
                        meter_id=meter_id, cause=cause, source=source, opened_at=now_s, open_key=key
                    )
                )
            opened = True
        except AlreadyExists:
            opened = False
        with self.database.read() as connection:
            row = connection.execute(sa.select(_ft).where(_ft.c.open_key == key)).one()
        return _ticket(row), opened

    def close_ticket(self, ticket_id: int, now_s: float) -> bool:
        with self.database.write() as connection:
            done = connection.execute(
                _ft.update()
                .where(_ft.c.ticket_id == ticket_id, _ft.c.closed_at.is_(None))
                .values(closed_at=now_s, open_key=None)
            ).rowcount
        return bool(done == 1)

    def ticket(self, ticket_id: int) -> FaultTicket | None:
        with self.database.read() as connection:
            row = connection.execute(sa.select(_ft).where(_ft.c.ticket_id == ticket_id)).first()
        return None if row is None else _ticket(row)

    def tickets(self, open_only: bool = True, limit: int = 200) -> list[FaultTicket]:
        query = sa.select(_ft)
        if open_only:
            query = query.where(_ft.c.closed_at.is_(None))
        with self.database.read() as connection:
            rows = connection.execute(query.order_by(_ft.c.ticket_id).limit(limit)).all()
        return [_ticket(r) for r in rows]
