"""Read Atom/ESPI feeds and entries (bytes) into typed objects.

Accepts openami's own output and foreign Green Button files (e.g. the OpenESPI samples):
unknown ESPI resources become :class:`OtherResource`, unknown Atom children are ignored.
Documents with a DOCTYPE are refused (ESPI never needs one; this closes entity tricks):
expat itself reports the declaration wherever it stands and whatever the encoding (UTF-16,
a long leading comment), before any tree is built. Every failure, whatever its cause (an
unknown encoding, a number too large for a float), is an :class:`EspiParseError`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from xml.parsers import expat

from openami.protocols.espi.model import (
    ATOM_NS,
    ESPI_NS,
    UOM_A,
    BatchList,
    Entry,
    EspiError,
    Feed,
    IntervalBlock,
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

_A = f"{{{ATOM_NS}}}"
_E = f"{{{ESPI_NS}}}"


class EspiParseError(EspiError):
    """The bytes are not a well-formed Atom/ESPI document of the expected kind."""


class _DtdRefused(Exception):
    pass


def _refuse_dtd(*_: Any) -> int:
    raise _DtdRefused


def _check_no_dtd(data: bytes) -> None:
    """One expat pass that stops at the first DOCTYPE, entity or external reference."""
    scanner = expat.ParserCreate()
    scanner.StartDoctypeDeclHandler = _refuse_dtd
    scanner.EntityDeclHandler = _refuse_dtd
    scanner.UnparsedEntityDeclHandler = _refuse_dtd
    scanner.ExternalEntityRefHandler = _refuse_dtd
    try:
        scanner.Parse(data, True)
    except _DtdRefused:
        raise EspiParseError("documents with a DOCTYPE are not accepted") from None
    except (expat.ExpatError, LookupError, ValueError) as exc:
        raise EspiParseError(f"not well-formed XML: {exc}") from None


def _parse(data: bytes) -> ET.Element:
    _check_no_dtd(data)
    try:
        return ET.fromstring(data)
    except (ET.ParseError, LookupError, ValueError) as exc:
        raise EspiParseError(f"not well-formed XML: {exc}") from None


_T = TypeVar("_T")


def _guarded(read: Callable[[bytes], _T]) -> Callable[[bytes], _T]:
    """``read``, with any error of the values (overflow, range) as an EspiParseError."""

    def guarded(data: bytes) -> _T:
        try:
            return read(data)
        except EspiParseError:
            raise
        except (ArithmeticError, ValueError, LookupError, TypeError) as exc:
            raise EspiParseError(f"{type(exc).__name__}: {exc}") from None

    guarded.__name__ = read.__name__
    guarded.__qualname__ = read.__qualname__
    guarded.__doc__ = read.__doc__
    return guarded


def parse_atom_time(text: str | None) -> datetime:
    if not text:
        raise EspiParseError("missing Atom date")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise EspiParseError(f"bad Atom date {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _int(parent: ET.Element, name: str) -> int | None:
    child = parent.find(_E + name)
    if child is None or child.text is None:
        return None
    try:
        return int(child.text.strip())
    except ValueError:
        raise EspiParseError(f"{name}: not an integer: {child.text!r}") from None


def _req_int(parent: ET.Element, name: str) -> int:
    value = _int(parent, name)
    if value is None:
        raise EspiParseError(f"missing {name}")
    return value


def _text(parent: ET.Element, path: str) -> str | None:
    child = parent.find(path)
    return None if child is None or child.text is None else child.text.strip()


def _hex32(parent: ET.Element, name: str) -> int:
    text = _text(parent, _E + name)
    try:
        return int(text or "", 16)
    except ValueError:
        raise EspiParseError(f"{name}: not hexBinary: {text!r}") from None


def _reading(el: ET.Element) -> IntervalReading:
    period = el.find(_E + "timePeriod")
    start = duration = None
    if period is not None:
        start, duration = _req_int(period, "start"), _req_int(period, "duration")
    qualities = []
    for rq in el.findall(_E + "ReadingQuality"):
        qualities.append(_req_int(rq, "quality"))
    return IntervalReading(start, duration, _int(el, "value"), tuple(qualities))


def _rated_current(el: ET.Element | None) -> int | None:
    """A SummaryMeasurement in amperes (uom 5) as whole amperes."""
    if el is None:
        return None
    value, uom = _int(el, "value"), _int(el, "uom")
    if value is None or uom not in (None, UOM_A):
        return None
    return round(value * 10.0 ** (_int(el, "powerOfTenMultiplier") or 0))


def parse_resource(el: ET.Element) -> Resource:
    """One ESPI resource element (a ``<content>`` child)."""
    if not el.tag.startswith(_E):
        return OtherResource(el.tag)
    name = el.tag[len(_E) :]
    if name == "UsagePoint":
        category = el.find(_E + "ServiceCategory")
        return UsagePoint(
            service_kind=_req_int(category, "kind") if category is not None else 0,
            status=_int(el, "status"),
            service_delivery_point_name=_text(el, f"{_E}serviceDeliveryPoint/{_E}name"),
            connection_state=_text(el, _E + "connectionState"),
            rated_current_a=_rated_current(el.find(_E + "ratedCurrent")),
        )
    if name == "MeterReading":
        return MeterReading()
    if name == "ReadingType":
        return ReadingType(
            accumulation_behaviour=_int(el, "accumulationBehaviour"),
            commodity=_int(el, "commodity"),
            data_qualifier=_int(el, "dataQualifier"),
            default_quality=_int(el, "defaultQuality"),
            flow_direction=_int(el, "flowDirection"),
            interval_length_s=_int(el, "intervalLength"),
            kind=_int(el, "kind"),
            power_of_ten_multiplier=_int(el, "powerOfTenMultiplier"),
            uom=_int(el, "uom"),
            measuring_period=_int(el, "measuringPeriod"),
        )
    if name == "IntervalBlock":
        interval = el.find(_E + "interval")
        if interval is None:
            raise EspiParseError("IntervalBlock without interval")
        return IntervalBlock(
            start_s=_req_int(interval, "start"),
            duration_s=_req_int(interval, "duration"),
            readings=tuple(_reading(r) for r in el.findall(_E + "IntervalReading")),
        )
    if name == "LocalTimeParameters":
        return LocalTimeParameters(
            tz_offset_s=_req_int(el, "tzOffset"),
            dst_offset_s=_req_int(el, "dstOffset"),
            dst_start_rule=_hex32(el, "dstStartRule"),
            dst_end_rule=_hex32(el, "dstEndRule"),
        )
    if name == "ServiceStatus":
        return ServiceStatus(_req_int(el, "currentStatus"))
    return OtherResource(name)


def _links(el: ET.Element) -> tuple[Link, ...]:
    out = []
    for link in el.findall(_A + "link"):
        href = link.get("href")
        if href is None:
            raise EspiParseError("Atom link without href")
        out.append(Link(link.get("rel", "alternate"), href, link.get("type")))
    return tuple(out)


def _entry(el: ET.Element) -> Entry:
    content = el.find(_A + "content")
    if content is None or len(content) != 1:
        raise EspiParseError("an entry needs a content element with exactly one resource")
    return Entry(
        id=_text(el, _A + "id") or "",
        title=_text(el, _A + "title") or "",
        links=_links(el),
        published=parse_atom_time(_text(el, _A + "published")),
        updated=parse_atom_time(_text(el, _A + "updated")),
        resource=parse_resource(content[0]),
    )


@_guarded
def read_feed(data: bytes) -> Feed:
    root = _parse(data)
    if root.tag != _A + "feed":
        raise EspiParseError(f"expected an Atom feed, got {root.tag}")
    return Feed(
        id=_text(root, _A + "id") or "",
        title=_text(root, _A + "title") or "",
        updated=parse_atom_time(_text(root, _A + "updated")),
        links=_links(root),
        entries=tuple(_entry(e) for e in root.findall(_A + "entry")),
    )


@_guarded
def read_entry(data: bytes) -> Entry:
    root = _parse(data)
    if root.tag != _A + "entry":
        raise EspiParseError(f"expected an Atom entry, got {root.tag}")
    return _entry(root)


@_guarded
def read_batch_list(data: bytes) -> BatchList:
    root = _parse(data)
    if root.tag != _E + "BatchList":
        raise EspiParseError(f"expected an ESPI BatchList, got {root.tag}")
    return BatchList(tuple((r.text or "").strip() for r in root.findall(_E + "resources")))


@_guarded
def read_service_status(data: bytes) -> ServiceStatus:
    resource = parse_resource(_parse(data))
    if not isinstance(resource, ServiceStatus):
        raise EspiParseError("expected an ESPI ServiceStatus")
    return resource
