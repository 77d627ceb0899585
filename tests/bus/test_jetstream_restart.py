"""The NATS server restarts under a running bus: the client reconnects, the durable
consumer carries on from where it was, and no batch is lost or handled twice. Needs the
``nats-server`` binary (a server of its own is started, stopped and started again)."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tests.bus.nats_server import free_port, start_server

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import READ_SCHEMA, TOPIC_READINGS


def reads(meters: np.ndarray) -> pa.Table:
    n = len(meters)
    return pa.table(
        {
            "meter_id": pa.array(meters, pa.int64()),
            "boundary": pa.array(np.full(n, 1000), pa.int64()),
            "import_register_wh": pa.array(np.arange(n), pa.int64()),
            "export_register_wh": pa.array(np.zeros(n, np.int64), pa.int64()),
            "received_at": pa.array(np.full(n, 1.8e6), pa.float64()),
            "source": pa.array(np.zeros(n, np.uint8), pa.uint8()),
        },
        schema=READ_SCHEMA,
    )


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=10)


def test_a_server_restart_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    binary = shutil.which("nats-server")
    if binary is None:
        pytest.skip("nats-server is not on PATH (Debian package nats-server)")
    port, store = free_port(), tmp_path / "nats"
    server = start_server(binary, port, store)
    got: list[int] = []
    lock = threading.Lock()

    def handle(batch: pa.Table) -> None:
        with lock:
            got.extend(batch.column("meter_id").to_pylist())

    bus = JetStreamBus(JetStreamConfig(url=f"nats://127.0.0.1:{port}", ack_wait_s=2.0))
    try:
        bus.subscribe(TOPIC_READINGS, handle)
        bus.publish(TOPIC_READINGS, reads(np.arange(0, 500)))
        bus.settle(30)
        stop(server)
        server = start_server(binary, port, store)  # same store: streams and consumers kept
        for _ in range(100):  # the client reconnects within a few seconds
            try:
                bus.publish(TOPIC_READINGS, reads(np.arange(500, 1000)))
                break
            except Exception:
                time.sleep(0.2)
        bus.settle(60)
        assert sorted(got) == list(range(1000))
    finally:
        bus.close()
        stop(server)
