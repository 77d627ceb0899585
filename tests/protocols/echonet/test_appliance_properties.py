"""The appliance classes' property layouts: to_bytes / from_bytes pairs, ranges, maps."""

from __future__ import annotations

import pytest

from openami.protocols.echonet import appliances as ap
from openami.protocols.echonet.errors import EchonetDecodeError
from openami.protocols.echonet.property_spec import pack_min_max, unpack_min_max

PAIRS = [
    # (class, EPC, value, EDT)
    (ap.AIR_CONDITIONER, ap.EPC_AC_MODE, ap.AC_MODE_COOL, b"\x42"),
    (ap.AIR_CONDITIONER, ap.EPC_AC_SET_TEMPERATURE, 26, b"\x1a"),
    (ap.AIR_CONDITIONER, ap.EPC_AC_OUTDOOR_TEMPERATURE, -5, b"\xfb"),
    (ap.AIR_CONDITIONER, ap.EPC_INSTANT_POWER, 1234, b"\x04\xd2"),
    (ap.STORAGE_BATTERY, ap.EPC_BATTERY_INSTANT_POWER, -2500, b"\xff\xff\xf6\x3c"),
    (ap.STORAGE_BATTERY, ap.EPC_BATTERY_SOC, 100, b"\x64"),
    (ap.STORAGE_BATTERY, ap.EPC_BATTERY_DISCHARGE_POWER, 2000, b"\x00\x00\x07\xd0"),
    (ap.STORAGE_BATTERY, ap.EPC_BATTERY_MODE, ap.BATTERY_DISCHARGE, b"\x43"),
    (ap.EV_CHARGER, ap.EPC_EV_MODE, ap.EV_STANDBY, b"\x44"),
    (ap.EV_CHARGER, ap.EPC_EV_REMAINING_WH, 24_000, b"\x00\x00\x5d\xc0"),
    (ap.WATER_HEATER, ap.EPC_WH_HEATING_SETTING, ap.HEATING_STOPPED, b"\x43"),
    (ap.WATER_HEATER, ap.EPC_WH_REMAINING_L, 370, b"\x01\x72"),
    (ap.WATER_HEATER, ap.EPC_WH_SHIFT_TIME_1, 0x0B, b"\x0b"),
    (ap.SOLAR, ap.EPC_PV_INSTANT_W, 3200, b"\x0c\x80"),
    (ap.SOLAR, ap.EPC_PV_CUMULATIVE, 999_999_999, b"\x3b\x9a\xc9\xff"),
]


@pytest.mark.parametrize(("cls", "epc", "value", "edt"), PAIRS)
def test_to_bytes_and_back(cls: ap.ApplianceClass, epc: int, value: int, edt: bytes) -> None:
    spec = cls.spec(epc)
    assert spec.encode(value) == edt
    assert spec.decode(edt) == value


@pytest.mark.parametrize(
    ("cls", "epc", "edt"),
    [
        (ap.AIR_CONDITIONER, ap.EPC_AC_SET_TEMPERATURE, b"\x33"),  # 51 °C
        (ap.AIR_CONDITIONER, ap.EPC_AC_SET_TEMPERATURE, b"\x1a\x00"),  # two bytes
        (ap.AIR_CONDITIONER, ap.EPC_AC_MODE, b"\x47"),  # no such mode
        (ap.STORAGE_BATTERY, ap.EPC_BATTERY_SOC, b"\x65"),  # 101 %
        (ap.EV_CHARGER, ap.EPC_EV_MODE, b""),
        (ap.SOLAR, ap.EPC_PV_CUMULATIVE, b"\x3b\x9a\xca\x00"),  # 1,000,000,000
        (ap.WATER_HEATER, ap.EPC_WH_SHIFT_TIME_1, b"\x12"),  # 18:00 is not a shift time
    ],
)
def test_bad_edt_does_not_decode(cls: ap.ApplianceClass, epc: int, edt: bytes) -> None:
    with pytest.raises(EchonetDecodeError):
        cls.spec(epc).decode_set(edt)


def test_sentinels_are_get_only() -> None:
    spec = ap.AIR_CONDITIONER.spec(ap.EPC_AC_SET_TEMPERATURE)
    assert spec.decode(b"\xfd") == ap.UNDEFINED_U8  # a Get may say "undefined"
    with pytest.raises(EchonetDecodeError):
        spec.decode_set(b"\xfd")  # a Set may not
    with pytest.raises(ValueError, match="out of range"):
        spec.encode(51)


def test_settable_and_announced_maps_follow_the_appendix() -> None:
    # the AC requires Set of 0x80, 0x8F, 0xA0, 0xB0, 0xB3 (customer-side-dr §1.3)
    assert ap.AIR_CONDITIONER.settable == {0x80, 0x8F, 0xA0, 0xB0, 0xB3}
    assert ap.STORAGE_BATTERY.settable == {0xDA, 0xEB, 0xEC}
    assert ap.EV_CHARGER.settable == {0xDA, 0xEB}
    assert ap.WATER_HEATER.settable == {0xB0, 0xC0, 0xC7, 0xCA}
    assert ap.SOLAR.settable == frozenset()
    assert {0x80, 0xCF, 0xDA} <= ap.STORAGE_BATTERY.announced
    assert {0xC7, 0xDA, 0xE1} <= ap.EV_CHARGER.announced
    assert {0xB0, 0xB2} <= ap.WATER_HEATER.announced
    assert ap.EV_CHARGER.eoj() == 0x027E01
    assert ap.wrap_cumulative(1_000_000_001) == 1


def test_min_max_pairs() -> None:
    spec = ap.STORAGE_BATTERY.spec(ap.EPC_BATTERY_MIN_MAX_DISCHARGE_W)
    edt = spec.encode(pack_min_max(100, 3000))
    assert edt == bytes.fromhex("0000006400000bb8")
    assert unpack_min_max(spec.decode(edt)) == (100, 3000)
    with pytest.raises(EchonetDecodeError):
        spec.decode(bytes.fromhex("00000bb800000064"))  # min above max
