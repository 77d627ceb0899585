"""The HES service feeding two MDMS worker processes (`openami serve mdms --worker`) through
JetStream, one of them killed (SIGKILL) while the boundary is being collected: the other
takes its partitions after the lease expires and every meter's slot value is stored once."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.cluster.field import (
    SharedClock,
    field_dir,
    first_boundary,
    free_port,
    provision,
    start_field,
    start_hes,
    wait_listening,
)
from tests.mdms.worker_cluster import (
    PARTITIONS,
    WorkerProcess,
    drained,
    only_own_points,
    partition_values,
    wait_for,
)

from openami.bus.jetstream import JetStreamConfig

METERS = 2000
SPEED = 20.0
LEAD_S = 40.0  # four processes start meanwhile (else the next boundary: +90 s)


@pytest.mark.cluster
def test_two_mdms_workers_one_killed_store_every_meters_value_once(
    js_config: JetStreamConfig, tmp_path: Path
) -> None:
    data, port = tmp_path / "data", free_port()
    provision(data, METERS, port)
    db_url = f"sqlite:///{data / 'registry.sqlite'}"
    shared, _ = SharedClock.before_boundary(SPEED, LEAD_S)
    meters_dir = field_dir(data)
    field = start_field(meters_dir, METERS, port, shared, tmp_path / "field.log")
    hes_log = tmp_path / "hes.log"
    stores = tmp_path / "mdms" / "stores"
    stores.mkdir(parents=True)
    hes: subprocess.Popen[bytes] | None = None
    workers: list[WorkerProcess] = []
    try:
        # the field first: on a loaded machine four processes starting together starve it
        wait_listening(port, field, tmp_path / "field.log")
        hes = start_hes(
            data,
            js_config.url,
            js_config.prefix,
            shared,
            hes_log,
            *("--boundaries", "1", "--catch-up-slots", "1", "--partitions", str(PARTITIONS)),
        )
        workers = [WorkerProcess(n, js_config, db_url, stores, ttl_s=3.0) for n in ("w-a", "w-b")]
        boundary = first_boundary(hes_log, hes, 60)
        wait_for(lambda: '"hes.published"' in hes_log.read_text(), 120, "first reads", *workers)
        workers[0].kill()  # mid-collection: its partitions go to w-b after the lease expires
        assert hes.wait(timeout=2 * 1800 / SPEED + 30) == 0, hes_log.read_text()[-3000:]
        wait_for(lambda: drained(js_config), 90, "the survivor to store everything", workers[1])
        assert workers[1].stop() == 0, workers[1].tail()
        per_partition = partition_values(stores)
        assert only_own_points(per_partition)
        slot = [r for rows in per_partition.values() for r in rows if r["slot"] == boundary - 1]
        assert len({r["supply_point_key"] for r in slot}) == METERS  # every meter's value …
        assert len(slot) == METERS  # … once (version 1 each: no duplicate from redelivery)
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.kill()
        if hes is not None and hes.poll() is None:
            hes.kill()
        field.terminate()
        field.wait(timeout=30)
        shutil.rmtree(meters_dir, ignore_errors=True)
