"""What the hub needs from the head-end, as ports (protocols), so it never imports the HES.

The composition root hands the hub an implementation (today
:class:`openami.hes.command_port.HesCommandPort`, over the HES's command queue and
journal) and the bus; command outcomes arrive on the bus topic
:data:`openami.bus.messages.TOPIC_COMMANDS` (rows of
:data:`openami.bus.messages.COMMAND_SCHEMA`), and :meth:`CommandPort.outcomes` answers the
same rows for given correlation IDs, so a hub that missed some (a restart) can catch up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pyarrow as pa

from openami.bus.messages import CommandKind
from openami.storage.repositories.command_signing import SignedCommand


class CommandPort(Protocol):
    """Commands to one meter at a time, and what the HES knows of its meters."""

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
        """Queue ``kind`` for ``meter_id`` (``argument``: the amperage [A] of SET_AMPERAGE;
        ``timeout_s``: how long the HES tries before the command times out, its default
        when None);
        the command's correlation ID, or None when the HES does not serve that meter.
        ``reference`` (a request ID) makes it idempotent: a second submission with the same
        reference answers the first command's correlation ID and queues nothing.
        Call only from the loop that drives the HES (its queue is not shared between
        threads). ``authorisation``: the hub's signed authorisation of a remote switching
        command; the HES may refuse the command (see :meth:`refusal`)."""
        ...

    def refusal(self, correlation_id: int) -> str | None:
        """Why the HES refused this command (``halted``, ``unsigned``, ``altered``,
        ``expired``, ``replay``, ``fleet_cap`` …), None if it did not."""
        ...

    def switch_connected(self, meter_id: int) -> bool | None:
        """The meter's switch as the HES last knew it (commissioning or a confirmed
        command); None when it does not know (a command timed out, or not its meter)."""
        ...

    def contract_amperage_a(self, meter_id: int) -> int | None:
        """The contract amperage [A] the HES last knew the meter's limiter to have."""
        ...

    def outcomes(self, correlation_ids: Sequence[int]) -> pa.Table:
        """Terminal outcomes (``COMMAND_SCHEMA`` rows) of these correlation IDs; a command
        still queued has no row."""
        ...
