"""The hub's command port over the bus: commands to HES services on other processes.

In the multi-process deployment (docs/deployment.md) the head-end is ``openami serve hes``,
not an object of the hub's process. :class:`BusCommandPort` is the
:class:`openami.hub.ports.CommandPort` for it: a command is recorded in the transactional
store (:class:`BusCommandStore`), then published as one row of ``hes.command_requests``
(``COMMAND_REQUEST_SCHEMA``; a remote switching command carries the hub's signed
authorisation, which the HES's switching guard checks). The HES's outcome comes back on
``hes.commands``; :class:`OutcomeTap` records it in the store before the request service
concludes the request (a command the HES's guard refused comes back ``FAILED`` with the
reason in ``refusal``; :meth:`BusCommandPort.refusal` answers it, and the request ends
``E_COMMAND_REFUSED`` as with the embedded HES), so what the hub knows of a meter's
switch and limiter (its last confirmed command) and the outcomes a reconciliation asks for
survive restarts and are shared by hub replicas.

Everything before the port (the retailer's request and its decision, caps, holds, four-eyes
approval, the emergency stop, signing) is the request service's, unchanged. Delivery is at
least once both ways: a submission is idempotent by its reference (the request ID: the same
command, published again only if it was never published), the HES answers a correlation ID
once, and only a command's first outcome counts. A command whose outcome has not come
``grace_s`` after its deadline (the HES service down) is concluded ``TIMED_OUT`` by
:meth:`BusCommandPort.sweep`, published like an outcome of the HES.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from openami.bus.messages import (
    COMMAND_REQUEST_SCHEMA,
    COMMAND_SCHEMA,
    TOPIC_COMMAND_REQUESTS,
    TOPIC_COMMANDS,
    CommandKind,
    CommandState,
    encode_authorisation,
    refusal_reason,
)
from openami.bus.port import Bus, Handler
from openami.log import get_logger
from openami.storage.repositories import Database
from openami.storage.repositories.bus_commands import (
    BusCommand,
    BusCommandStore,
    request_row,
)
from openami.storage.repositories.command_signing import SignedCommand

log = get_logger(__name__)
#: how long the HES has to confirm a command unless the caller says (the embedded HES's SLA)
DEFAULT_TIMEOUT_S = 3600.0
#: after its deadline, how long the hub waits for the HES's outcome before timing it out
DEFAULT_GRACE_S = 600.0
_SWITCH_KINDS = (int(CommandKind.DISCONNECT), int(CommandKind.RECONNECT))


class BusCommandPort:
    """Commands to the HES services through ``hes.command_requests``."""

    def __init__(
        self,
        database: Database,
        bus: Bus,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        grace_s: float = DEFAULT_GRACE_S,
    ) -> None:
        self.store = BusCommandStore(database)
        self.bus = bus
        self.timeout_s = timeout_s
        self.grace_s = grace_s

    def submit(
        self,
        kind: CommandKind,
        meter_id: int,
        now_s: float,
        argument: int = 0,
        reference: str | None = None,
        authorisation: SignedCommand | None = None,
        timeout_s: float | None = None,
    ) -> int | None:
        deadline_s = now_s + (self.timeout_s if timeout_s is None else float(timeout_s))
        command, new = self.store.add(
            meter_id, int(kind), int(argument), reference, now_s, deadline_s
        )
        if command.published_at is None and command.state == int(CommandState.QUEUED):
            signed = None if authorisation is None else encode_authorisation(authorisation)
            row = request_row(command, signed)
            self.bus.publish(
                TOPIC_COMMAND_REQUESTS,
                pa.Table.from_pylist([row], schema=COMMAND_REQUEST_SCHEMA),
            )
            self.store.mark_published(command.correlation_id, now_s)
            log.info(
                "hub.command_published",
                correlation_id=command.correlation_id,
                kind=CommandKind(kind).label,
                meter_id=meter_id,
                again=not new,
            )
        return command.correlation_id

    def refusal(self, correlation_id: int) -> str | None:
        """Why the HES refused the command, from the ``refusal`` its outcome carried (a
        known reason code, else ``other``); None until that outcome is recorded (a HES
        service refuses asynchronously: never known at submission)."""
        return refusal_reason(self.store.refusal(correlation_id))

    def switch_connected(self, meter_id: int) -> bool | None:
        last = self.store.last_confirmed(meter_id, _SWITCH_KINDS)
        return None if last is None else last.kind == int(CommandKind.RECONNECT)

    def contract_amperage_a(self, meter_id: int) -> int | None:
        last = self.store.last_confirmed(meter_id, (int(CommandKind.SET_AMPERAGE),))
        return None if last is None else last.argument

    def outcomes(self, correlation_ids: Sequence[int]) -> pa.Table:
        return self.store.outcomes(correlation_ids)

    def record(self, outcomes: pa.Table) -> int:
        """Store the first outcome of each of this port's commands among ``outcomes``."""
        return self.store.record(outcomes)

    def sweep(self, now_s: float) -> int:
        """Time out commands still without an outcome ``grace_s`` after their deadline:
        recorded, and published on ``hes.commands`` for the request service."""
        overdue = self.store.overdue(now_s - self.grace_s)
        if not overdue:
            return 0
        table = timed_out_table(overdue)
        self.store.record(table)
        self.bus.publish(TOPIC_COMMANDS, table)
        log.warning("hub.commands_timed_out", count=len(overdue))
        return len(overdue)


def timed_out_table(commands: Sequence[BusCommand]) -> pa.Table:
    """``TIMED_OUT`` outcome rows of ``commands`` (nothing read back)."""
    n = len(commands)
    return pa.table(
        {
            "correlation_id": np.array([c.correlation_id for c in commands], dtype=np.int64),
            "meter_id": np.array([c.meter_id for c in commands], dtype=np.int64),
            "kind": np.array([c.kind for c in commands], dtype=np.uint8),
            "priority": np.zeros(n, dtype=np.uint8),
            "state": np.full(n, int(CommandState.TIMED_OUT), dtype=np.uint8),
            "attempts": np.zeros(n, dtype=np.uint8),
            "issued_at": np.array([c.issued_at for c in commands], dtype=np.float64),
            "completed_at": np.array([c.deadline_at for c in commands], dtype=np.float64),
            "import_register_wh": pa.nulls(n, pa.int64()),
            "export_register_wh": pa.nulls(n, pa.int64()),
            "clock_offset_s": pa.nulls(n, pa.float64()),
            "refusal": pa.nulls(n, pa.string()),
        },
        schema=COMMAND_SCHEMA,
    )


class OutcomeTap:
    """The hub's bus: as ``bus``, but every handler of ``hes.commands`` gets a batch only
    after ``port`` recorded its outcomes (so a request concluded from an outcome never has
    a command without it)."""

    def __init__(self, bus: Bus, port: BusCommandPort) -> None:
        self.inner = bus
        self.port = port

    def publish(self, topic: str, batch: pa.Table) -> None:
        self.inner.publish(topic, batch)

    def subscribe(self, topic: str, handler: Handler) -> None:
        if topic != TOPIC_COMMANDS:
            self.inner.subscribe(topic, handler)
            return

        def recorded(batch: pa.Table) -> object:
            self.port.record(batch)
            return handler(batch)

        self.inner.subscribe(topic, recorded)

    def settle(self, timeout_s: float = 60.0) -> None:
        self.inner.settle(timeout_s)

    def close(self) -> None:
        self.inner.close()
