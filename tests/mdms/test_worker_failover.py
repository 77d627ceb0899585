"""kill -9 of an MDMS worker between its commit and its acknowledgement: another worker
process takes its partitions once the leases expire, gets the batch again from JetStream and
stores nothing twice (leases on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from tests.bus.nats_server import js_config, nats_url
from tests.storage.engines import database, postgres_url

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import READ_SCHEMA, TOPIC_READINGS
from openami.clock import day_first_slot
from openami.registry import Meter, Registry, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import Database
from openami.storage.repositories.leases import PartitionLeases

__all__ = ["database", "js_config", "nats_url", "postgres_url"]
B0 = day_first_slot(datetime(2026, 11, 1).date())
WORKER = Path(__file__).with_name("worker_process.py")


def reads() -> pa.Table:
    rows = [(0, 1000), (1, 1130), (2, 1200)]
    return pa.table(
        {
            "meter_id": [7] * 3,
            "boundary": [B0 + b for b, _ in rows],
            "import_register_wh": [i for _, i in rows],
            "export_register_wh": [0] * 3,
            "received_at": [float((B0 + b) * 1800 + 60) for b, _ in rows],
            "source": [0] * 3,
        },
        schema=READ_SCHEMA,
    )


def make_registry(path: Path) -> Path:
    registry = Registry.open(path)
    keys = registry.add_supply_points([make_supply_point_id("03", 1)])
    registry.add_meters([Meter(7, "Toshiba", "S1", 30, "mesh", None, datetime(2030, 1, 1).date())])
    registry.install_meters([(keys[0], 7)], 0.0)
    registry.close()
    return path


def lines(process: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return [json.loads(x) for x in process.stdout.splitlines() if x.startswith("{")]


@pytest.mark.parametrize(
    ("mode", "first_stored", "then_new"),
    [
        ("kill", [{"worker": "w1", "rows": 3, "reads_new": 3, "values_new": 2}], (0, 0)),
        ("kill-in-transaction", [], (3, 2)),  # rolled back: the successor stores it all
    ],
)
def test_a_killed_workers_batch_is_resumed_by_another_and_stored_once(
    js_config: JetStreamConfig,
    database: Database,
    tmp_path: Path,
    mode: str,
    first_stored: list[dict[str, object]],
    then_new: tuple[int, int],
) -> None:
    """Killed after its commit (before the ack), or inside the ingest's transaction (writes
    done, not committed): either way the value is stored exactly once in the end."""
    registry, store = make_registry(tmp_path / "registry.sqlite"), tmp_path / "interval.duckdb"
    lease_db = database.url.render_as_string(hide_password=False)
    publisher = JetStreamBus(
        JetStreamConfig(url=js_config.url, prefix=js_config.prefix, partitions=8)
    )
    publisher.publish(TOPIC_READINGS, reads())
    publisher.close()

    def run(name: str, mode: str) -> subprocess.CompletedProcess[str]:
        args = [js_config.url, js_config.prefix, lease_db, str(registry), str(store), name, mode]
        return subprocess.run(
            [sys.executable, str(WORKER), *args], capture_output=True, text=True, timeout=120
        )

    killed = run("w1", mode)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert lines(killed) == first_stored
    held = PartitionLeases(database, "mdms", 2.0).held()
    assert {lease.owner for lease in held.values()} == {"w1"}  # still w1's until they expire

    resumed = run("w2", "settle")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    handled, done = lines(resumed)[:-1], lines(resumed)[-1]
    reads_new, values_new = then_new
    expected = {"worker": "w2", "rows": 3, "reads_new": reads_new, "values_new": values_new}
    assert handled == [expected]
    assert isinstance(done["done"], float) and done["done"] < 30  # failover well within 30 s
    assert PartitionLeases(database, "mdms", 2.0).held() == {}  # w2 left cleanly
    duck = DuckIntervalStore(store)
    rows = duck.query("SELECT slot, version, import_wh FROM half_hour_values ORDER BY slot")
    assert rows.to_pylist() == [
        {"slot": B0, "version": 1, "import_wh": 130},
        {"slot": B0 + 1, "version": 1, "import_wh": 70},
    ]
    duck.close()
