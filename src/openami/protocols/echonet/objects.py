"""ECHONET objects as property tables, the super class and the node profile (0x0EF001).

A :class:`DeviceObject` is a table of getters and setters keyed by EPC. Its property maps
(0x9D, 0x9E, 0x9F) are derived from the table, so they always match what it serves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from openami.protocols.echonet.frame import EchonetDecodeError, eoj, eoj_class
from openami.protocols.echonet.propmap import encode_property_map

# super class (device object super class and node profile share these codes)
EPC_OPERATION_STATUS = 0x80
EPC_INSTALLATION_LOCATION = 0x81
EPC_VERSION = 0x82
EPC_IDENTIFICATION_NUMBER = 0x83
EPC_FAULT_STATUS = 0x88
EPC_MANUFACTURER_CODE = 0x8A
EPC_PRODUCT_CODE = 0x8C
EPC_PRODUCTION_NUMBER = 0x8D
EPC_CURRENT_TIME = 0x97
EPC_CURRENT_DATE = 0x98
EPC_ANNOUNCE_MAP = 0x9D
EPC_SET_MAP = 0x9E
EPC_GET_MAP = 0x9F

# node profile
NODE_PROFILE_CLASS = 0x0EF0
NODE_PROFILE_EOJ = eoj(0x0E, 0xF0, 0x01)
EPC_SELF_NODE_INSTANCES = 0xD3
EPC_SELF_NODE_CLASSES = 0xD4
EPC_INSTANCE_LIST_NOTIFICATION = 0xD5
EPC_SELF_NODE_INSTANCE_LIST = 0xD6
EPC_SELF_NODE_CLASS_LIST = 0xD7

# controller (the HEMS side of the B route)
CONTROLLER_EOJ = eoj(0x05, 0xFF, 0x01)

OPERATION_ON = 0x30
OPERATION_OFF = 0x31
FAULT = 0x41
NO_FAULT = 0x42
MAX_LIST_EOJS = 84  # 1 + 3 × 84 = 253 bytes

Getter = Callable[[], bytes]
Setter = Callable[[bytes], bool]


@dataclass
class DeviceObject:
    """One ECHONET object instance: EOJ, getters, setters and the EPCs it announces.

    A setter returns False (or raises :class:`EchonetDecodeError`/``ValueError``) to reject
    a value. ``announce_only`` EPCs may be sent as INF and requested by INF_REQ but are
    not readable by Get (0xD5 of the node profile).
    """

    eoj: int
    getters: dict[int, Getter] = field(default_factory=dict)
    setters: dict[int, Setter] = field(default_factory=dict)
    announced: frozenset[int] = frozenset()
    announce_only: dict[int, Getter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.getters.setdefault(EPC_ANNOUNCE_MAP, lambda: encode_property_map(self.announced))
        self.getters.setdefault(EPC_SET_MAP, lambda: encode_property_map(self.setters))
        self.getters.setdefault(EPC_GET_MAP, lambda: encode_property_map(self.getters))

    @property
    def class_code(self) -> int:
        return eoj_class(self.eoj)

    def get(self, epc: int) -> bytes | None:
        """EDT of a readable property, or None when Get of ``epc`` is not possible.

        A getter that cannot encode its value (a date out of range, an overflowing number)
        fails that property alone (the reply is an SNA), never the whole frame."""
        return _call(self.getters.get(epc))

    def set(self, epc: int, edt: bytes) -> bool:
        """Apply a Set; False when the EPC is not settable or the value is rejected."""
        setter = self.setters.get(epc)
        if setter is None:
            return False
        try:
            return setter(edt)
        except _VALUE_ERRORS:
            return False

    def notify_value(self, epc: int) -> bytes | None:
        """EDT for an INF of ``epc`` (INF_REQ or spontaneous), or None when not possible."""
        return _call(self.announce_only.get(epc) or self.getters.get(epc))


_VALUE_ERRORS = (EchonetDecodeError, ValueError, OverflowError, ArithmeticError)


def _call(getter: Getter | None) -> bytes | None:
    if getter is None:
        return None
    try:
        return getter()
    except _VALUE_ERRORS:
        return None


# -- node profile data -------------------------------------------------------------------------
def encode_instance_list(eojs: Sequence[int]) -> bytes:
    """0xD5/0xD6: 1-byte count + 3-byte EOJs (at most 84 in one property)."""
    if len(eojs) > MAX_LIST_EOJS:
        raise ValueError(f"an instance list holds at most {MAX_LIST_EOJS} EOJs")
    return bytes([len(eojs)]) + b"".join(e.to_bytes(3, "big") for e in eojs)


def decode_instance_list(edt: bytes) -> tuple[int, ...]:
    if not edt or len(edt) != 1 + 3 * edt[0]:
        raise EchonetDecodeError(f"malformed instance list {edt.hex()}")
    return tuple(int.from_bytes(edt[i : i + 3], "big") for i in range(1, len(edt), 3))


def encode_class_list(classes: Sequence[int]) -> bytes:
    """0xD7: 1-byte count + 2-byte class codes (the node profile class is not listed)."""
    return bytes([len(classes)]) + b"".join(c.to_bytes(2, "big") for c in classes)


def decode_class_list(edt: bytes) -> tuple[int, ...]:
    if not edt or len(edt) != 1 + 2 * edt[0]:
        raise EchonetDecodeError(f"malformed class list {edt.hex()}")
    return tuple(int.from_bytes(edt[i : i + 2], "big") for i in range(1, len(edt), 2))


def identification_number(manufacturer_code: int, unique_id: bytes) -> bytes:
    """0x83: 0xFE + 3-byte manufacturer code + 13-byte unique ID (17 bytes)."""
    if len(unique_id) != 13:
        raise ValueError(f"unique ID must be 13 bytes, got {len(unique_id)}")
    return b"\xfe" + manufacturer_code.to_bytes(3, "big") + unique_id


def node_profile(
    devices: Iterable[DeviceObject],
    *,
    manufacturer_code: int,
    unique_id: bytes,
    version: bytes = bytes([0x01, 0x0D, 0x01, 0x00]),
    product_code: bytes = b"openami-node",
) -> DeviceObject:
    """The node profile object 0x0EF001 listing ``devices`` (fixed at construction)."""
    eojs = tuple(d.eoj for d in devices)
    classes = tuple(dict.fromkeys(eoj_class(e) for e in eojs))
    instances = encode_instance_list(eojs)
    ident = identification_number(manufacturer_code, unique_id)
    if len(product_code) > 12:
        raise ValueError("the product code (0x8C) is at most 12 ASCII bytes")
    product = product_code.ljust(12, b"\x00")
    getters: dict[int, Getter] = {
        EPC_OPERATION_STATUS: lambda: bytes([OPERATION_ON]),
        EPC_VERSION: lambda: version,
        EPC_IDENTIFICATION_NUMBER: lambda: ident,
        EPC_MANUFACTURER_CODE: lambda: manufacturer_code.to_bytes(3, "big"),
        EPC_PRODUCT_CODE: lambda: product,
        EPC_SELF_NODE_INSTANCES: lambda: len(eojs).to_bytes(3, "big"),
        EPC_SELF_NODE_CLASSES: lambda: (len(classes) + 1).to_bytes(2, "big"),
        EPC_SELF_NODE_INSTANCE_LIST: lambda: instances,
        EPC_SELF_NODE_CLASS_LIST: lambda: encode_class_list(classes),
    }
    return DeviceObject(
        eoj=NODE_PROFILE_EOJ,
        getters=getters,
        announced=frozenset({EPC_OPERATION_STATUS, EPC_INSTANCE_LIST_NOTIFICATION}),
        announce_only={EPC_INSTANCE_LIST_NOTIFICATION: lambda: instances},
    )
