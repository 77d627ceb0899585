"""Reading rate and completeness of half-hour values against targets, per JST day.

For every supply point with a meter on the day, the 48 values are expected. A value counts
as *available at T + h* when its first ``measured`` version was recorded within h of its slot
end (croute.md §6.3: publish completeness at T+60 min, T+24 h and D+4). The *reading rate*
(検針率) is the share of supply points whose 48 values are all measured now. Targets come
from ``[targets]`` in vee.toml; the reading rate's target per utility area from
``config/reading_rate_targets.csv`` (the areas' automatic reading rate targets, 90-99 %), its
fleet-wide target being the points-weighted mean of the areas'. Each figure is compared with
its target, per area and overall.

Unlike ``mdms/kpi.py`` (register reads as the HES delivered them, per communication method),
this looks at the values the MDMS holds, including backfill that arrived later.
"""

from __future__ import annotations

import csv
import io
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path

import pyarrow as pa

from openami.bus.messages import DELIVERY_DEADLINE_S
from openami.clock import DAY_SECONDS
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.mdms_kpi import completeness_shares

HORIZONS_S = {
    "available_60min": DELIVERY_DEADLINE_S,
    "available_24h": DAY_SECONDS,
    "available_4d": 4 * DAY_SECONDS,
}
FIGURES = (*HORIZONS_S, "reading_rate")


def load_targets(path: str | Path | None = None) -> dict[str, float]:
    """``[targets]`` from vee.toml (or another file): figure name → minimum share."""
    if path is None:
        text = resources.files("openami").joinpath("config/vee.toml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    raw = tomllib.loads(text).get("targets", {})
    unknown = set(raw) - set(FIGURES)
    if unknown:
        raise ValueError(f"unknown targets {sorted(unknown)}; known: {FIGURES}")
    return {k: float(v) for k, v in raw.items()}


def load_area_targets(path: str | Path | None = None) -> dict[str, float]:
    """Automatic reading rate target per area code as a share, from
    ``config/reading_rate_targets.csv`` (columns area_code, automatic_reading_rate_target_pct)
    or another file of that shape."""
    if path is None:
        res = resources.files("openami").joinpath("config/reading_rate_targets.csv")
        text = res.read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    out: dict[str, float] = {}
    for row in csv.DictReader(io.StringIO(text)):
        pct = float(row["automatic_reading_rate_target_pct"])
        if not 0 < pct <= 100:
            raise ValueError(f"area {row['area_code']}: target {pct} % is not in (0, 100]")
        out[row["area_code"].zfill(2)] = pct / 100
    return out


def completeness(
    store: DuckIntervalStore,
    installations: pa.Table,
    points: pa.Table,
    day: date,
    targets: dict[str, float],
    area_targets: dict[str, float] | None = None,
) -> pa.Table:
    """One row per area and one for ``all``: the figures, their targets and ``<figure>_met``.
    ``points`` has columns supply_point_key, area_code. With ``area_targets`` (area code →
    share) the reading rate of an area is held to its area's target (``targets`` for areas
    not listed), and ``all`` to the points-weighted mean of the areas' targets."""
    horizons_s = {name: float(seconds) for name, seconds in HORIZONS_S.items()}
    table = completeness_shares(store, installations, points, day, horizons_s)
    areas = table.column("area_code").to_pylist()
    for name in FIGURES:
        target = targets.get(name)
        values = table.column(name).to_pylist()
        row_targets = [target] * len(values)
        if name == "reading_rate" and area_targets:
            row_targets = _area_reading_targets(table, areas, area_targets, target)
        table = table.append_column(f"{name}_target", pa.array(row_targets, pa.float64()))
        met = [
            None if t is None or v is None else v >= t
            for v, t in zip(values, row_targets, strict=True)
        ]
        table = table.append_column(f"{name}_met", pa.array(met, pa.bool_()))
    return table


def _area_reading_targets(
    table: pa.Table, areas: list[str], area_targets: dict[str, float], default: float | None
) -> list[float | None]:
    """Reading rate target per result row: the area's own, and for ``all`` the mean of the
    areas' targets weighted by their supply points (areas without a target count with
    ``default``; without one either, ``all`` has none)."""
    points = table.column("points").to_pylist()
    per_area = {a: area_targets.get(a, default) for a in areas if a != "all"}
    weighted = [(per_area[a], n) for a, n in zip(areas, points, strict=True) if a != "all"]
    total = sum(n for _, n in weighted)
    overall: float | None = None
    if total and all(t is not None for t, _ in weighted):
        overall = sum(float(t) * n for t, n in weighted if t is not None) / total
    return [overall if a == "all" else per_area[a] for a in areas]
