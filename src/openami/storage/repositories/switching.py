"""Remote-switching safety records: customer switch authorisations, the controls of each
retailer request (objection window, move-out, hold, approvals), the emergency stop flag and
cap alerts. Each method is one transaction; see :mod:`openami.storage.sql.switching_tables`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as
from openami.storage.sql.switching_tables import (
    request_controls,
    switch_authorisations,
    switching_alerts,
    switching_state,
)
from openami.storage.sql.upsert import insert_or_update

HALTED = "halted"


@dataclass(frozen=True)
class Authorisation:
    authorisation_id: str
    customer_id: str
    supply_point_key: int
    retailer_id: str
    effective_date: str
    created_at: float
    expires_at: float
    used_by: str | None
    revoked_at: float | None


@dataclass(frozen=True)
class Controls:
    request_id: str
    losing_retailer_id: str | None
    objection_deadline: float | None
    authorisation_id: str | None
    move_out: bool
    requested_by: str | None
    hold_reason: str | None
    approvals: tuple[tuple[str, str, float], ...]  # (operator, role, at)
    approvals_needed: int


@dataclass(frozen=True)
class StopFlag:
    halted: bool
    changed_at: float | None
    changed_by: str | None


_a = switch_authorisations
_c = request_controls
_AUTH_COLUMNS = tuple(_a.c[name] for name in Authorisation.__dataclass_fields__)
_CONTROL_COLUMNS = tuple(_c.c[name] for name in Controls.__dataclass_fields__)


def _controls(row: sa.Row[Any]) -> Controls:
    values: list[Any] = list(row)
    values[4] = bool(values[4])
    values[7] = tuple(tuple(a) for a in json.loads(str(values[7])))
    values[8] = int(str(values[8]))
    return Controls(*values)


class SwitchingStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- customer authorisations ----------------------------------------------------------
    def add_authorisation(self, row: Authorisation) -> None:
        values = {name: getattr(row, name) for name in Authorisation.__dataclass_fields__}
        with self.database.write() as connection, refusals_as("a switch authorisation"):
            connection.execute(_a.insert().values(**values))

    def authorisation(self, authorisation_id: str) -> Authorisation | None:
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(*_AUTH_COLUMNS).where(_a.c.authorisation_id == authorisation_id)
            ).first()
        return None if row is None else Authorisation(*row)

    def authorisations_of(self, customer_id: str) -> list[Authorisation]:
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(*_AUTH_COLUMNS)
                .where(_a.c.customer_id == customer_id)
                .order_by(_a.c.created_at, _a.c.authorisation_id)
            ).all()
        return [Authorisation(*row) for row in rows]

    def use_authorisation(self, authorisation_id: str, request_id: str) -> bool:
        """Mark the authorisation used by ``request_id``; False if it was used or revoked."""
        with self.database.write() as connection:
            moved = connection.execute(
                _a.update()
                .where(
                    _a.c.authorisation_id == authorisation_id,
                    _a.c.used_by.is_(None),
                    _a.c.revoked_at.is_(None),
                )
                .values(used_by=request_id)
            ).rowcount
        return bool(moved)

    def revoke_authorisation(self, authorisation_id: str, customer_id: str, at: float) -> bool:
        """Withdraw an authorisation not yet used; False if it was used or is not theirs."""
        with self.database.write() as connection:
            moved = connection.execute(
                _a.update()
                .where(
                    _a.c.authorisation_id == authorisation_id,
                    _a.c.customer_id == customer_id,
                    _a.c.used_by.is_(None),
                    _a.c.revoked_at.is_(None),
                )
                .values(revoked_at=at)
            ).rowcount
        return bool(moved)

    # -- request controls -------------------------------------------------------------------
    def set_controls(self, request_id: str, **values: object) -> None:
        """Create or change the controls of a request (only the given columns)."""
        unknown = set(values) - set(Controls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"no control columns {sorted(unknown)}")
        with self.database.write() as connection:
            insert_or_update(connection, _c, {"request_id": request_id, **values}, ("request_id",))

    def controls(self, request_id: str) -> Controls | None:
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(*_CONTROL_COLUMNS).where(_c.c.request_id == request_id)
            ).first()
        return None if row is None else _controls(row)

    def add_approval(self, request_id: str, operator: str, role: str, at: float) -> Controls:
        """Append an approval (one transaction: read, check, write)."""
        with self.database.write() as connection:
            row = connection.execute(
                sa.select(*_CONTROL_COLUMNS).where(_c.c.request_id == request_id)
            ).first()
            if row is None:
                raise KeyError(request_id)
            current = _controls(row)
            approvals = [list(a) for a in current.approvals] + [[operator, role, at]]
            connection.execute(
                _c.update()
                .where(_c.c.request_id == request_id)
                .values(approvals=json.dumps(approvals))
            )
            row = connection.execute(
                sa.select(*_CONTROL_COLUMNS).where(_c.c.request_id == request_id)
            ).first()
        assert row is not None
        return _controls(row)

    def with_losing_retailer(self, retailer_id: str) -> list[str]:
        """Request ids of switches away from ``retailer_id``."""
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(_c.c.request_id).where(_c.c.losing_retailer_id == retailer_id)
            ).all()
        return [str(r[0]) for r in rows]

    # -- caps -------------------------------------------------------------------------------
    def sent_since(self, since_s: float, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
        """(retailer, area code) of each request of ``kinds`` handed to the HES since
        ``since_s``."""
        r, e, p = t.retailer_requests, t.retailer_request_events, t.supply_points
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(r.c.retailer_id, p.c.area_code)
                .join_from(e, r, r.c.request_id == e.c.request_id)
                .join(p, p.c.supply_point_key == r.c.supply_point_key)
                .where(e.c.status == "scheduled", e.c.at >= since_s, r.c.kind.in_(kinds))
            ).all()
        return [(str(a), str(b)) for a, b in rows]

    # -- emergency stop ---------------------------------------------------------------------
    def stop_flag(self) -> StopFlag:
        return read_stop_flag(self.database)

    def set_halted(self, halted: bool, at: float, by: str) -> None:
        with self.database.write() as connection:
            insert_or_update(
                connection,
                switching_state,
                {
                    "name": HALTED,
                    "value": "1" if halted else "0",
                    "changed_at": at,
                    "changed_by": by,
                },
                ("name",),
            )

    # -- alerts -----------------------------------------------------------------------------
    def add_alert(
        self, at: float, source: str, scope: str, key: str, detail: dict[str, object]
    ) -> int:
        with self.database.write() as connection:
            result = connection.execute(
                switching_alerts.insert().values(
                    at=at, source=source, scope=scope, scope_key=key, detail=json.dumps(detail)
                )
            )
        return int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0

    def alerts_total(self) -> int:
        with self.database.read() as connection:
            return int(
                connection.execute(
                    sa.select(sa.func.count()).select_from(switching_alerts)
                ).scalar()
                or 0
            )

    def operator_subscriptions(self) -> list[tuple[str, str, str]]:
        """(subscription id, callback URL, secret) of active webhook subscriptions of
        clients with the ``operator`` role: where ``operator.alert`` events go."""
        s, c = t.webhook_subscriptions, t.api_clients
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(s.c.subscription_id, s.c.callback_url, s.c.secret)
                .join_from(s, c, c.c.client_id == s.c.client_id)
                .where(s.c.active.is_(True), c.c.role == "operator")
            ).all()
        return [(str(a), str(b), str(x)) for a, b, x in rows]


def read_stop_flag(database: Database) -> StopFlag:
    """The emergency stop as stored (shared by the hub and the HES)."""
    with database.read() as connection:
        row = connection.execute(
            sa.select(
                switching_state.c.value, switching_state.c.changed_at, switching_state.c.changed_by
            ).where(switching_state.c.name == HALTED)
        ).first()
    if row is None:
        return StopFlag(False, None, None)
    return StopFlag(str(row[0]) == "1", float(row[1]), str(row[2]))
