"""A home's appliance node against a real ECHONET Lite controller: pychonet 2.8 (Home
Assistant's library). Node on 127.0.0.2, pychonet on 127.0.0.1, free ports (as in
tests/broute/test_node_pychonet.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pychonet.echonetapiclient as pychonet_api
import pytest
from pychonet.echonetapiclient import ECHONETAPIClient
from pychonet.ElectricVehicleChargerDischarger import ElectricVehicleChargerDischarger
from pychonet.ElectricWaterHeater import ElectricWaterHeater
from pychonet.HomeAirConditioner import HomeAirConditioner
from pychonet.HomeSolarPower import HomeSolarPower
from pychonet.lib.udpserver import UDPServer
from pychonet.StorageBattery import StorageBattery

from openami.clock import ManualClock
from openami.home import HomeFleet
from openami.home.node import ApplianceNode, ApplianceResponder
from openami.meter import MeterFleet
from openami.protocols.echonet import appliances as ap

NODE_HOST = "127.0.0.2"
CLIENT_HOST = "127.0.0.1"

Scenario = Callable[[ECHONETAPIClient, ApplianceNode], Awaitable[Any]]


async def _wait_for(predicate: Callable[[], Any], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


def _run(
    home: tuple[MeterFleet, HomeFleet],
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    scenario: Scenario,
) -> Any:
    async def session() -> Any:
        responder = ApplianceResponder(home[1], 0, clock)
        node = ApplianceNode(responder, [NODE_HOST], 0, reply_to_sender_port=True, multicast=False)
        await node.start()
        monkeypatch.setattr(pychonet_api, "ENL_PORT", node.bound[0][1])
        server = UDPServer(local_ip=CLIENT_HOST)
        server.run(CLIENT_HOST, 0, asyncio.get_running_loop())
        try:
            api = ECHONETAPIClient(server)
            api._logger = lambda *args, **kwargs: None
            api._message_timeout = 50
            await api.discover(NODE_HOST)
            await _wait_for(lambda: api._state.get(NODE_HOST, {}).get("discovered"))
            return await scenario(api, node)
        finally:
            server.close()
            node.close()

    return asyncio.run(session())


def test_pychonet_discovers_every_appliance_and_reads_them(
    home: tuple[MeterFleet, HomeFleet], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    homes = home[1]

    async def scenario(api: ECHONETAPIClient, node: ApplianceNode) -> dict[str, Any]:
        instances = api._state[NODE_HOST]["instances"]
        for cls in ap.APPLIANCE_CLASSES:
            assert await api.getAllPropertyMaps(NODE_HOST, cls >> 8, cls & 0xFF, 0x01)
        ac = HomeAirConditioner(NODE_HOST, api)
        battery = StorageBattery(NODE_HOST, api)
        ev = ElectricVehicleChargerDischarger(NODE_HOST, api)
        heater = ElectricWaterHeater(NODE_HOST, api)
        pv = HomeSolarPower(NODE_HOST, api)
        return {
            "instances": instances,
            "ac": await ac.update([0x80, 0xB0, 0xB3, 0xBB, 0xBE, 0x84]),
            "battery": await battery.update([0xDA, 0xCF, 0xE4, 0xD3, 0xE2]),
            "ev": await ev.update([0xC7, 0xDA, 0xE2, 0xE4]),
            "heater": await heater.update([0xB0, 0xB2, 0xE1, 0xE2]),
            "pv": await pv.update([0xE0, 0xE8]),
        }

    got = _run(home, clock, monkeypatch, scenario)
    for cls in ap.APPLIANCE_CLASSES:  # the node profile listed every appliance
        assert 0x01 in got["instances"][cls >> 8][cls & 0xFF]
    ac_get_map = got["instances"][0x01][0x30][0x01][0x9F]
    assert {0xB0, 0xB3, 0xBB, 0xBE, 0x84} <= set(ac_get_map)
    assert got["ac"][0x80] == "on" and got["ac"][0xB0] == "cool"
    assert got["ac"][0xB3] == int(homes.ac_set_c[0])
    assert got["ac"][0xBE] == round(homes.outdoor_c)
    assert got["ac"][0x84] == round(homes.device_power_w[0, 0])
    assert got["battery"][0xE4] == round(
        100 * homes.battery_soc_wh[0] / homes.p.battery_capacity_wh[0]
    )
    assert got["battery"][0xD3] == round(homes.device_power_w[1, 0]) < 0  # auto: following the load
    assert got["ev"][0xE2] == round(homes.ev_soc_wh[0])
    assert got["heater"][0xE2] == 370
    assert got["pv"][0xE8] == round(homes.p.pv_capacity_w[0])
    assert got["pv"][0xE0] == 0  # 21:00: no sun


def test_pychonet_sets_properties_and_the_meter_follows(
    home: tuple[MeterFleet, HomeFleet], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet, homes = home

    async def scenario(api: ECHONETAPIClient, node: ApplianceNode) -> dict[str, Any]:
        for cls in ap.APPLIANCE_CLASSES:
            await api.getAllPropertyMaps(NODE_HOST, cls >> 8, cls & 0xFF, 0x01)
        ac = HomeAirConditioner(NODE_HOST, api)
        ev = ElectricVehicleChargerDischarger(NODE_HOST, api)
        battery = StorageBattery(NODE_HOST, api)
        heater = ElectricWaterHeater(NODE_HOST, api)
        before_w = fleet.power_w([0], clock.timestamp())[0]
        appliances_before = homes.device_power_w[:, 0].copy()
        results = {
            "ac_temp": await ac.setOperationalTemperature(28),
            "ev_standby": await ev.setMessage(0xDA, ap.EV_STANDBY),
            "battery_w": await battery.setMessage(0xEC, 1000, pdc=4),
            "heater_stop": await heater.setMessage(0xB0, ap.HEATING_STOPPED),
        }
        results["before_w"] = before_w
        results["after_w"] = fleet.power_w([0], clock.timestamp())[0]
        results["appliances_before"] = appliances_before
        results["ev_mode"] = await ev.update([0xDA])
        return results

    got = _run(home, clock, monkeypatch, scenario)
    assert all(got[k] for k in ("ac_temp", "ev_standby", "battery_w", "heater_stop"))
    assert int(homes.ac_set_c[0]) == 28
    assert homes.ev_mode[0] == ap.EV_STANDBY and homes.device_power_w[2, 0] == 0
    assert homes.battery_discharge_w[0] == 1000
    assert homes.wh_setting[0] == ap.HEATING_STOPPED
    assert got["ev_mode"] == "Standby"  # as pychonet names 0x44
    # the EV stopped charging (3 kW), the AC eased, the battery discharges at most 1 kW:
    # the meter's power moved by exactly what the appliances did (same moment, same base)
    before = got["appliances_before"]
    assert before[2] - homes.device_power_w[2, 0] == homes.p.ev_max_w[0] == 3000
    assert homes.device_power_w[0, 0] < before[0]  # cooling to 28 °C takes less than to 26 °C
    assert homes.device_power_w[1, 0] == -1000
    drop_w = got["before_w"] - got["after_w"]
    assert drop_w == pytest.approx(before.sum() - homes.device_power_w[:, 0].sum())
    assert drop_w > 1000


def test_pychonet_gets_sna_for_out_of_range_values_and_nothing_changes(
    home: tuple[MeterFleet, HomeFleet], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    homes = home[1]
    set_c, ev_w = int(homes.ac_set_c[0]), float(homes.ev_charge_w[0])

    async def scenario(api: ECHONETAPIClient, node: ApplianceNode) -> list[Any]:
        for cls in ap.APPLIANCE_CLASSES:
            await api.getAllPropertyMaps(NODE_HOST, cls >> 8, cls & 0xFF, 0x01)
        ac = HomeAirConditioner(NODE_HOST, api)
        ev = ElectricVehicleChargerDischarger(NODE_HOST, api)
        battery = StorageBattery(NODE_HOST, api)
        return [
            await ac.setMessage(0xB3, 60),  # beyond 0–50 °C
            await ac.setMessage(0xB0, 0x47),  # no such mode
            await ev.setMessage(0xEB, 50_000, pdc=4),  # beyond the 3 kW charger
            await battery.setMessage(0xDA, 0x45),  # test mode: not accepted by Set
        ]

    results = _run(home, clock, monkeypatch, scenario)
    assert results == [False, False, False, False]
    assert int(homes.ac_set_c[0]) == set_c and homes.ac_mode[0] == ap.AC_MODE_COOL
    assert homes.ev_charge_w[0] == ev_w and homes.battery_mode[0] == ap.BATTERY_AUTO
