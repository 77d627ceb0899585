"""The HES side of the hub's command port (:class:`openami.hub.ports.CommandPort`).

Commands go to the HES's command queue (:meth:`HeadEnd.submit`); what the HES knows of a
meter's switch and limiter comes from its journal (:meth:`HesJournal.meter_states`: the
commissioning record the HES wrote when it started, overlaid by confirmed commands), never
from the meters' own state. The argument of each submitted command is journaled, so a
confirmed amperage setting tells the journal which amperage the meter now has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from openami.bus.messages import CommandKind
from openami.hes.engine import HeadEnd
from openami.hes.journal import COMMAND_ARGUMENT_SCHEMA, HesJournal


class HesCommandPort:
    """Submit commands for single meters to a :class:`HeadEnd`; meter state and outcomes
    from its :class:`HesJournal`."""

    def __init__(self, hes: HeadEnd) -> None:
        self._hes = hes
        self._journal: HesJournal = hes.journal

    def submit(
        self, kind: CommandKind, meter_id: int, now_s: float, argument: int = 0
    ) -> int | None:
        try:
            position = int(self._hes.fleet.index_of([meter_id])[0])
        except KeyError:
            return None
        correlation_id = int(self._hes.submit(kind, [position], now_s, argument)[0])
        self._journal.add_command_arguments(
            pa.table(
                {
                    "correlation_id": [correlation_id],
                    "meter_id": [int(meter_id)],
                    "kind": [int(kind)],
                    "argument": [int(argument)],
                },
                schema=COMMAND_ARGUMENT_SCHEMA,
            )
        )
        return correlation_id

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
