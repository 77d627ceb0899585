"""Helpers for the tests of ``openami serve mdms --worker``: a small registry, register
reads, worker processes (the real command) and waits on what they leave in the lease table,
the bus and their logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import READ_SCHEMA, TOPIC_READINGS, partition_of
from openami.bus.route import MeterRoute
from openami.clock import JST, ManualClock, day_first_slot
from openami.mdms import Mdms
from openami.registry import Meter, Registry, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore

PARTITIONS = 8
DAY = date(2026, 11, 1)
B0 = day_first_slot(DAY)
#: the workers' clock: slots up to 04:30-05:00 JST are past their deadline (1 h)
CLOCK_AT = "2026-11-01T06:00:00"
OPENAMI = Path(sys.executable).with_name("openami")
PAUSING = Path(__file__).with_name("worker_pausing.py")
VALUE_COLUMNS = ["supply_point_key", "slot", "version", "import_wh", "export_wh", "quality"]


def make_registry(url: str, meters: int) -> tuple[np.ndarray, np.ndarray]:
    """``meters`` meters, meter i+1 installed at supply point i+1; (meter ids, keys)."""
    registry = Registry.open(url)
    keys = registry.add_supply_points([make_supply_point_id("03", i + 1) for i in range(meters)])
    expiry = date(2035, 1, 1)
    registry.add_meters(
        [Meter(i + 1, "Toshiba", f"S{i + 1}", 30, "mesh", None, expiry) for i in range(meters)]
    )
    registry.install_meters([(k, i + 1) for i, k in enumerate(keys)], 0.0)
    registry.close()
    return np.arange(1, meters + 1, dtype=np.int64), np.asarray(keys, np.int64)


def reads(
    meter_ids: np.ndarray, boundaries: list[int], keep: Callable[[int, int], bool]
) -> pa.Table:
    """Each meter's registers at ``boundaries`` (slots after B0), where ``keep(meter, b)``."""
    rows: dict[str, list[object]] = {name: [] for name in READ_SCHEMA.names}
    for meter in meter_ids.tolist():
        for b in boundaries:
            if not keep(meter, b):
                continue
            rows["meter_id"].append(meter)
            rows["boundary"].append(B0 + b)
            rows["import_register_wh"].append(1000 * meter + 100 * b + (b * meter) % 37)
            rows["export_register_wh"].append(0)
            rows["received_at"].append(float((B0 + b) * 1800 + 60))
            rows["source"].append(0)
    return pa.table(rows, schema=READ_SCHEMA)


def publish(
    config: JetStreamConfig, meter_ids: np.ndarray, keys: np.ndarray, batch: pa.Table
) -> None:
    config = JetStreamConfig(url=config.url, prefix=config.prefix, partitions=PARTITIONS)
    bus = JetStreamBus(config, route=MeterRoute(lambda: (meter_ids, keys)))
    bus.publish(TOPIC_READINGS, batch)
    bus.close()


def reference(url: str, batches: list[pa.Table], tmp: Path) -> list[dict[str, object]]:
    """The values of one MDMS process on one store: each batch ingested, then the due slots
    closed, at the workers' clock."""
    registry = Registry.open(url)
    clock = ManualClock(datetime.fromisoformat(CLOCK_AT).replace(tzinfo=JST))
    mdms = Mdms(DuckIntervalStore(tmp / "reference.duckdb"), registry, clock)
    mdms.start_closing_at(B0)
    for batch in batches:
        mdms.ingest(batch)
        mdms.close_due_slots(clock.timestamp())
    rows = values_of(mdms.store)
    mdms.store.close()
    registry.close()
    return rows


def values_of(store: DuckIntervalStore) -> list[dict[str, object]]:
    columns = ", ".join(VALUE_COLUMNS)
    order = "supply_point_key, slot, version"
    table = store.query(f"SELECT {columns} FROM half_hour_values ORDER BY {order}")
    return list(table.to_pylist())


