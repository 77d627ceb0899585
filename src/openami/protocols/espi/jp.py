"""The Japanese profile of ESPI used by openami's C route.

- ReadingTypes: 30-minute interval energy in Wh (accumulationBehaviour 4 deltaData,
  commodity 1, kind 12, uom 72, powerOfTenMultiplier 0, intervalLength 1800,
  measuringPeriod 5), one for import (flowDirection 1) and one for export (19).
- LocalTimeParameters: JST, tzOffset 32400, no daylight saving time (rules FFFFFFFF).
- One IntervalBlock per JST day (86,400 s from 00:00 JST) with up to 48 IntervalReadings;
  every reading carries its own timePeriod (gaps are explicit) and a ReadingQuality.
- Opaque UsagePoint ids: the 22-digit supply point ID is personal data, so ESPI ids are
  a keyed hash (HMAC-SHA256 with a deployment secret) shaped as a UUID.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from itertools import pairwise

from openami.clock import JST, SLOT_SECONDS
from openami.protocols.espi.model import (
    ACCUMULATION_DELTA_DATA,
    COMMODITY_ELECTRICITY_SECONDARY_METERED,
    DATA_QUALIFIER_NORMAL,
    FLOW_FORWARD,
    FLOW_REVERSE,
    KIND_ENERGY,
    MEASURING_PERIOD_30_MIN,
    QUALITY_DERIVED,
    QUALITY_ESTIMATED_LINEAR,
    QUALITY_ESTIMATED_REFERENCE_DAY,
    QUALITY_MANUALLY_EDITED,
    QUALITY_QUESTIONABLE,
    QUALITY_VALID,
    UOM_WH,
    IntervalBlock,
    IntervalBlockColumns,
    IntervalReading,
    LocalTimeParameters,
    ReadingType,
)

SLOT_S = SLOT_SECONDS
DAY_S = 86400

DIRECTIONS = ("import", "export")


def reading_type(direction: str) -> ReadingType:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be import or export, not {direction!r}")
    return ReadingType(
        accumulation_behaviour=ACCUMULATION_DELTA_DATA,
        commodity=COMMODITY_ELECTRICITY_SECONDARY_METERED,
        data_qualifier=DATA_QUALIFIER_NORMAL,
        default_quality=QUALITY_VALID,
        flow_direction=FLOW_FORWARD if direction == "import" else FLOW_REVERSE,
        interval_length_s=SLOT_S,
        kind=KIND_ENERGY,
        power_of_ten_multiplier=0,
        uom=UOM_WH,
        measuring_period=MEASURING_PERIOD_30_MIN,
    )


JST_TIME_PARAMETERS = LocalTimeParameters()

# openami quality names ↔ ESPI QualityOfReading codes. "missing" and "not_yet_available"
# have no value and no reading: they are gaps in the block.
QUALITY_TO_ESPI = {
    "measured": QUALITY_VALID,
    "invalid": QUALITY_QUESTIONABLE,
    "estimated": QUALITY_ESTIMATED_REFERENCE_DAY,
    "interpolated": QUALITY_ESTIMATED_LINEAR,
    "derived": QUALITY_DERIVED,
    "edited": QUALITY_MANUALLY_EDITED,
}
ESPI_TO_QUALITY = {code: name for name, code in QUALITY_TO_ESPI.items()}
GAP_QUALITIES = frozenset({"missing", "not_yet_available"})


def day_start_s(day: date) -> int:
    return int(datetime.combine(day, time(0), JST).timestamp())


@dataclass(frozen=True)
class SlotValue:
    """One half-hour value of one direction: slot start [epoch s], Wh, quality name."""

    start_s: int
    value_wh: int | None
    quality: str


def day_block(day: date, values: Iterable[SlotValue]) -> IntervalBlock:
    """The IntervalBlock of one JST day; gaps (missing, not yet available) are left out."""
    first = day_start_s(day)
    readings = []
    for v in sorted(values, key=lambda x: x.start_s):
        if not first <= v.start_s < first + DAY_S:
            raise ValueError(f"slot at {v.start_s} is not on {day}")
        if v.quality in GAP_QUALITIES:
            continue
        code = QUALITY_TO_ESPI.get(v.quality, QUALITY_QUESTIONABLE)
        value = v.value_wh if code != QUALITY_QUESTIONABLE else None
        readings.append(IntervalReading(v.start_s, SLOT_S, value, (code,)))
    return IntervalBlock(first, DAY_S, tuple(readings))


def day_block_columns(
    day: date,
    slot_start_s: Sequence[int],
    values_wh: Sequence[int | None],
    qualities: Sequence[str],
) -> IntervalBlockColumns:
    """``day_block`` for values given as columns in time order (a day's rows from the
    store): the same document, without an object per value."""
    first = day_start_s(day)
    if any(a >= b for a, b in pairwise(slot_start_s)):
        raise ValueError("the slots of a day block must be in time order, each once")
    if slot_start_s and not first <= slot_start_s[0] <= slot_start_s[-1] < first + DAY_S:
        raise ValueError(f"slots from {slot_start_s[0]} to {slot_start_s[-1]} are not on {day}")
    codes = [QUALITY_TO_ESPI.get(q, QUALITY_QUESTIONABLE) for q in qualities]
    kept = [i for i, q in enumerate(qualities) if q not in GAP_QUALITIES]
    if len(kept) == len(qualities):
        starts, values, kept_codes = slot_start_s, values_wh, codes
    else:
        starts = [slot_start_s[i] for i in kept]
        values = [values_wh[i] for i in kept]
        kept_codes = [codes[i] for i in kept]
    return IntervalBlockColumns(
        first,
        DAY_S,
        SLOT_S,
        tuple(starts),
        tuple(
            None if c == QUALITY_QUESTIONABLE else v
            for v, c in zip(values, kept_codes, strict=True)
        ),
        tuple(kept_codes),
    )


def block_values(block: IntervalBlock, interval_length_s: int = SLOT_S) -> list[SlotValue]:
    """Back from a block to slot values (readings without timePeriod follow one another)."""
    out = []
    cursor = block.start_s
    for r in block.readings:
        start = r.start_s if r.start_s is not None else cursor
        cursor = start + (r.duration_s or interval_length_s)
        quality = ESPI_TO_QUALITY.get(r.qualities[0], "other") if r.qualities else "measured"
        out.append(SlotValue(start, r.value, quality))
    return out


def opaque_uuid(key: bytes, kind: str, natural_id: str) -> uuid.UUID:
    """A stable id that reveals nothing about ``natural_id`` without ``key``."""
    if len(key) < 16:
        raise ValueError("the id key must have at least 16 bytes")
    digest = hmac.new(key, f"{kind}:{natural_id}".encode(), hashlib.sha256).digest()
    return uuid.UUID(bytes=digest[:16], version=4)


@lru_cache(maxsize=16384)  # a feed derives the same children again and again
def child_uuid(parent: uuid.UUID | str, name: str) -> uuid.UUID:
    """A stable id below a parent id (MeterReading below UsagePoint, …)."""
    return uuid.uuid5(uuid.UUID(str(parent)), name)


OPENAMI_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/openami/openami/espi")
READING_TYPE_IDS = {
    d: uuid.uuid5(OPENAMI_NAMESPACE, f"ReadingType/{d}/{SLOT_SECONDS}") for d in DIRECTIONS
}
LOCAL_TIME_PARAMETERS_ID = uuid.uuid5(OPENAMI_NAMESPACE, "LocalTimeParameters/JST")
