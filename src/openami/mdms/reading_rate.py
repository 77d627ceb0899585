"""The automatic reading rate (自動検針率) by the seed's definition, per area and over the
rollout: meters whose half-hour values reach billing through the MDMS ÷ meters installed.

- **Over the rollout** (from the registry, one row per area and month end): a meter counts
  as *installed* when it sits at a supply point at 24:00 JST of the month's last day, and as
  *automatically read* when it is also a smart meter in an area whose A route was open in
  full by then (:class:`openami.registry.opening.HalfHourService`, the same rule as the C
  route). Conventional meters count as installed, never as automatically read: their
  values reach billing by hand and profiling.
- **Per day** (``mdms/kpi.py``, ``automatic_reading_rate``): meters whose 48 values of the
  day are all measured from A-route reads ÷ meters installed. Both figures are printed side
  by side by ``openami mdms reading-rate``; the targets are the areas' from the seed
  (``config/reading_rate_targets.csv``).

Columnar: one NumPy pass over the installations per month, no object per meter.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import jst_day_start_s
from openami.mdms.completeness import load_area_targets
from openami.mdms.kpi import daily_kpis
from openami.mdms.service import Mdms
from openami.registry import Registry
from openami.registry.opening import HalfHourService

ROLLOUT_SCHEMA = pa.schema(
    [
        ("month", pa.date32()),  # first day of the month
        ("area_code", pa.string()),  # "all" for the whole fleet
        ("installed_meters", pa.int64()),
        ("automatic_meters", pa.int64()),
        ("automatic_reading_rate", pa.float64()),  # null without installed meters
        ("target", pa.float64()),
    ]
)


def month_range(first: date, last: date) -> list[date]:
    """First days of the months from ``first``'s to ``last``'s (inclusive)."""
    if last < first:
        raise ValueError("the last month comes before the first")
    start, stop = first.year * 12 + first.month - 1, last.year * 12 + last.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(start, stop + 1)]


def _month_end_s(month: date) -> float:
    nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return jst_day_start_s(nxt)


def rollout_reading_rate(
    registry: Registry, months: list[date], service: HalfHourService | None = None
) -> pa.Table:
    """Per month of ``months`` and area (then ``all``): installed and automatically read
    meters at the month's end, their ratio and the area's target (:data:`ROLLOUT_SCHEMA`)."""
    service = service or HalfHourService(registry)
    inst = registry.installations_table()
    points = registry.supply_points_table()
    at = pc.index_in(inst.column("supply_point_key"), value_set=points.column("supply_point_key"))
    area = points.column("area_code").take(at)
    areas = sorted(set(area.to_pylist()) - {None})
    area_index = np.asarray(
        pc.fill_null(pc.index_in(area, value_set=pa.array(areas, pa.string())), -1).to_numpy(),
        dtype=np.int64,
    )
    smart = np.asarray(
        pc.equal(
            registry.kinds.meter_kinds(inst.column("meter_id")).column("meter_type"), "smart"
        ).to_numpy(zero_copy_only=False),
        dtype=np.bool_,
    )
    valid_from = np.asarray(inst.column("valid_from").to_numpy(), dtype=np.float64)
    valid_to = np.asarray(
        pc.fill_null(inst.column("valid_to"), np.inf).to_numpy(), dtype=np.float64
    )
    area_open_s = service.area_open_s(areas)
    open_of_row = np.where(area_index >= 0, area_open_s[np.maximum(area_index, 0)], np.inf)
    targets = load_area_targets()
    rows: dict[str, list[object]] = {name: [] for name in ROLLOUT_SCHEMA.names}
    known = area_index >= 0
    for month in months:
        end_s = _month_end_s(month)
        installed = known & (valid_from < end_s) & (valid_to >= end_s)
        automatic = installed & smart & (open_of_row <= end_s)
        n_inst = np.bincount(area_index[installed], minlength=len(areas))
        n_auto = np.bincount(area_index[automatic], minlength=len(areas))
        for i, code in enumerate([*areas, "all"]):
            total = int(n_inst.sum()) if code == "all" else int(n_inst[i])
            auto = int(n_auto.sum()) if code == "all" else int(n_auto[i])
            rows["month"].append(month)
            rows["area_code"].append(code)
            rows["installed_meters"].append(total)
            rows["automatic_meters"].append(auto)
            rows["automatic_reading_rate"].append(auto / total if total else None)
            rows["target"].append(_target(code, areas, n_inst, targets))
    return pa.table(rows, schema=ROLLOUT_SCHEMA)


def _target(
    code: str, areas: list[str], installed: np.ndarray, targets: dict[str, float]
) -> float | None:
    """The area's target; for ``all`` the mean of the areas' weighted by installed meters."""
    if code != "all":
        return targets.get(code)
    weights = [(targets.get(a), int(n)) for a, n in zip(areas, installed, strict=True) if n]
    total = sum(n for _, n in weights)
    if not total or any(t is None for t, _ in weights):
        return None
    return sum(float(t) * n for t, n in weights if t is not None) / total


def day_and_rollout(mdms: Mdms, day: date) -> pa.Table:
    """Per area (then ``all``): the day's automatic reading rate (``mdms/kpi.py``: all 48
    values measured ÷ installed) next to the rollout figure of the day's month, with the
    installed meters and the target."""
    rollout = rollout_reading_rate(mdms.registry, [day.replace(day=1)])
    kpis = {row.group: row for row in daily_kpis(mdms.store, mdms.registry, day, by="area_code")}
    codes = rollout.column("area_code").to_pylist()
    return pa.table(
        {
            "area_code": codes,
            "installed_meters": rollout.column("installed_meters"),
            "automatic_reading_rate_day": pa.array(
                [kpis[c].automatic_reading_rate if c in kpis else None for c in codes],
                pa.float64(),
            ),
            "automatic_reading_rate_rollout": rollout.column("automatic_reading_rate"),
            "target": rollout.column("target"),
        }
    )
