"""Write ESPI resources as Atom 1.0 feeds and entries (bytes, UTF-8).

The layout follows the Green Button samples: Atom is the default namespace of the document,
and each ``<content>`` holds one ESPI resource with ``xmlns="http://naesb.org/espi"``.
Element order inside each resource follows espi.xsd (its sequences are ordered).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

from openami.protocols.espi.model import (
    ATOM_NS,
    ESPI_NS,
    UOM_A,
    BatchList,
    Entry,
    EspiError,
    Feed,
    IntervalBlock,
    IntervalBlockColumns,
    IntervalReading,
    Link,
    LocalTimeParameters,
    MeterReading,
    OtherResource,
    ReadingType,
    Resource,
    ServiceStatus,
    UsagePoint,
)

_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


class EspiWriteError(EspiError):
    """A resource that cannot be written as valid ESPI."""


@lru_cache(maxsize=4096)  # a feed repeats its instants (now, the recorded times)
def atom_time(moment: datetime) -> str:
    """xs:dateTime in UTC with a ``Z`` suffix (whole seconds)."""
    if moment.tzinfo is None:
        raise EspiWriteError("Atom times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_PLAIN_TEXT = re.compile(r"[^&<>]*\Z")
_PLAIN_ATTR = re.compile(r'[^&<>"\n\r\t]*\Z')


def _text(value: str) -> str:
    """Character data, escaped where it needs it (most ids and titles do not)."""
    return value if _PLAIN_TEXT.match(value) else escape(value)


def _attr(value: str) -> str:
    """A quoted attribute value, as ``quoteattr`` gives it."""
    return f'"{value}"' if _PLAIN_ATTR.match(value) else quoteattr(value)


def _el(name: str, value: object) -> str:
    return f"<{name}>{_text(str(value))}</{name}>"


def _opt(out: list[str], name: str, value: object | None) -> None:
    if value is not None:
        out.append(_el(name, value))


def _interval(name: str, duration_s: int, start_s: int) -> str:
    if duration_s < 0 or duration_s > 0xFFFFFFFF:
        raise EspiWriteError(f"duration {duration_s} s is outside UInt32")
    return f"<{name}><duration>{duration_s}</duration><start>{start_s}</start></{name}>"


def _reading(r: IntervalReading) -> str:
    value, start_s, duration_s = r.value, r.start_s, r.duration_s
    if (
        len(r.qualities) == 1
        and value is not None
        and -(2**47) <= value < 2**47
        and start_s is not None
        and duration_s is not None
        and 0 <= duration_s <= 0xFFFFFFFF
    ):  # the usual reading (one quality, its period, a value), the same bytes in one step
        return (
            f"<IntervalReading><ReadingQuality><quality>{int(r.qualities[0])}</quality>"
            f"</ReadingQuality><timePeriod><duration>{duration_s}</duration>"
            f"<start>{start_s}</start></timePeriod><value>{int(value)}</value></IntervalReading>"
        )
    out = ["<IntervalReading>"]
    for q in r.qualities:
        out.append(f"<ReadingQuality><quality>{int(q)}</quality></ReadingQuality>")
    if (r.start_s is None) != (r.duration_s is None):
        raise EspiWriteError("an IntervalReading timePeriod needs both start and duration")
    if r.start_s is not None and r.duration_s is not None:
        out.append(_interval("timePeriod", r.duration_s, r.start_s))
    if r.value is not None:
        if not -(2**47) <= r.value < 2**47:
            raise EspiWriteError(f"value {r.value} is outside Int48")
        out.append(f"<value>{int(r.value)}</value>")
    out.append("</IntervalReading>")
    return "".join(out)


_INT48 = 2**47


def _block_columns(block: IntervalBlockColumns) -> str:
    """The readings of a columnar block, each in the bytes ``_reading`` gives it."""
    duration_s = block.reading_duration_s
    if not 0 <= duration_s <= 0xFFFFFFFF:
        raise EspiWriteError(f"duration {duration_s} s is outside UInt32")
    given = [v for v in block.values if v is not None]
    if given and not (min(given) >= -_INT48 and max(given) < _INT48):
        raise EspiWriteError("a value is outside Int48")
    period = f"</quality></ReadingQuality><timePeriod><duration>{duration_s}</duration><start>"
    return "".join(
        [
            f"<IntervalReading><ReadingQuality><quality>{int(q)}{period}{start_s}</start>"
            + ("</timePeriod>" if v is None else f"</timePeriod><value>{int(v)}</value>")
            + "</IntervalReading>"
            for start_s, v, q in zip(
                block.reading_start_s, block.values, block.qualities, strict=True
            )
        ]
    )


def resource_xml(resource: Resource) -> str:
    """One ESPI resource element with the ESPI default namespace."""
    xmlns = f' xmlns="{ESPI_NS}"'
    if isinstance(resource, UsagePoint):
        out = [f"<UsagePoint{xmlns}>"]
        out.append(f"<ServiceCategory><kind>{resource.service_kind}</kind></ServiceCategory>")
        _opt(out, "status", resource.status)
        if resource.service_delivery_point_name is not None:
            out.append(
                "<serviceDeliveryPoint>"
                + _el("name", resource.service_delivery_point_name)
                + "</serviceDeliveryPoint>"
            )
        _opt(out, "connectionState", resource.connection_state)
        if resource.rated_current_a is not None:
            out.append(
                "<ratedCurrent><powerOfTenMultiplier>0</powerOfTenMultiplier>"
                f"<uom>{UOM_A}</uom><value>{int(resource.rated_current_a)}</value></ratedCurrent>"
            )
        out.append("</UsagePoint>")
        return "".join(out)
    if isinstance(resource, MeterReading):
        return f"<MeterReading{xmlns}/>"
    if isinstance(resource, ReadingType):
        out = [f"<ReadingType{xmlns}>"]
        _opt(out, "accumulationBehaviour", resource.accumulation_behaviour)
        _opt(out, "commodity", resource.commodity)
        _opt(out, "dataQualifier", resource.data_qualifier)
        _opt(out, "defaultQuality", resource.default_quality)
        _opt(out, "flowDirection", resource.flow_direction)
        _opt(out, "intervalLength", resource.interval_length_s)
        _opt(out, "kind", resource.kind)
        _opt(out, "powerOfTenMultiplier", resource.power_of_ten_multiplier)
        _opt(out, "uom", resource.uom)
        _opt(out, "measuringPeriod", resource.measuring_period)
        out.append("</ReadingType>")
        return "".join(out)
    if isinstance(resource, IntervalBlock):
        out = [f"<IntervalBlock{xmlns}>"]
        out.append(_interval("interval", resource.duration_s, resource.start_s))
        out.extend(_reading(r) for r in resource.readings)
        out.append("</IntervalBlock>")
        return "".join(out)
    if isinstance(resource, IntervalBlockColumns):
        return (
            f"<IntervalBlock{xmlns}>"
            + _interval("interval", resource.duration_s, resource.start_s)
            + _block_columns(resource)
            + "</IntervalBlock>"
        )
    if isinstance(resource, LocalTimeParameters):
        return (
            f"<LocalTimeParameters{xmlns}>"
            f"<dstEndRule>{resource.dst_end_rule:08X}</dstEndRule>"
            f"<dstOffset>{resource.dst_offset_s}</dstOffset>"
            f"<dstStartRule>{resource.dst_start_rule:08X}</dstStartRule>"
            f"<tzOffset>{resource.tz_offset_s}</tzOffset>"
            "</LocalTimeParameters>"
        )
    if isinstance(resource, ServiceStatus):
        return (
            f"<ServiceStatus{xmlns}><currentStatus>{resource.current_status}</currentStatus>"
            "</ServiceStatus>"
        )
    if isinstance(resource, OtherResource):
        raise EspiWriteError(f"cannot write unmodelled resource {resource.name}")
    raise EspiWriteError(f"not an ESPI resource: {type(resource).__name__}")


def _links(links: Iterable[Link]) -> str:
    out = []
    for link in links:
        attrs = f"rel={_attr(link.rel)} href={_attr(link.href)}"
        if link.type is not None:
            attrs += f" type={_attr(link.type)}"
        out.append(f"<link {attrs}/>")
    return "".join(out)


def _entry_body(entry: Entry) -> str:
    return (
        _el("id", entry.id)
        + _links(entry.links)
        + _el("title", entry.title)
        + "<content>"
        + resource_xml(entry.resource)
        + "</content>"
        + _el("published", atom_time(entry.published))
        + _el("updated", atom_time(entry.updated))
    )


def write_entry(entry: Entry) -> bytes:
    """A standalone Atom entry document."""
    return (_DECLARATION + f'<entry xmlns="{ATOM_NS}">' + _entry_body(entry) + "</entry>").encode()


def write_feed(feed: Feed) -> bytes:
    """An Atom feed document."""
    parts = [
        _DECLARATION,
        f'<feed xmlns="{ATOM_NS}">',
        _el("id", feed.id),
        _el("title", feed.title),
        _el("updated", atom_time(feed.updated)),
        _links(feed.links),
    ]
    parts.extend("<entry>" + _entry_body(e) + "</entry>" for e in feed.entries)
    parts.append("</feed>")
    return "".join(parts).encode()


def write_batch_list(batch: BatchList) -> bytes:
    """ESPI notification document (POSTed to a third party's notify URI)."""
    uris = "".join(_el("resources", uri) for uri in batch.resources)
    return (_DECLARATION + f'<BatchList xmlns="{ESPI_NS}">{uris}</BatchList>').encode()


def write_service_status(status: ServiceStatus) -> bytes:
    """ESPI ReadServiceStatus answer: a bare ServiceStatus document."""
    return (_DECLARATION + resource_xml(status)).encode()
