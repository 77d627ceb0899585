"""High-voltage smart electric energy meter class (0x028A, EOJ 0x028A01): property data.

The B route of a high-voltage (高圧) meter. Property list from the reference
(retail-settlement-lifecycle §4.4, taken from ECHONET libraries and the KAIT EL-WebAPI
device description; the Appendix itself was not read). Real values:

- energy [kWh] = raw × coefficient (D3) × multiplying factor (D4) × unit (E6);
- demand [kW] = raw × coefficient (D3) × multiplying factor (D4) × unit (C5).

The coefficient carries the CT/VT multiplier (乗率): the meter counts on the secondary side.
Layouts where the reference gives no size are **assumptions** shared with the low-voltage
class (0x0288): E2/E3/C3 are date (4 B) + time (3 B) + value (4 B) like its EA; E7/C6 are a
2-byte day and 48 four-byte values like its E2; C1 is one four-byte value; C5 uses E6's
unit codes. Every encoder has a decoder (raising :class:`EchonetDecodeError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from openami.protocols.echonet import smart_meter as sm
from openami.protocols.echonet.frame import EchonetDecodeError, eoj

HIGH_VOLTAGE_METER_CLASS = 0x028A
HIGH_VOLTAGE_METER_EOJ = eoj(0x02, 0x8A, 0x01)

EPC_MONTHLY_MAX_DEMAND = 0xC1
EPC_FIXED_TIME_DEMAND = 0xC3
EPC_DEMAND_DIGITS = 0xC4
EPC_DEMAND_UNIT = 0xC5
EPC_DEMAND_HISTORY = 0xC6
EPC_COEFFICIENT = 0xD3
EPC_MULTIPLYING_FACTOR = 0xD4
EPC_FIXED_DATE = 0xE0
EPC_HISTORY_DAY = 0xE1
EPC_CUMULATIVE = 0xE2
EPC_FIXED_TIME_CUMULATIVE = 0xE3
EPC_ENERGY_DIGITS = 0xE5
EPC_ENERGY_UNIT = 0xE6
EPC_ENERGY_HISTORY = 0xE7

#: D4 codes → factor
MULTIPLYING_FACTOR: dict[int, Fraction] = {
    0x00: Fraction(1),
    0x01: Fraction(1, 10),
    0x02: Fraction(1, 100),
    0x03: Fraction(1, 1000),
}


def decode_u8(edt: bytes, what: str) -> int:
    if len(edt) != 1:
        raise EchonetDecodeError(f"{what}: expected 1 byte, got {len(edt)}")
    return edt[0]


def decode_coefficient(edt: bytes) -> int:
    """D3: the coefficient, 0–999999."""
    if len(edt) != 4:
        raise EchonetDecodeError(f"coefficient: expected 4 bytes, got {len(edt)}")
    value = int.from_bytes(edt, "big")
    if value > sm.MAX_COEFFICIENT:
        raise EchonetDecodeError(f"coefficient {value} out of range 0–{sm.MAX_COEFFICIENT}")
    return value


def encode_fixed_date(day_of_month: int) -> bytes:
    """E0: the day of the month the monthly values are fixed on."""
    if not 1 <= day_of_month <= 31:
        raise ValueError(f"fixed date must be 1–31, got {day_of_month}")
    return bytes([day_of_month])


@dataclass(frozen=True)
class HighVoltageScale:
    """How primary energy [Wh] and demand [kW] become raw counts: unit (E6 and C5),
    coefficient (D3, the CT/VT multiplier), multiplying factor (D4), digits (E5 and C4)."""

    coefficient: int = 1
    factor_code: int = 0x00
    energy_unit_code: int = 0x00  # 1 kWh
    demand_unit_code: int = 0x01  # 0.1 kW
    digits: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.coefficient <= sm.MAX_COEFFICIENT:
            raise ValueError(f"coefficient must be 1–{sm.MAX_COEFFICIENT}, got {self.coefficient}")
        if self.factor_code not in MULTIPLYING_FACTOR:
            raise ValueError(f"unknown D4 code {self.factor_code:#04x}")
        for code in (self.energy_unit_code, self.demand_unit_code):
            if code not in sm.ENERGY_UNIT_KWH:
                raise ValueError(f"unknown unit code {code:#04x}")
        if not 1 <= self.digits <= 8:
            raise ValueError(f"effective digits must be 1–8, got {self.digits}")

    def _per_count(self, unit_code: int) -> Fraction:
        return (
            self.coefficient * MULTIPLYING_FACTOR[self.factor_code] * sm.ENERGY_UNIT_KWH[unit_code]
        )

    @property
    def kwh_per_count(self) -> Fraction:
        return self._per_count(self.energy_unit_code)

    @property
    def kw_per_count(self) -> Fraction:
        return self._per_count(self.demand_unit_code)

    def raw_energy(self, energy_wh: int) -> int:
        """Primary energy [Wh] → raw count (truncated, wrapped at 10**digits)."""
        return int(Fraction(energy_wh, 1000) / self.kwh_per_count) % (10**self.digits)

    def raw_demand(self, demand_kw: Fraction) -> int:
        """Demand [kW] → raw count (truncated; the largest count when it overflows)."""
        return min(int(demand_kw / self.kw_per_count), 10**self.digits - 1)
