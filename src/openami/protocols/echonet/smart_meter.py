"""Low-voltage smart electric energy meter class (0x0288, EOJ 0x028801): property data.

Sizes, units and sentinels follow the ECHONET Appendix (Release R) as summarised in
docs/reference (broute.md §2). Every encoder has a decoder; decoders raise
:class:`EchonetDecodeError` on a wrong length and map sentinels to ``None``.
Date/time fields are the meter's local wall-clock time (JST on the B route), given and
returned as naive ``datetime`` objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from openami.protocols.echonet.frame import EchonetDecodeError, eoj

SMART_METER_CLASS = 0x0288
SMART_METER_EOJ = eoj(0x02, 0x88, 0x01)

# EPCs of the class (super-class EPCs are in objects.py)
EPC_B_ROUTE_ID = 0xC0
EPC_COEFFICIENT = 0xD3
EPC_EFFECTIVE_DIGITS = 0xD7
EPC_CUMULATIVE_NORMAL = 0xE0
EPC_ENERGY_UNIT = 0xE1
EPC_HISTORY1_NORMAL = 0xE2
EPC_CUMULATIVE_REVERSE = 0xE3
EPC_HISTORY1_REVERSE = 0xE4
EPC_HISTORY1_DAY = 0xE5
EPC_INSTANT_POWER = 0xE7
EPC_INSTANT_CURRENTS = 0xE8
EPC_FIXED_TIME_NORMAL = 0xEA
EPC_FIXED_TIME_REVERSE = 0xEB
EPC_HISTORY2 = 0xEC
EPC_HISTORY2_SETTING = 0xED

# sentinels
NO_DATA_U32 = 0xFFFFFFFE  # cumulative energy: no data
POWER_UNDERFLOW = -0x80000000  # 0x80000000
POWER_OVERFLOW = 0x7FFFFFFF
POWER_NO_DATA = 0x7FFFFFFE
POWER_MIN_W = -0x7FFFFFFF  # 0x80000001
POWER_MAX_W = 0x7FFFFFFD
CURRENT_UNDERFLOW = -0x8000
CURRENT_OVERFLOW = 0x7FFF
CURRENT_NO_DATA = 0x7FFE
CURRENT_MIN_DA = -0x7FFF  # deci-amperes (0.1 A)
CURRENT_MAX_DA = 0x7FFD
MAX_HISTORY1_DAY = 99
HISTORY1_SLOTS = 48
HISTORY1_LEN = 2 + 4 * HISTORY1_SLOTS  # 194
FIXED_TIME_LEN = 11
HISTORY2_MAX_COUNT = 12
HISTORY2_SETTING_LEN = 7
HISTORY2_UNSET = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
MAX_COEFFICIENT = 999_999
MAX_RAW_ENERGY = 99_999_999

# E1 unit codes → kWh per raw count
ENERGY_UNIT_KWH: dict[int, Fraction] = {
    0x00: Fraction(1),
    0x01: Fraction(1, 10),
    0x02: Fraction(1, 100),
    0x03: Fraction(1, 1000),
    0x04: Fraction(1, 10000),
    0x0A: Fraction(10),
    0x0B: Fraction(100),
    0x0C: Fraction(1000),
    0x0D: Fraction(10000),
}


def _need(edt: bytes, size: int, what: str) -> None:
    if len(edt) != size:
        raise EchonetDecodeError(f"{what}: expected {size} bytes, got {len(edt)}")


# -- scalar properties -------------------------------------------------------------------------
def encode_u8(value: int) -> bytes:
    return value.to_bytes(1, "big")


def encode_u32(value: int | None) -> bytes:
    """Unsigned 32-bit energy count; ``None`` → 0xFFFFFFFE (no data)."""
    return (NO_DATA_U32 if value is None else value).to_bytes(4, "big")


def decode_u32_energy(edt: bytes) -> int | None:
    _need(edt, 4, "cumulative energy")
    value = int.from_bytes(edt, "big")
    return None if value == NO_DATA_U32 else value


def encode_coefficient(coefficient: int) -> bytes:
    if not 0 <= coefficient <= MAX_COEFFICIENT:
        raise ValueError(f"coefficient must be 0–{MAX_COEFFICIENT}, got {coefficient}")
    return coefficient.to_bytes(4, "big")


def encode_power_w(power_w: float | None) -> bytes:
    """E7: signed 32-bit W; clamped to the valid range; ``None`` → no data."""
    if power_w is None:
        return POWER_NO_DATA.to_bytes(4, "big")
    raw = min(max(round(power_w), POWER_MIN_W), POWER_MAX_W)
    return raw.to_bytes(4, "big", signed=True)


def decode_power_w(edt: bytes) -> int | None:
    _need(edt, 4, "instantaneous power")
    raw = int.from_bytes(edt, "big", signed=True)
    return None if raw in (POWER_UNDERFLOW, POWER_OVERFLOW, POWER_NO_DATA) else raw


def _current_da(current_a: float | None) -> int:
    if current_a is None:
        return CURRENT_NO_DATA
    return min(max(round(current_a * 10), CURRENT_MIN_DA), CURRENT_MAX_DA)


def encode_currents(r_phase_a: float | None, t_phase_a: float | None) -> bytes:
    """E8: R then T phase as signed 16-bit 0.1 A; ``None`` → 0x7FFE (single-phase T)."""
    return _current_da(r_phase_a).to_bytes(2, "big", signed=True) + _current_da(t_phase_a).to_bytes(
        2, "big", signed=True
    )


def decode_currents(edt: bytes) -> tuple[float | None, float | None]:
    _need(edt, 4, "instantaneous currents")
    out: list[float | None] = []
    for part in (edt[0:2], edt[2:4]):
        raw = int.from_bytes(part, "big", signed=True)
        no_value = raw in (CURRENT_UNDERFLOW, CURRENT_OVERFLOW, CURRENT_NO_DATA)
        out.append(None if no_value else raw / 10)
    return out[0], out[1]


# -- energy scaling ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EnergyScale:
    """How a register in Wh becomes the raw E0/E3 count: unit (E1), coefficient (D3), digits (D7).

    kWh = raw × unit × coefficient; the raw counter wraps at 10**digits.
    """

    unit_code: int = 0x01
    coefficient: int = 1
    digits: int = 6

    def __post_init__(self) -> None:
        if self.unit_code not in ENERGY_UNIT_KWH:
            raise ValueError(f"unknown E1 unit code {self.unit_code:#04x}")
        if not 1 <= self.coefficient <= MAX_COEFFICIENT:
            raise ValueError(f"coefficient must be 1–{MAX_COEFFICIENT}, got {self.coefficient}")
        if not 1 <= self.digits <= 8:
            raise ValueError(f"effective digits must be 1–8, got {self.digits}")

    @property
    def kwh_per_count(self) -> Fraction:
        return ENERGY_UNIT_KWH[self.unit_code] * self.coefficient

    def raw_from_wh(self, energy_wh: int) -> int:
        """Register [Wh] → raw count, truncated to the unit and wrapped at 10**digits."""
        counts = Fraction(energy_wh, 1000) / self.kwh_per_count
        return int(counts) % (10**self.digits)

    def kwh_from_raw(self, raw: int) -> float:
        return float(raw * self.kwh_per_count)


# -- E2/E4: historical cumulative 1 ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DayHistory:
    """E2/E4: the 48 half-hour raw readings (00:00 … 23:30) of ``day`` days ago."""

    day: int
    values: tuple[int | None, ...]

    def __post_init__(self) -> None:
        if not 0 <= self.day <= MAX_HISTORY1_DAY:
            raise ValueError(f"history day must be 0–{MAX_HISTORY1_DAY}, got {self.day}")
        if len(self.values) != HISTORY1_SLOTS:
            raise ValueError(f"a day history has 48 values, got {len(self.values)}")

    def encode(self) -> bytes:
        return self.day.to_bytes(2, "big") + b"".join(encode_u32(v) for v in self.values)

    @classmethod
    def decode(cls, edt: bytes) -> DayHistory:
        _need(edt, HISTORY1_LEN, "historical cumulative 1")
        day = int.from_bytes(edt[0:2], "big")
        if day > MAX_HISTORY1_DAY:
            raise EchonetDecodeError(f"history day {day} out of range")
        values = tuple(decode_u32_energy(edt[i : i + 4]) for i in range(2, HISTORY1_LEN, 4))
        return cls(day, values)


def decode_history1_day(edt: bytes) -> int:
    """E5 EDT → day (0–99); raises on a wrong length or an out-of-range day."""
    _need(edt, 1, "day for historical data 1")
    if edt[0] > MAX_HISTORY1_DAY:
        raise EchonetDecodeError(f"history day {edt[0]} out of range 0–99")
    return edt[0]


# -- date/time fields --------------------------------------------------------------------------
def encode_datetime(moment: datetime, *, seconds: bool = True) -> bytes:
    """YYYY(2) MM DD hh mm [ss] of a wall-clock time."""
    head = moment.year.to_bytes(2, "big") + bytes(
        [moment.month, moment.day, moment.hour, moment.minute]
    )
    return head + bytes([moment.second]) if seconds else head


def decode_datetime(edt: bytes, *, seconds: bool = True) -> datetime:
    try:
        return datetime(
            int.from_bytes(edt[0:2], "big"),
            edt[2],
            edt[3],
            edt[4],
            edt[5],
            edt[6] if seconds else 0,
        )
    except (ValueError, IndexError) as exc:
        raise EchonetDecodeError(f"invalid date/time {edt.hex()}: {exc}") from None


# -- EA/EB: cumulative at fixed time -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FixedTimeValue:
    """EA/EB: the raw register at the latest :00/:30 boundary and that boundary's time."""

    at: datetime
    value: int | None

    def encode(self) -> bytes:
        return encode_datetime(self.at) + encode_u32(self.value)

    @classmethod
    def decode(cls, edt: bytes) -> FixedTimeValue:
        _need(edt, FIXED_TIME_LEN, "cumulative at fixed time")
        return cls(decode_datetime(edt[0:7]), decode_u32_energy(edt[7:11]))


