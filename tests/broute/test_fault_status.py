"""The ECHONET Lite smart meter's fault status (EPC 0x88) follows its meter: 0x42 while the
meter is sound, 0x41 once its self-diagnosis reports a fault, 0x42 again after repair."""

from __future__ import annotations

from momonga.momonga_echonet_data import EchonetDataParser as Momonga
from tests.broute.test_responder import get

from openami.broute.responder import MeterResponder
from openami.meter import MeterView
from openami.protocols.echonet import Esv


def test_fault_status_follows_the_meter(pv_responder: MeterResponder, pv_view: MeterView) -> None:
    sound = get(pv_responder, 0x88)
    assert sound.esv == Esv.GET_RES and sound.edt(0x88) == b"\x42"
    pv_view.fleet.set_fault([pv_view.index])
    assert pv_view.fault
    faulty = get(pv_responder, 0x88)
    assert faulty.edt(0x88) == b"\x41"
    # a third-party client library reads the same byte as "fault"
    assert Momonga.parse_fault_status(faulty.edt(0x88)) is True
    pv_view.fleet.set_fault([pv_view.index], faulty=False)
    assert get(pv_responder, 0x88).edt(0x88) == b"\x42"
