"""At least once, with idempotent effect: an MDMS that stored a batch but died (SIGKILL) or
failed before acknowledging gets the batch again from JetStream, and the re-sent batch adds
nothing to what is stored."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import READ_SCHEMA, TOPIC_READINGS
from openami.clock import ManualClock, day_first_slot
from openami.mdms import Mdms
from openami.registry import Meter, Registry, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore

B0 = day_first_slot(datetime(2026, 11, 1).date())
CONSUMER = Path(__file__).with_name("mdms_consumer.py")


def reads(rows: list[tuple[int, int]]) -> pa.Table:
    return pa.table(
        {
            "meter_id": [7] * len(rows),
            "boundary": [B0 + b for b, _ in rows],
            "import_register_wh": [i for _, i in rows],
            "export_register_wh": [0] * len(rows),
            "received_at": [float((B0 + b) * 1800 + 60) for b, _ in rows],
            "source": [0] * len(rows),
        },
        schema=READ_SCHEMA,
    )


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    path = tmp_path / "registry.sqlite"
    registry = Registry.open(path)
    keys = registry.add_supply_points([make_supply_point_id("03", 1)])
    registry.add_meters([Meter(7, "Toshiba", "S1", 30, "mesh", None, datetime(2030, 1, 1).date())])
    registry.install_meters([(keys[0], 7)], 0.0)
    registry.close()
    return path


def stored(store_path: Path) -> tuple[int, int]:
    store = DuckIntervalStore(store_path)
    try:
        reads_n = store.query("SELECT COUNT(*) AS n FROM register_reads").column("n")[0]
        values_n = store.query("SELECT COUNT(*) AS n FROM half_hour_values").column("n")[0]
        return int(reads_n.as_py()), int(values_n.as_py())
    finally:
        store.close()


def run_consumer(
    config: JetStreamConfig, registry: Path, store: Path, mode: str
) -> subprocess.CompletedProcess[str]:
    args = [config.url, config.prefix, str(registry), str(store), mode]
    return subprocess.run(
        [sys.executable, str(CONSUMER), *args], capture_output=True, text=True, timeout=120
    )


def handled(process: subprocess.CompletedProcess[str]) -> list[dict[str, int]]:
    return [json.loads(line) for line in process.stdout.splitlines() if line.startswith("{")]


def test_a_consumer_killed_between_commit_and_ack_gets_the_batch_again_adding_nothing(
    js_config: JetStreamConfig, registry_path: Path, tmp_path: Path
) -> None:
    store_path = tmp_path / "interval.duckdb"
    publisher = JetStreamBus(js_config)
    publisher.publish(TOPIC_READINGS, reads([(0, 1000), (1, 1130), (2, 1200)]))
    publisher.close()

    killed = run_consumer(js_config, registry_path, store_path, "kill")
    assert killed.returncode == -signal.SIGKILL
    assert handled(killed) == [{"rows": 3, "reads_new": 3, "values_new": 2}]
    assert stored(store_path) == (3, 2)  # committed before the kill

    again = run_consumer(js_config, registry_path, store_path, "settle")
    assert again.returncode == 0, again.stderr[-2000:]
    # the unacknowledged batch came back (ack_wait), and the MDMS added nothing for it
    assert handled(again) == [{"rows": 3, "reads_new": 0, "values_new": 0}]
    assert stored(store_path) == (3, 2)


def test_a_batch_stored_but_not_acknowledged_is_redelivered_in_process(
    js_config: JetStreamConfig, registry_path: Path
) -> None:
    registry = Registry.open(registry_path)
    mdms = Mdms(DuckIntervalStore(), registry, ManualClock(datetime(2026, 11, 2, tzinfo=UTC)))
    results: list[tuple[int, int]] = []

    def ingest_then_lose_the_ack(batch: pa.Table) -> None:
        result = mdms.ingest(batch)
        results.append((result.reads_new, result.values_new))
        if len(results) == 1:  # committed, then the acknowledgement never happens
            raise ConnectionError("connection lost before the ack")

    bus = JetStreamBus(js_config)
    try:
        bus.subscribe(TOPIC_READINGS, ingest_then_lose_the_ack)
        bus.publish(TOPIC_READINGS, reads([(0, 1000), (1, 1130), (2, 1200)]))
        bus.settle(30)
    finally:
        bus.close()
    assert results == [(3, 2), (0, 0)]
    values = mdms.current_values(1, B0, B0 + 5).to_pylist()
    assert [(v["import_wh"], v["version"]) for v in values] == [(130, 1), (70, 1)]
    registry.close()
