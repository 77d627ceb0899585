"""Half-hour values as the C route serves them: ``Mdms.current_values`` filtered to what the
caller may see, and the daily sums derived from those same values.

Everything here works on the columns of the current-values table (NumPy/Arrow masks and
group sums), never on one Python object per value. The visible slots come as an Arrow table
of inclusive ranges (``first_slot``, ``last_slot``: the contract or consent days).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import jst_day_number
from openami.mdms.service import Mdms
from openami.registry.opening import HalfHourService

if TYPE_CHECKING:
    from openami.hub.context import HubContext

I64 = npt.NDArray[np.int64]

DAILY_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("import_wh", pa.int64()),  # null when no value of the day has one
        ("export_wh", pa.int64()),
        ("values_present", pa.int64()),  # slots with an import value
        ("measured", pa.int64()),
        ("estimated", pa.int64()),
        ("edited", pa.int64()),
        ("final_slots", pa.int64()),
        ("updated_at", pa.float64()),  # latest recording time of the day's values [epoch s]
    ]
)


def _column(table: pa.Table, name: str) -> I64:
    return np.asarray(table.column(name).to_numpy(), dtype=np.int64)


def in_ranges(slots: I64, ranges: pa.Table) -> npt.NDArray[np.bool_]:
    """Which ``slots`` fall in one of the inclusive ``ranges``."""
    inside = np.zeros(len(slots), dtype=np.bool_)
    for first, last in zip(
        _column(ranges, "first_slot"), _column(ranges, "last_slot"), strict=True
    ):
        inside |= (slots >= first) & (slots <= last)
    return inside


class ServiceStart(Protocol):
    def start_slot(self, supply_point_key: int) -> int | None: ...


class CachedServiceStarts:
    """:meth:`HalfHourService.start_slot` remembered per supply point for ``ttl_s`` seconds
    (monotonic; at most ``max_points`` points, the oldest forgotten first). The start moves
    only when a meter is installed or exchanged or an area opens, so a replica may answer it
    from memory: a change shows at most ``ttl_s`` later. Who may read what is never cached."""

    def __init__(self, service: HalfHourService, ttl_s: float, max_points: int = 200_000):
        self._service = service
        self.ttl_s = ttl_s
        self._max = max_points
        self._starts: dict[int, tuple[float, int | None]] = {}
        self._lock = threading.Lock()

    def start_slot(self, supply_point_key: int) -> int | None:
        now = time.monotonic()
        known = self._starts.get(supply_point_key)
        if known is not None and now - known[0] < self.ttl_s:
            return known[1]
        start = self._service.start_slot(supply_point_key)
        with self._lock:
            self._starts.pop(supply_point_key, None)  # re-inserted last: oldest go first
            self._starts[supply_point_key] = (now, start)
            while len(self._starts) > self._max:
                del self._starts[next(iter(self._starts))]
        return start


_STARTS_LOCK = threading.Lock()


def service_starts(context: HubContext) -> ServiceStart:
    """Who answers "from which slot does this point get half-hour data" for the hub: the
    registry (``HalfHourService``), or with ``context.service_start_cache_s`` > 0 the
    process's :class:`CachedServiceStarts`."""
    ttl_s = context.service_start_cache_s
    cached = context.services.get("service-starts")
    if not _current(cached, context, ttl_s):
        with _STARTS_LOCK:
            cached = context.services.get("service-starts")
            if not _current(cached, context, ttl_s):
                rule = HalfHourService(context.registry)  # the openings read once, kept
                cached = CachedServiceStarts(rule, ttl_s) if ttl_s > 0 else rule
                context.services["service-starts"] = cached
    assert isinstance(cached, CachedServiceStarts | HalfHourService)
    return cached


def _current(kept: object, context: HubContext, ttl_s: float) -> bool:
    """Is ``kept`` the process's service-start rule for the context's present settings?"""
    if ttl_s > 0:
        return isinstance(kept, CachedServiceStarts) and kept.ttl_s == ttl_s
    return isinstance(kept, HalfHourService) and kept.registry is context.registry


