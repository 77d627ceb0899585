"""Commands: every one is confirmed by read-back or times out, never lost; priorities hold."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from tests.hes.hes_world import START_S, make_world

from openami.bus.messages import CommandKind, CommandState
from openami.hes.commands import CommandConfig
from openami.hes.engine import CollectionConfig
from openami.network import MethodParams, Outage


def test_commands_are_confirmed_or_time_out_never_lost() -> None:
    n = 300
    lossy = MethodParams(attempt_success=0.5, median_delay_s=30.0, delay_sigma=0.5)
    w = make_world(n, lossy)
    dead = np.arange(0, 20, dtype=np.int64)
    w.network.add_outage(Outage(dead, START_S, START_S + 10 * 86400))
    w.fleet.disconnect(np.arange(100, 150))
    hes, t = w.hes, START_S + 60
    ids = {
        CommandKind.DISCONNECT: hes.submit(CommandKind.DISCONNECT, np.arange(0, 100), t),
        CommandKind.RECONNECT: hes.submit(CommandKind.RECONNECT, np.arange(100, 150), t),
        CommandKind.SET_AMPERAGE: hes.submit(CommandKind.SET_AMPERAGE, np.arange(150, 200), t, 40),
        CommandKind.READ: hes.read_now(np.arange(200, 250), t),
    }
    submitted = np.concatenate(list(ids.values()))
    assert len(np.unique(submitted)) == 250 and len(hes.commands) == 250
    w.run_until(START_S + 2.5 * 3600, tick_s=60)
    out = w.table("hes.commands")
    out = out.filter(out.column("kind").to_numpy() != CommandKind.CLOCK_SYNC)  # the HES's own
    corr = out.column("correlation_id").to_numpy()
    # every command exactly once, in a terminal state; nothing left in the queue
    assert sorted(corr.tolist()) == sorted(submitted.tolist())
    assert len(hes.commands) == 0 and hes.commands.pending().num_rows == 0
    state = out.column("state").to_numpy()
    assert set(state.tolist()) <= {CommandState.CONFIRMED, CommandState.TIMED_OUT}
    meter_pos = out.column("meter_id").to_numpy() - 1
    issued = out.column("issued_at").to_numpy()
    done = out.column("completed_at").to_numpy()
    # unreachable meters time out exactly at the one-hour deadline
    on_dead = np.isin(meter_pos, dead)
    assert (state[on_dead] == CommandState.TIMED_OUT).all()
    assert np.allclose(done[on_dead], issued[on_dead] + 3600)
    # the rest made it through a 50 % link thanks to retries
    attempts = out.column("attempts").to_numpy()
    assert (state[~on_dead] == CommandState.CONFIRMED).mean() > 0.95
    assert attempts[~on_dead].max() >= 3
    assert (
        done[state == CommandState.CONFIRMED] <= issued[state == CommandState.CONFIRMED] + 3600
    ).all()
    # confirmed means the read-back saw it on the meter
    kind = out.column("kind").to_numpy()
    ok = state == CommandState.CONFIRMED
    assert not w.fleet.switch_connected[meter_pos[ok & (kind == CommandKind.DISCONNECT)]].any()
    assert w.fleet.switch_connected[meter_pos[ok & (kind == CommandKind.RECONNECT)]].all()
    assert (
        w.fleet.contract_amperage_a[meter_pos[ok & (kind == CommandKind.SET_AMPERAGE)]] == 40
    ).all()
    reads = out.filter(ok & (kind == CommandKind.READ))
    assert (reads.column("import_register_wh").to_numpy() > 0).all()
    assert len(hes.journal.commands()) >= out.num_rows


def test_disconnects_go_before_on_demand_reads_on_a_busy_concentrator() -> None:
    fast = MethodParams(attempt_success=1.0, median_delay_s=0.001, delay_sigma=0.0)
    config = CollectionConfig(commands=CommandConfig(permits_per_segment=1))
    w = make_world(200, fast, concentrator_of=np.zeros(200, dtype=np.int64), config=config)
    t = START_S + 60
    reads = w.hes.read_now(np.arange(0, 100), t)
    cuts = w.hes.submit(CommandKind.DISCONNECT, np.arange(100, 150), t)
    w.hes.tick(START_S + 3000)
    out = w.table("hes.commands")
    done = dict(
        zip(
            out.column("correlation_id").to_pylist(),
            out.column("completed_at").to_pylist(),
            strict=True,
        )
    )
    assert len(done) == 150
    assert max(done[c] for c in cuts.tolist()) < min(done[c] for c in reads.tolist())
    # one permit: sessions one after another, never overlapping
    ends = np.sort(np.array(list(done.values())))
    assert (np.diff(ends) > 0).all()


def test_bad_commands_are_refused_up_front() -> None:
    w = make_world(10)
    with pytest.raises(ValueError, match="amperage"):
        w.hes.submit(CommandKind.SET_AMPERAGE, [1], START_S, 33)
    with pytest.raises(ValueError, match="outside the fleet"):
        w.hes.submit(CommandKind.DISCONNECT, [10], START_S)
    with pytest.raises(ValueError, match="first_boundary"):
        w.hes.request_backfill([1], 10, 5, START_S)
    assert len(w.hes.commands) == 0


def test_backfill_beyond_the_window_on_request() -> None:
    config = CollectionConfig(window_slots=4 * 48)
    w = make_world(50, config=config)
    w.network.add_outage(Outage(np.array([7]), START_S, START_S + 5 * 86400))
    w.run_until(START_S + 5 * 86400 + 3600)
    reads = w.table("hes.readings")
    first_b = int(START_S // 1800)
    mine = reads.filter(reads.column("meter_id").to_numpy() == 8)
    # the periodic backfill covers the four-day window only: day 1 is still missing
    before = set(mine.column("boundary").to_pylist())
    assert before and not before & set(range(first_b, first_b + 48))
    w.hes.request_backfill([7], first_b, first_b + 5 * 48, w.now_s)
    w.run_until(w.now_s + 3600)
    reads = w.table("hes.readings")
    mine = reads.filter(reads.column("meter_id").to_numpy() == 8)
    got = set(mine.column("boundary").to_pylist())
    assert set(range(first_b, first_b + 5 * 48 + 1)) <= got  # five days, older than the window
    imp, _ = w.fleet.registers_at(np.full(mine.num_rows, 7), mine.column("boundary").to_numpy())
    assert (mine.column("import_register_wh").to_numpy() == imp).all()


def test_reads_and_switching_read_back_registers_and_the_meter_clock() -> None:
    fast = MethodParams(attempt_success=1.0, median_delay_s=5.0, delay_sigma=0.1)
    w = make_world(40, fast)
    unsynced = copy.deepcopy(w.hes.clocks)  # the HES sets bad clocks right afterwards
    t = START_S + 60
    reads = w.hes.read_now(np.arange(0, 10), t)
    cuts = w.hes.submit(CommandKind.DISCONNECT, np.arange(10, 20), t)
    amps = w.hes.submit(CommandKind.SET_AMPERAGE, np.arange(20, 30), t, 40)
    w.run_until(START_S + 1800, tick_s=60)
    out = w.table("hes.commands")
    corr = out.column("correlation_id").to_numpy()
    imp = out.column("import_register_wh").to_numpy()
    offset = out.column("clock_offset_s").to_numpy()
    done = out.column("completed_at").to_numpy()
    pos = out.column("meter_id").to_numpy() - 1
    for ids in (reads, cuts):
        mine = np.isin(corr, ids)
        assert mine.sum() == 10 and (imp[mine] > 0).all()
        # registers at the moment: never more than the meter's register at the end
        assert (imp[mine] <= w.fleet.import_register_wh[pos[mine]] + 10_000).all()
        assert np.isfinite(offset[mine]).all()
        assert np.allclose(offset[mine], unsynced.offset_s(pos[mine], done[mine]), atol=1e-3)
    # a limiter setting reads back its setting, not registers
    mine = np.isin(corr, amps)
    assert (imp[mine] == -1).all() and np.isnan(offset[mine]).all()


def test_supply_plan_bands_are_set_and_read_back() -> None:
    fast = MethodParams(attempt_success=1.0, median_delay_s=5.0, delay_sigma=0.1)
    w = make_world(20, fast)
    ids = w.hes.submit(CommandKind.SET_TARIFF, np.arange(0, 5), START_S + 60, 2)
    with pytest.raises(ValueError, match="supply plan"):
        w.hes.submit(CommandKind.SET_TARIFF, [6], START_S + 60, 0)
    w.run_until(START_S + 1800, tick_s=60)
    out = w.table("hes.commands")
    mine = out.filter(np.isin(out.column("correlation_id").to_numpy(), ids))
    assert mine.column("state").to_pylist() == [CommandState.CONFIRMED] * 5
    assert w.fleet.supply_plan_code.tolist() == [2] * 5 + [1] * 15
