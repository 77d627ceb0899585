"""Hostile ESPI documents: every failure is an EspiParseError, and no DTD ever gets through
(issue #15 §2.5: LookupError and OverflowError leaked; the DOCTYPE refusal was bypassed by a
long leading comment or by UTF-16)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openami.protocols.espi import (
    EspiParseError,
    read_batch_list,
    read_entry,
    read_feed,
    read_service_status,
)

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
DTD = '<!DOCTYPE feed [<!ENTITY x "boom">]>'
FEED = f'<feed xmlns="{ATOM}"><title>&x;</title><updated>2026-01-01T00:00:00Z</updated></feed>'
READERS = [read_feed, read_entry, read_batch_list, read_service_status]


def _usage_point(rated: str) -> str:
    return (
        f'<feed xmlns="{ATOM}"><updated>2026-01-01T00:00:00Z</updated><entry>'
        "<published>2026-01-01T00:00:00Z</published><updated>2026-01-01T00:00:00Z</updated>"
        f'<content><UsagePoint xmlns="{ESPI}"><ratedCurrent>{rated}</ratedCurrent>'
        "</UsagePoint></content></entry></feed>"
    )


@pytest.mark.parametrize(
    "document",
    [
        ("<!--" + "x" * 5000 + "-->" + DTD + FEED).encode(),  # DOCTYPE after 4 kB
        ('<?xml version="1.0" encoding="UTF-16"?>' + DTD + FEED).encode("utf-16"),
        (DTD + FEED).encode("utf-16-le"),  # no BOM, no declaration
        ('<?xml version="1.0" encoding="UTF-16BE"?>' + DTD + FEED).encode("utf-16-be"),
        (" " * 8000 + DTD + FEED).encode(),
        (
            '<?xml version="1.0"?>\n<!-- a -->\n<!doctype feed SYSTEM "file:///etc/passwd">' + FEED
        ).encode(),
        ('<?xml version="1.0" encoding="UTF-32"?>' + DTD + FEED).encode("utf-32"),
    ],
    ids=["long-comment", "utf16-bom", "utf16le", "utf16be", "whitespace", "system", "utf32"],
)
@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__)
def test_any_dtd_is_refused(document: bytes, reader: object) -> None:
    with pytest.raises(EspiParseError) as refused:
        reader(document)  # type: ignore[operator]
    assert type(refused.value) is EspiParseError
    assert "boom" not in str(refused.value)


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0" encoding="no-such-codec"?><feed/>',  # LookupError before
        b'<?xml version="1.0" encoding="utf-7"?><feed/>',
        _usage_point("<value>1</value><powerOfTenMultiplier>400</powerOfTenMultiplier>").encode(),
        _usage_point(f"<value>{10**400}</value><uom>5</uom>").encode(),  # OverflowError before
        f'<feed xmlns="{ATOM}"><updated>9999-12-31T23:59:59-23:59</updated></feed>'.encode(),
        b"\xff\xfe\x00",
        b"",
    ],
    ids=["unknown-codec", "utf7", "pow10", "huge", "date-overflow", "bad-bom", "empty"],
)
def test_hostile_values_are_parse_errors(document: bytes) -> None:
    try:
        read_feed(document)
    except EspiParseError:
        return
    except Exception as exc:  # pragma: no cover - the finding
        pytest.fail(f"{type(exc).__name__} leaked: {exc}")
    # a document that parses must have been read as a plain feed (no value may escape)


def test_the_error_root_covers_reading() -> None:
    from openami.protocols.espi import EspiError, EspiWriteError

    assert issubclass(EspiWriteError, EspiError)
    assert issubclass(EspiParseError, EspiError)
    with pytest.raises(EspiError):
        read_feed(b'<?xml version="1.0" encoding="no-such-codec"?><feed/>')


def test_a_plain_utf16_feed_without_dtd_still_reads() -> None:
    feed = read_feed(FEED.replace("&x;", "ok").encode("utf-16"))
    assert feed.title == "ok"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_parse_errors(data: bytes) -> None:
    for reader in READERS:
        with contextlib.suppress(EspiParseError):
            reader(data)
