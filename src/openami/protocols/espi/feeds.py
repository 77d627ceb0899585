"""Atom entries of openami's ESPI resource tree (pure: ids, paths and values in, Entry out).

Paths follow the ESPI REST patterns under ``/espi/1_1/resource``: subscription-scoped
UsagePoint → MeterReading → IntervalBlock (one per JST day, path id = ISO date), and the
root ReadingType and LocalTimeParameters resources shared by all UsagePoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Protocol

from openami.clock import SLOT_SECONDS
from openami.protocols.espi import jp
from openami.protocols.espi.model import Entry, Link, MeterReading, UsagePoint

BASE = "/espi/1_1/resource"


class PointRef(Protocol):
    """What the builder needs to know of a supply point."""

    @property
    def usage_point_id(self) -> str: ...

    @property
    def supply_point_id(self) -> str: ...

    @property
    def rated_current_a(self) -> int | None: ...


def urn(value: object) -> str:
    return f"urn:uuid:{value}"


@lru_cache(maxsize=16384)  # the ids of a point's MeterReadings and blocks, asked often
def _child_id(parent: str, name: str) -> str:
    return str(jp.child_uuid(parent, name))


def utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


@dataclass
class FeedBuilder:
    """Entries of one subscription's resource tree (paths follow ESPI Routes)."""

    subscription_id: str
    now: datetime

    def up_coll(self) -> str:
        return f"{BASE}/Subscription/{self.subscription_id}/UsagePoint"

    def up_self(self, p: PointRef) -> str:
        return f"{self.up_coll()}/{p.usage_point_id}"

    def mr_id(self, p: PointRef, direction: str) -> str:
        return _child_id(p.usage_point_id, f"MeterReading/{direction}")

    def mr_self(self, p: PointRef, direction: str) -> str:
        return f"{self.up_self(p)}/MeterReading/{self.mr_id(p, direction)}"

    def usage_point(self, p: PointRef) -> Entry:
        return Entry(
            id=urn(p.usage_point_id),
            title="Supply point (low voltage, 30-minute interval meter)",
            links=(
                Link("self", self.up_self(p)),
                Link("up", self.up_coll()),
                Link("related", f"{self.up_self(p)}/MeterReading"),
                Link("related", f"{BASE}/LocalTimeParameters/{jp.LOCAL_TIME_PARAMETERS_ID}"),
            ),
            published=self.now,
            updated=self.now,
            resource=UsagePoint(
                status=1,
                service_delivery_point_name=p.supply_point_id,
                rated_current_a=p.rated_current_a,
            ),
        )

    def meter_reading(self, p: PointRef, direction: str) -> Entry:
        mr_self = self.mr_self(p, direction)
        return Entry(
            id=urn(self.mr_id(p, direction)),
            title=f"30-minute {direction} energy [Wh]",
            links=(
                Link("self", mr_self),
                Link("up", f"{self.up_self(p)}/MeterReading"),
                Link("related", f"{mr_self}/IntervalBlock"),
                Link("related", f"{BASE}/ReadingType/{jp.READING_TYPE_IDS[direction]}"),
            ),
            published=self.now,
            updated=self.now,
            resource=MeterReading(),
        )

    def interval_block(
        self,
        p: PointRef,
        direction: str,
        day: date,
        slots: Sequence[int],
        values_wh: Sequence[int | None],
        qualities: Sequence[str],
        recorded_s: Sequence[float],
    ) -> Entry:
        """The IntervalBlock of one day and direction, from the day's values as columns in
        slot order (slot index, Wh, quality name, recorded [epoch s])."""
        ib_coll = f"{self.mr_self(p, direction)}/IntervalBlock"
        starts = [slot * SLOT_SECONDS for slot in slots]
        return Entry(
            id=urn(_child_id(self.mr_id(p, direction), day.isoformat())),
            title=f"{direction} {day.isoformat()} (JST)",
            links=(Link("self", f"{ib_coll}/{day.isoformat()}"), Link("up", ib_coll)),
            published=utc(min(recorded_s)),
            updated=utc(max(recorded_s)),
            resource=jp.day_block_columns(day, starts, values_wh, qualities),
        )


def reading_type_entry(direction: str, now: datetime) -> Entry:
    rt_id = jp.READING_TYPE_IDS[direction]
    return Entry(
        id=urn(rt_id),
        title=f"30-minute interval energy, {direction} [Wh]",
        links=(Link("self", f"{BASE}/ReadingType/{rt_id}"), Link("up", f"{BASE}/ReadingType")),
        published=now,
        updated=now,
        resource=jp.reading_type(direction),
    )


def local_time_entry(now: datetime) -> Entry:
    ltp = jp.LOCAL_TIME_PARAMETERS_ID
    return Entry(
        id=urn(ltp),
        title="Japan Standard Time (UTC+9, no daylight saving time)",
        links=(
            Link("self", f"{BASE}/LocalTimeParameters/{ltp}"),
            Link("up", f"{BASE}/LocalTimeParameters"),
        ),
        published=now,
        updated=now,
        resource=jp.JST_TIME_PARAMETERS,
    )
