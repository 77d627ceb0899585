"""What a simulated city needs to carry on after a restart.

A city is decided by its :class:`~openami.sim.city.CityConfig` (every draw is seeded), so
the store keeps that configuration and how far the simulation has run (its position).
The meters' registers and logs are not stored: on a restart the fleet runs again from the
city's first slot to the position, and the commands the HES journaled as confirmed
(switching, amperage settings, clock synchronisation) are applied again at the slot in
which they completed, so each meter is where it was.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import CommandKind, CommandState
from openami.clock import SLOT_SECONDS
from openami.hes.journal import HesJournal
from openami.meter.fleet import MeterFleet
from openami.network.meter_clock import MeterClocks
from openami.sim.city import CityConfig

CITY = "city"
POSITION = "position"
_REPLAYED = (
    CommandKind.DISCONNECT,
    CommandKind.RECONNECT,
    CommandKind.SET_AMPERAGE,
    CommandKind.CLOCK_SYNC,
)


class SimulationStateStore(Protocol):
    """Named texts (the storage layer's ``SimulationStore`` is one)."""

    def get(self, name: str) -> str | None: ...

    def put(self, name: str, value: str) -> None: ...


@dataclass(frozen=True)
class Position:
    now_s: float  # the simulated instant reached [Unix s]
    next_boundary: int  # the first :00/:30 boundary not yet collected (slot number)


def save_config(state: SimulationStateStore, config: CityConfig) -> None:
    fields = asdict(config)
    fields["start_day"] = config.start_day.isoformat()
    state.put(CITY, json.dumps(fields, sort_keys=True))


def load_config(state: SimulationStateStore) -> CityConfig | None:
    """The stored city's configuration; None when no city was stored."""
    text = state.get(CITY)
    if text is None:
        return None
    fields = json.loads(text)
    fields["start_day"] = date.fromisoformat(fields["start_day"])
    fields["areas"] = tuple(fields["areas"])
    fields["meters_per_concentrator"] = tuple(fields["meters_per_concentrator"])
    return CityConfig(**fields)


def save_position(state: SimulationStateStore, position: Position) -> None:
    state.put(POSITION, json.dumps(asdict(position)))


def load_position(state: SimulationStateStore) -> Position | None:
    text = state.get(POSITION)
    return None if text is None else Position(**json.loads(text))


def replay(fleet: MeterFleet, clocks: MeterClocks, journal: HesJournal, until: int) -> None:
    """Run ``fleet`` to boundary ``until``, applying the journal's confirmed commands."""
    outcomes = journal.commands()
    wanted = pc.and_(
        pc.equal(outcomes.column("state"), int(CommandState.CONFIRMED)),
        pc.is_in(outcomes.column("kind"), value_set=pa.array([int(k) for k in _REPLAYED])),
    )
    done = outcomes.filter(wanted).sort_by([("completed_at", "ascending")])
    amps = _amperages(done, journal.arguments())
    kind = np.asarray(done.column("kind").to_numpy(), dtype=np.int64)
    at_s = np.asarray(done.column("completed_at").to_numpy(), dtype=np.float64)
    index = fleet.index_of(np.asarray(done.column("meter_id").to_numpy(), dtype=np.int64))
    effect_slot = np.floor(at_s / SLOT_SECONDS).astype(np.int64)
    for pos in range(len(kind)):
        slot = int(effect_slot[pos])
        if slot >= until:
            break
        fleet.advance_to(max(slot, fleet.now_boundary))  # the slot ending at `slot` + 1 …
        one = index[pos : pos + 1]  # … is the first one the command changes
        if kind[pos] == CommandKind.DISCONNECT:
            fleet.disconnect(one)
        elif kind[pos] == CommandKind.RECONNECT:
            fleet.reconnect(one)
        elif kind[pos] == CommandKind.SET_AMPERAGE and amps[pos] > 0:
            fleet.set_contract_amperage(one, int(amps[pos]))
        elif kind[pos] == CommandKind.CLOCK_SYNC:
            clocks.adjust(one, at_s[pos : pos + 1])
    fleet.advance_to(max(until, fleet.now_boundary))


def _amperages(outcomes: pa.Table, arguments: pa.Table) -> np.ndarray:
    """The amperage [A] each SET_AMPERAGE outcome set (0 where not known)."""
    position = pc.index_in(
        outcomes.column("correlation_id"),
        value_set=arguments.column("correlation_id").combine_chunks(),
    )
    found = np.asarray(position.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    index = np.asarray(pc.fill_null(position, 0).to_numpy(), dtype=np.int64)
    argument = np.asarray(arguments.column("argument").to_numpy(), dtype=np.int64)
    values = argument[index] if len(argument) else np.zeros(len(index), dtype=np.int64)
    return np.where(found, values, 0)
