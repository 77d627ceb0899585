"""The ESPI (Green Button) reader: Atom feeds and entries, BatchList, ServiceStatus.

Allowed: :class:`EspiParseError` (the reader's documented error: every failure, whatever
its cause, is one; an EspiError, a ValueError), raised only when no reader takes the bytes.
Checks: a feed or entry that reads writes out and reads back to the same value (foreign
resources, which the writer refuses with its EspiWriteError, excepted). expat and
ElementTree are C: atheris gets coverage of openami's reader only, which is what is tested.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from fuzz.engine import Finding
from openami.protocols.espi import (
    BatchList,
    Entry,
    Feed,
    Link,
    MeterReading,
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
from openami.protocols.espi.reader import EspiParseError
from openami.protocols.espi.writer import EspiWriteError

ALLOWED = (EspiParseError,)
MAX_LEN = 8192
DAY = date(2026, 11, 1)
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def setup() -> Callable[[bytes], None]:
    def one_input(data: bytes) -> None:
        """Every reader on the bytes; the allowed error only when none of them reads it."""
        refusals: list[EspiParseError] = []
        for read in (read_batch_list, read_service_status):
            try:
                read(data)
            except EspiParseError as exc:
                refusals.append(exc)
        for read_doc, write_doc in ((read_entry, write_entry), (read_feed, write_feed)):
            try:
                value = read_doc(data)
            except EspiParseError as exc:
                refusals.append(exc)
            else:
                _round_trip(value, write_doc, read_doc)
        if len(refusals) == 4:
            raise refusals[-1]

    return one_input


def _round_trip(value: Any, write: Callable[[Any], bytes], read: Callable[[bytes], Any]) -> None:
    try:
        written = write(value)
    except EspiWriteError:  # foreign resources (OtherResource) are read, never written
        return
    if read(written) != value:
        raise Finding(f"does not round-trip: {value!r}")


def _entry(resource: object, n: int) -> Entry:
    return Entry(
        id=f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        title=f"entry {n}",
        links=(Link("self", f"/espi/1_1/resource/X/{n}"), Link("up", "/espi/1_1/resource/X")),
        published=T0,
        updated=T0,
        resource=resource,  # type: ignore[arg-type]
    )


def seeds() -> dict[str, bytes]:
    values = [jp.SlotValue(jp.day_start_s(DAY) + i * 1800, 100 + i, "measured") for i in range(8)]
    values[5] = jp.SlotValue(values[5].start_s, None, "missing")
    values[6] = jp.SlotValue(values[6].start_s, 7, "estimated")
    resources = [
        jp.JST_TIME_PARAMETERS,
        jp.reading_type("import"),
        UsagePoint(
            status=1, service_delivery_point_name="0300000000000000000110", rated_current_a=30
        ),
        MeterReading(),
        jp.day_block(DAY, values),
    ]
    feed = Feed(
        id="urn:uuid:11111111-1111-4111-8111-111111111111",
        title="openami fuzz seed",
        updated=T0,
        links=(Link("self", "/espi/1_1/resource/Batch/Subscription/x"),),
        entries=tuple(_entry(r, i) for i, r in enumerate(resources)),
    )
    one_block = Feed(feed.id, feed.title, T0, feed.links, (feed.entries[-1],))
    return {
        "feed-japan-profile": write_feed(feed),
        "feed-one-block": write_feed(one_block),
        "entry-reading-type": write_entry(feed.entries[1]),
        "entry-usage-point": write_entry(feed.entries[2]),
        "batch-list": write_batch_list(
            BatchList(("https://hub.example/espi/1_1/resource/Batch/Bulk/1",))
        ),
        "service-status": write_service_status(ServiceStatus(1)),
    }
