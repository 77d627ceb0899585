"""What the customer portal shows of a supply point: the customer's own points, their
half-hour values per day, daily sums per month, monthly sums per year, and comparisons.

Every value comes from :func:`openami.hub.values.served_values` (the current values from the
point's half-hour service start on: the same rule as the C route's ``/intervals``), and the
sums from :func:`openami.hub.values.daily_sums`; all columnar (NumPy/Arrow).

A customer sees a point only if they hold it (``ConsentStore.customer_points``); any other
id, well-formed or not, is ``404`` with no hint whether it exists.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from openami.clock import SLOTS_PER_DAY, day_first_slot, slot_start
from openami.hub.context import HubContext
from openami.hub.errors import api_error
from openami.hub.oauth_grants import consent_store
from openami.hub.values import daily_sums, served_values

VIEWS = ("day", "month", "year")
MAX_DOWNLOAD_DAYS = 400  # as the data API: about 13 months per file


def own_points(context: HubContext, customer_id: str) -> dict[str, int]:
    """Supply point ID -> key of every point the customer holds."""
    return {sp: key for key, sp in consent_store(context).customer_points(customer_id).items()}


def own_point(context: HubContext, customer_id: str, supply_point_id: str) -> int:
    """The key of ``supply_point_id`` if the customer holds it, else ``404``."""
    key = own_points(context, customer_id).get(supply_point_id)
    if key is None:
        raise api_error(404, "unknown_supply_point", "no such supply point of this customer")
    return key


def period_of(view: str, day: date) -> tuple[date, date]:
    """First and last JST day (inclusive) of the ``view`` period containing ``day``."""
    if view == "day":
        return day, day
    if view == "month":
        last = calendar.monthrange(day.year, day.month)[1]
        return day.replace(day=1), day.replace(day=last)
    return date(day.year, 1, 1), date(day.year, 12, 31)


def shift(view: str, day: date, years: int = 0, periods: int = 0) -> date:
    """``day`` moved by whole periods of ``view`` and by years (clamped to month ends)."""
    if view == "day" and not years:
        return day + timedelta(days=periods)
    months = years * 12 + periods * (12 if view == "year" else 1 if view == "month" else 0)
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(y, m + 1, min(day.day, calendar.monthrange(y, m + 1)[1]))


def period_values(context: HubContext, key: int, first: date, last: date) -> pa.Table:
    """Served current values of the point over the JST days ``first`` … ``last``."""
    return served_values(
        context.mdms, key, day_first_slot(first), day_first_slot(last) + SLOTS_PER_DAY - 1
    )


@dataclass(frozen=True)
class Curve:
    """One period of a point as the page draws it: one bar per slot, day or month."""

    view: str
    first: date
    last: date
    labels: list[str]
    import_wh: list[int | None]
    export_wh: list[int | None]
    qualities: list[str]  # per slot (day view); "measured" elsewhere

    @property
    def total_import_wh(self) -> int:
        return sum(v or 0 for v in self.import_wh)

    @property
    def total_export_wh(self) -> int:
        return sum(v or 0 for v in self.export_wh)

    @property
    def has_data(self) -> bool:
        return any(v is not None for v in self.import_wh)


def _day_curve(values: pa.Table, day: date) -> Curve:
    first_slot = day_first_slot(day)
    imports: list[int | None] = [None] * SLOTS_PER_DAY
    exports: list[int | None] = [None] * SLOTS_PER_DAY
    qualities = ["not_yet_available"] * SLOTS_PER_DAY
    slot = np.asarray(values.column("slot").to_numpy(), dtype=np.int64) - first_slot
    for i, imp, exp, q in zip(
        slot.tolist(),
        values.column("import_wh").to_pylist(),
        values.column("export_wh").to_pylist(),
        values.column("quality").to_pylist(),
        strict=True,
    ):  # at most 48 values
        imports[i], exports[i], qualities[i] = imp, exp, str(q)
    labels = [slot_start(first_slot + i).strftime("%H:%M") for i in range(SLOTS_PER_DAY)]
    return Curve("day", day, day, labels, imports, exports, qualities)


def _sums(daily: pa.Table, keys: list[int], key_of: np.ndarray, name: str) -> list[int | None]:
    """Sum of the daily column ``name`` per key (None where no day has a value)."""
    values = daily.column(name)
    present = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    raw = np.asarray(values.fill_null(0).to_numpy(), dtype=np.int64)
    out: list[int | None] = []
    for k in keys:
        hit = (key_of == k) & present
        out.append(int(raw[hit].sum()) if hit.any() else None)
    return out


def curve(context: HubContext, key: int, view: str, day: date) -> Curve:
    """The ``view`` period containing ``day``: half hours of a day, days of a month or
    months of a year."""
    first, last = period_of(view, day)
    values = period_values(context, key, first, last)
    if view == "day":
        return _day_curve(values, day)
    daily = daily_sums(values)
    days = daily.column("day").to_pylist()
    if view == "month":
        keys = list(range(1, last.day + 1))
        key_of = np.array([d.day for d in days], dtype=np.int64)
        labels = [str(k) for k in keys]
    else:
        keys = list(range(1, 13))
        key_of = np.array([d.month for d in days], dtype=np.int64)
        labels = [f"{k:02d}" for k in keys]
    imports = _sums(daily, keys, key_of, "import_wh")
    exports = _sums(daily, keys, key_of, "export_wh")
    return Curve(view, first, last, labels, imports, exports, ["measured"] * len(keys))


@dataclass(frozen=True)
class Comparison:
    """The period's import against another period's."""

    name: str  # previous / last_year
    first: date
    last: date
    import_wh: int | None  # None: no value in that period

    def change(self, current_wh: int) -> float | None:
        """Relative change of the current period against this one (0.1 = 10 % more)."""
        if not self.import_wh:
            return None
        return (current_wh - self.import_wh) / self.import_wh


def _import_wh(context: HubContext, key: int, first: date, last: date) -> int | None:
    daily = daily_sums(period_values(context, key, first, last))
    values = daily.column("import_wh")
    if values.null_count == len(values):
        return None
    return int(np.asarray(values.fill_null(0).to_numpy(), dtype=np.int64).sum())


def comparisons(context: HubContext, key: int, view: str, day: date) -> list[Comparison]:
    """The previous period and, for a day or a month, the same period a year earlier."""
    others = [("previous", shift(view, day, periods=-1))]
    if view != "year":
        others.append(("last_year", shift(view, day, years=-1)))
    out = []
    for name, other in others:
        first, last = period_of(view, other)
        out.append(Comparison(name, first, last, _import_wh(context, key, first, last)))
    return out
