"""Shared set-up of the MDMS worker benchmarks (not a benchmark itself): a registry, a
pre-loaded readings stream and real ``openami serve mdms --worker`` processes."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from sqlalchemy.engine import make_url

from mdms_fixtures import tick_reads
from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import TOPIC_READINGS
from openami.bus.route import MeterRoute
from openami.clock import day_first_slot
from openami.registry import Meter, Registry, make_supply_point_id
from openami.storage.repositories import open_database
from openami.storage.repositories.leases import PartitionLeases

OPENAMI = Path(sys.executable).with_name("openami")
FIRST_BOUNDARY = day_first_slot(date(2026, 11, 20))


def make_registry(url: str, meters: int) -> tuple[np.ndarray, np.ndarray]:
    registry = Registry.open(url)
    keys = registry.add_supply_points([make_supply_point_id("03", i + 1) for i in range(meters)])
    expiry = date(2035, 1, 1)
    registry.add_meters(
        [Meter(i + 1, "Toshiba", f"S{i + 1}", 30, "mesh", None, expiry) for i in range(meters)]
    )
    registry.install_meters([(k, i + 1) for i, k in enumerate(keys)], 0.0)
    registry.close()
    return np.arange(1, meters + 1, dtype=np.int64), np.asarray(keys, np.int64)


def publish_slots(
    config: JetStreamConfig, meter_ids: np.ndarray, keys: np.ndarray, first: int, last: int
) -> None:
    """Every meter's registers at boundaries ``first..last`` (after FIRST_BOUNDARY)."""
    bus = JetStreamBus(config, route=MeterRoute(lambda: (meter_ids, keys)))
    rng = np.random.default_rng(3)
    imp = rng.integers(0, 5_000_000, len(meter_ids))
    for b in range(last + 1):
        imp = imp + rng.integers(50, 600, len(meter_ids))
        if b >= first:
            exp = np.zeros(len(meter_ids), np.int64)
            bus.publish(TOPIC_READINGS, tick_reads(meter_ids, FIRST_BOUNDARY + b, imp, exp))
    bus.close()


def announce(db_url: str, names: list[str]) -> None:
    """Heartbeats for ``names`` before they start (valid two minutes: a worker's own
    replaces it), so that each takes its fair share at its first step instead of all of
    them going to the first one up."""
    database = open_database(db_url)
    leases = PartitionLeases(database, "mdms", 120.0)
    for name in names:
        leases.heartbeat(name)
    database.close()


class Worker:
    """``openami serve mdms --worker NAME`` logging JSON lines to a file."""

    def __init__(
        self, name: str, config: JetStreamConfig, db_url: str, data_dir: Path, ttl_s: float
    ) -> None:
        self.name = name
        self.log_path = data_dir.parent / f"{name}.log"
        env = {
            **os.environ,
            "OPENAMI_BUS_PREFIX": config.prefix,
            "OPENAMI_BUS_PARTITIONS": str(config.partitions),
            "OPENAMI_LOG_JSON": "1",
        }
        args = [
            *("serve", "mdms", "--worker", name, "--bus", config.url, "--db", db_url),
            *("--data-dir", str(data_dir), "--lease-ttl", str(ttl_s), "--store-memory", "256MB"),
        ]
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(OPENAMI), *args], stdout=subprocess.DEVNULL, stderr=self.log, env=env
        )

    def events(self, name: str) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and f'"{name}"' in line:
                event = json.loads(line)
                if event.get("event") == name:
                    event["at_s"] = datetime.fromisoformat(event["timestamp"]).timestamp()
                    out.append(event)
        return out

    def owned(self) -> list[int]:
        moves = self.events("mdms.worker_partitions")
        return list(moves[-1]["owned"]) if moves else []

    def peak_rss_gib(self) -> float:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return float("nan")
        kib = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM"))
        return round(kib / 2**20, 3)

    def cpu_s(self) -> float:
        """User + system CPU seconds the worker has used so far (Linux ``/proc``)."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> dict[str, Any]:
        self.process.terminate()
        self.process.wait(timeout=300)
        self.log.close()
        stopped = self.events("mdms.worker_stopped")
        return stopped[-1] if stopped else {}

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=60)
        self.log.close()


def wait_for(
    what: Callable[[], bool],
    timeout_s: float,
    why: str,
    procs: list[Worker],
    poll_s: float = 0.05,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        for proc in procs:
            if proc.process.poll() is not None:
                tail = proc.log_path.read_text(errors="replace")[-2000:]
                raise SystemExit(f"{proc.name} exited while waiting for {why}:\n{tail}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {why}")
        time.sleep(poll_s)


def observer(config: JetStreamConfig) -> JetStreamBus:
    """A connection that only looks at the streams (creates nothing)."""
    return JetStreamBus(JetStreamConfig(url=config.url, prefix=config.prefix, create_streams=False))


def drained(bus: JetStreamBus, partitions: list[int]) -> bool:
    """The MDMS workers' consumers of ``partitions`` have nothing pending or in hand."""
    status = {s.topic: s for s in bus.status()}[TOPIC_READINGS]
    wanted = {f"mdms_hes_readings_p{p}" for p in partitions}
    consumers = [c for c in status.consumers if c.name in wanted]
    return len(consumers) == len(wanted) and all(
        c.pending == 0 and c.ack_pending == 0 for c in consumers
    )


def nats_server_cpu_s() -> float | None:
    """CPU seconds of this machine's ``nats-server`` process (None: none found, or several)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text.split(" (", 1)[1].startswith("nats-server)"):
            fields = text.rsplit(")", 1)[1].split()
            found.append((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return found[0] if len(found) == 1 else None


def last_ack_s(bus: JetStreamBus, partitions: list[int]) -> float:
    """When the server recorded the last acknowledgement of the workers' consumers of
    ``partitions`` [epoch s]: the end of a drain, whenever it was noticed."""
    status = {s.topic: s for s in bus.status()}[TOPIC_READINGS]
    wanted = {f"mdms_hes_readings_p{p}" for p in partitions}
    acks = [c.last_ack_s for c in status.consumers if c.name in wanted]
    if not acks or any(a is None for a in acks):
        raise SystemExit("a partition's consumer never acknowledged a message")
    return max(a for a in acks if a is not None)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def common_arguments(
    description: str, default_meters: int, small_meters: int
) -> argparse.ArgumentParser:
    """The options every worker benchmark takes: bus URL, database, meters, --small, --json."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--url", default=os.environ.get("OPENAMI_BUS_URL", "nats://127.0.0.1:4222"))
    ap.add_argument(
        "--db",
        default=None,
        help="server holding the leases and registry, e.g. postgresql+psycopg://postgres@"
        "127.0.0.1/test: the run makes a database of its own there and drops it afterwards "
        "(default: a SQLite file)",
    )
    ap.add_argument("--meters", type=int, default=None, help=f"meters (default {default_meters:,})")
    ap.add_argument("--small", action="store_true", help=f"{small_meters:,} meters")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    return ap


@contextmanager
def scratch_database(server_url: str | None, tmp: Path) -> Iterator[str]:
    """A database of this run's own: a SQLite file under ``tmp``, or a fresh database on the
    PostgreSQL server of ``server_url`` (dropped at the end, so a second run starts clean)."""
    if server_url is None:
        yield f"sqlite:///{tmp / 'registry.sqlite'}"
        return
    url = make_url(server_url)
    if not url.drivername.startswith("postgresql"):
        raise SystemExit(f"--db: a PostgreSQL URL, not {url.drivername}")
    admin_info = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"openami_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_info, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