def partition_values(data_dir: Path) -> dict[int, list[dict[str, object]]]:
    """The values of each partition store the workers left (opened after they stopped)."""
    out = {}
    for path in sorted((data_dir / "partitions").glob("p*/interval.duckdb")):
        store = DuckIntervalStore(path)
        out[int(path.parent.name[1:])] = values_of(store)
        store.close()
    return out


def merged(per_partition: dict[int, list[dict[str, object]]]) -> list[dict[str, object]]:
    rows = [row for rows in per_partition.values() for row in rows]
    return sorted(rows, key=lambda r: (r["supply_point_key"], r["slot"], r["version"]))  # type: ignore[return-value,arg-type]


def only_own_points(per_partition: dict[int, list[dict[str, object]]]) -> bool:
    for partition, rows in per_partition.items():
        keys = np.array([r["supply_point_key"] for r in rows], np.int64)
        if len(keys) and not bool(np.all(partition_of(keys, PARTITIONS) == partition)):
            return False
    return True


class WorkerProcess:
    """``openami serve mdms --worker NAME`` in a process of its own, logging JSON to a file."""

    def __init__(
        self,
        name: str,
        config: JetStreamConfig,
        db_url: str,
        data_dir: Path,
        ttl_s: float,
        pause_file: Path | None = None,
        shared_values: Path | None = None,
    ) -> None:
        self.name = name
        self.log_path = data_dir.parent / f"{name}.log"
        env = {
            **os.environ,
            "OPENAMI_BUS_PREFIX": config.prefix,
            "OPENAMI_BUS_PARTITIONS": str(PARTITIONS),
            "OPENAMI_LOG_JSON": "1",
            "OPENAMI_LOG_LEVEL": "info",
        }
        command = [str(OPENAMI)]
        if shared_values is not None:  # publish to the shared interval store (issue 13 §3)
            env["OPENAMI_SHARED_VALUES_URI"] = str(shared_values)
        if pause_file is not None:
            env["OPENAMI_TEST_PAUSE_FILE"] = str(pause_file)
            command = [sys.executable, str(PAUSING)]
        args = [
            *("serve", "mdms", "--worker", name, "--bus", config.url, "--db", db_url),
            *("--data-dir", str(data_dir), "--lease-ttl", str(ttl_s), "--step", "0.3"),
            *("--ack-wait", "2", "--store-memory", "64MB"),
            *("--close-from", DAY.isoformat(), "--clock-at", CLOCK_AT),
        ]
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*command, *args], stdout=subprocess.DEVNULL, stderr=self.log, env=env
        )

    def events(self, name: str) -> list[dict[str, object]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and f'"{name}"' in line:
                event = json.loads(line)
                if event.get("event") == name:
                    out.append(event)
        return out

    def ticked(self) -> set[int]:
        return {int(p) for e in self.events("mdms.worker_ticked") for p in e["partitions"]}  # type: ignore[attr-defined]

    def stop(self, timeout_s: float = 60) -> int:
        self.process.terminate()
        code = self.process.wait(timeout=timeout_s)
        self.log.close()
        return code

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)
        self.log.close()

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def wait_for(what: Callable[[], bool], timeout_s: float, why: str, *procs: WorkerProcess) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if what():
            return
        for proc in procs:
            if proc.process.poll() is not None:
                raise AssertionError(f"{proc.name} exited while waiting for {why}:\n{proc.tail()}")
        time.sleep(0.1)
    logs = "\n".join(p.tail() for p in procs)
    raise AssertionError(f"timed out waiting for {why}\n{logs}")


def drained(config: JetStreamConfig) -> bool:
    """Every MDMS worker consumer of the readings has nothing pending or unacknowledged."""
    bus = JetStreamBus(JetStreamConfig(url=config.url, prefix=config.prefix, create_streams=False))
    try:
        status = {s.topic: s for s in bus.status()}[TOPIC_READINGS]
    finally:
        bus.close()
    consumers = [c for c in status.consumers if c.name.startswith("mdms_")]
    return len(consumers) == PARTITIONS and all(
        c.pending == 0 and c.ack_pending == 0 for c in consumers
    )
