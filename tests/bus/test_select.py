"""The composition root's choice of bus: in-process unless a NATS URL is configured."""

from __future__ import annotations

import numpy as np
import pytest

from openami.bus.inprocess import InProcessBus
from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.port import BusUnavailable
from openami.bus.select import open_bus
from openami.settings import Settings, load_settings


def no_installations() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, np.int64), np.empty(0, np.int64)


def test_in_process_by_default() -> None:
    assert isinstance(open_bus(Settings(), no_installations), InProcessBus)


def test_jetstream_from_the_environment(js_config: JetStreamConfig) -> None:
    env = {
        "OPENAMI_BUS_URL": js_config.url,
        "OPENAMI_BUS_PARTITIONS": "8",
        "OPENAMI_BUS_PREFIX": js_config.prefix,  # streams deleted after the test
    }
    bus = open_bus(load_settings(None, env=env), no_installations)
    try:
        assert isinstance(bus, JetStreamBus)
        assert bus.config.partitions == 8 and bus.config.url == js_config.url
        assert bus.config.stream("hes.readings") == f"{js_config.prefix.upper()}_HES_READINGS"
    finally:
        bus.close()


def test_a_server_that_does_not_answer_stops_the_start() -> None:
    with pytest.raises(BusUnavailable):
        open_bus(Settings(bus_url="nats://127.0.0.1:1"), no_installations)
