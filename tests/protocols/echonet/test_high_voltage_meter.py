"""High-voltage smart meter 0x028A property data: scaling with coefficient (the CT/VT
multiplier), multiplying factor and units; bad values refused."""

from __future__ import annotations

from fractions import Fraction

import pytest

from openami.protocols.echonet.frame import EchonetDecodeError
from openami.protocols.echonet.high_voltage_meter import (
    HIGH_VOLTAGE_METER_EOJ,
    HighVoltageScale,
    decode_coefficient,
    decode_u8,
    encode_fixed_date,
)


def test_eoj_and_scaling() -> None:
    assert HIGH_VOLTAGE_METER_EOJ == 0x028A01
    scale = HighVoltageScale(coefficient=600, factor_code=0x02, energy_unit_code=0x00)
    assert scale.kwh_per_count == Fraction(6)  # 600 × 0.01 × 1 kWh
    assert scale.raw_energy(1_234_567_000) == 205_761  # 1,234,567 kWh / 6, truncated
    assert scale.kw_per_count == Fraction(6, 10)  # demand in 0.1 kW
    assert scale.raw_demand(Fraction(301)) == 501
    tiny = HighVoltageScale(coefficient=1, digits=2, energy_unit_code=0x03)  # 1 Wh, 2 digits
    assert tiny.raw_energy(12_345) == 45  # wraps at 10**digits
    assert tiny.raw_demand(Fraction(10**6)) == 99  # a demand that overflows: the largest


@pytest.mark.parametrize(
    "kwargs",
    [
        {"coefficient": 0},
        {"coefficient": 1_000_000},
        {"factor_code": 0x04},
        {"energy_unit_code": 0x05},
        {"demand_unit_code": 0x0E},
        {"digits": 9},
    ],
)
def test_bad_scales(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        HighVoltageScale(**kwargs)


def test_codecs() -> None:
    assert decode_coefficient((600).to_bytes(4, "big")) == 600
    with pytest.raises(EchonetDecodeError):
        decode_coefficient((1_000_000).to_bytes(4, "big"))
    with pytest.raises(EchonetDecodeError):
        decode_coefficient(b"\x00\x01")
    assert decode_u8(b"\x02", "D4") == 2
    with pytest.raises(EchonetDecodeError):
        decode_u8(b"", "D4")
    assert encode_fixed_date(31) == b"\x1f"
    with pytest.raises(ValueError):
        encode_fixed_date(0)
