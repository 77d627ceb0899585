"""IntervalBlocks as columns: the same document as the object form, the same errors."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.protocols.espi.xsd import xsd_errors

from openami.protocols.espi import (
    Entry,
    EspiWriteError,
    Feed,
    IntervalBlock,
    IntervalBlockColumns,
    Link,
    jp,
    read_feed,
    write_feed,
)

DAY = date(2026, 11, 1)
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
QUALITIES = (*jp.QUALITY_TO_ESPI, *jp.GAP_QUALITIES, "someday")


def _feed(block: IntervalBlock | IntervalBlockColumns, href: str = "/x/1") -> bytes:
    entry = Entry("urn:uuid:1", "day <&>", (Link("self", href),), T0, T0, block)
    return write_feed(Feed("urn:uuid:2", "feed", T0, (Link("self", href),), (entry,)))


day_values = st.lists(
    st.tuples(
        st.integers(0, 47),
        st.one_of(st.none(), st.integers(-(2**47), 2**47 - 1)),
        st.sampled_from(QUALITIES),
    ),
    max_size=48,
    unique_by=lambda v: v[0],
).map(sorted)


@settings(max_examples=200, deadline=None)
@given(day_values)
def test_columns_write_the_bytes_of_the_object_form(
    values: list[tuple[int, int | None, str]],
) -> None:
    first = jp.day_start_s(DAY)
    starts = [first + slot * 1800 for slot, _, _ in values]
    wh = [v for _, v, _ in values]
    names = [q for _, _, q in values]
    columns = jp.day_block_columns(DAY, starts, wh, names)
    objects = jp.day_block(
        DAY, [jp.SlotValue(s, v, q) for s, v, q in zip(starts, wh, names, strict=True)]
    )
    assert columns.block() == objects
    assert _feed(columns) == _feed(objects)
    back = read_feed(_feed(columns)).entries[0].resource
    assert back == objects


def test_a_columnar_japan_day_validates_against_the_xsd() -> None:
    first = jp.day_start_s(DAY)
    qualities = ["measured"] * 48
    qualities[3], qualities[4], qualities[9] = "missing", "invalid", "estimated"
    block = jp.day_block_columns(
        DAY, [first + i * 1800 for i in range(48)], [100 + i for i in range(48)], qualities
    )
    assert len(block.qualities) == 47  # the missing slot is a gap
    assert block.values[3] is None  # the invalid one is written without its value
    assert xsd_errors(_feed(block)) == []


def test_columns_refuse_what_the_object_form_refuses() -> None:
    first = jp.day_start_s(DAY)
    with pytest.raises(ValueError, match="not on 2026-11-01"):
        jp.day_block_columns(DAY, [first - 1800], [1], ["measured"])
    with pytest.raises(ValueError, match="not on 2026-11-01"):
        jp.day_block_columns(DAY, [first + 86400], [1], ["measured"])
    with pytest.raises(ValueError, match="time order"):
        jp.day_block_columns(DAY, [first + 1800, first], [1, 2], ["measured"] * 2)
    with pytest.raises(ValueError, match="time order"):
        jp.day_block_columns(DAY, [first, first], [1, 2], ["measured"] * 2)
    with pytest.raises(ValueError, match="one length"):
        IntervalBlockColumns(first, 86400, 1800, (first,), (1, 2), (0,))
    with pytest.raises(EspiWriteError, match="Int48"):
        _feed(jp.day_block_columns(DAY, [first], [2**47], ["measured"]))
    with pytest.raises(EspiWriteError, match="UInt32"):
        _feed(IntervalBlockColumns(first, 86400, 2**32, (first,), (1,), (0,)))


@pytest.mark.parametrize(
    "href", ["/plain/path", "/a?x=1&y=2", '/q"uote', "/t\tab<>", "/both'\"", "/nl\nr\r"]
)
def test_attributes_and_text_escape_as_saxutils_does(href: str) -> None:
    """The writer's quick path for plain text gives the bytes the escaping functions give,
    and anything else still goes through them: the document parses back to the same href."""
    block = jp.day_block_columns(DAY, [], [], [])
    feed = read_feed(_feed(block, href))
    assert feed.link("self") == href
    assert feed.entries[0].title == "day <&>"
