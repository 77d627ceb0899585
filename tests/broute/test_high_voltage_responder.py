"""HighVoltageResponder without a transport: history day (E1) set and bounds, the demand
history (C6) against the logged registers, the fixed-time INF (E3 + C3)."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

from tests.broute.conftest import make_view
from tests.broute.test_responder import ask

from openami.broute.high_voltage import HighVoltageResponder
from openami.clock import JST, ManualClock, day_first_slot
from openami.protocols.echonet import Esv, Property, decode_frame
from openami.protocols.echonet import high_voltage_meter as hv
from openami.protocols.echonet import smart_meter as sm

METER = hv.HIGH_VOLTAGE_METER_EOJ


def _responder(clock: ManualClock) -> HighVoltageResponder:
    scale = hv.HighVoltageScale(coefficient=40, demand_unit_code=0x02)  # demand in 0.01 kW
    return HighVoltageResponder(make_view(77, pv=False, clock=clock), clock, hv_scale=scale)


def test_demand_history_of_yesterday(clock: ManualClock) -> None:
    responder = _responder(clock)
    (set_reply,) = ask(responder, Esv.SETC, [Property(hv.EPC_HISTORY_DAY, b"\x01")], deoj=METER)
    assert set_reply.esv == Esv.SET_RES
    (reply,) = ask(responder, Esv.GET, [Property(hv.EPC_DEMAND_HISTORY)], deoj=METER)
    history = sm.DayHistory.decode(reply.edt(hv.EPC_DEMAND_HISTORY) or b"")
    assert history.day == 1
    yesterday = clock.now().astimezone(JST).date() - timedelta(days=1)
    first = day_first_slot(yesterday)
    for k in (0, 17, 47):
        start = responder.meter.boundary_registers(first + k)
        end = responder.meter.boundary_registers(first + k + 1)
        assert start is not None and end is not None
        kw = Fraction((end[0] - start[0]) * 40, 1000) * 2  # load scale 40, ×2 per hour
        assert history.values[k] == int(kw / (40 * Fraction(1, 100)))
    assert all(v is not None for v in history.values)


def test_bad_history_day_is_refused(clock: ManualClock) -> None:
    responder = _responder(clock)
    (reply,) = ask(responder, Esv.SETC, [Property(hv.EPC_HISTORY_DAY, b"\x64")], deoj=METER)
    assert reply.esv == Esv.SETC_SNA  # day 100 is out of range
    assert responder.energy_history_day == 0
    # the low-voltage class is not in this node: a request to it gets no answer
    assert ask(responder, Esv.GET, [Property(0xE0)], deoj=sm.SMART_METER_EOJ) == []


def test_fixed_time_inf_carries_energy_and_demand(clock: ManualClock) -> None:
    responder = _responder(clock)
    frame = responder.fixed_time_inf()
    assert frame is not None
    inf = decode_frame(frame)
    assert inf.esv == Esv.INF and inf.seoj == METER
    energy = sm.FixedTimeValue.decode(inf.edt(hv.EPC_FIXED_TIME_CUMULATIVE) or b"")
    demand = sm.FixedTimeValue.decode(inf.edt(hv.EPC_FIXED_TIME_DEMAND) or b"")
    assert energy.at == demand.at and energy.value is not None and demand.value is not None
    assert responder.monthly_max_demand_kw() is not None
