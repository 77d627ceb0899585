"""DataNotification (0x0F) to_bytes/from_bytes pairs, the alarm push body, and refusals of
what is not one (never anything but a NotificationError)."""

from __future__ import annotations

import contextlib
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openami.clock import JST
from openami.protocols.dlms import axdr
from openami.protocols.dlms.notification import (
    DataNotification,
    NotificationError,
    alarm_body,
    read_alarm_body,
)

NAME = b"OAM0000000001001"
MOMENT = axdr.encode_datetime(datetime(2026, 11, 1, 9, 30, 5, tzinfo=JST))


def test_an_alarm_push_with_and_without_its_date_time() -> None:
    body = alarm_body(NAME, 0b101)
    with_time = DataNotification(7, MOMENT, body)
    wire = with_time.to_bytes()
    assert wire == bytes.fromhex("0f000000070c") + MOMENT + bytes.fromhex(
        "0202" + "0910" + NAME.hex() + "0600000005"
    )
    assert DataNotification.from_bytes(wire) == with_time
    bare = DataNotification(0xFFFF_FFFF, None, body)
    assert bare.to_bytes()[:6] == bytes.fromhex("0fffffffff00")
    assert DataNotification.from_bytes(bare.to_bytes()) == bare
    assert read_alarm_body(DataNotification.from_bytes(wire).body) == (NAME, 0b101)


@pytest.mark.parametrize(
    "wire",
    [
        b"",
        bytes.fromhex("c001"),  # a GET request
        bytes.fromhex("0f00000001"),  # cut before the date-time
        bytes.fromhex("0f0000000105") + bytes(5) + axdr.u8(1),  # a 5-byte date-time
        bytes.fromhex("0f0000000100"),  # no body
        bytes.fromhex("0f0000000100") + axdr.u8(1) + b"\x00",  # a byte after the body
        bytes.fromhex("0f0000000100") + b"\x02\x05",  # a truncated structure
    ],
)
def test_what_is_not_a_notification_is_refused(wire: bytes) -> None:
    with pytest.raises(NotificationError):
        DataNotification.from_bytes(wire)


def test_a_body_that_is_not_an_alarm_push_is_refused() -> None:
    for body in (axdr.u32(5), axdr.structure(axdr.u32(5), axdr.u32(5)), b"\x02"):
        with pytest.raises(NotificationError):
            read_alarm_body(body)
    with pytest.raises(NotificationError):
        DataNotification(1 << 32, None, axdr.u8(1)).to_bytes()


@given(st.binary(max_size=64))
def test_random_bytes_only_raise_notification_errors(data: bytes) -> None:
    with contextlib.suppress(NotificationError):
        DataNotification.from_bytes(b"\x0f" + data)
