"""The live HEMS against a served meter and a served home on loopback: a DR target makes it
cut the peak, the appliance's state changes and the meter's power drops."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from openami.clock import ManualClock
from openami.hems.appliance_link import ApplianceLink
from openami.hems.client import MeterClient
from openami.hems.live import HemsController
from openami.hems.policy import load_policy
from openami.hems.udp import UdpTransport
from openami.home.serve import ServedHome, build_home
from openami.protocols.echonet import appliances as ap

# 2026-08-05 23:30 JST: the night (cheap) band of the example policy; the EV charges
NOW = datetime(2026, 8, 5, 14, 30, tzinfo=UTC)
EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "examples" / "hems-policy.toml"
ALL = {"battery_share": 1.0, "ev_share": 1.0, "water_heater_share": 1.0}


@pytest.fixture
def served() -> Iterator[tuple[ServedHome, ManualClock]]:
    clock = ManualClock(NOW)
    home = build_home(
        4242,
        clock,
        hosts=["127.0.0.3"],
        port=0,
        meter_hosts=["127.0.0.2"],
        meter_port=0,
        seed=7,
        pv_share=1.0,
        shares=ALL,
        reply_to_sender_port=True,
        multicast=False,
        poll_interval_s=0.05,
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    for node in home.nodes:
        asyncio.run_coroutine_threadsafe(node.start(), loop).result(5)
    yield home, clock

    async def close() -> None:
        for node in home.nodes:
            node.close()
        await asyncio.sleep(0.01)  # let the cancelled schedules finish

    asyncio.run_coroutine_threadsafe(close(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_a_dr_target_makes_the_hems_cut_the_peak(served: tuple[ServedHome, ManualClock]) -> None:
    home, clock = served
    assert home.meter_node is not None
    meter_addr = home.meter_node.bound[0]
    app_addr = home.appliance_node.bound[0]
    transport = UdpTransport(*meter_addr, local_port=0)
    meter = MeterClient(transport, timeout_s=2.0, retries=2)
    link = ApplianceLink(MeterClient(transport.peer(*app_addr), timeout_s=2.0, retries=2))
    try:
        assert set(link.discover()) == set(ap.APPLIANCE_CLASSES)
        policy = replace(
            load_policy(EXAMPLE_POLICY),
            contract_amperage_a=60,
            shed_order=("ev", "water_heater", "battery", "ac"),  # the EV is shed first
        )
        hems = HemsController(policy, meter, link, clock=clock.timestamp)
        assert home.homes.ev_mode[0] == ap.EV_CHARGE
        # no DR yet: peak shift (the cheap band) keeps the EV charging, nothing is shed
        first = hems.step()
        assert not any("peak cut" in r for r in first.reasons)
        assert home.homes.ev_mode[0] == ap.EV_CHARGE and home.homes.device_power_w[2, 0] > 0
        before_w = hems.read_import_w()
        assert before_w is not None and before_w > 3000
        # the aggregator asks for at most 1 kW over the next hour
        now = clock.now()
        hems.set_dr_target(1000, now - timedelta(minutes=1), now + timedelta(hours=1))
        second = hems.step()
        assert second.limit_w == 1000
        assert "peak cut: EV charging paused" in second.reasons
        ev_sets = [s for s in second.sets if s.epc == ap.EPC_EV_MODE]
        assert [(s.value, s.accepted) for s in ev_sets] == [(ap.EV_STANDBY, True)]
        assert all(s.accepted for s in second.sets)
        # the appliance changed state, and the meter (read over the B route) saw it
        assert home.homes.ev_mode[0] == ap.EV_STANDBY and home.homes.device_power_w[2, 0] == 0
        after_w = hems.read_import_w()
        assert after_w is not None and before_w - after_w > 2500
        assert home.appliance_node.responder.stats.malformed == 0
    finally:
        meter.close()
        link.client.close()
