"""`openami bus status` on a real NATS server: streams, consumers, absent streams, errors."""

from __future__ import annotations

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
        bus.publish(TOPIC_READINGS, reads(10))
        bus.settle(30)
    finally:
        bus.close()
    args = ["bus", "status", "--bus", js_config.url, "--prefix", js_config.prefix]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    readings = next(line for line in result.output.splitlines() if "_HES_READINGS" in line)
    cells = [c.strip() for c in readings.split("│") if c.strip()]
    assert cells[1:] == ["1", cells[2], "openami_hes_readings", "0", "0", "0"]


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