def served_values(
    mdms: Mdms,
    supply_point_key: int,
    first_slot: int,
    last_slot: int,
    service: ServiceStart | None = None,
) -> pa.Table:
    """The current values of the point in ``[first_slot, last_slot]`` from the slot on which
    it gets half-hour data (its area's A-route opening and its smart meter:
    ``HalfHourService``, or ``service`` answering the same); none for a point without a
    smart meter. What the C route serves."""
    service = service or HalfHourService(mdms.registry)
    service_from = service.start_slot(supply_point_key)
    if service_from is None:  # a conventional meter, or an area not open: no half-hour data
        return mdms.current_values(supply_point_key, first_slot, first_slot).slice(0, 0)
    return mdms.current_values(supply_point_key, max(first_slot, service_from), last_slot)


def visible_values(
    mdms: Mdms, supply_point_key: int, ranges: pa.Table, service: ServiceStart | None = None
) -> pa.Table:
    """The served value (:func:`served_values`) of every slot of the point in ``ranges``
    that has one, by slot (the columns of ``Mdms.current_values``)."""
    first = int(pc.min(ranges.column("first_slot")).as_py())
    last = int(pc.max(ranges.column("last_slot")).as_py())
    table = served_values(mdms, supply_point_key, first, last, service)
    if len(ranges) == 1:
        return table
    return table.filter(pa.array(in_ranges(_column(table, "slot"), ranges)))


def recorded_after(table: pa.Table, since_s: float | None) -> pa.Table:
    """Rows whose current version was recorded after ``since_s`` (all of them if None)."""
    if since_s is None:
        return table
    return table.filter(pc.greater(table.column("recorded_at"), since_s))


def _group_sum(group: I64, groups: int, values: npt.NDArray[np.generic]) -> I64:
    out = np.zeros(groups, dtype=np.int64)
    np.add.at(out, group, values.astype(np.int64))
    return out


def _nullable_sum(group: I64, groups: int, column: pa.ChunkedArray) -> pa.Array:
    present = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    values = np.asarray(pc.fill_null(column, 0).to_numpy(), dtype=np.int64)
    sums = _group_sum(group, groups, values)
    return pa.array(sums, mask=_group_sum(group, groups, present) == 0)


def daily_sums(values: pa.Table, updated_since_s: float | None = None) -> pa.Table:
    """Per JST day of ``values`` (current values, by slot): import/export sums [Wh] over
    the values present, counts by quality, final slots and the latest recording time
    (:data:`DAILY_SCHEMA`), by day. Days whose latest recording is not after
    ``updated_since_s`` are left out."""
    if values.num_rows == 0:
        return DAILY_SCHEMA.empty_table()
    day_number, group = np.unique(jst_day_number(_column(values, "slot")), return_inverse=True)
    groups = len(day_number)
    quality = values.column("quality")
    final = np.asarray(values.column("final").to_numpy(zero_copy_only=False), dtype=np.bool_)
    recorded = np.asarray(values.column("recorded_at").to_numpy(), dtype=np.float64)
    updated = np.full(groups, -np.inf)
    np.maximum.at(updated, group, recorded)

    def count(name: str) -> I64:
        hit = np.asarray(pc.equal(quality, name).to_numpy(zero_copy_only=False), dtype=np.bool_)
        return _group_sum(group, groups, hit)

    present = values.column("import_wh").is_valid()
    daily = pa.table(
        {
            "day": pa.array(day_number.astype(np.int32), pa.date32()),
            "import_wh": _nullable_sum(group, groups, values.column("import_wh")),
            "export_wh": _nullable_sum(group, groups, values.column("export_wh")),
            "values_present": _group_sum(
                group, groups, np.asarray(present.to_numpy(zero_copy_only=False))
            ),
            "measured": count("measured"),
            "estimated": count("estimated"),
            "edited": count("edited"),
            "final_slots": _group_sum(group, groups, final),
            "updated_at": updated,
        },
        schema=DAILY_SCHEMA,
    )
    if updated_since_s is None:
        return daily
    return daily.filter(pa.array(updated > updated_since_s))
