"""The high-voltage smart meter (0x028A01) on the B route, read by a real ECHONET Lite
client (pychonet 2.8): discovery finds class 0x028A, and energy and demand scaled with the
coefficient (the CT/VT multiplier), multiplying factor and units equal the meter's."""

from __future__ import annotations

import asyncio
from datetime import datetime
from fractions import Fraction
from typing import Any

import pychonet.echonetapiclient as pychonet_api
import pytest
from pychonet.echonetapiclient import ECHONETAPIClient
from pychonet.EchonetInstance import EchonetInstance
from pychonet.lib.udpserver import UDPServer
from tests.broute.conftest import make_view

from openami.broute.high_voltage import HighVoltageResponder
from openami.broute.node import MeterNode
from openami.clock import JST, ManualClock, slot_at_s
from openami.protocols.echonet.high_voltage_meter import HighVoltageScale

NODE_HOST = "127.0.0.2"
CLIENT_HOST = "127.0.0.1"
EPCS = [0xD3, 0xD4, 0xE6, 0xE3, 0xC3, 0xC5, 0xC1, 0xE0, 0xE7]


async def _wait_for(predicate: Any, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


async def _read(responder: HighVoltageResponder, monkeypatch: pytest.MonkeyPatch) -> Any:
    node = MeterNode(responder, [NODE_HOST], 0, reply_to_sender_port=True, multicast=False)
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
        assert await api.getAllPropertyMaps(NODE_HOST, 0x02, 0x8A, 0x01)
        meter = EchonetInstance(NODE_HOST, 0x02, 0x8A, 0x01, api)
        values = await meter.update(EPCS)
        return api._state[NODE_HOST], values
    finally:
        server.close()
        node.close()


def _raw(hex_text: str) -> tuple[datetime, int]:
    """Date (4 B) + time (3 B) + unsigned 4-byte value, decoded here by hand."""
    b = bytes.fromhex(hex_text)
    at = datetime(int.from_bytes(b[0:2], "big"), b[2], b[3], b[4], b[5], b[6])
    return at, int.from_bytes(b[7:11], "big")


def test_pychonet_reads_the_high_voltage_meter(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = make_view(5150, pv=False, clock=clock)
    scale = HighVoltageScale(coefficient=60, factor_code=0x01, energy_unit_code=0x00)
    responder = HighVoltageResponder(view, clock, hv_scale=scale, load_scale=40)
    state, values = asyncio.run(_read(responder, monkeypatch))
    assert 0x8A in state["instances"][0x02] and 0x88 not in state["instances"][0x02]
    assert set(EPCS) <= set(state["instances"][0x02][0x8A][0x01][0x9F])
    coefficient = int(values[0xD3], 16)
    factor = {"00": Fraction(1), "01": Fraction(1, 10)}[values[0xD4]]
    energy_unit = {"00": Fraction(1)}[values[0xE6]]
    demand_unit = {"01": Fraction(1, 10)}[values[0xC5]]
    assert coefficient == 60 and values[0xE0] == "01"
    # E3: the register at the latest :00/:30, secondary counts × 60 × 0.1 × 1 kWh
    boundary = slot_at_s(clock.timestamp())
    at, raw = _raw(values[0xE3])
    assert at == datetime.fromtimestamp(boundary * 1800, JST).replace(tzinfo=None)
    primary_wh = view.boundary_registers(boundary)[0] * 40  # type: ignore[index]
    per_count_kwh = coefficient * factor * energy_unit
    assert raw == int(Fraction(primary_wh, 1000) / per_count_kwh) % 10**8
    assert raw * per_count_kwh == pytest.approx(primary_wh / 1000, abs=float(per_count_kwh))
    # C3: the last half hour's average power [kW]
    before_wh = view.boundary_registers(boundary - 1)[0] * 40  # type: ignore[index]
    demand_kw = Fraction(primary_wh - before_wh, 1000) * 2
    _, raw_demand = _raw(values[0xC3])
    per_count_kw = coefficient * factor * demand_unit
    assert raw_demand == int(demand_kw / per_count_kw)
    # C1: this month's maximum demand is at least the last half hour's
    monthly = int(values[0xC1], 16) * per_count_kw
    assert monthly >= raw_demand * per_count_kw
    assert responder.stats.malformed == 0
    # E7: the 48 registers of today so far (2-byte day, then 4 bytes each; no data FFFFFFFE)
    history = bytes.fromhex(values[0xE7])
    assert int.from_bytes(history[0:2], "big") == 0 and len(history) == 2 + 48 * 4
