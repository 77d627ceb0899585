"""The HES side of the hub's command port (:class:`openami.hub.ports.CommandPort`).

Commands go to the HES's command queue (:meth:`HeadEnd.submit`); what the HES knows of a
meter's switch and limiter comes from its journal (:meth:`HesJournal.meter_states`: the
commissioning record the HES wrote when it started, overlaid by confirmed commands), never
from the meters' own state. The argument of each submitted command is journaled with the
command (one transaction when the HES has a store), so a confirmed amperage setting tells
the journal which amperage the meter now has; a ``reference`` (the request ID) makes a
submission idempotent: submitting again under the same reference, e.g. after a restart
between the HES accepting the command and the hub recording it, answers the first
command's correlation ID instead of queuing a second one, as long as that command has not
ended; after it ended, the same request again is a replay, which the HES's guard refuses.

A remote switching command carries the hub's signed authorisation
(:class:`openami.storage.repositories.command_signing.SignedCommand`); the HES's guard
(:mod:`openami.hes.switch_guard`) admits or refuses it, and :meth:`HesCommandPort.refusal`
tells the hub why a command was refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from openami.bus.messages import CommandKind
from openami.hes.engine import HeadEnd
from openami.hes.journal import HesJournal
from openami.storage.repositories.command_signing import SignedCommand


class HesCommandPort:
    """Submit commands for single meters to a :class:`HeadEnd`; meter state and outcomes
    from its :class:`HesJournal`."""

    def __init__(self, hes: HeadEnd) -> None:
        self._hes = hes
        self._journal: HesJournal = hes.journal

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
        if reference is not None:
            earlier = self._journal.correlation_of(reference)
            if earlier is not None:  # submitted before (e.g. just before a restart) …
                ended = self._journal.command_outcomes([earlier]).num_rows > 0
                if not ended or self._hes.guard is None:
                    return earlier
                # … and ended since: submitting it again is a replay, for the guard to refuse
        try:
            position = int(self._hes.fleet.index_of([meter_id])[0])
        except KeyError:
            return None
        auths = None if authorisation is None else [authorisation]
        corr = self._hes.submit(
            kind,
            [position],
            now_s,
            argument,
            timeout_s=timeout_s,
            references=[reference],
            authorisations=auths,
        )
        return int(corr[0])

    def refusal(self, correlation_id: int) -> str | None:
        guard = self._hes.guard
        return None if guard is None else guard.refusal(correlation_id)

    def _state(self, meter_id: int, column: str) -> Any:
        states = self._journal.meter_states([meter_id])
        return states.column(column)[0].as_py() if states.num_rows else None

    def switch_connected(self, meter_id: int) -> bool | None:
        value = self._state(meter_id, "switch_connected")
        return None if value is None else bool(value)

    def contract_amperage_a(self, meter_id: int) -> int | None:
        value = self._state(meter_id, "contract_amperage_a")
        return None if value is None else int(value)

    def outcomes(self, correlation_ids: Sequence[int]) -> pa.Table:
        return self._journal.command_outcomes(np.asarray(correlation_ids, dtype=np.int64))
