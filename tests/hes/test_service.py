"""The HES service's collection and commands over DLMS/TCP, against openami's meter emulator
on a real socket (suite 0, per-meter endpoints, the switching guard with real signatures)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tests.protocols.dlms.dlms_peers import KEYS, NOW, Running, running_emulator

from openami.bus.inprocess import InProcessBus
from openami.bus.messages import COMMAND_REQUEST_SCHEMA, CommandKind, CommandState, ReadSource
from openami.clock import SLOT_SECONDS, AnchoredClock
from openami.hes.core import CollectionConfig
from openami.hes.dlms_access import DlmsAccess, MeterSecrets, ReservedCounters
from openami.hes.service import HesService
from openami.hes.service_commands import ServiceCommands, encode_authorisation
from openami.hes.switch_guard import SwitchGuard
from openami.storage.dlms_counters import ClientCounterFiles
from openami.storage.repositories import open_database
from openami.storage.repositories.command_signing import CommandSigner, SignedCommand
from openami.storage.repositories.hes_guard import HesGuardStore

FAST = CollectionConfig(push_jitter_s=0.0, retry_base_s=0.01, max_retries=1)
BOUNDARY = int(NOW.timestamp()) // SLOT_SECONDS


@pytest.fixture
def run() -> Iterator[Running]:
    with running_emulator(meters=6) as running:
        yield running


def access(run: Running, tmp_path: Path) -> DlmsAccess:
    """The 6 meters and a 7th whose logical device the field does not have (refused)."""
    ids = np.concatenate([run.fleet.meter_ids, [9001]])
    clock = AnchoredClock(NOW.timestamp(), time.time(), 1.0)  # the emulator's time, moving
    return DlmsAccess(
        ids,
        [run.host] * 7,
        np.full(7, run.port),
        np.arange(1, 8),
        lambda _meter: MeterSecrets(None, KEYS),
        clock,
        endpoint_permits=3,
        timeout_s=10.0,
        counters=ClientCounterFiles(tmp_path / "counters"),
    )


def test_one_range_read_per_meter_fetches_the_boundary_and_its_gaps(
    run: Running, tmp_path: Path
) -> None:
    bus, seen = InProcessBus(), []
    bus.subscribe("hes.readings", seen.append)
    dlms = access(run, tmp_path)
    service = HesService(dlms, bus, dlms.clock, FAST)
    for b in range(BOUNDARY - 2, BOUNDARY):  # two boundaries not collected yet
        service.window.open(b)

    async def go() -> int:
        await service.collect_boundary(BOUNDARY)
        return await service.flush()

    assert asyncio.run(go()) == 6 * 3
    t = pa.concat_tables(seen)
    idx = run.fleet.index_of(t.column("meter_id").to_numpy())
    imp, exp = run.fleet.registers_at(idx, t.column("boundary").to_numpy())
    assert (t.column("import_register_wh").to_numpy() == imp).all()
    assert (t.column("export_register_wh").to_numpy() == exp).all()
    source = dict(
        zip(t.column("boundary").to_pylist(), t.column("source").to_pylist(), strict=False)
    )
    assert source[BOUNDARY] == ReadSource.SCHEDULED
    assert source[BOUNDARY - 2] == ReadSource.BACKFILL
    # the refused meter: tried 1 + max_retries times, reported, still a gap from BOUNDARY-2
    assert service.stats.meters_missed == 1 and service.stats.sessions_failed == 2
    assert service.window.oldest_gap(BOUNDARY).tolist() == [-1] * 6 + [BOUNDARY - 2]
    assert np.abs(service.clock_watch.offset_s[:6]).max() < 5.0
    assert service.clock_watch.ok[:6].all()


def _request(corr: int, meter: int, kind: CommandKind, arg: int, auth: str | None) -> dict:
    return {
        "correlation_id": corr,
        "meter_id": meter,
        "kind": int(kind),
        "priority": 0,
        "argument": arg,
        "issued_at": NOW.timestamp(),
        "deadline_at": NOW.timestamp() + 600,
        "reference": f"req-{corr}",
        "authorisation": auth,
    }


def test_commands_pass_the_switch_guard_and_are_confirmed_by_read_back(
    run: Running, tmp_path: Path
) -> None:
    bus, outcomes = InProcessBus(), []
    bus.subscribe("hes.commands", outcomes.append)
    dlms = access(run, tmp_path)
    signer = CommandSigner(bytes(range(32)))
    database = open_database(tmp_path / "hes.sqlite")
    guard = SwitchGuard(HesGuardStore(database), signer.verifier(), 7)
    commands = ServiceCommands(dlms, bus, dlms.clock, FAST, guard)
    now = dlms.clock.timestamp()

    def signed(kind: CommandKind, meter: int, arg: int, request: str) -> str:
        command = SignedCommand(int(kind), meter, arg, now - 1, request, ("op-a",), now + 600)
        return encode_authorisation(signer.sign(command))

    batch = pa.Table.from_pylist(
        [
            _request(
                1, 1001, CommandKind.DISCONNECT, 0, signed(CommandKind.DISCONNECT, 1001, 0, "r1")
            ),
            _request(2, 1002, CommandKind.DISCONNECT, 0, None),  # unsigned: refused
            _request(
                3,
                1003,
                CommandKind.SET_AMPERAGE,
                40,
                signed(CommandKind.SET_AMPERAGE, 1003, 40, "r3"),
            ),
            _request(
                4,
                1004,
                CommandKind.SET_AMPERAGE,
                60,
                signed(CommandKind.SET_AMPERAGE, 1004, 50, "r4"),
            ),
            _request(5, 1005, CommandKind.READ, 0, None),
            _request(6, 77, CommandKind.READ, 0, None),  # not one of this HES's meters
        ],
        schema=COMMAND_REQUEST_SCHEMA,
    )
    try:
        first = asyncio.run(commands.handle(batch))
        again = asyncio.run(commands.handle(batch))  # redelivered: nothing runs twice
    finally:
        database.close()
    state = dict(
        zip(
            first.column("correlation_id").to_pylist(),
            first.column("state").to_pylist(),
            strict=True,
        )
    )
    assert state == {
        1: CommandState.CONFIRMED,
        2: CommandState.FAILED,
        3: CommandState.CONFIRMED,
        4: CommandState.FAILED,  # the signed argument is not the command's
        5: CommandState.CONFIRMED,
        6: CommandState.FAILED,
    }
    assert guard.refusal(2) == "unsigned" and guard.refusal(4) == "altered"
    assert again.num_rows == 0 and len(outcomes) == 1
    assert not run.fleet.switch_connected[0]  # meter 1001 is disconnected
    assert run.fleet.contract_amperage_a[2] == 40
    read = first.filter(pc.equal(first.column("correlation_id"), 5)).to_pylist()[0]
    imp, _ = run.fleet.registers_at(np.array([4]), np.array([BOUNDARY]))
    assert read["import_register_wh"] >= imp[0]


def test_reserved_counters_write_once_per_block_and_never_reuse_after_a_restart(
    tmp_path: Path,
) -> None:
    files = ClientCounterFiles(tmp_path / "c")
    title = b"OPENAMI\x01"
    first = ReservedCounters(files, reserve=100)
    first.prime(title, ["meter-1", "meter-2"])
    assert files.next_counter(title, "meter-1") == 101  # 1 + the block, on disk
    used = 0
    for counter in range(1, 150):  # a session's APDUs: saved before each leaves
        first.save_next(title, "meter-1", counter + 1)
        used = counter
    assert first.next_counter(title, "meter-1") == used + 1  # from memory
    on_disk = files.next_counter(title, "meter-1")
    assert on_disk is not None and on_disk > used  # one new block written, above every use
    restarted = ReservedCounters(files, reserve=100)  # e.g. after kill -9
    assert (restarted.next_counter(title, "meter-1") or 0) > used


def test_a_stop_ends_the_cycle_in_hand_and_publishes_what_was_read(
    run: Running, tmp_path: Path
) -> None:
    bus, seen = InProcessBus(), []
    bus.subscribe("hes.readings", seen.append)
    dlms = access(run, tmp_path)
    slow = CollectionConfig(push_jitter_s=3600.0)  # most reads would start much later
    service = HesService(dlms, bus, dlms.clock, slow)

    async def go() -> asyncio.Task[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(service.collect_boundary(BOUNDARY))
        service._inflight.add(task)
        asyncio.get_running_loop().call_later(0.5, stop.set)
        await service.run(stop)  # returns without waiting the hour the jitter asks for
        return task

    task = asyncio.run(go())
    assert task.cancelled()  # the cycle was cut short, not completed
    assert service.stats.boundaries == 0
    assert sum(t.num_rows for t in seen) == service.stats.reads_published


def test_a_restarted_service_never_reuses_a_counter_the_meters_saw(
    run: Running, tmp_path: Path
) -> None:
    bus = InProcessBus()
    dlms = access(run, tmp_path)
    first = HesService(dlms, bus, dlms.clock, FAST)
    asyncio.run(first.collect_boundary(BOUNDARY))
    assert first.stats.sessions_ok == 6
    # a new process (kill -9: nothing of the first one's memory), same counter files
    restarted = access(run, tmp_path)
    again = HesService(restarted, bus, restarted.clock, FAST)
    asyncio.run(again.collect_boundary(BOUNDARY))
    assert again.stats.sessions_ok == 6  # the meters accepted every counter: all higher
    assert again.stats.meters_missed == 1  # only the meter the field does not have
