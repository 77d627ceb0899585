"""Green Button / NAESB REQ.21 ESPI codec: typed resources ↔ Atom XML (stdlib only)."""

from openami.protocols.espi.model import (
    ATOM_MEDIA_TYPE,
    ATOM_NS,
    ESPI_NS,
    Entry,
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
from openami.protocols.espi.reader import (
    EspiParseError,
    read_entry,
    read_feed,
    read_service_status,
)
from openami.protocols.espi.writer import (
    EspiWriteError,
    write_entry,
    write_feed,
    write_service_status,
)

__all__ = [
    "ATOM_MEDIA_TYPE",
    "ATOM_NS",
    "ESPI_NS",
    "Entry",
    "EspiParseError",
    "EspiWriteError",
    "Feed",
    "IntervalBlock",
    "IntervalReading",
    "Link",
    "LocalTimeParameters",
    "MeterReading",
    "OtherResource",
    "ReadingType",
    "Resource",
    "ServiceStatus",
    "UsagePoint",
    "read_entry",
    "read_feed",
    "read_service_status",
    "write_entry",
    "write_feed",
    "write_service_status",
]
