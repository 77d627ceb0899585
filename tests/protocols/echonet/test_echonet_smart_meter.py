"""Smart meter 0x0288 property data: sizes, units, sentinels; checked with momonga, pychonet."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from momonga.momonga_echonet_data import EchonetDataParser as Momonga
from pychonet.LowVoltageSmartElectricEnergyMeter import _0288E7, _0288E8, _0288EA

from openami.protocols.echonet import EchonetDecodeError
from openami.protocols.echonet import smart_meter as sm
from openami.protocols.echonet.objects import (
    decode_class_list,
    decode_instance_list,
    encode_class_list,
    encode_instance_list,
    identification_number,
)


def test_power_encoding_and_sentinels() -> None:
    assert sm.encode_power_w(-1234.4) == (-1234).to_bytes(4, "big", signed=True)
    assert sm.encode_power_w(None) == bytes.fromhex("7FFFFFFE")
    assert sm.encode_power_w(1e12) == bytes.fromhex("7FFFFFFD")  # clamped into the valid range
    assert sm.encode_power_w(-1e12) == bytes.fromhex("80000001")
    for raw in ("80000000", "7FFFFFFF", "7FFFFFFE"):
        assert sm.decode_power_w(bytes.fromhex(raw)) is None
        assert _0288E7(bytes.fromhex(raw)) is None  # pychonet agrees
    edt = sm.encode_power_w(-350)
    assert sm.decode_power_w(edt) == -350 == _0288E7(edt) == Momonga.parse_instantaneous_power(edt)
    with pytest.raises(EchonetDecodeError):
        sm.decode_power_w(b"\x00\x00")


def test_currents_in_deci_amperes() -> None:
    edt = sm.encode_currents(12.34, None)
    assert edt == bytes.fromhex("007B7FFE")  # 12.3 A, T phase "no data"
    assert sm.decode_currents(edt) == (12.3, None)
    assert _0288E8(edt) == {"r_phase_amperes": 12.3, "t_phase_amperes": None}
    theirs = Momonga.parse_instantaneous_current(edt)
    assert theirs["r phase current"] == pytest.approx(12.3) and theirs["t phase current"] is None
    assert sm.encode_currents(-5000.0, 5000.0) == bytes.fromhex("80017FFD")  # clamped
    assert sm.decode_currents(bytes.fromhex("80007FFF")) == (None, None)


def test_energy_units_and_scale() -> None:
    assert sm.ENERGY_UNIT_KWH[0x01] == Fraction(1, 10)
    assert sm.ENERGY_UNIT_KWH[0x0D] == 10_000
    assert set(sm.ENERGY_UNIT_KWH) == {0, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D}
    for code, unit in sm.ENERGY_UNIT_KWH.items():
        assert Momonga.parse_unit_for_cumulative_energy(bytes([code])) == pytest.approx(float(unit))
    scale = sm.EnergyScale(unit_code=0x01, coefficient=1, digits=6)
    assert scale.raw_from_wh(27_065_799) == 270_657  # 27 065.7 kWh in 0.1 kWh
    assert scale.raw_from_wh(123_456_789_000) == 567_890  # wraps at 10**6 counts
    wh_scale = sm.EnergyScale(unit_code=0x03, coefficient=1, digits=8)
    assert wh_scale.raw_from_wh(12_345) == 12_345
    coarse = sm.EnergyScale(unit_code=0x00, coefficient=10, digits=8)
    assert coarse.raw_from_wh(25_000) == 2  # 10 kWh per count
    assert coarse.kwh_from_raw(2) == 20.0
    for bad in ({"unit_code": 0x05}, {"coefficient": 0}, {"digits": 9}):
        with pytest.raises(ValueError):
            sm.EnergyScale(**bad)  # type: ignore[arg-type]
    assert sm.encode_u32(None) == bytes.fromhex("FFFFFFFE")
    assert sm.decode_u32_energy(bytes.fromhex("FFFFFFFE")) is None
    assert sm.encode_coefficient(999_999) == (999_999).to_bytes(4, "big")
    with pytest.raises(ValueError):
        sm.encode_coefficient(1_000_000)


def test_day_history_e2_layout() -> None:
    values = tuple([*range(100, 130), *([None] * 18)])
    edt = sm.DayHistory(3, values).encode()
    assert len(edt) == 194 and edt[:2] == b"\x00\x03"
    assert edt[2:6] == (100).to_bytes(4, "big") and edt[-4:] == bytes.fromhex("FFFFFFFE")
    assert sm.DayHistory.decode(edt) == sm.DayHistory(3, values)
    theirs = Momonga.parse_historical_cumulative_energy_1(edt, 0.1, 1)
    assert len(theirs) == 48
    assert theirs[0]["cumulative energy"] == pytest.approx(10.0)
    assert theirs[47]["cumulative energy"] is None  # momonga treats FFFFFFFE as missing
    with pytest.raises(ValueError):
        sm.DayHistory(100, values)
    with pytest.raises(EchonetDecodeError):
        sm.DayHistory.decode(edt[:-1])
    assert sm.decode_history1_day(b"\x63") == 99
    with pytest.raises(EchonetDecodeError):
        sm.decode_history1_day(b"\x64")


def test_fixed_time_ea_sample_from_a_real_meter_dump() -> None:
    edt = bytes.fromhex("07E708180E3B0B00016CFF")
    value = sm.FixedTimeValue.decode(edt)
    assert value == sm.FixedTimeValue(datetime(2023, 8, 24, 14, 59, 11), 0x16CFF)
    assert value.encode() == edt
    assert _0288EA(edt) == {"time": "2023-08-24T14:59:11", "culmative_value": 0x16CFF}
    theirs = Momonga.parse_cumulative_energy_measured_at_fixed_time(edt, 0.1, 1)
    assert theirs["timestamp"] == value.at
    no_data = sm.FixedTimeValue(datetime(2026, 11, 12, 3, 30), None).encode()
    assert no_data[-4:] == bytes.fromhex("FFFFFFFE") and len(no_data) == 11
    with pytest.raises(EchonetDecodeError):
        sm.FixedTimeValue.decode(bytes.fromhex("07E70D180E3B0B00016CFF"))  # month 13


def test_history2_ec_ed_layout() -> None:
    at = datetime(2026, 11, 12, 3, 30)
    setting = sm.History2Setting(at, 3)
    assert setting.encode() == bytes.fromhex("07EA0B0C031E03")
    assert sm.History2Setting.decode(setting.encode()) == setting
    unset = sm.History2Setting.decode(sm.HISTORY2_UNSET)
    assert unset.at is None and unset.count == 1 and unset.encode() == sm.HISTORY2_UNSET
    assert Momonga.parse_time_for_historical_data_2(sm.HISTORY2_UNSET)["timestamp"] is None
    history = sm.History2(at, ((10, 1), (9, None), (None, None)))
    edt = history.encode()
    assert len(edt) == 7 + 8 * 3
    assert sm.History2.decode(edt) == history
    theirs = Momonga.parse_historical_cumulative_energy_2(edt, 1, 1)
    assert [p["timestamp"] for p in theirs] == [
        datetime(2026, 11, 12, 3, 30),
        datetime(2026, 11, 12, 3, 0),
        datetime(2026, 11, 12, 2, 30),
    ]
    assert theirs[1]["cumulative energy"]["reverse direction"] is None
    with pytest.raises(ValueError):
        sm.History2Setting(datetime(2026, 11, 12, 3, 15), 1)
    with pytest.raises(ValueError):
        sm.History2Setting(at, 13)
    for bad in ("07EA0B0C031E00", "07EA0B0C030F01", "07EA0B0C031E0D", "07EA0B0C031E"):
        with pytest.raises(EchonetDecodeError):
            sm.History2Setting.decode(bytes.fromhex(bad))
    with pytest.raises(EchonetDecodeError):
        sm.History2.decode(edt[:-1])


@settings(database=None)  # no example files left in the tree
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, sm.MAX_RAW_ENERGY)),
            st.one_of(st.none(), st.integers(0, sm.MAX_RAW_ENERGY)),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_history2_round_trip(moment: datetime, pairs: list[tuple[int | None, int | None]]) -> None:
    at = moment.replace(minute=30 if moment.minute >= 30 else 0, second=0, microsecond=0)
    history = sm.History2(at, tuple(pairs))
    assert sm.History2.decode(history.encode()) == history


def test_node_profile_lists() -> None:
    assert encode_instance_list([0x028801]) == bytes.fromhex("01028801")
    assert decode_instance_list(bytes.fromhex("02028801013001")) == (0x028801, 0x013001)
    assert encode_class_list([0x0288]) == bytes.fromhex("010288")
    assert decode_class_list(bytes.fromhex("010288")) == (0x0288,)
    with pytest.raises(EchonetDecodeError):
        decode_instance_list(bytes.fromhex("020288"))
    with pytest.raises(ValueError):
        encode_instance_list([0x028801] * 85)
    ident = identification_number(0x000016, bytes(13))
    assert len(ident) == 17 and ident[:4] == bytes.fromhex("FE000016")
