"""The appliance node's frames: SNA for unsettable or out-of-range Sets (nothing changes),
status-change announcements, and the home's energy in the meter's half-hour values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from tests.home.conftest import make_home

from openami.clock import SLOT_SECONDS, ManualClock
from openami.home import HomeFleet
from openami.home.node import ApplianceResponder
from openami.meter import MeterFleet
from openami.meter.load import interval_energy_wh
from openami.protocols.echonet import CONTROLLER_EOJ, Esv, Frame, Property, decode_frame
from openami.protocols.echonet import appliances as ap

BATTERY = ap.STORAGE_BATTERY.eoj()
AC = ap.AIR_CONDITIONER.eoj()


def _ask(responder: ApplianceResponder, frame: Frame) -> Frame:
    (reply,) = responder.respond(frame.encode())
    return decode_frame(reply)


def test_set_of_an_unsettable_property_gets_setc_sna(
    home: tuple[MeterFleet, HomeFleet], clock: ManualClock
) -> None:
    homes = home[1]
    responder = ApplianceResponder(homes, 0, clock)
    soc = homes.battery_soc_wh[0]
    request = Frame(
        1, CONTROLLER_EOJ, BATTERY, Esv.SETC, (Property(0xE4, b"\x64"), Property(0xDA, b"\x42"))
    )
    reply = _ask(responder, request)
    assert reply.esv == Esv.SETC_SNA
    # the refused EPC comes back with its EDT, the accepted one with PDC 0
    assert reply.properties == (Property(0xE4, b"\x64"), Property(0xDA))
    assert homes.battery_soc_wh[0] == soc
    assert homes.battery_mode[0] == ap.BATTERY_CHARGE  # the valid one was applied


def test_out_of_range_seti_gets_seti_sna_and_changes_nothing(
    home: tuple[MeterFleet, HomeFleet], clock: ManualClock
) -> None:
    homes = home[1]
    responder = ApplianceResponder(homes, 0, clock)
    for edt in (b"\x0f", b"\x21", b"\x1a\x1a", b"\xfd"):  # 15 °C, 33 °C, 2 bytes, "undefined"
        request = Frame(2, CONTROLLER_EOJ, AC, Esv.SETI, (Property(0xB3, edt),))
        assert _ask(responder, request).esv == Esv.SETI_SNA
    assert homes.ac_set_c[0] == 26
    ok = Frame(3, CONTROLLER_EOJ, AC, Esv.SETI, (Property(0xB3, b"\x1b"),))
    assert responder.respond(ok.encode()) == []  # SetI accepted: no answer
    assert homes.ac_set_c[0] == 27


def test_status_changes_are_announced(
    home: tuple[MeterFleet, HomeFleet], clock: ManualClock
) -> None:
    homes = home[1]
    responder = ApplianceResponder(homes, 0, clock)
    assert responder.status_changes() == []
    homes.set_ev([0], mode=ap.EV_STANDBY)
    frames = [decode_frame(f) for f in responder.status_changes()]
    assert [(f.esv, f.seoj) for f in frames] == [(Esv.INF, ap.EV_CHARGER.eoj())]
    assert frames[0].edt(ap.EPC_EV_MODE) == b"\x44"
    assert frames[0].edt(ap.EPC_EV_ACTUAL_MODE) == b"\x44"


def test_the_meter_half_hour_values_include_the_appliances(
    home: tuple[MeterFleet, HomeFleet], clock: ManualClock
) -> None:
    fleet, homes = home
    slot = int(clock.timestamp() // SLOT_SECONDS)
    clock.advance(timedelta(minutes=30))
    homes.sync()
    fleet.advance_to(slot + 1)
    imp, exp = fleet.registers_at([0, 0], [slot, slot + 1])
    metered_wh = (imp[1] - imp[0]) - (exp[1] - exp[0])
    base_imp, base_exp = interval_energy_wh(fleet.params, [0], np.int64(slot), fleet.seed)
    appliance_wh = homes.slot_net_wh(np.array([0]), slot)[0]
    assert abs(appliance_wh) > 100  # the AC, EV and battery did something
    assert metered_wh == base_imp[0] - base_exp[0] + round(appliance_wh)


def test_a_daytime_heating_shift_heats_at_its_hour() -> None:
    clock = ManualClock(datetime(2026, 8, 5, 1, 30, tzinfo=UTC))  # 10:30 JST
    _fleet, homes = make_home(clock)
    responder = ApplianceResponder(homes, 0, clock)
    heater = ap.WATER_HEATER.eoj()
    homes.set_water_heater([0], ap.HEATING_STOPPED)
    homes.set_water_heater([0], ap.HEATING_AUTO)
    assert homes.device_power_w[3, 0] == 0  # 60 % full: automatic mode does not reheat yet
    props = (Property(ap.EPC_WH_ENERGY_SHIFT, b"\x01"), Property(ap.EPC_WH_SHIFT_TIME_1, b"\x0b"))
    assert _ask(responder, Frame(4, CONTROLLER_EOJ, heater, Esv.SETC, props)).esv == Esv.SET_RES
    clock.advance(timedelta(minutes=20))
    homes.sync()
    assert homes.device_power_w[3, 0] == 0  # 10:50: not yet
    clock.advance(timedelta(minutes=20))
    homes.sync()
    assert homes.device_power_w[3, 0] == homes.p.wh_heater_w[0]  # 11:10: heating from 11:00
    get = Frame(5, CONTROLLER_EOJ, heater, Esv.GET, (Property(ap.EPC_WH_HEATING_STATUS),))
    assert _ask(responder, get).edt(ap.EPC_WH_HEATING_STATUS) == bytes([ap.HEATING])
