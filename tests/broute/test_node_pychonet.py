"""The UDP meter node against a real ECHONET Lite client: pychonet 2.8 (Home Assistant's).

Setup "option C" of docs/reference: the node listens on 127.0.0.2 on a free port and replies
to the sender's port; pychonet listens on 127.0.0.1 on another free port and sends to the
node's port (``pychonet.echonetapiclient.ENL_PORT`` is a module global meant for this).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pychonet.echonetapiclient as pychonet_api
import pytest
from pychonet.echonetapiclient import ECHONETAPIClient
from pychonet.lib.udpserver import UDPServer
from pychonet.LowVoltageSmartElectricEnergyMeter import LowVoltageSmartElectricEnergyMeter

from openami.broute.node import MeterNode
from openami.broute.responder import MeterResponder
from openami.meter import MeterView

NODE_HOST = "127.0.0.2"
CLIENT_HOST = "127.0.0.1"


async def _wait_for(predicate: Any, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


async def _session(
    responder: MeterResponder, monkeypatch: pytest.MonkeyPatch, epcs: list[int]
) -> tuple[dict[str, Any], dict[int, Any], MeterNode]:
    node = MeterNode(responder, [NODE_HOST], 0, reply_to_sender_port=True, multicast=False)
    await node.start()
    monkeypatch.setattr(pychonet_api, "ENL_PORT", node.bound[0][1])
    server = UDPServer(local_ip=CLIENT_HOST)
    server.run(CLIENT_HOST, 0, asyncio.get_running_loop())
    try:
        api = ECHONETAPIClient(server)
        api._logger = lambda *args, **kwargs: None  # pychonet prints by default
        api._message_timeout = 50  # the HA integration's 5 s
        await api.discover(NODE_HOST)
        await _wait_for(lambda: api._state.get(NODE_HOST, {}).get("discovered"))
        assert await api.getAllPropertyMaps(NODE_HOST, 0x02, 0x88, 0x01)
        meter = LowVoltageSmartElectricEnergyMeter(NODE_HOST, api)
        values = await meter.update(epcs)
        return api._state[NODE_HOST], values, node
    finally:
        server.close()
        node.close()


def test_pychonet_discovers_and_reads_the_meter(
    pv_responder: MeterResponder, pv_view: MeterView, monkeypatch: pytest.MonkeyPatch
) -> None:
    epcs = [0xE7, 0xE8, 0xE0, 0xE3, 0xE1, 0xD3, 0xD7]
    state, values, node = asyncio.run(_session(pv_responder, monkeypatch, epcs))
    # discovery: the instance list, identity and maker code came through
    assert 0x88 in state["instances"][0x02]
    assert state["uid"] == pv_responder.node_profile.get(0x83)[1:].hex()  # type: ignore[index]
    get_map = state["instances"][0x02][0x88][0x01][0x9F]
    assert set(epcs) <= set(get_map)
    # values as pychonet decodes them equal the meter's
    assert values[0xE7] == round(pv_view.power_w())
    want_r, want_t = pv_view.currents_a()
    assert values[0xE8] == {
        "r_phase_amperes": round(want_r * 10) / 10,
        "t_phase_amperes": round(want_t * 10) / 10,
    }
    unit_kwh, coefficient, digits = values[0xE1], values[0xD3], values[0xD7]
    assert (unit_kwh, coefficient, digits) == (0.1, 1, 6)
    kwh_import = values[0xE0] * unit_kwh * coefficient
    kwh_export = values[0xE3] * unit_kwh * coefficient
    assert kwh_import == pytest.approx(pv_view.import_register_wh() // 100 / 10)
    assert kwh_export == pytest.approx(pv_view.export_register_wh() // 100 / 10)
    assert kwh_import > 1000  # a meter that has been in the field for a while
    assert node.responder.stats.malformed == 0


def test_pychonet_reads_a_meter_without_export(
    plain_responder: MeterResponder, plain_view: MeterView, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, values, _node = asyncio.run(
        _session(plain_responder, monkeypatch, [0xE7, 0xE0, 0xE1, 0xD3])
    )
    # E3 is not in the Get map of a meter without reverse metering; pychonet filters by it
    assert 0xE3 not in state["instances"][0x02][0x88][0x01][0x9F]
    assert values[0xE7] == round(plain_view.power_w())
    assert values[0xE0] * values[0xE1] * values[0xD3] == pytest.approx(
        plain_view.import_register_wh() // 100 / 10
    )


def test_pychonet_multicast_discovery_finds_the_node(
    pv_responder: MeterResponder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HA's flow: multicast Get D6, an unknown host answers, pychonet then asks it directly."""

    async def scenario() -> dict[str, Any]:
        node = MeterNode(pv_responder, [NODE_HOST], 0, reply_to_sender_port=True)
        await node.start()
        assert not node.stats.errors  # the group was joined on loopback
        monkeypatch.setattr(pychonet_api, "ENL_PORT", node.bound[0][1])
        server = UDPServer(local_ip=CLIENT_HOST)
        server.run(CLIENT_HOST, 0, asyncio.get_running_loop())
        try:
            api = ECHONETAPIClient(server)
            api._logger = lambda *args, **kwargs: None
            found: list[str] = []

            async def on_new_host(host: str) -> None:
                found.append(host)
                await api.discover(host)

            api._discover_callback = on_new_host
            # no host: multicast to 224.0.23.0. pychonet waits out its timeout for a reply
            # to this TID (replies come from hosts it did not know), so run it aside
            search = asyncio.ensure_future(api.discover())
            await _wait_for(lambda: api._state.get(NODE_HOST, {}).get("discovered"))
            search.cancel()
            assert found[0] == NODE_HOST
            return api._state[NODE_HOST]
        finally:
            server.close()
            node.close()

    state = asyncio.run(scenario())
    assert list(state["instances"][0x02]) == [0x88]
