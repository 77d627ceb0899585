"""A stored simulation carries on after a restart as if it never stopped."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import CommandKind, CommandState
from openami.clock import JST, SLOT_SECONDS, ManualClock, day_first_slot
from openami.hes.command_port import HesCommandPort
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.sim.city import attach_city
from openami.sim.persist import load_config, load_position
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_in_data_dir
from openami.storage.repositories.hes import HesRecordStore, SimulationStore

START = date(2026, 11, 2)
START_DT = datetime.combine(START, datetime.min.time(), JST)
START_S = START_DT.timestamp()
CONFIG = CityConfig(meters=60, seed=7, start_day=START)


def _open(data_dir: Path) -> tuple[Registry, DuckIntervalStore, HesRecordStore, SimulationStore]:
    database = open_in_data_dir(data_dir)
    store = DuckIntervalStore(data_dir / "interval.duckdb")
    return Registry(database), store, HesRecordStore(database), SimulationStore(database)


def _values(sim: Simulation, keys: list[int], last_slot: int) -> pa.Table:
    first = day_first_slot(START)
    tables = []
    for key in keys:
        t = sim.mdms.current_values(key, first, last_slot).select(["slot", "import_wh"])
        tables.append(t.append_column("key", pa.array([key] * t.num_rows, pa.int64())))
    return pa.concat_tables(tables).sort_by([("key", "ascending"), ("slot", "ascending")])


def test_a_restarted_simulation_matches_one_that_never_stopped(tmp_path: Path) -> None:
    stop_s = START_S + 20 * 3600 + 600  # mid-collection: 10 minutes after 20:00
    end_s = START_S + 30 * 3600

    # the reference: one run, never stopped
    registry, store, records, state = _open(tmp_path / "once")
    city = build_city(CONFIG, registry)
    once = Simulation.create(city, store, ManualClock(START_DT), records=records, state=state)
    corr_once = HesCommandPort(once.hes)
    once.run_until(stop_s)
    corr = corr_once.submit(CommandKind.DISCONNECT, 5, stop_s, reference="req-1")
    once.run_until(end_s)
    reference = _values(once, city.supply_point_keys, int(end_s // SLOT_SECONDS) - 3)

    # the same city stopped mid-collection with a command queued, then resumed
    registry, store, records, state = _open(tmp_path / "twice")
    city = build_city(CONFIG, registry)
    first = Simulation.create(city, store, ManualClock(START_DT), records=records, state=state)
    first.run_until(stop_s)
    port = HesCommandPort(first.hes)
    corr_first = port.submit(CommandKind.DISCONNECT, 5, stop_s, reference="req-1")
    assert first.hes.pending_readings > 0  # readings were in flight when it stopped
    store.close()
    registry, store, records, state = _open(tmp_path / "twice")
    config = load_config(state)
    assert config == CONFIG
    position = load_position(state)
    assert position is not None and position.now_s == stop_s
    city = attach_city(config, registry)
    again = Simulation.resume(city, store, ManualClock(START_DT), records, state)
    port = HesCommandPort(again.hes)
    # the request's command was queued before the stop: submitting again adds nothing
    assert port.submit(CommandKind.DISCONNECT, 5, stop_s, reference="req-1") == corr_first
    again.run_until(end_s)
    outcome = port.outcomes([corr_first])
    assert outcome.column("state").to_pylist() == [int(CommandState.CONFIRMED)]
    assert port.switch_connected(5) is False
    kinds = again.hes.journal.commands().column("kind").to_pylist()
    assert kinds.count(int(CommandKind.DISCONNECT)) == 1
    resumed = _values(again, city.supply_point_keys, int(end_s // SLOT_SECONDS) - 3)
    assert corr == corr_first
    assert resumed.num_rows == reference.num_rows > 60 * 40
    assert not _differences(resumed, reference)
    assert pc.sum(resumed.column("import_wh")).as_py() > 0


def _differences(a: pa.Table, b: pa.Table) -> list[tuple[int, int, int, int]]:
    out = []
    for ka, sa_, va, vb in zip(
        a.column("key").to_pylist(),
        a.column("slot").to_pylist(),
        a.column("import_wh").to_pylist(),
        b.column("import_wh").to_pylist(),
        strict=True,
    ):
        if va != vb:
            out.append((ka, sa_, va, vb))
    return out
