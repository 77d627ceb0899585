"""The hub's command port on the HES side: meter state comes from the HES journal
(commissioning record + confirmed commands), never from the meters' own arrays."""

from __future__ import annotations

import numpy as np
from tests.hes.hes_world import START_S, make_world

from openami.bus.messages import TOPIC_COMMANDS, CommandKind, CommandState
from openami.hes.command_port import HesCommandPort
from openami.hes.engine import HeadEnd
from openami.hes.journal import HesJournal
from openami.hub.ports import CommandPort
from openami.network import Outage


def test_commissioning_record_is_the_state_until_a_command_is_confirmed() -> None:
    world = make_world(6)
    world.fleet.disconnect([2])
    world.fleet.set_contract_amperage([3], 20)
    # a HES started after those changes commissions what it reads then
    hes = HeadEnd(world.fleet, world.network, world.bus)
    port: CommandPort = HesCommandPort(hes)
    assert port.switch_connected(3) is False  # meter id 3 sits at position 2
    assert port.switch_connected(4) is True
    assert port.contract_amperage_a(4) == 20
    assert port.switch_connected(999) is None and port.contract_amperage_a(999) is None
    # the meter changes behind the HES's back: the port does not see it (no fleet arrays)
    world.fleet.reconnect([2])
    world.fleet.set_contract_amperage([3], 60)
    assert port.switch_connected(3) is False
    assert port.contract_amperage_a(4) == 20


def test_confirmed_commands_update_the_state_and_outcomes_are_answered() -> None:
    world = make_world(6)
    port = HesCommandPort(world.hes)
    before_amps = int(world.fleet.contract_amperage_a[0])
    amps = 40 if before_amps != 40 else 60
    cut = port.submit(CommandKind.DISCONNECT, 2, START_S)
    limit = port.submit(CommandKind.SET_AMPERAGE, 1, START_S, amps)
    assert cut is not None and limit is not None and cut != limit
    assert port.submit(CommandKind.DISCONNECT, 999, START_S) is None  # not the HES's meter
    # queued, not yet confirmed: the state is still the commissioned one
    assert port.switch_connected(2) is True
    assert port.contract_amperage_a(1) == before_amps
    assert port.outcomes([cut, limit]).num_rows == 0
    world.run_until(START_S + 1800)
    assert port.switch_connected(2) is False
    assert port.contract_amperage_a(1) == amps
    assert port.switch_connected(1) is True and port.switch_connected(3) is True
    done = port.outcomes([cut, limit, 12345])
    assert sorted(done.column("correlation_id").to_pylist()) == sorted([cut, limit])
    assert set(done.column("state").to_pylist()) == {CommandState.CONFIRMED}
    # the same rows went out on the bus
    published = world.table(TOPIC_COMMANDS)
    assert set(published.column("correlation_id").to_pylist()) >= {cut, limit}
    # a reconnect brings the switch back
    back = port.submit(CommandKind.RECONNECT, 2, world.now_s)
    world.run_until(world.now_s + 1800)
    assert port.outcomes([back]).column("state").to_pylist() == [CommandState.CONFIRMED]
    assert port.switch_connected(2) is True


def test_a_timed_out_command_leaves_the_state_unknown() -> None:
    world = make_world(6)
    port = HesCommandPort(world.hes)
    world.network.add_outage(Outage(np.array([4]), START_S, START_S + 86400))  # meter id 5
    corr = port.submit(CommandKind.DISCONNECT, 5, START_S)
    assert corr is not None
    world.run_until(START_S + 2 * 3600)
    (state,) = port.outcomes([corr]).column("state").to_pylist()
    assert state == CommandState.TIMED_OUT
    assert port.switch_connected(5) is None  # the meter may or may not have acted
    assert port.switch_connected(4) is True


def test_journal_keeps_the_latest_change_whatever_the_arrival_order() -> None:
    journal = HesJournal()
    journal.commission([1, 2, 3], [True, True, False], [30, 40, 50], 100.0)
    journal.commission([2], [False], [60], 50.0)  # older than what it holds: ignored
    states = journal.meter_states([3, 2, 1, 7]).to_pydict()
    assert states["meter_id"] == [3, 2, 1]
    assert states["switch_connected"] == [False, True, True]
    assert states["contract_amperage_a"] == [50, 40, 30]
    journal.commission([7], [True], [20], 200.0)  # a meter the HES took on later
    assert journal.meter_states([7]).column("contract_amperage_a").to_pylist() == [20]
