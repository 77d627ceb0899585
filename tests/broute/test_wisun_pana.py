"""The virtual Wi-SUN module's SKJOIN runs the real PANA/EAP-PSK exchange, and the meter's
datagrams then cross the radio under the session's link key."""

from __future__ import annotations

import pytest

from openami.broute.responder import MeterResponder
from openami.broute.wisun import VirtualWisunModule
from openami.hems import MeterClient
from openami.hems.skstack import JoinFailed, SkstackTransport
from openami.protocols.pana import decode
from openami.protocols.pana import message as m
from openami.protocols.skstack import Dialect

RBID = "00112233445566778899AABBCCDDEEFF"
PASSWORD = "0123456789AB"


def _module(responder: MeterResponder) -> VirtualWisunModule:
    return VirtualWisunModule.for_responder(
        responder, dialect=Dialect.BP35C2, rbid=RBID, password=PASSWORD, notify_delay_s=None
    )


def test_join_runs_pana_and_frames_are_protected(pv_responder: MeterResponder) -> None:
    with _module(pv_responder) as module:
        transport = SkstackTransport(module.path, RBID, PASSWORD, drain_s=0.05).open()
        client = MeterClient(transport, timeout_s=2)
        reading = client.read_live()
        join = module.module.pana
        link = module.radio_link
        client.close()  # SKTERM: PANA-Termination over the radio
        assert module.radio_link is None
    assert join is not None and join.terminated
    assert join.pac.state == join.paa.state == "CLOSED"
    assert reading.power_w is not None
    assert join is not None and join.success and len(join.messages) == 9
    assert join.client is not None and join.agent is not None
    assert join.client.key_id == join.agent.key_id
    first_par = decode(join.messages[1])
    assert first_par.flags == m.FLAG_R | m.FLAG_S  # the ERXUDP on port 716 is the real PAR[S]
    assert link is not None and link.module.counter >= 1 and link.meter.counter >= 1
    assert link.dropped == 0


def test_wrong_password_fails_in_eap_psk(pv_responder: MeterResponder) -> None:
    with _module(pv_responder) as module:
        transport = SkstackTransport(
            module.path, RBID, "WRONGPASS123", drain_s=0.05, join_retries=1
        )
        with pytest.raises(JoinFailed):
            transport.open()
        join = module.module.pana
    assert join is not None and not join.success
    assert join.agent is not None and not join.agent.success
    rejected = decode(join.messages[-2])
    assert rejected.u32(m.AVP_RESULT_CODE) == m.PANA_AUTHENTICATION_REJECTED
