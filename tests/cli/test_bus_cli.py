"""`openami bus status` on a real NATS server: streams, consumers, absent streams, errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
from click.testing import CliRunner
from tests.bus.nats_server import js_config, nats_url

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import READ_SCHEMA, TOPIC_READINGS
from openami.cli.main import cli

__all__ = ["js_config", "nats_url"]


def reads(n: int) -> pa.Table:
    ids = np.arange(n, dtype=np.int64)
    return pa.table(
        {
            "meter_id": ids,
            "boundary": np.full(n, 1000, np.int64),
            "import_register_wh": ids,
            "export_register_wh": np.zeros(n, np.int64),
            "received_at": np.full(n, 1.8e6),
            "source": pa.array(np.zeros(n, np.uint8), pa.uint8()),
        },
        schema=READ_SCHEMA,
    )


def test_status_shows_streams_and_consumers(js_config: JetStreamConfig) -> None:
    config = JetStreamConfig(url=js_config.url, prefix=js_config.prefix, partitions=1)
    bus = JetStreamBus(config)
    try:
        bus.subscribe(TOPIC_READINGS, lambda batch: None)
        never_acked = {s.topic: s for s in bus.status()}[TOPIC_READINGS].consumers[0]
        before_s = time.time()
        bus.publish(TOPIC_READINGS, reads(10))
        bus.settle(30)
        acked = {s.topic: s for s in bus.status()}[TOPIC_READINGS].consumers[0]
    finally:
        bus.close()
    assert never_acked.last_ack_s is None
    assert acked.last_ack_s is not None and before_s - 1 <= acked.last_ack_s <= time.time() + 1
    args = ["bus", "status", "--bus", js_config.url, "--prefix", js_config.prefix]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    readings = next(line for line in result.output.splitlines() if "_HES_READINGS" in line)
    cells = [c.strip() for c in readings.split("│") if c.strip()]
    shown = datetime.fromtimestamp(acked.last_ack_s, UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert cells[1:] == ["1", cells[2], "openami_hes_readings", "0", "0", "0", shown]


def test_status_of_a_prefix_without_streams_creates_none(js_config: JetStreamConfig) -> None:
    prefix = js_config.prefix + "x"
    runner = CliRunner()
    for _ in range(2):  # the first look created nothing: the second sees none either
        result = runner.invoke(cli, ["bus", "status", "--bus", js_config.url, "--prefix", prefix])
        assert result.exit_code == 0, result.output
        assert result.output.count("absent") == 4


def test_status_without_a_server_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["bus", "status", "--bus", "nats://127.0.0.1:1"])
    assert result.exit_code == 1
    assert "no NATS server answers at nats://127.0.0.1:1" in result.output
