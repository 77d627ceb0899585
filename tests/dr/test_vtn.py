"""The VTN refuses every VEN that is not enrolled with the certificate it presents: no
client certificate, a certificate of another CA, a certificate of our CA that was never
enrolled, another VEN's certificate, a revoked VEN. Real openleadr over mutual TLS."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

import httpx
import pytest
from tests.dr.drrig import Targets, make_rig

from openami.hems.dr_ven import DrVen


async def refused(ven: DrVen) -> bool:
    try:
        ok = await ven.start()
    except Exception:  # a TLS handshake refused surfaces as the client's connection error
        ok = False
    finally:
        await ven.stop()
    return not ok and ven.ven_id is None


def test_vens_without_the_enrolled_certificate_are_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        rig = make_rig(tmp_path)
        await rig.vtn.start()
        try:
            # TLS without a client certificate: the handshake itself is refused
            context = ssl.create_default_context(cafile=str(rig.files.ca.cert))
            async with httpx.AsyncClient(verify=context) as http:
                with pytest.raises(httpx.TransportError):
                    await http.post(
                        rig.url + "/EiRegisterParty",
                        content=b"<x/>",
                        headers={"content-type": "application/xml"},
                    )
            assert await refused(rig.ven("home-1", Targets(), cert="stranger"))  # other CA
            assert await refused(rig.ven("home-1", Targets(), cert="rogue"))  # not enrolled
            assert await refused(rig.ven("home-2", Targets(), cert="home-1"))  # someone else's
            assert await refused(rig.ven("nobody", Targets(), cert="home-1"))  # unknown name
            rig.store.revoke("home-1", time.time())
            assert await refused(rig.ven("home-1", Targets()))
            assert all(rig.store.ven(n).registration_id is None for n in ("home-1", "home-2"))
        finally:
            await rig.vtn.stop()

    asyncio.run(scenario())


def test_a_restarted_vtn_requeues_running_events_and_cancels(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        rig = make_rig(tmp_path)
        event = rig.event("level", 1)
        rig.vtn.distribute_pending()  # distributed by a VTN that then stopped
        assert rig.store.event(event.event_id).status == "distributed"
        await rig.new_vtn().start()  # a new VTN over the same store queues it again
        targets = Targets()
        ven = rig.ven("home-1", targets)
        try:
            assert await ven.start()
            await asyncio.wait_for(targets.arrived.wait(), 15)
            assert targets.got[0][0] == pytest.approx(2400.0)  # level 1: 0.8 × 3000 W
            # the aggregator cancels: the VEN hears it and the controller drops the target
            assert not rig.store.cancel_event(event.event_id, "AGG2")  # not its event
            assert rig.store.cancel_event(event.event_id, "AGG1")
            await asyncio.wait_for(targets.cancel_arrived.wait(), 15)
            assert targets.cancelled == [event.event_id]
            assert rig.store.event(event.event_id).status == "cancelled"
        finally:
            await ven.stop()
            await rig.vtn.stop()

    asyncio.run(scenario())
