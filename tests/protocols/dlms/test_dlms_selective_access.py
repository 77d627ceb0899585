"""Selective-access parameters from the wire: anything malformed is an AxdrError (a protocol
error the meter answers with a data-access-result), never a TypeError (issue #15 §2.5)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openami.protocols.dlms import axdr
from openami.protocols.dlms.apdu import SelectiveAccess
from openami.protocols.dlms.axdr import AxdrError
from openami.protocols.dlms.cosem import CLOCK_LN
from openami.protocols.dlms.profile import (
    CLOCK_TIME,
    ENTRY_SELECTOR,
    RANGE_SELECTOR,
    RangeDescriptor,
    parse_access,
)

DT = axdr.octet_string(bytes(12))
LN = axdr.octet_string(CLOCK_LN)


def _range(restricting: bytes, columns: list[bytes] | None = None) -> SelectiveAccess:
    return SelectiveAccess(
        RANGE_SELECTOR, axdr.structure(restricting, DT, DT, axdr.array(columns or []))
    )


@pytest.mark.parametrize(
    "restricting",
    [
        axdr.null(),  # a null capture object
        axdr.structure(axdr.null(), LN, axdr.i8(2), axdr.u16(0)),  # null class id
        axdr.structure(axdr.u16(8), LN, axdr.null(), axdr.u16(0)),  # null attribute
        axdr.structure(axdr.u16(8), LN, axdr.i8(2), axdr.null()),  # null data index
        axdr.structure(axdr.octet_string(b"12"), LN, axdr.i8(2), axdr.u16(0)),
        axdr.structure(axdr.boolean(True), LN, axdr.i8(2), axdr.u16(0)),
        axdr.structure(axdr.array([]), LN, axdr.i8(2), axdr.u16(0)),
    ],
    ids=["null", "null-class", "null-attribute", "null-index", "bytes", "bool", "array"],
)
def test_null_or_mistyped_capture_objects_are_protocol_errors(restricting: bytes) -> None:
    with pytest.raises(AxdrError):
        parse_access(_range(restricting))
    with pytest.raises(AxdrError):  # the same in the selected columns
        parse_access(_range(CLOCK_TIME.encode(), [restricting]))


def test_a_valid_range_still_parses() -> None:
    parsed = parse_access(_range(CLOCK_TIME.encode(), [CLOCK_TIME.encode()]))
    assert parsed == RangeDescriptor(CLOCK_TIME, bytes(12), bytes(12), (CLOCK_TIME,))


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**32 - 1),
    st.binary(max_size=13),
)


def _encode(value: Any) -> bytes:
    if value is None:
        return axdr.null()
    if isinstance(value, bool):
        return axdr.boolean(value)
    if isinstance(value, int):
        return axdr.i32(value) if value < 0 else axdr.u32(value)
    if isinstance(value, bytes):
        return axdr.octet_string(value)
    if isinstance(value, list):
        return axdr.array([_encode(v) for v in value])
    return axdr.structure(*(_encode(v) for v in value))


_data = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([RANGE_SELECTOR, ENTRY_SELECTOR, 3]), _data)
def test_any_parameters_give_a_descriptor_or_an_axdr_error(selector: int, value: Any) -> None:
    with contextlib.suppress(AxdrError):  # anything else fails the test
        parse_access(SelectiveAccess(selector, _encode(value)))
