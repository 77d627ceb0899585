"""Remote open/close of type (i) meters through their meter operator (seed section 2,
point 5: the operator must give the utility remote open/close of its meters).

:class:`OperatorRoutedPort` is a :class:`CommandPort` around the head-end's: a command for a
meter that is a type (i) meter on the day goes to its operator instead of the HES, as a
signed webhook (event ``meter.command``, HMAC-SHA256 over the body like every webhook of
:mod:`openami.hub.webhooks`, to the active subscriptions of the operator's
``meter_operator`` clients), carrying the hub's Ed25519 authorisation of the command when a
signer is wired. Everything before the port — caps, holds, four-eyes approval, the
emergency stop, the audit log — applies unchanged, because the requests reach it the same
way.

The operator answers ``POST /v1/meter-operator/commands/{correlation_id}/outcome``
(:mod:`openami.hub.meter_operator_api`); its outcome, or ``timed_out`` after
:data:`OPERATOR_COMMAND_TIMEOUT_S`, is published on ``hes.commands`` like a read-back of the
HES, so the request completes or fails as for the utility's own meters. A meter whose
operator has no subscription gets no command (``None``: the request fails ``E_NO_METER``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

import pyarrow as pa
import structlog

from openami.bus.messages import TOPIC_COMMANDS, CommandKind, CommandState
from openami.clock import JST
from openami.hub.context import HubContext
from openami.hub.ports import CommandPort
from openami.registry.third_party import ThirdPartyMeters
from openami.storage.repositories.command_signing import SignedCommand
from openami.storage.repositories.operator_commands import (
    CORRELATION_BASE,
    OperatorCommand,
    OperatorCommandStore,
    outcome_table,
)
from openami.storage.repositories.third_party import ThirdPartyStore
from openami.storage.repositories.webhooks import WebhookStore

log = structlog.get_logger(__name__)
COMMAND_EVENT = "meter.command"
OPERATOR_COMMAND_TIMEOUT_S = 3600.0
_SWITCH_KINDS = (int(CommandKind.DISCONNECT), int(CommandKind.RECONNECT))


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).isoformat()


class OperatorRoutedPort:
    """The HES's port for the utility's meters, the operator's endpoint for type (i)."""

    def __init__(self, inner: CommandPort | None, context: HubContext) -> None:
        self.inner = inner
        self.context = context
        database = context.clients.database
        self.commands = OperatorCommandStore(database)
        self.meters = ThirdPartyMeters(ThirdPartyStore(database))
        self.webhooks = WebhookStore(database)

    def operator_of(self, meter_id: int, day: date) -> str | None:
        row = self.meters.type_of(meter_id, day)
        return row.owner_party_id if row is not None and row.installation_type == "i" else None

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
        self.sweep(now_s)
        operator = self.operator_of(meter_id, datetime.fromtimestamp(now_s, JST).date())
        if operator is None:
            if self.inner is None:
                return None
            return self.inner.submit(
                kind, meter_id, now_s, argument, reference, authorisation, timeout_s
            )
        subscriptions = self.commands.operator_subscriptions(operator)
        if not subscriptions:
            log.warning("operator_command.no_endpoint", operator=operator, meter_id=meter_id)
            return None
        command, new = self.commands.add(
            meter_id,
            operator,
            int(kind),
            argument,
            reference,
            now_s,
            now_s + (timeout_s or OPERATOR_COMMAND_TIMEOUT_S),
        )
        if new:
            body = json.dumps(_body(command, authorisation)).encode()
            self.webhooks.enqueue([(sub, body) for sub in subscriptions], now_s)
            log.info(
                "operator_command.sent",
                operator=operator,
                meter_id=meter_id,
                kind=CommandKind(kind).label,
                correlation_id=command.correlation_id,
            )
        return command.correlation_id

    def refusal(self, correlation_id: int) -> str | None:
        if correlation_id >= CORRELATION_BASE or self.inner is None:
            return None
        return self.inner.refusal(correlation_id)

    def switch_connected(self, meter_id: int) -> bool | None:
        if self.operator_of(meter_id, self.context.clock.now().astimezone(JST).date()) is None:
            return None if self.inner is None else self.inner.switch_connected(meter_id)
        last = self.commands.last_confirmed(meter_id, _SWITCH_KINDS)
        return None if last is None else last.kind == int(CommandKind.RECONNECT)

    def contract_amperage_a(self, meter_id: int) -> int | None:
        if self.operator_of(meter_id, self.context.clock.now().astimezone(JST).date()) is None:
            return None if self.inner is None else self.inner.contract_amperage_a(meter_id)
        last = self.commands.last_confirmed(meter_id, (int(CommandKind.SET_AMPERAGE),))
        return None if last is None else last.argument

    def outcomes(self, correlation_ids: Sequence[int]) -> pa.Table:
        self.sweep(self.context.clock.timestamp())
        mine = self.commands.outcomes(correlation_ids)
        others = [int(c) for c in correlation_ids if int(c) < CORRELATION_BASE]
        if not others or self.inner is None:
            return mine
        return pa.concat_tables([self.inner.outcomes(others), mine])

    def conclude(self, command: OperatorCommand, confirmed: bool, at_s: float) -> bool:
        """The operator's answer to a command (False: it was concluded before)."""
        state = int(CommandState.CONFIRMED if confirmed else CommandState.FAILED)
        if not self.commands.conclude(command.correlation_id, state, at_s):
            return False
        done = OperatorCommand(**{**command.__dict__, "state": state, "completed_at": at_s})
        self._publish([done])
        return True

    def sweep(self, now_s: float) -> int:
        """Time out commands past their deadline and publish their outcomes."""
        expired = self.commands.time_out(now_s)
        if expired:
            log.warning("operator_command.timed_out", count=len(expired))
            self._publish(expired)
        return len(expired)

    def _publish(self, commands: list[OperatorCommand]) -> None:
        if self.context.bus is not None:
            self.context.bus.publish(TOPIC_COMMANDS, outcome_table(commands))


def _body(command: OperatorCommand, authorisation: SignedCommand | None) -> dict[str, object]:
    body: dict[str, object] = {
        "event": COMMAND_EVENT,
        "correlation_id": command.correlation_id,
        "meter_id": command.meter_id,
        "command": CommandKind(command.kind).label,
        "argument": command.argument,
        "issued_at": _iso(command.issued_at),
        "respond_by": _iso(command.deadline_at),
        "outcome_url": f"/v1/meter-operator/commands/{command.correlation_id}/outcome",
    }
    if authorisation is not None:
        body["authorisation"] = {
            "payload": authorisation.payload().decode(),
            "signature": authorisation.signature,  # Ed25519, hex (the hub's public key)
        }
    return body
