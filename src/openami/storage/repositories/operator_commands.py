"""Remote commands to type (i) meters, sent to their meter operator instead of the HES.

A command is stored when it is sent (state ``QUEUED``), concluded once by the operator's
outcome callback (``CONFIRMED`` or ``FAILED``) or by the deadline passing (``TIMED_OUT``).
Its correlation ID is :data:`CORRELATION_BASE` + the row id, a range the HES never hands out,
so outcomes of both kinds share the ``hes.commands`` topic. Which meters go to an operator is
:mod:`openami.hub.operator_commands`' rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from openami.bus.messages import COMMAND_SCHEMA, CommandState
from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as
from openami.storage.sql.third_party_tables import operator_commands

#: correlation IDs of operator commands start here (the HES counts from 1)
CORRELATION_BASE = 1 << 52
_oc = operator_commands


@dataclass(frozen=True)
class OperatorCommand:
    correlation_id: int
    meter_id: int
    operator_party_id: str
    kind: int  # CommandKind
    argument: int
    reference: str | None
    issued_at: float
    deadline_at: float
    state: int  # CommandState
    completed_at: float | None


def _command(row: sa.Row[tuple[object, ...]]) -> OperatorCommand:
    m = row._mapping
    return OperatorCommand(
        correlation_id=CORRELATION_BASE + int(m["command_id"]),
        meter_id=int(m["meter_id"]),
        operator_party_id=str(m["operator_party_id"]),
        kind=int(m["kind"]),
        argument=int(m["argument"]),
        reference=m["reference"],
        issued_at=float(m["issued_at"]),
        deadline_at=float(m["deadline_at"]),
        state=int(m["state"]),
        completed_at=None if m["completed_at"] is None else float(m["completed_at"]),
    )


class OperatorCommandStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(
        self,
        meter_id: int,
        operator_party_id: str,
        kind: int,
        argument: int,
        reference: str | None,
        issued_at: float,
        deadline_at: float,
    ) -> tuple[OperatorCommand, bool]:
        """The command for ``reference`` (made now unless one exists): (command, new)."""
        with self.database.write() as connection, refusals_as(f"command for meter {meter_id}"):
            if reference is not None:
                found = connection.execute(
                    sa.select(_oc).where(_oc.c.reference == reference)
                ).first()
                if found is not None:
                    return _command(found), False
            result = connection.execute(
                _oc.insert().values(
                    meter_id=meter_id,
                    operator_party_id=operator_party_id,
                    kind=kind,
                    argument=argument,
                    reference=reference,
                    issued_at=issued_at,
                    deadline_at=deadline_at,
                    state=int(CommandState.QUEUED),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            row = connection.execute(sa.select(_oc).where(_oc.c.command_id == key[0])).one()
        return _command(row), True

    def get(self, correlation_id: int) -> OperatorCommand | None:
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(_oc).where(_oc.c.command_id == correlation_id - CORRELATION_BASE)
            ).first()
        return None if row is None else _command(row)

    def conclude(self, correlation_id: int, state: int, at_s: float) -> bool:
        """Set the terminal state of a queued command (False: it was concluded already)."""
        with self.database.write() as connection:
            done = connection.execute(
                _oc.update()
                .where(
                    _oc.c.command_id == correlation_id - CORRELATION_BASE,
                    _oc.c.state == int(CommandState.QUEUED),
                )
                .values(state=state, completed_at=at_s)
            )
        return bool(done.rowcount)

    def time_out(self, now_s: float) -> list[OperatorCommand]:
        """Conclude every queued command past its deadline as TIMED_OUT; those commands."""
        query = sa.select(_oc).where(
            _oc.c.state == int(CommandState.QUEUED), _oc.c.deadline_at <= now_s
        )
        with self.database.read() as connection:  # the usual case: nothing due, no write
            if connection.execute(query.limit(1)).first() is None:
                return []
        with self.database.write() as connection:
            due = connection.execute(query).all()
            if due:
                connection.execute(
                    _oc.update()
                    .where(_oc.c.command_id.in_([r._mapping["command_id"] for r in due]))
                    .values(state=int(CommandState.TIMED_OUT), completed_at=_oc.c.deadline_at)
                )
        return [
            _command_with(r, int(CommandState.TIMED_OUT), float(r._mapping["deadline_at"]))
            for r in due
        ]

    def outcomes(self, correlation_ids: Sequence[int]) -> pa.Table:
        """COMMAND_SCHEMA rows of the concluded commands among ``correlation_ids``."""
        ids = [int(c) - CORRELATION_BASE for c in correlation_ids if int(c) >= CORRELATION_BASE]
        if not ids:
            return COMMAND_SCHEMA.empty_table()
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(_oc).where(
                    _oc.c.command_id.in_(ids), _oc.c.state != int(CommandState.QUEUED)
                )
            ).all()
        return outcome_table([_command(r) for r in rows])

    def last_confirmed(self, meter_id: int, kinds: Sequence[int]) -> OperatorCommand | None:
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(_oc)
                .where(
                    _oc.c.meter_id == meter_id,
                    _oc.c.kind.in_(list(kinds)),
                    _oc.c.state == int(CommandState.CONFIRMED),
                )
                .order_by(_oc.c.completed_at.desc(), _oc.c.command_id.desc())
                .limit(1)
            ).first()
        return None if row is None else _command(row)

    def operator_subscriptions(self, operator_party_id: str) -> list[str]:
        """Active webhook subscriptions of the operator's ``meter_operator`` clients: where
        its commands go."""
        s, c = t.webhook_subscriptions, t.api_clients
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(s.c.subscription_id)
                .join_from(s, c, c.c.client_id == s.c.client_id)
                .where(
                    s.c.active.is_(True),
                    c.c.role == "meter_operator",
                    c.c.party_id == operator_party_id,
                )
                .order_by(s.c.subscription_id)
            ).all()
        return [str(r[0]) for r in rows]


def _command_with(row: sa.Row[tuple[object, ...]], state: int, at_s: float) -> OperatorCommand:
    command = _command(row)
    return OperatorCommand(**{**command.__dict__, "state": state, "completed_at": at_s})


def outcome_table(commands: Sequence[OperatorCommand]) -> pa.Table:
    """Commands as ``hes.commands`` outcome rows (no read-back registers)."""
    n = len(commands)
    return pa.table(
        {
            "correlation_id": np.array([c.correlation_id for c in commands], dtype=np.int64),
            "meter_id": np.array([c.meter_id for c in commands], dtype=np.int64),
            "kind": np.array([c.kind for c in commands], dtype=np.uint8),
            "priority": np.zeros(n, dtype=np.uint8),
            "state": np.array([c.state for c in commands], dtype=np.uint8),
            "attempts": np.ones(n, dtype=np.uint8),
            "issued_at": np.array([c.issued_at for c in commands], dtype=np.float64),
            "completed_at": np.array([c.completed_at or 0.0 for c in commands], dtype=np.float64),
            "import_register_wh": pa.nulls(n, pa.int64()),
            "export_register_wh": pa.nulls(n, pa.int64()),
            "clock_offset_s": pa.nulls(n, pa.float64()),
            "refusal": pa.nulls(n, pa.string()),
        },
        schema=COMMAND_SCHEMA,
    )
