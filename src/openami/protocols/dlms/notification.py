"""DataNotification (APDU tag 0x0F): what a meter pushes without being asked (sans-I/O).

``DataNotification ::= SEQUENCE { long-invoke-id-and-priority (Unsigned32), date-time
(OCTET STRING: empty, or a 12-byte COSEM date-time), notification-body (one Data) }``, as a
Push setup object (class 40, e.g. 0.0.25.9.0.255) sends it, unciphered, in a wrapper frame
to its destination.

openami's meters push an alarm as the body ``structure { logical device name
(octet-string, 16 bytes), Alarm register 1 (double-long-unsigned) }``: the push object list
of an alarm push setup (:func:`alarm_body`, :func:`read_alarm_body`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from openami.protocols.dlms import axdr
from openami.protocols.dlms.errors import DlmsCodecError

DATA_NOTIFICATION = 0x0F
DATETIME_SIZE = 12
_U32 = struct.Struct(">I")
#: the longest notification openami accepts [bytes] (an alarm push is ~40)
MAX_NOTIFICATION_BYTES = 4096


class NotificationError(DlmsCodecError):
    """Bytes that are not a DataNotification (or not an alarm push)."""


@dataclass(frozen=True, slots=True)
class DataNotification:
    invoke_id: int  # long-invoke-id-and-priority
    moment: bytes | None  # the 12-byte COSEM date-time, or None when the meter sent none
    body: bytes  # one encoded ``Data``

    def to_bytes(self) -> bytes:
        if not 0 <= self.invoke_id <= 0xFFFF_FFFF:
            raise NotificationError(f"invoke id {self.invoke_id} is not an Unsigned32")
        if self.moment is not None and len(self.moment) != DATETIME_SIZE:
            raise NotificationError(f"a date-time has {DATETIME_SIZE} bytes")
        _check_body(self.body)
        moment = b"\x00" if self.moment is None else bytes((DATETIME_SIZE,)) + self.moment
        return bytes((DATA_NOTIFICATION,)) + _U32.pack(self.invoke_id) + moment + self.body

    @classmethod
    def from_bytes(cls, apdu: bytes) -> DataNotification:
        if len(apdu) > MAX_NOTIFICATION_BYTES:
            raise NotificationError(f"a notification of {len(apdu)} bytes is too long")
        if len(apdu) < 7 or apdu[0] != DATA_NOTIFICATION:
            raise NotificationError("not a DataNotification APDU")
        (invoke_id,) = _U32.unpack_from(apdu, 1)
        size = apdu[5]
        if size not in (0, DATETIME_SIZE):
            raise NotificationError(f"date-time of {size} bytes")
        moment = apdu[6 : 6 + size] if size else None
        body = apdu[6 + size :]
        _check_body(body)
        return cls(invoke_id, moment, body)


def _check_body(body: bytes) -> None:
    try:
        end = axdr.skip(body, 0)
    except DlmsCodecError as exc:
        raise NotificationError(f"notification body: {exc}") from None
    if end != len(body):
        raise NotificationError(f"{len(body) - end} bytes after the notification body")


def alarm_body(logical_device_name: bytes, alarm_bits: int) -> bytes:
    """The body of an alarm push: the meter's logical device name and its alarm register."""
    return axdr.structure(axdr.octet_string(logical_device_name), axdr.u32(alarm_bits))


def read_alarm_body(body: bytes) -> tuple[bytes, int]:
    """(logical device name, alarm register bits) of an alarm push's body."""
    try:
        value = axdr.decode_all(body)
    except DlmsCodecError as exc:
        raise NotificationError(f"alarm push: {exc}") from None
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not isinstance(value[0], bytes)
        or not isinstance(value[1], int)
        or isinstance(value[1], bool)
    ):
        raise NotificationError("alarm push: not {logical device name, alarm register}")
    return value[0], value[1]
