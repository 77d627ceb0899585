"""Typed ESPI (NAESB REQ.21 / Green Button) resources and their Atom envelope.

Only the subset openami writes is modelled in full; any other ESPI resource read from a
foreign feed is kept as :class:`OtherResource` (its element name), so foreign feeds still
parse. Times are Unix seconds (ESPI ``TimeType``); Atom dates are aware datetimes in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

ATOM_NS = "http://www.w3.org/2005/Atom"
ESPI_NS = "http://naesb.org/espi"
ATOM_MEDIA_TYPE = "application/atom+xml"

# ESPI code values used by openami (espi.xsd enumerations)
ACCUMULATION_DELTA_DATA = 4
COMMODITY_ELECTRICITY_SECONDARY_METERED = 1
DATA_QUALIFIER_NORMAL = 12
FLOW_FORWARD = 1  # import (consumption)
FLOW_REVERSE = 19  # export (e.g. PV surplus)
KIND_ENERGY = 12
UOM_WH = 72
MEASURING_PERIOD_30_MIN = 5
SERVICE_KIND_ELECTRICITY = 0
UOM_A = 5
DST_RULE_DISABLED = 0xFFFFFFFF

# QualityOfReading codes
QUALITY_VALID = 0
QUALITY_MANUALLY_EDITED = 7
QUALITY_ESTIMATED_REFERENCE_DAY = 8
QUALITY_ESTIMATED_LINEAR = 9
QUALITY_QUESTIONABLE = 10
QUALITY_DERIVED = 11


class EspiError(ValueError):
    """The root of every ESPI codec error (reading, writing)."""


@dataclass(frozen=True)
class UsagePoint:
    service_kind: int = SERVICE_KIND_ELECTRICITY
    status: int | None = None
    service_delivery_point_name: str | None = None
    connection_state: str | None = None  # connected | logicallyDisconnected | ...
    rated_current_a: int | None = None  # ratedCurrent: the contract amperage (アンペア契約)


@dataclass(frozen=True)
class MeterReading:
    """An ESPI MeterReading has no content of its own; its links carry the meaning."""


@dataclass(frozen=True)
class ReadingType:
    accumulation_behaviour: int | None = None
    commodity: int | None = None
    data_qualifier: int | None = None
    default_quality: int | None = None
    flow_direction: int | None = None
    interval_length_s: int | None = None
    kind: int | None = None
    power_of_ten_multiplier: int | None = None
    uom: int | None = None
    measuring_period: int | None = None


@dataclass(frozen=True)
class IntervalReading:
    """One reading: ``value`` in uom × 10^powerOfTenMultiplier (Wh here) over a period."""

    start_s: int | None
    duration_s: int | None
    value: int | None
    qualities: tuple[int, ...] = ()


@dataclass(frozen=True)
class IntervalBlock:
    start_s: int
    duration_s: int
    readings: tuple[IntervalReading, ...] = ()


@dataclass(frozen=True)
class IntervalBlockColumns:
    """An IntervalBlock held as columns, written without an object per reading (the hub's
    feeds): reading ``i`` starts at ``reading_start_s[i]``, lasts ``reading_duration_s``,
    carries the one quality ``qualities[i]`` and the value ``values[i]`` (None: no value).
    The document is the one ``block()`` gives; reading a feed back gives ``IntervalBlock``."""

    start_s: int
    duration_s: int
    reading_duration_s: int
    reading_start_s: tuple[int, ...]
    values: tuple[int | None, ...]
    qualities: tuple[int, ...]

    def __post_init__(self) -> None:
        if not len(self.reading_start_s) == len(self.values) == len(self.qualities):
            raise ValueError("the columns of an IntervalBlock must have one length")

    def block(self) -> IntervalBlock:
        """The same block with an IntervalReading object per reading."""
        duration = self.reading_duration_s
        return IntervalBlock(
            self.start_s,
            self.duration_s,
            tuple(
                IntervalReading(start, duration, value, (quality,))
                for start, value, quality in zip(
                    self.reading_start_s, self.values, self.qualities, strict=True
                )
            ),
        )


@dataclass(frozen=True)
class LocalTimeParameters:
    """ESPI TimeConfiguration; the defaults are Japan (UTC+9, no daylight saving time)."""

    tz_offset_s: int = 9 * 3600
    dst_offset_s: int = 0
    dst_start_rule: int = DST_RULE_DISABLED
    dst_end_rule: int = DST_RULE_DISABLED


@dataclass(frozen=True)
class ServiceStatus:
    current_status: int = 1  # 0 unavailable, 1 normal


@dataclass(frozen=True)
class BatchList:
    """ESPI notification body: the URIs a third party should fetch (pull after push)."""

    resources: tuple[str, ...] = ()


@dataclass(frozen=True)
class OtherResource:
    """An ESPI resource openami does not model (kept by element name only)."""

    name: str


Resource = (
    UsagePoint
    | MeterReading
    | ReadingType
    | IntervalBlock
    | IntervalBlockColumns
    | LocalTimeParameters
    | ServiceStatus
    | OtherResource
)


@dataclass(frozen=True)
class Link:
    rel: str
    href: str
    type: str | None = None


@dataclass(frozen=True)
class Entry:
    id: str  # e.g. "urn:uuid:…"
    title: str
    links: tuple[Link, ...]
    published: datetime
    updated: datetime
    resource: Resource

    def link(self, rel: str) -> str | None:
        """The first href with this rel, if any."""
        return next((x.href for x in self.links if x.rel == rel), None)

    def related(self) -> list[str]:
        return [x.href for x in self.links if x.rel == "related"]


@dataclass(frozen=True)
class Feed:
    id: str
    title: str
    updated: datetime
    links: tuple[Link, ...]
    entries: tuple[Entry, ...] = field(default_factory=tuple)

    def link(self, rel: str) -> str | None:
        return next((x.href for x in self.links if x.rel == rel), None)
