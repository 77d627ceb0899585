"""When a supply point gets half-hour data: its area's A-route opening and its smart meter.

Each utility opened automatic reading through the MDMS (the A route) first in part of its
area (部分開通) and then in the whole area (全面開通); the seed gives the months
(``config/aroute_openings.csv``, from ``utilities.csv`` of the 2014 study group). A point
gets automatic reading, customer visualisation and C-route half-hour data from the later
of:

- the first day of its area's **full** opening month (no data says which points were in a
  partial opening, so only the full opening is a date every point of the area has);
- the installation of a smart meter at the point (conventional meters are read by hand and
  profiled: those values serve settlement, not the C route).

Spellings in the file: ``YYYY-MM``; ``YYYY-H1`` / ``YYYY-H2`` (a fiscal half year: from
April / October); ``in-operation`` (running before the seed's date: always open); empty
(no partial opening). :class:`HalfHourService` is the one rule; the C-route data API, the
retailer's bulk jobs and the KPIs all ask it.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import SLOT_SECONDS, jst_day_start_s

if TYPE_CHECKING:
    from openami.registry.service import Registry

#: the day of an area already in operation when the seed was written
ALWAYS_OPEN = date(2000, 1, 1)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_HALF = re.compile(r"^(\d{4})-H([12])$")


@dataclass(frozen=True)
class AreaOpening:
    area_code: str
    utility_en: str
    first_area: date | None  # partial opening (None: opened in full at once)
    full_area: date


def parse_opening(text: str) -> date | None:
    """The first day of an opening spelt as in the seed (None for an empty cell)."""
    text = text.strip()
    if not text:
        return None
    if text == "in-operation":
        return ALWAYS_OPEN
    if m := _MONTH.match(text):
        return date(int(m[1]), int(m[2]), 1)
    if m := _HALF.match(text):  # fiscal half years begin in April and October
        return date(int(m[1]), 4 if m[2] == "1" else 10, 1)
    raise ValueError(f"cannot read opening date {text!r} (YYYY-MM, YYYY-H1/H2, in-operation)")


def load_openings(path: str | Path | None = None, route: str = "aroute") -> dict[str, AreaOpening]:
    """Openings per area code of the A route (``route="aroute"``) or of the B-route service
    (``"broute"``), from ``config/<route>_openings.csv`` or a file of that shape (columns
    area_code, utility_en, <route>_first_area, <route>_full_area)."""
    if path is None:
        res = resources.files("openami").joinpath(f"config/{route}_openings.csv")
        text = res.read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    out: dict[str, AreaOpening] = {}
    for row in csv.DictReader(io.StringIO(text)):
        area = row["area_code"].zfill(2)
        full = parse_opening(row[f"{route}_full_area"])
        if full is None:
            raise ValueError(f"area {area}: no full-area opening date")
        first = parse_opening(row[f"{route}_first_area"])
        if first is not None and first > full:
            raise ValueError(f"area {area}: partial opening {first} after full opening {full}")
        out[area] = AreaOpening(area, row["utility_en"], first, full)
    return out


@cache
def default_openings() -> dict[str, AreaOpening]:
    """The shipped openings (read once per process)."""
    return load_openings()


class HalfHourService:
    """The one rule of when a supply point gets half-hour data (see the module)."""

    def __init__(self, registry: Registry, openings: dict[str, AreaOpening] | None = None):
        self._registry = registry
        self.openings = openings if openings is not None else default_openings()
        #: 00:00 JST of each area's full opening [epoch s], worked out once (a C-route
        #: request asks for one point's start: this keeps it a dict look-up)
        self._open_s = {a: jst_day_start_s(o.full_area) for a, o in self.openings.items()}

    @property
    def registry(self) -> Registry:
        """The registry the rule asks about meters."""
        return self._registry

    def area_open_s(self, area_codes: Sequence[str]) -> npt.NDArray[np.float64]:
        """00:00 JST of each area's full opening [epoch s] (+inf for an unknown area)."""
        known = self._open_s
        return np.array([known.get(a, np.inf) for a in area_codes], dtype=np.float64)

    def start_s(self, supply_point_key: int) -> float | None:
        """From when the point gets half-hour data [epoch s]; None: never (yet) — no smart
        meter was installed there, or the area is unknown."""
        found = self._registry.smart_since(supply_point_key)
        if found is None:
            return None
        supply_point_id, smart_from = found
        area_open = self._open_s.get(supply_point_id[:2])
        if area_open is None or not math.isfinite(area_open):
            return None
        return max(smart_from, area_open)

    def start_slot(self, supply_point_key: int) -> int | None:
        """The first slot with half-hour data of the point (None: none)."""
        start = self.start_s(supply_point_key)
        return None if start is None else math.ceil(start / SLOT_SECONDS)

    def served_meters(self, meters: pa.Table, at_s: float) -> npt.NDArray[np.bool_]:
        """Per row of ``meters`` (meter_id, area_code, installed_from [epoch s]): is it a
        smart meter installed by ``at_s`` in an area open by then? (columnar)."""
        kinds = self._registry.kinds.meter_kinds(meters.column("meter_id"))
        smart = np.asarray(
            pc.equal(kinds.column("meter_type"), "smart").to_numpy(zero_copy_only=False),
            dtype=np.bool_,
        )
        area_open = self.area_open_s(meters.column("area_code").to_pylist())
        installed = np.asarray(meters.column("installed_from").to_numpy(), dtype=np.float64)
        return smart & (installed <= at_s) & (area_open <= at_s)
