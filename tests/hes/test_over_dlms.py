"""The HES over DLMS/TCP against openami's meter emulator on a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest
from tests.protocols.dlms.dlms_peers import KEYS, NOW, PASSWORD, Running, running_emulator

from openami.bus.inprocess import InProcessBus
from openami.bus.messages import CommandKind, CommandState
from openami.hes.over_dlms import DlmsCollectConfig, DlmsEndpoint, DlmsHeadEnd

FAST = DlmsCollectConfig(concurrency=4, retries=1, retry_base_s=0.01, timeout_s=10.0)


@pytest.fixture
def run() -> Iterator[Running]:
    with running_emulator(meters=6) as running:
        yield running


def head_end(run: Running, secret: str, bus: InProcessBus, extra_meters: int = 0) -> DlmsHeadEnd:
    endpoint = (
        DlmsEndpoint(run.host, run.port, password=PASSWORD)
        if secret == "password"
        else DlmsEndpoint(run.host, run.port, keys=KEYS)
    )
    ids = np.concatenate([run.fleet.meter_ids, 9000 + np.arange(extra_meters)])
    return DlmsHeadEnd(endpoint, ids, bus, run.clock, FAST)


@pytest.mark.parametrize("secret", ["password", "suite0"])
def test_range_reads_deliver_the_logged_registers_and_clock(run: Running, secret: str) -> None:
    bus, seen = InProcessBus(), []
    bus.subscribe("hes.readings", seen.append)
    # one meter past the emulator's fleet: refused, retried, reported, the rest delivered
    hes = head_end(run, secret, bus, extra_meters=1)
    now_b = int(NOW.timestamp()) // 1800
    first_b = now_b - 2 * 48

    async def go() -> tuple:
        backfill = await hes.backfill(np.arange(7), first_b, now_b)
        again = await hes.backfill(np.arange(6), first_b, now_b)  # counters keep rising
        scheduled = await hes.collect_boundary(np.arange(6), now_b)
        return backfill, again, scheduled

    backfill, again, scheduled = asyncio.run(go())
    assert backfill.failed_index.tolist() == [6] and again.failed_index.tolist() == []
    t = backfill.readings
    assert t.num_rows == 6 * (now_b - first_b + 1)
    assert set(t.column("source").to_pylist()) == {2}
    idx = run.fleet.index_of(t.column("meter_id").to_numpy())
    imp, exp = run.fleet.registers_at(idx, t.column("boundary").to_numpy())
    assert (t.column("import_register_wh").to_numpy() == imp).all()
    assert (t.column("export_register_wh").to_numpy() == exp).all()
    assert scheduled.readings.num_rows == 6
    assert set(scheduled.readings.column("boundary").to_pylist()) == {now_b}
    assert set(scheduled.readings.column("source").to_pylist()) == {0}
    assert np.abs(backfill.clock_offset_s[:6]).max() < 2.0 and np.isnan(backfill.clock_offset_s[6])
    assert pa.concat_tables(seen).num_rows == 2 * t.num_rows + 6
    assert hes.session_failures == 2  # the missing meter, tried twice


def test_commands_are_confirmed_by_read_back_or_time_out(run: Running) -> None:
    bus, seen = InProcessBus(), []
    bus.subscribe("hes.commands", seen.append)
    hes = head_end(run, "suite0", bus, extra_meters=1)  # the password level reads only

    async def go() -> tuple:
        cut = await hes.run_commands(CommandKind.DISCONNECT, [1, 2, 6])
        read = await hes.run_commands(CommandKind.READ, [3])
        back = await hes.run_commands(CommandKind.RECONNECT, [1])
        return cut, read, back

    cut, read, back = asyncio.run(go())
    assert cut.column("state").to_pylist() == [
        CommandState.CONFIRMED,
        CommandState.CONFIRMED,
        CommandState.TIMED_OUT,
    ]
    assert run.fleet.switch_connected.tolist() == [True, True, False, True, True, True]
    assert back.column("state").to_pylist() == [CommandState.CONFIRMED]
    assert read.column("state").to_pylist() == [CommandState.CONFIRMED]
    assert read.column("import_register_wh")[0].as_py() > 0
    ids = [c for t in seen for c in t.column("correlation_id").to_pylist()]
    assert ids == [1, 2, 3, 4, 5] and hes.journal.commands().num_rows == 5
    with pytest.raises(ValueError):
        asyncio.run(hes.run_commands(CommandKind.SET_AMPERAGE, [1]))


def test_wrong_secret_never_reads(run: Running) -> None:
    bus = InProcessBus()
    hes = DlmsHeadEnd(
        DlmsEndpoint(run.host, run.port, password=b"wrong-password"),
        run.fleet.meter_ids,
        bus,
        run.clock,
        FAST,
    )
    cycle = asyncio.run(hes.collect_boundary(np.arange(6), int(NOW.timestamp()) // 1800))
    assert cycle.readings.num_rows == 0 and cycle.failed_index.tolist() == list(range(6))


def test_supply_plan_bands_are_written_activated_and_read_back(run: Running) -> None:
    from openami.hes.dlms import DlmsClient
    from openami.protocols.dlms.calendar import PLANS

    bus = InProcessBus()
    hes = head_end(run, "suite0", bus)
    assert run.fleet.supply_plan_code.tolist() == [1] * 6

    async def go() -> pa.Table:
        return await hes.run_commands(CommandKind.SET_TARIFF, [2, 4], argument=3)

    out = asyncio.run(go())
    assert out.column("state").to_pylist() == [CommandState.CONFIRMED] * 2
    assert run.fleet.supply_plan_code.tolist() == [1, 1, 3, 1, 3, 1]
    # the meter keeps the bands: a new association (the read-only password level) reads them
    lls = head_end(run, "password", bus)

    async def read_back(index: int) -> object:
        async def read(client: DlmsClient) -> object:
            return await client.read_tou_calendar()

        result, _ = await lls._with_session(asyncio.Semaphore(1), index, read)
        return result

    assert asyncio.run(read_back(4)) == PLANS["weekday_peak"]
    assert asyncio.run(read_back(0)) == PLANS["flat"]
    with pytest.raises(ValueError, match="supply plan"):
        asyncio.run(hes.run_commands(CommandKind.SET_TARIFF, [1], argument=9))
    # the password (LLS) level may read but never write the calendar
    refused = asyncio.run(lls.run_commands(CommandKind.SET_TARIFF, [0], argument=2))
    assert refused.column("state").to_pylist() != [CommandState.CONFIRMED]
    assert run.fleet.supply_plan_code[0] == 1
