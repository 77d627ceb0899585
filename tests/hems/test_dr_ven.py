"""The HEMS's VEN against the real openleadr VTN over mutual TLS on loopback: registration,
an event turned into a peak-cut target (and into the HEMS controller's import limit),
optIn and optOut recorded at the VTN, cancellation, and the home's load reported."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.dr.drrig import SUPPLY_POINTS, Targets, free_port, make_rig, until

from openami.hems.appliance_link import ApplianceLink
from openami.hems.client import MeterClient
from openami.hems.dr_ven import DrVen, TargetMapping, VenTls, controller_callbacks
from openami.hems.live import HemsController
from openami.hems.policy import load_policy
from openami.hems.udp import UdpTransport

EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "examples" / "hems-policy.toml"


def test_event_becomes_a_target_with_opt_in_and_reports(tmp_path: Path) -> None:
    async def scenario() -> None:
        rig = make_rig(tmp_path)
        level = rig.event("level", 2)
        await rig.vtn.start()
        targets_1, targets_2 = Targets(), Targets()
        ven_1 = rig.ven("home-1", targets_1)
        ven_2 = rig.ven("home-2", targets_2, min_target_w=2000.0)  # 0.6 × 3000 is too low
        try:
            assert await ven_1.start() and await ven_2.start()
            assert rig.store.ven("home-1").registration_id is not None
            assert ven_1.ven_id == rig.store.ven("home-1").ven_id
            await asyncio.wait_for(targets_1.arrived.wait(), 15)
            target_w, start, end = targets_1.got[0]
            assert target_w == pytest.approx(1800.0)  # level 2: 0.6 × 3000 W
            assert (start.timestamp(), end.timestamp()) == (level.start_s, level.end_s)

            def opts() -> dict[str, str]:
                return {p.ven_name: p.opt for p in rig.store.participants(level.event_id)}

            await until(lambda: "none" not in opts().values())
            assert opts() == {"home-1": "optIn", "home-2": "optOut"}
            assert targets_2.got == []  # an opted-out home sets no target
            assert {p.supply_point_id for p in rig.store.participants(level.event_id)} == set(
                SUPPLY_POINTS.values()
            )
            # a target in W reaches the controller as it is
            target = rig.event("target_w", 1500)
            await until(lambda: len(targets_1.got) == 2)
            assert targets_1.got[1][0] == 1500.0
            assert rig.store.event(target.event_id).status == "distributed"
            # the home's load (the VEN's meter reading callback) arrives at the VTN
            await until(lambda: bool(rig.store.reports("home-1")))
            assert {w for _, w in rig.store.reports("home-1")} == {1234.0}
        finally:
            await ven_1.stop()
            await ven_2.stop()
            await rig.vtn.stop()

    asyncio.run(scenario())


def test_target_mapping() -> None:
    mapping = TargetMapping(normal_limit_w=4000.0, price_limit_jpy_kwh=40.0)
    assert mapping.target_w("SIMPLE", "level", 0) is None
    assert mapping.target_w("SIMPLE", "level", 3) == pytest.approx(1600.0)
    assert mapping.target_w("ELECTRICITY_PRICE", "price", 39.9) is None
    assert mapping.target_w("ELECTRICITY_PRICE", "price", 40.0) == pytest.approx(2400.0)
    with pytest.raises(ValueError):
        mapping.target_w("BID_LOAD", "setpoint", 1.0)


def test_events_reach_the_hems_controller_and_cancel_leaves_it(tmp_path: Path) -> None:
    """VTN → VEN → ``HemsController.set_dr_target``: the controller's import limit during
    the event is the event's target, and back to the contract's once it is cancelled (that
    the controller then cuts the peak is tests/hems/test_hems_live.py's)."""
    transport = UdpTransport("127.0.0.1", free_port(), local_port=0)  # no meter needed here
    meter = MeterClient(transport)
    hems = HemsController(
        load_policy(EXAMPLE_POLICY), meter, ApplianceLink(MeterClient(transport.peer("127.0.0.1")))
    )
    contract_w = hems.policy.contract_limit_w

    async def scenario() -> None:
        rig = make_rig(tmp_path)
        event = rig.event("target_w", 1500)
        middle_s = event.start_s + event.duration_s / 2
        await rig.vtn.start()
        on_target, on_cancel = controller_callbacks(hems)
        pair = rig.files.pair("home-1")
        tls = VenTls(pair.cert, pair.key, rig.files.ca.cert, rig.vtn_fingerprint)
        ven = DrVen("home-1", rig.url, tls, on_target, lambda: [], on_cancel=on_cancel)
        try:
            assert await ven.start()
            await until(lambda: bool(hems.policy.dr_targets))
            assert hems.policy.limit_w(middle_s) == pytest.approx(min(1500.0, contract_w))
            assert hems.policy.dr_targets[0].source == "openadr"
            assert hems.policy.limit_w(event.end_s + 60) == pytest.approx(contract_w)
            rig.store.cancel_event(event.event_id, "AGG1")
            await until(lambda: not hems.policy.dr_targets)
            assert hems.policy.limit_w(middle_s) == pytest.approx(contract_w)
        finally:
            await ven.stop()
            await rig.vtn.stop()

    try:
        asyncio.run(scenario())
    finally:
        meter.close()
