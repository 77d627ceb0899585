"""A remote switching command the HES service's guard refuses, over real NATS JetStream:
the refusal reason travels in the outcome's ``refusal`` on ``hes.commands``, the hub's
:class:`BusCommandPort` answers it, and the retailer's request ends ``E_COMMAND_REFUSED``
with that reason, as with the embedded HES (the request rig, its HES replaced by the
bus and a :class:`ServiceCommands` on a connection of its own, as in another process)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tests.bus.nats_server import js_config, nats_url
from tests.hub.test_requests import DAY4, Rig, make_rig, post

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import TOPIC_COMMAND_REQUESTS
from openami.clock import ManualClock, jst_day_start_s
from openami.hes.core import CollectionConfig
from openami.hes.dlms_access import DlmsAccess
from openami.hes.service_commands import ServiceCommands
from openami.hes.switch_guard import SwitchGuard
from openami.hub.bus_commands import BusCommandPort, OutcomeTap
from openami.hub.requests import request_service
from openami.storage.repositories import open_database
from openami.storage.repositories.command_signing import CommandSigner
from openami.storage.repositories.hes_guard import HesGuardStore

__all__ = ["js_config", "nats_url"]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(tmp_path)


def hes_service(rig: Rig, config: JetStreamConfig, tmp: Path) -> Iterator[ServiceCommands]:
    """The HES service's command side on its own bus connection; its guard knows another
    public key than the hub signs with (every signature is ``altered`` to it)."""
    meters = np.asarray(rig.city.fleet.meter_ids, dtype=np.int64)
    clock = ManualClock(rig.context.clock.now())
    n = len(meters)
    access = DlmsAccess(
        meters,
        ["127.0.0.1"] * n,
        np.full(n, 9, np.int64),
        np.ones(n, np.int64),
        lambda _meter: None,
        clock,
    )
    database = open_database(tmp / "hes.sqlite")
    other_key = CommandSigner(bytes(range(2, 34))).verifier()
    guard = SwitchGuard(HesGuardStore(database), other_key, n)
    bus = JetStreamBus(config)
    commands = ServiceCommands(access, bus, clock, CollectionConfig(), guard)

    def on_requests(batch: pa.Table) -> None:
        asyncio.run(commands.handle(batch))

    bus.subscribe(TOPIC_COMMAND_REQUESTS, on_requests)
    try:
        yield commands
    finally:
        bus.close()
        database.close()


def test_a_refusal_over_the_bus_ends_the_request_refused_with_its_reason(
    rig: Rig, js_config: JetStreamConfig, tmp_path: Path
) -> None:
    pos = 3
    sp, key = rig.city.supply_point_ids[pos], rig.city.supply_point_keys[pos]
    owner = rig.registry.retailer_on(key, DAY4.replace(day=1))
    assert owner is not None
    resp = post(rig, owner, kind="disconnect", supply_point_id=sp, effective_date="2026-11-04")
    assert resp.status_code == 201, resp.text
    request_id = resp.json()["request_id"]

    context = rig.context
    context.command_signer = CommandSigner(bytes(range(1, 33)))
    hub_bus = JetStreamBus(js_config)
    port = BusCommandPort(context.clients.database, hub_bus)
    context.command_port = port
    context.bus = OutcomeTap(hub_bus, port)
    for name in ("switching", "requests"):
        context.services.pop(name, None)
    try:
        for _hes in hes_service(rig, js_config, tmp_path):
            service = request_service(context)
            assert service.tick(jst_day_start_s(DAY4) + 60) == 1  # published: no answer yet
            row = service.store.request(request_id)
            assert row is not None and row.status == "scheduled"
            assert row.correlation_id is not None
            assert port.refusal(row.correlation_id) is None
            deadline = time.monotonic() + 30  # waiting for the bus, not a timed assertion
            while row.status == "scheduled" and time.monotonic() < deadline:
                time.sleep(0.05)
                row = service.store.request(request_id)
                assert row is not None
            assert (row.status, row.error_code) == ("failed", "E_COMMAND_REFUSED")
            assert row.error_message == "the HES refused the command: altered"
            assert port.refusal(row.correlation_id) == "altered"
            kept = port.outcomes([row.correlation_id]).to_pylist()
            assert [r["refusal"] for r in kept] == ["altered"]
    finally:
        hub_bus.close()
