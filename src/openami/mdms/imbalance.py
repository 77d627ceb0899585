"""Imbalance (インバランス) per slot, balancing group and area, from the settlement sums.

For each slot of a JST day and each (area, balancing group)::

    actual_wh    = Σ metered import of the group's points in the area × 1 / (1 − loss rate)
    imbalance_wh = actual_wh − plan_wh      (> 0 shortfall 不足, < 0 surplus 余剰)

The metered sums are those of a stored settlement run (:mod:`openami.mdms.settlement`,
level ``balancing_group``): the imbalance of a day comes in the same versions as its sums,
``preliminary``, ``final`` and ``correction``, and names the run it was computed from. The
loss rate is the one in force that day for the area and the points' voltage class
(:mod:`openami.mdms.loss_factors`); the plan is the group's current demand plan
(:mod:`openami.mdms.demand_plans`), fixed for each slot from its gate closure on. Energy
exported by the points (PV reverse flow) is not netted against demand: it is reported
beside it as ``generation_export_wh``, the group's generation balance.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import SLOTS_PER_DAY, day_first_slot
from openami.mdms.loss_factors import LossFactors, voltage_class_of
from openami.mdms.service import Mdms
from openami.storage.repositories.balancing import DemandPlanStore
from openami.storage.settlement_runs import stored_group_sums

_SEP = "\x1f"  # joins an area code and a group id into one pair key
I64 = npt.NDArray[np.int64]


#: voltage classes per (area, group) of a settlement run, by (day, run id)
ClassesCache = MutableMapping[tuple[date, int], pa.Table]
CLASSES_CACHED = 64  # runs; the cache is emptied when full


class ImbalanceError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class ImbalanceRun:
    settlement_run_id: int
    day: date
    kind: str
    created_at: float
    rows: pa.Table


Classify = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.object_]]


def group_voltage_classes(members: pa.Table, classify: Classify = voltage_class_of) -> pa.Table:
    """The voltage class of each (area, balancing group) of the day's ``members``. The
    settlement sums are not split by voltage class: a group whose points in one area have
    more than one class cannot be loss-adjusted from them (``E_MIXED_VOLTAGE_CLASSES``)."""
    keys = np.asarray(members.column("supply_point_key").to_numpy(), dtype=np.int64)
    classed = members.select(["area_code", "balancing_group_id"]).append_column(
        "voltage_class", pa.array(classify(keys), pa.string())
    )
    per_group = classed.group_by(["area_code", "balancing_group_id"]).aggregate(
        [("voltage_class", "distinct")]
    )
    classes = per_group.column("voltage_class_distinct").to_pylist()
    mixed = [i for i, c in enumerate(classes) if len(c) > 1]
    if mixed:
        row = per_group.slice(mixed[0], 1).to_pylist()[0]
        raise ImbalanceError(
            "E_MIXED_VOLTAGE_CLASSES",
            f"balancing group {row['balancing_group_id']} has points of several voltage "
            f"classes in area {row['area_code']}; the settlement sums are not split by class",
        )
    return per_group.select(["area_code", "balancing_group_id"]).append_column(
        "voltage_class", pa.array([c[0] for c in classes], pa.string())
    )


def _pair_keys(table: pa.Table) -> pa.ChunkedArray:
    """One string per row naming its (area, balancing group)."""
    return pc.binary_join_element_wise(
        table.column("area_code"), table.column("balancing_group_id"), _SEP
    )


def _pair_rates(
    pairs: list[str], classes: pa.Table, rates: pa.Table
) -> tuple[list[str | None], npt.NDArray[np.float64]]:
    """Voltage class and loss rate of each (area, group) pair (None / NaN where unknown):
    one Python step per pair, never per value."""
    class_of = dict(
        zip(
            _pair_keys(classes).to_pylist(),
            classes.column("voltage_class").to_pylist(),
            strict=True,
        )
    )
    rate_of = {
        (r["area_code"], r["voltage_class"]): r["loss_rate"]
        for r in rates.select(["area_code", "voltage_class", "loss_rate"]).to_pylist()
    }
    voltage = [class_of.get(p) for p in pairs]
    rate = [
        rate_of.get((p.split(_SEP)[0], v), np.nan) if v else np.nan
        for p, v in zip(pairs, voltage, strict=True)
    ]
    return voltage, np.asarray(rate, dtype=np.float64)


def _positions(at: I64, out_rows: int) -> pa.Array:
    """For each output row, the input row placed there (``at``: output row of each input
    row), or null."""
    source = np.full(out_rows, -1, dtype=np.int64)
    source[at] = np.arange(len(at), dtype=np.int64)
    return pa.array(source, mask=source < 0)


def _scatter(at: I64, column: pa.ChunkedArray, out_rows: int) -> I64:
    out = np.zeros(out_rows, dtype=np.int64)
    out[at] = np.asarray(column.to_numpy(), dtype=np.int64)
    return out


@dataclass(frozen=True)
class _Joined:
    """The outer join of sums and plans as positions: output row ``i`` has the key
    ``keys[i]``; input row ``j`` of the sums (plans) lands on output row ``sum_at[j]``
    (``plan_at[j]``)."""

    pairs: list[str]  # (area, group) pairs, sorted
    keys: I64
    sum_at: I64
    plan_at: I64

    @property
    def pair(self) -> I64:
        return self.keys % len(self.pairs)


def _join(sums: pa.Table, plans: pa.Table, first_slot: int) -> _Joined:
    """Key of each row: ``slot_of_day × pairs + pair``, below 48 × pairs, so the outer
    join is a mask over that key space, in slot, area, group order (no sort, no hash join)."""
    sum_pairs, plan_pairs = _pair_keys(sums), _pair_keys(plans)
    pairs = sorted(set(pc.unique(sum_pairs).to_pylist()) | set(pc.unique(plan_pairs).to_pylist()))
    n, value_set = len(pairs), pa.array(pairs, pa.string())

    def keys_of(pair_keys: pa.ChunkedArray, slot_of_day: I64) -> I64:
        index = np.asarray(pc.index_in(pair_keys, value_set=value_set).to_numpy(), np.int64)
        return slot_of_day * n + index

    slots = np.asarray(sums.column("slot").to_numpy(), np.int64) - first_slot
    sum_key = keys_of(sum_pairs, slots)
    plan_key = keys_of(plan_pairs, np.asarray(plans.column("slot_of_day").to_numpy(), np.int64))
    present = np.zeros(SLOTS_PER_DAY * n, dtype=np.bool_)
    present[sum_key] = True
    present[plan_key] = True
    keys = np.flatnonzero(present).astype(np.int64)
    row = np.full(SLOTS_PER_DAY * n, -1, dtype=np.int64)
    row[keys] = np.arange(len(keys), dtype=np.int64)
    return _Joined(pairs, keys, row[sum_key], row[plan_key])


def imbalance_rows(
    sums: pa.Table, plans: pa.Table, classes: pa.Table, rates: pa.Table, day: date
) -> pa.Table:
    """Imbalance per slot, area and group (see the module) from the settlement run's
    group-level ``sums``, the day's current ``plans`` (``DAY_PLANS_SCHEMA``), each group's
    voltage class per area and the loss ``rates`` in force; by slot, area and group."""
    first = day_first_slot(day)
    j = _join(sums, plans, first)
    out_rows, pair = len(j.keys), j.pair
    voltage, pair_rate = _pair_rates(j.pairs, classes, rates)
    has_sum = np.zeros(out_rows, dtype=np.bool_)
    has_sum[j.sum_at] = True
    rate = pair_rate[pair]
    lacking = has_sum & np.isnan(rate)
    if lacking.any():
        p = int(pair[np.argmax(lacking)])
        raise ImbalanceError(
            "E_NO_LOSS_FACTOR",
            f"no loss factor in force on {day} for area {j.pairs[p].split(_SEP)[0]}, "
            f"voltage class {voltage[p]}",
        )
    metered = _scatter(j.sum_at, sums.column("import_wh"), out_rows)
    actual = np.where(has_sum, metered / np.where(has_sum, 1.0 - rate, 1.0), 0.0)
    plan_wh = _scatter(j.plan_at, plans.column("energy_wh"), out_rows)
    pair_index = pa.array(pair, pa.int64())

    def per_pair(values: list[str | None]) -> pa.Array:
        return pa.array(values, pa.string()).take(pair_index)

    return pa.table(
        {
            "slot": j.keys // max(len(j.pairs), 1) + first,
            "area_code": per_pair([p.split(_SEP)[0] for p in j.pairs]),
            "balancing_group_id": per_pair([p.split(_SEP)[1] for p in j.pairs]),
            "voltage_class": per_pair(voltage),
            "loss_rate": pa.array(rate, pa.float64(), mask=np.isnan(rate)),
            "points": _scatter(j.sum_at, sums.column("points"), out_rows),
            "metered_import_wh": metered,
            "actual_wh": actual,
            "plan_wh": plan_wh,
            "plan_version": pc.take(plans.column("version"), _positions(j.plan_at, out_rows)),
            "imbalance_wh": actual - plan_wh,
            "generation_export_wh": _scatter(j.sum_at, sums.column("export_wh"), out_rows),
            "quality": pc.fill_null(
                pc.take(sums.column("quality"), _positions(j.sum_at, out_rows)), "no_points"
            ),
        }
    )


def imbalance_of_day(
    mdms: Mdms,
    plans: DemandPlanStore,
    loss_factors: LossFactors,
    day: date,
    kind: str | None = None,
    balancing_group_id: str | None = None,
    classes_cache: ClassesCache | None = None,
) -> ImbalanceRun:
    """The imbalance of ``day`` from its newest settlement run (of ``kind`` if given),
    for every balancing group or one. ``classes_cache`` keeps each run's voltage classes
    per (area, group) (reading the day's members is the costly part, ~1.5 s at 1 M points),
    so repeated API reads of one run read the registry once."""
    found = stored_group_sums(mdms.store, day, kind)
    if found is None:
        which = f"{kind} " if kind else ""
        raise ImbalanceError(
            "E_NO_SETTLEMENT_RUN",
            f"no {which}settlement run for {day}: run `openami mdms settle --date {day}` first",
        )
    run_id, run_kind, created_at, sums = found
    loss_factors.ensure_loaded(mdms.clock.timestamp())
    day_plans = plans.plans_on(day)
    if balancing_group_id is not None:
        sums = sums.filter(pc.equal(sums.column("balancing_group_id"), balancing_group_id))
        day_plans = day_plans.filter(
            pc.equal(day_plans.column("balancing_group_id"), balancing_group_id)
        )
    classes = None if classes_cache is None else classes_cache.get((day, run_id))
    if classes is None:
        kinds = mdms.registry.kinds
        classes = group_voltage_classes(
            mdms.registry.members_on(day), lambda keys: voltage_class_of(keys, kinds)
        )
        if classes_cache is not None:
            if len(classes_cache) >= CLASSES_CACHED:
                classes_cache.clear()
            classes_cache[(day, run_id)] = classes
    rows = imbalance_rows(sums, day_plans, classes, loss_factors.in_force(day), day)
    return ImbalanceRun(run_id, day, run_kind, created_at, rows)
