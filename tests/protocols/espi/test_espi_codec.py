"""ESPI codec: XSD-valid output, exact round trips, foreign Green Button samples, bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.protocols.espi.xsd import ESPI_DIR, xsd_errors

from openami.protocols.espi import (
    BatchList,
    Entry,
    EspiParseError,
    EspiWriteError,
    Feed,
    IntervalBlock,
    IntervalReading,
    Link,
    MeterReading,
    OtherResource,
    ReadingType,
    ServiceStatus,
    UsagePoint,
    jp,
    read_batch_list,
    read_entry,
    read_feed,
    read_service_status,
    write_batch_list,
    write_entry,
    write_feed,
    write_service_status,
)

DAY = date(2026, 11, 1)
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _entry(resource: object, n: int = 1) -> Entry:
    return Entry(
        id=f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        title=f"entry {n} <&>",
        links=(Link("self", f"/espi/1_1/resource/X/{n}"), Link("up", "/espi/1_1/resource/X")),
        published=T0,
        updated=T0,
        resource=resource,  # type: ignore[arg-type]
    )


def _japan_feed() -> Feed:
    values = [jp.SlotValue(jp.day_start_s(DAY) + i * 1800, 100 + i, "measured") for i in range(48)]
    values[5] = jp.SlotValue(values[5].start_s, None, "missing")
    values[6] = jp.SlotValue(values[6].start_s, None, "invalid")
    values[7] = jp.SlotValue(values[7].start_s, 7, "estimated")
    resources = [
        jp.JST_TIME_PARAMETERS,
        jp.reading_type("import"),
        jp.reading_type("export"),
        UsagePoint(
            status=1, service_delivery_point_name="0300000000000000000110", rated_current_a=30
        ),
        MeterReading(),
        jp.day_block(DAY, values),
    ]
    return Feed(
        id="urn:uuid:11111111-1111-4111-8111-111111111111",
        title="openami test feed",
        updated=T0,
        links=(Link("self", "/espi/1_1/resource/Batch/Subscription/x"),),
        entries=tuple(_entry(r, i) for i, r in enumerate(resources)),
    )


def test_japan_profile_feed_validates_and_round_trips() -> None:
    feed = _japan_feed()
    data = write_feed(feed)
    assert xsd_errors(data) == []
    back = read_feed(data)
    assert back == feed
    block = back.entries[-1].resource
    assert isinstance(block, IntervalBlock)
    assert (block.start_s, block.duration_s) == (jp.day_start_s(DAY), 86400)
    assert block.start_s == int(datetime(2026, 10, 31, 15, 0, tzinfo=UTC).timestamp())
    assert len(block.readings) == 47  # the missing slot is a gap
    values = jp.block_values(block)
    assert [v.quality for v in values[4:8]] == ["measured", "invalid", "estimated", "measured"]
    assert values[5].value_wh is None and values[6].value_wh == 7
    rt = back.entries[1].resource
    assert isinstance(rt, ReadingType)
    assert (rt.interval_length_s, rt.uom, rt.flow_direction, rt.measuring_period) == (
        1800,
        72,
        1,
        5,
    )
    assert back.entries[2].resource == jp.reading_type("export")
    assert jp.reading_type("export").flow_direction == 19
    text = data.decode()
    assert "<tzOffset>32400</tzOffset>" in text and "<dstStartRule>FFFFFFFF<" in text
    assert "entry 1 &lt;&amp;&gt;" in text
    assert "<ratedCurrent><powerOfTenMultiplier>0</powerOfTenMultiplier><uom>5</uom>" in text


def test_batch_list_notification() -> None:
    uri = (
        "https://hub.example/espi/1_1/resource/Batch/Subscription/client-r001"
        "?published-min=2026-11-01T00:00:00Z&published-max=2026-11-02T00:00:00Z"
    )
    batch = BatchList((uri, "https://hub.example/espi/1_1/resource/Batch/Bulk/client-r001"))
    data = write_batch_list(batch)
    assert xsd_errors(data) == []
    assert "&amp;published-max" in data.decode()
    assert read_batch_list(data) == batch
    with pytest.raises(EspiParseError, match="BatchList"):
        read_batch_list(write_service_status(ServiceStatus(1)))


def test_entry_and_service_status_documents() -> None:
    entry = _entry(jp.reading_type("import"))
    data = write_entry(entry)
    assert xsd_errors(data) == []
    assert read_entry(data) == entry
    status = write_service_status(ServiceStatus(1))
    assert xsd_errors(status) == []
    assert read_service_status(status) == ServiceStatus(1)


readings = st.lists(
    st.tuples(
        st.integers(0, 47),
        st.one_of(st.none(), st.integers(0, 2**47 - 1)),
        st.sampled_from(sorted(jp.QUALITY_TO_ESPI)),
    ),
    max_size=48,
    unique_by=lambda t: t[0],
)


@settings(max_examples=40, deadline=None)
@given(readings)
def test_any_day_block_validates_and_round_trips(rows: list[tuple[int, int | None, str]]) -> None:
    start = jp.day_start_s(DAY)
    values = [jp.SlotValue(start + 1800 * s, v, q) for s, v, q in rows]
    block = jp.day_block(DAY, values)
    data = write_entry(_entry(block))
    assert xsd_errors(data) == []
    back = read_entry(data).resource
    assert back == block
    assert isinstance(back, IntervalBlock)
    expected = sorted(
        (v.start_s, None if v.quality == "invalid" else v.value_wh, v.quality) for v in values
    )
    assert [(v.start_s, v.value_wh, v.quality) for v in jp.block_values(back)] == expected


def test_reads_the_openespi_usage_sample() -> None:
    feed = read_feed((ESPI_DIR / "test_usage_data.xml").read_bytes())
    blocks = [e.resource for e in feed.entries if isinstance(e.resource, IntervalBlock)]
    assert len(blocks) == 14
    # 13 whole days and the US spring-forward day (23 h, 92 readings of 15 min)
    assert sorted(b.duration_s for b in blocks) == [82800] + [86400] * 13
    assert sorted(len(b.readings) for b in blocks)[0] == 92
    readings_all = [r for b in blocks for r in b.readings]
    assert len(readings_all) == 1340
    qualities = {q for r in readings_all for q in r.qualities}
    assert {7, 8} <= qualities
    rts = [e.resource for e in feed.entries if isinstance(e.resource, ReadingType)]
    assert rts and rts[0].interval_length_s == 900 and rts[0].uom == 72
    others = {e.resource.name for e in feed.entries if isinstance(e.resource, OtherResource)}
    assert "ElectricPowerUsageSummary" in others
    ups = [e for e in feed.entries if isinstance(e.resource, UsagePoint)]
    assert ups and ups[0].link("self") is not None and ups[0].related()
    # the modelled part of a foreign feed re-writes into a valid feed
    modelled = tuple(e for e in feed.entries if not isinstance(e.resource, OtherResource))
    again = Feed(feed.id, feed.title, feed.updated, feed.links, modelled)
    data = write_feed(again)
    assert xsd_errors(data) == []
    assert read_feed(data) == again


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<feed", "well-formed"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><feed/>', "DOCTYPE"),
        (b'<entry xmlns="http://www.w3.org/2005/Atom"/>', "Atom feed"),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><updated>yesterday</updated></feed>',
            "bad Atom date",
        ),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><updated>2026-01-01T00:00:00Z</updated>'
            b"<entry><published>2026-01-01T00:00:00Z</published>"
            b"<updated>2026-01-01T00:00:00Z</updated><content>"
            b'<ReadingType xmlns="http://naesb.org/espi"><uom>Wh</uom></ReadingType>'
            b"</content></entry></feed>",
            "not an integer",
        ),
    ],
)
def test_bad_documents_are_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(EspiParseError, match=message):
        read_feed(data)


def test_unwritable_values_are_refused() -> None:
    too_big = IntervalBlock(0, 86400, (IntervalReading(0, 1800, 2**47, (0,)),))
    with pytest.raises(EspiWriteError, match="Int48"):
        write_entry(_entry(too_big))
    with pytest.raises(EspiWriteError, match="timezone-aware"):
        write_entry(Entry("urn:x", "t", (), datetime(2026, 1, 1), T0, MeterReading()))
    with pytest.raises(ValueError, match="not on"):
        jp.day_block(DAY, [jp.SlotValue(0, 1, "measured")])


def test_opaque_ids_are_keyed_and_stable() -> None:
    sp = "0300000000000000000110"
    a = jp.opaque_uuid(b"k" * 32, "UsagePoint", sp)
    assert a == jp.opaque_uuid(b"k" * 32, "UsagePoint", sp)
    assert a != jp.opaque_uuid(b"j" * 32, "UsagePoint", sp)
    assert sp not in str(a).replace("-", "")
    assert a != jp.opaque_uuid(b"k" * 32, "UsagePoint", "0300000000000000000120")
    with pytest.raises(ValueError, match="16 bytes"):
        jp.opaque_uuid(b"short", "UsagePoint", sp)
