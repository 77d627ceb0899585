"""One ECHONET Lite property as data: its EDT layout, value range and access rules.

A :class:`PropertySpec` knows how to turn an integer into the EDT and back, and which values
a Set may carry. Decoding checks the length and the range and raises
:class:`EchonetDecodeError` (a ``ValueError``) for anything else, so a device object's setter
built on it rejects bad values and the Set gets an SNA answer.

Layouts (big-endian, as the Appendix requires):

- ``u8`` / ``u16`` / ``u32``: unsigned, ``s8`` / ``s32``: two's complement;
- ``enum``: one byte out of a fixed set of codes;
- ``u32x2``: two u32 (minimum, maximum), handled as one integer ``min << 32 | max``
  (:func:`pack_min_max`, :func:`unpack_min_max`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openami.protocols.echonet.frame import EchonetDecodeError

_SIZES = {"u8": 1, "s8": 1, "enum": 1, "u16": 2, "u32": 4, "s32": 4, "u32x2": 8}
_SIGNED = frozenset({"s8", "s32"})


@dataclass(frozen=True)
class PropertySpec:
    """EPC, name, layout and rules of one property.

    ``low``/``high`` bound the values a Set may carry (and an encoder may give); ``codes``
    lists the allowed bytes of an ``enum``; ``sentinels`` are bytes values outside the range
    that a Get may still return (0xFD "undefined", 0x7E "unmeasurable"…).
    """

    epc: int
    name: str
    layout: str
    low: int = 0
    high: int = 0
    codes: frozenset[int] = frozenset()
    settable: bool = False
    announced: bool = False
    sentinels: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.layout not in _SIZES:
            raise ValueError(f"unknown layout {self.layout!r}")
        if self.layout == "enum" and not self.codes:
            raise ValueError(f"enum property {self.epc:#04x} needs codes")

    @property
    def size(self) -> int:
        return _SIZES[self.layout]

    def valid(self, value: int) -> bool:
        if self.layout == "enum":
            return value in self.codes
        if self.layout == "u32x2":
            low, high = unpack_min_max(value)
            return self.low <= low <= high <= self.high
        return self.low <= value <= self.high

    def encode(self, value: int) -> bytes:
        """A value (in range, or a sentinel) → EDT. ``ValueError`` otherwise."""
        if not self.valid(value) and value not in self.sentinels:
            raise ValueError(f"{self.name} ({self.epc:#04x}): {value} is out of range")
        return int(value).to_bytes(self.size, "big", signed=self.layout in _SIGNED)

    def decode(self, edt: bytes, *, allow_sentinel: bool = True) -> int:
        """EDT → value. A wrong length or an out-of-range value raises EchonetDecodeError."""
        if len(edt) != self.size:
            raise EchonetDecodeError(
                f"{self.name} ({self.epc:#04x}): expected {self.size} bytes, got {len(edt)}"
            )
        value = int.from_bytes(edt, "big", signed=self.layout in _SIGNED)
        if self.valid(value) or (allow_sentinel and value in self.sentinels):
            return value
        raise EchonetDecodeError(f"{self.name} ({self.epc:#04x}): {value} is out of range")

    def decode_set(self, edt: bytes) -> int:
        """The value a Set carries: in range, never a sentinel (those are Get-only)."""
        return self.decode(edt, allow_sentinel=False)


def pack_min_max(minimum: int, maximum: int) -> int:
    """Two u32 (min, max) as the one integer a ``u32x2`` property carries."""
    return (int(minimum) << 32) | int(maximum)


def unpack_min_max(value: int) -> tuple[int, int]:
    return value >> 32, value & 0xFFFFFFFF


def ranged(
    epc: int,
    name: str,
    layout: str,
    low: int,
    high: int,
    *,
    settable: bool = False,
    announced: bool = False,
    sentinels: frozenset[int] = frozenset(),
) -> PropertySpec:
    """A numeric property whose values run from ``low`` to ``high``."""
    return PropertySpec(
        epc, name, layout, low, high, settable=settable, announced=announced, sentinels=sentinels
    )


def enum(
    epc: int, name: str, codes: dict[int, str], *, settable: bool = False, announced: bool = False
) -> PropertySpec:
    """A one-byte property taking one of ``codes``."""
    return PropertySpec(
        epc, name, "enum", codes=frozenset(codes), settable=settable, announced=announced
    )


U16_MAX_VALUE = 0xFFFD  # 0–65533: the Appendix keeps 0xFFFE/0xFFFF for "overflow"/"no data"
U32_MAX_VALUE = 999_999_999
S32_MAX_VALUE = 999_999_999
