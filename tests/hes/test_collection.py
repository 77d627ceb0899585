"""HES collection: injected losses are retried and backfilled; clocks checked and synced;
alarms arrive by push or from the event log."""

from __future__ import annotations

import numpy as np
from tests.hes.hes_world import START_B, START_S, make_world

from openami.bus.messages import CommandKind, CommandState, MeterEvent, ReadSource
from openami.clock import SLOT_SECONDS
from openami.network import (
    ClockParams,
    MeterClocks,
    MethodParams,
    Outage,
)
from openami.network.scenarios import area_blackout, concentrator_failure

LOSSY = MethodParams(attempt_success=0.7, median_delay_s=60.0, delay_sigma=0.5)


def test_losses_are_retried_and_gaps_backfilled_with_the_logged_values() -> None:
    n = 400
    w = make_world(n, LOSSY)
    lost = np.arange(0, 40, dtype=np.int64)
    w.network.add_outage(Outage(lost, START_S + 2 * 3600, START_S + 4 * 3600))
    w.run_until(START_S + 18 * 3600 + 600)
    reads = w.table("hes.readings")
    meter = reads.column("meter_id").to_numpy()
    boundary = reads.column("boundary").to_numpy()
    source = reads.column("source").to_numpy()
    received = reads.column("received_at").to_numpy()
    # a 70 % link needs retries, and four attempts still leave gaps for the backfill
    assert (source == ReadSource.SCHEDULED).mean() < 0.8
    assert (source == ReadSource.RETRY).sum() > 0.2 * n * 30
    assert (source == ReadSource.BACKFILL).sum() > 0
    # every meter's every boundary of the first ten hours was delivered, with logged values
    want = {(m, b) for m in range(1, n + 1) for b in range(START_B, START_B + 21)}
    got = set(zip(meter.tolist(), boundary.tolist(), strict=True))
    assert want <= got
    imp, exp = w.fleet.registers_at(w.fleet.index_of(meter), boundary)
    assert (reads.column("import_register_wh").to_numpy() == imp).all()
    assert (reads.column("export_register_wh").to_numpy() == exp).all()
    # the outage's boundaries came only from backfill, after the outage
    in_outage = np.isin(meter, lost + 1) & (boundary >= START_B + 4) & (boundary < START_B + 8)
    assert in_outage.sum() == 40 * 4
    assert (source[in_outage] == ReadSource.BACKFILL).all()
    assert (received[in_outage] >= START_S + 4 * 3600).all()
    # retries happen later than first attempts: exponential backoff from 150 s
    first_delay = (
        received[source == ReadSource.SCHEDULED] - boundary[source == ReadSource.SCHEDULED] * 1800
    )
    retry_delay = received[source == ReadSource.RETRY] - boundary[source == ReadSource.RETRY] * 1800
    assert np.median(retry_delay) > np.median(first_delay) + 100
    assert w.hes.pending_readings == 0 or received.max() <= w.now_s


def test_clocks_are_checked_every_session_and_bad_ones_synchronised() -> None:
    n = 300
    clocks = MeterClocks(
        np.arange(1, n + 1), seed=9, start_s=START_S, params=ClockParams(bad_share=0.1)
    )
    bad = np.flatnonzero(np.abs(clocks.offset_s(np.arange(n), START_S)) > 60)
    assert len(bad) > 10
    w = make_world(n, clocks=clocks)
    w.network.add_outage(Outage(np.array([n - 1]), START_S, START_S + 3 * 86400))
    w.run_until(START_S + 86400 + 900)
    cmds = w.table("hes.commands")
    syncs = cmds.filter(cmds.column("kind").to_numpy() == CommandKind.CLOCK_SYNC)
    synced = set(syncs.column("meter_id").to_pylist())
    assert set((bad + 1).tolist()) <= synced
    assert (syncs.column("state").to_numpy() == CommandState.CONFIRMED).all()
    assert (np.abs(syncs.column("clock_offset_s").to_numpy()) > 5).all()
    assert np.abs(clocks.offset_s(bad, w.now_s)).max() < 5.0  # drift since the sync
    day = w.hes.journal.clock_days()
    assert day.num_rows == n and str(day.column("day")[0]) == "2026-11-01"
    checked = day.column("clock_checked").to_numpy()
    assert checked[:-1].all() and not checked[-1]  # the unreachable meter was never read
    assert day.column("clock_ok").to_numpy()[:-1].all()  # right after their sync


def test_alarms_arrive_by_push_or_from_the_event_log() -> None:
    n = 300
    mesh = MethodParams(
        attempt_success=1.0,
        median_delay_s=30.0,
        delay_sigma=0.3,
        rejoin_min_s=600.0,
        rejoin_max_s=1800.0,
        last_gasp_success=0.3,
    )
    w = make_world(n, mesh)
    area = np.arange(100, 200, dtype=np.int64)
    area_blackout(w.network, area, START_S + 3600, START_S + 2 * 3600)
    w.network.add_tamper([5], START_S + 4 * 3600)
    w.run_until(START_S + 13 * 3600)
    ev = w.table("hes.events")
    kind = ev.column("event").to_numpy()
    via_log = ev.column("via_log").to_numpy()
    meter = ev.column("meter_id").to_numpy()
    gasps = kind == MeterEvent.LAST_GASP
    # every last gasp is known in the end: a share by push, the rest from the meters' logs
    assert sorted(meter[gasps].tolist()) == (area + 1).tolist()
    assert 0.1 < (~via_log[gasps]).mean() < 0.5
    restores = kind == MeterEvent.RESTORE
    assert sorted(meter[restores].tolist()) == (area + 1).tolist()
    assert (ev.column("received_at").to_numpy()[restores] >= START_S + 2 * 3600 + 600).all()
    assert meter[kind == MeterEvent.TAMPER].tolist() == [6]
    assert len(w.hes.journal.events()) == ev.num_rows
    # during the blackout, reads of the area were missed, then backfilled
    reads = w.table("hes.readings")
    b = reads.column("boundary").to_numpy()
    m = reads.column("meter_id").to_numpy()
    during = np.isin(m, area + 1) & (b == START_B + 3)
    assert during.sum() == 100
    assert (reads.column("source").to_numpy()[during] == 2).all()
    assert SLOT_SECONDS == 1800


def test_a_dark_concentrator_is_inferred_from_mass_missed_reads() -> None:
    mesh = MethodParams(
        attempt_success=1.0,
        median_delay_s=30.0,
        delay_sigma=0.3,
        rejoin_min_s=600.0,
        rejoin_max_s=1800.0,
    )
    w = make_world(300, mesh, concentrator_of=np.repeat(np.arange(3), 100))
    concentrator_failure(w.network, 1, START_S + 2 * 3600, START_S + 3 * 3600)
    w.network.add_outage(Outage(np.arange(0, 50), START_S + 4 * 3600, START_S + 5 * 3600))
    w.run_until(START_S + 6 * 3600)
    alarms = w.hes.journal.segment_alarms()
    assert set(alarms.column("segment").to_pylist()) == {1}  # half of concentrator 0: no alarm
    boundaries = set(alarms.column("boundary").to_pylist())
    assert {START_B + 4, START_B + 5} <= boundaries <= {START_B + 4, START_B + 5, START_B + 6}
    assert set(alarms.column("meters").to_pylist()) == {100}
    assert (alarms.column("detected_at").to_numpy() >= START_S + 2 * 3600).all()