# -- EC/ED: historical cumulative 2 ------------------------------------------------------------
def _check_history2_start(at: datetime) -> None:
    if at.minute not in (0, 30) or at.second or at.microsecond:
        raise ValueError(f"history 2 times are on :00 or :30, got {at.isoformat()}")


@dataclass(frozen=True, slots=True)
class History2Setting:
    """ED: newest slot time and number of slots (1–12); ``at=None`` is the not-set value."""

    at: datetime | None
    count: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.count <= HISTORY2_MAX_COUNT:
            raise ValueError(f"history 2 count must be 1–12, got {self.count}")
        if self.at is not None:
            _check_history2_start(self.at)

    def encode(self) -> bytes:
        if self.at is None:
            return HISTORY2_UNSET[:6] + bytes([self.count])
        return encode_datetime(self.at, seconds=False) + bytes([self.count])

    @classmethod
    def decode(cls, edt: bytes) -> History2Setting:
        _need(edt, HISTORY2_SETTING_LEN, "day/time for historical data 2")
        count = edt[6]
        if not 1 <= count <= HISTORY2_MAX_COUNT:
            raise EchonetDecodeError(f"history 2 count {count} out of range 1–12")
        if edt[0:2] == b"\xff\xff":
            return cls(None, count)
        at = decode_datetime(edt[0:6], seconds=False)
        if at.minute not in (0, 30):
            raise EchonetDecodeError(f"history 2 minute must be 0 or 30, got {at.minute}")
        return cls(at, count)


@dataclass(frozen=True, slots=True)
class History2:
    """EC: (normal, reverse) raw pairs, newest first, each 30 min before the previous one."""

    at: datetime | None
    pairs: tuple[tuple[int | None, int | None], ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.pairs) <= HISTORY2_MAX_COUNT:
            raise ValueError(f"history 2 carries 1–12 pairs, got {len(self.pairs)}")
        if self.at is not None:
            _check_history2_start(self.at)

    def encode(self) -> bytes:
        head = History2Setting(self.at, len(self.pairs)).encode()
        return head + b"".join(encode_u32(n) + encode_u32(r) for n, r in self.pairs)

    @classmethod
    def decode(cls, edt: bytes) -> History2:
        if len(edt) < 7 + 8:
            raise EchonetDecodeError(f"historical cumulative 2 too short: {len(edt)} bytes")
        setting = History2Setting.decode(edt[0:7])
        _need(edt, 7 + 8 * setting.count, "historical cumulative 2")
        pairs = tuple(
            (decode_u32_energy(edt[i : i + 4]), decode_u32_energy(edt[i + 4 : i + 8]))
            for i in range(7, len(edt), 8)
        )
        return cls(setting.at, pairs)
