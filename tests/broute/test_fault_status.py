"""The ECHONET Lite smart meters' fault status (EPC 0x88, low- and high-voltage) follows the
meter: 0x42 while it is sound, 0x41 once its self-diagnosis reports a fault, 0x42 again after
repair."""

from __future__ import annotations

from momonga.momonga_echonet_data import EchonetDataParser as Momonga
from tests.broute.conftest import make_view
from tests.broute.test_responder import get

from openami.broute.high_voltage import HighVoltageResponder
from openami.broute.responder import MeterResponder
from openami.clock import ManualClock
from openami.meter import MeterView
from openami.protocols.echonet import Esv
from openami.protocols.echonet import high_voltage_meter as hv


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


def test_high_voltage_meter_reports_its_fault(clock: ManualClock) -> None:
    scale = hv.HighVoltageScale(coefficient=40, demand_unit_code=0x02)
    view = make_view(78, pv=False, clock=clock)
    responder = HighVoltageResponder(view, clock, hv_scale=scale)
    deoj = hv.HIGH_VOLTAGE_METER_EOJ
    assert get(responder, 0x88, deoj=deoj).edt(0x88) == b"\x42"
    view.fleet.set_fault([view.index])
    assert get(responder, 0x88, deoj=deoj).edt(0x88) == b"\x41"
