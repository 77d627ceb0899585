"""The hub's record of the commands it asked HES services for over the bus.

A command is stored (state ``QUEUED``) before it is published on ``hes.command_requests``,
marked published once the bus accepted it, and concluded once by the first outcome of its
correlation ID on ``hes.commands`` (``CONFIRMED``, ``FAILED`` or ``TIMED_OUT``, with the
registers the HES read back), or ``TIMED_OUT`` by the hub when no outcome came long after
its deadline. Its correlation ID is :data:`BUS_CORRELATION_BASE` + the row id: a range the
embedded HES (counting from 1) never reaches, below the meter operators' range
(:data:`openami.storage.repositories.operator_commands.CORRELATION_BASE`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from openami.bus.messages import COMMAND_SCHEMA, CommandState
from openami.storage.sql.bus_command_tables import bus_commands
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as

#: correlation IDs of commands sent over the bus start here
BUS_CORRELATION_BASE = 1 << 48
_bc = bus_commands
_QUEUED = int(CommandState.QUEUED)


@dataclass(frozen=True)
class BusCommand:
    correlation_id: int
    meter_id: int
    kind: int  # CommandKind
    argument: int
    reference: str | None
    issued_at: float
    deadline_at: float
    published_at: float | None
    state: int  # CommandState
    completed_at: float | None


def _command(row: sa.Row[tuple[object, ...]]) -> BusCommand:
    m = row._mapping
    return BusCommand(
        correlation_id=BUS_CORRELATION_BASE + int(m["command_id"]),
        meter_id=int(m["meter_id"]),
        kind=int(m["kind"]),
        argument=int(m["argument"]),
        reference=m["reference"],
        issued_at=float(m["issued_at"]),
        deadline_at=float(m["deadline_at"]),
        published_at=None if m["published_at"] is None else float(m["published_at"]),
        state=int(m["state"]),
        completed_at=None if m["completed_at"] is None else float(m["completed_at"]),
    )


def _row_ids(correlation_ids: Sequence[int] | np.ndarray) -> list[int]:
    """Row ids of the correlation IDs in this store's range (others are not ours)."""
    ids = np.asarray(correlation_ids, dtype=np.int64)
    ours = ids[(ids > BUS_CORRELATION_BASE) & (ids < 2 * BUS_CORRELATION_BASE)]
    return (ours - BUS_CORRELATION_BASE).tolist()


class BusCommandStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(
        self,
        meter_id: int,
        kind: int,
        argument: int,
        reference: str | None,
        issued_at: float,
        deadline_at: float,
    ) -> tuple[BusCommand, bool]:
        """The command for ``reference`` (made now unless one exists): (command, new)."""
        with self.database.write() as connection, refusals_as(f"command for meter {meter_id}"):
            if reference is not None:
                found = connection.execute(
                    sa.select(_bc).where(_bc.c.reference == reference)
                ).first()
                if found is not None:
                    return _command(found), False
            result = connection.execute(
                _bc.insert().values(
                    meter_id=meter_id,
                    kind=kind,
                    argument=argument,
                    reference=reference,
                    issued_at=issued_at,
                    deadline_at=deadline_at,
                    state=_QUEUED,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            row = connection.execute(sa.select(_bc).where(_bc.c.command_id == key[0])).one()
        return _command(row), True

    def mark_published(self, correlation_id: int, at_s: float) -> None:
        with self.database.write() as connection:
            connection.execute(
                _bc.update()
                .where(_bc.c.command_id == correlation_id - BUS_CORRELATION_BASE)
                .values(published_at=at_s)
            )

    def record(self, outcomes: pa.Table) -> int:
        """Conclude the queued commands among ``outcomes`` (``COMMAND_SCHEMA`` rows) by their
        first outcome; rows of other correlation IDs, or of concluded commands, change
        nothing. Returns how many commands were concluded."""
        corr = outcomes.column("correlation_id").to_numpy(zero_copy_only=False)
        ours = np.flatnonzero(
            (corr > BUS_CORRELATION_BASE) & (corr < 2 * BUS_CORRELATION_BASE)
        ).tolist()
        if not ours:
            return 0
        rows = outcomes.take(ours).to_pylist()
        done = 0
        with self.database.write() as connection:
            for r in rows:
                result = connection.execute(
                    _bc.update()
                    .where(
                        _bc.c.command_id == int(r["correlation_id"]) - BUS_CORRELATION_BASE,
                        _bc.c.state == _QUEUED,
                    )
                    .values(
                        state=int(r["state"]),
                        attempts=int(r["attempts"] or 0),
                        completed_at=r["completed_at"],
                        import_register_wh=r["import_register_wh"],
                        export_register_wh=r["export_register_wh"],
                        clock_offset_s=r["clock_offset_s"],
                        refusal=r.get("refusal"),
                    )
                )
                done += result.rowcount
        return done

    def overdue(self, before_s: float) -> list[BusCommand]:
        """Queued commands whose deadline passed before ``before_s``."""
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(_bc)
                .where(_bc.c.state == _QUEUED, _bc.c.deadline_at < before_s)
                .order_by(_bc.c.command_id)
            ).all()
        return [_command(r) for r in rows]

    def outcomes(self, correlation_ids: Sequence[int]) -> pa.Table:
        """``COMMAND_SCHEMA`` rows of the concluded commands among ``correlation_ids``."""
        ids = _row_ids(correlation_ids)
        if not ids:
            return COMMAND_SCHEMA.empty_table()
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(_bc)
                .where(_bc.c.command_id.in_(ids), _bc.c.state != _QUEUED)
                .order_by(_bc.c.command_id)
            ).all()
        return pa.Table.from_pylist([_outcome(r) for r in rows], schema=COMMAND_SCHEMA)

    def refusal(self, correlation_id: int) -> str | None:
        """The HES's reason for refusing this command, as its outcome carried it (None: not
        refused, not concluded yet, or not a command of this store)."""
        ids = _row_ids([correlation_id])
        if not ids:
            return None
        with self.database.read() as connection:
            found = connection.execute(
                sa.select(_bc.c.refusal).where(_bc.c.command_id == ids[0])
            ).scalar_one_or_none()
        return None if found is None else str(found)

    def last_confirmed(self, meter_id: int, kinds: Sequence[int]) -> BusCommand | None:
        """The meter's newest confirmed command of ``kinds``."""
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(_bc)
                .where(
                    _bc.c.meter_id == meter_id,
                    _bc.c.kind.in_(list(kinds)),
                    _bc.c.state == int(CommandState.CONFIRMED),
                )
                .order_by(_bc.c.completed_at.desc(), _bc.c.command_id.desc())
                .limit(1)
            ).first()
        return None if row is None else _command(row)


def _outcome(row: sa.Row[tuple[object, ...]]) -> dict[str, object]:
    m = row._mapping
    return {
        "correlation_id": BUS_CORRELATION_BASE + int(m["command_id"]),
        "meter_id": m["meter_id"],
        "kind": m["kind"],
        "priority": 0,
        "state": m["state"],
        "attempts": min(int(m["attempts"] or 0), 255),
        "issued_at": m["issued_at"],
        "completed_at": m["completed_at"],
        "import_register_wh": m["import_register_wh"],
        "export_register_wh": m["export_register_wh"],
        "clock_offset_s": m["clock_offset_s"],
        "refusal": m["refusal"],
    }


def request_row(
    command: BusCommand, authorisation: str | None, priority: int = 0
) -> dict[str, object]:
    """The command as a ``hes.command_requests`` row (``COMMAND_REQUEST_SCHEMA``)."""
    return {
        "correlation_id": command.correlation_id,
        "meter_id": command.meter_id,
        "kind": command.kind,
        "priority": priority,
        "argument": command.argument,
        "issued_at": command.issued_at,
        "deadline_at": command.deadline_at,
        "reference": command.reference,
        "authorisation": authorisation,
    }
