"""A-XDR ``Data`` and the COSEM date-time.

Allowed: :class:`AxdrError` (a DlmsCodecError, a ValueError). Checks: whatever
:func:`axdr.decode` reads, :func:`axdr.skip` skips to the same position (they walk the
same grammar twice: the GET path trusts ``skip``); a value that decodes completely and has a
native form survives encode then decode (bytes may differ: long-form lengths and any
non-zero boolean are read leniently); every 12-byte window decodes as a
date-time or raises the allowed error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fuzz.engine import Finding
from openami.clock import JST
from openami.protocols.dlms import axdr, profile
from openami.protocols.dlms.axdr import AxdrError, BitString

ALLOWED = (AxdrError,)
MAX_LEN = 1024


def _native(value: Any) -> bool:
    """True when ``encode`` gives ``value`` back in its own form (no Typed integers)."""
    if value is None or isinstance(value, bool | bytes | BitString):
        return True
    if isinstance(value, list | tuple):
        return all(_native(v) for v in value)
    return False


def setup() -> Callable[[bytes], None]:
    def one_input(data: bytes) -> None:
        for start in range(0, max(1, len(data) - 11), 12):
            with contextlib.suppress(AxdrError):
                axdr.decode_datetime(data[start : start + 12])
        try:
            value, end = axdr.decode(data)
        except AxdrError:
            value, end = None, -1
        try:
            skipped = axdr.skip(data)
        except AxdrError:
            skipped = -1
        if end != skipped:
            raise Finding(f"decode ends at {end}, skip at {skipped}")
        if end == len(data) and _native(value) and axdr.decode_all(axdr.encode(value)) != value:
            raise Finding(f"{value!r} does not survive encode and decode")
        axdr.decode_all(data)

    return one_input


def seeds() -> dict[str, bytes]:
    start = datetime(2026, 11, 1, tzinfo=JST)
    row = axdr.structure(
        axdr.octet_string(axdr.encode_datetime(start)), axdr.u32(123456), axdr.u8(0)
    )
    return {
        "datetime": axdr.octet_string(axdr.encode_datetime(start)),
        "profile-rows": axdr.array([row, row]),
        "range-descriptor": profile.by_range(start, start + timedelta(hours=1)).parameters,
        "entry-descriptor": profile.by_entry(1, 0).parameters,
        "scalars": axdr.structure(
            axdr.null(),
            axdr.boolean(True),
            axdr.i8(-1),
            axdr.i16(-2),
            axdr.u16(3),
            axdr.i32(-4),
            axdr.i64(-5),
            axdr.u64(6),
            axdr.enum(7),
            axdr.visible_string("openami"),
        ),
        "bit-string": axdr.encode(BitString(12, b"\xab\xc0")),
    }
