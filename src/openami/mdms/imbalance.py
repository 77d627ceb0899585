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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import day_first_slot
from openami.mdms.loss_factors import LossFactors, voltage_class_of
from openami.mdms.service import Mdms
from openami.storage.repositories.balancing import DemandPlanStore
from openami.storage.settlement_runs import stored_group_sums

_KEYS = ["slot", "area_code", "balancing_group_id"]


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


def _with_loss_rates(sums: pa.Table, classes: pa.Table, rates: pa.Table, day: date) -> pa.Table:
    joined = sums.join(classes, ["area_code", "balancing_group_id"]).join(
        rates.select(["area_code", "voltage_class", "loss_rate"]), ["area_code", "voltage_class"]
    )
    lacking = joined.filter(pc.is_null(joined.column("loss_rate")))
    if lacking.num_rows:
        r = lacking.slice(0, 1).to_pylist()[0]
        raise ImbalanceError(
            "E_NO_LOSS_FACTOR",
            f"no loss factor in force on {day} for area {r['area_code']}, voltage class "
            f"{r['voltage_class']}",
        )
    imp = pc.cast(joined.column("import_wh"), pa.float64())
    actual = pc.divide(imp, pc.subtract(1.0, joined.column("loss_rate")))
    return joined.append_column("actual_wh", actual)


def imbalance_rows(
    sums: pa.Table, plans: pa.Table, classes: pa.Table, rates: pa.Table, day: date
) -> pa.Table:
    """Imbalance per slot, area and group (see the module) from the settlement run's
    group-level ``sums``, the day's current ``plans`` (``DAY_PLANS_SCHEMA``), each group's
    voltage class per area and the loss ``rates`` in force; by slot, area and group."""
    measured = _with_loss_rates(sums, classes, rates, day)
    planned = plans.append_column(
        "slot", pc.add(plans.column("slot_of_day"), day_first_slot(day))
    ).select([*_KEYS, "version", "energy_wh"])
    rows = measured.join(planned, _KEYS, join_type="full outer")
    zero = {"import_wh": 0, "export_wh": 0, "points": 0, "energy_wh": 0, "actual_wh": 0.0}
    cols = {k: pc.fill_null(rows.column(k), v) for k, v in zero.items()}
    imbalance = pc.subtract(cols["actual_wh"], pc.cast(cols["energy_wh"], pa.float64()))
    out = pa.table(
        {
            "slot": rows.column("slot"),
            "area_code": rows.column("area_code"),
            "balancing_group_id": rows.column("balancing_group_id"),
            "voltage_class": rows.column("voltage_class"),
            "loss_rate": rows.column("loss_rate"),
            "points": cols["points"],
            "metered_import_wh": cols["import_wh"],
            "actual_wh": cols["actual_wh"],
            "plan_wh": cols["energy_wh"],
            "plan_version": rows.column("version"),
            "imbalance_wh": imbalance,
            "generation_export_wh": cols["export_wh"],
            "quality": pc.fill_null(rows.column("quality"), "no_points"),
        }
    )
    return out.sort_by(
        [("slot", "ascending"), ("area_code", "ascending"), ("balancing_group_id", "ascending")]
    )


def imbalance_of_day(
    mdms: Mdms,
    plans: DemandPlanStore,
    loss_factors: LossFactors,
    day: date,
    kind: str | None = None,
    balancing_group_id: str | None = None,
) -> ImbalanceRun:
    """The imbalance of ``day`` from its newest settlement run (of ``kind`` if given),
    for every balancing group or one."""
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
    classes = group_voltage_classes(mdms.registry.members_on(day))
    rows = imbalance_rows(sums, day_plans, classes, loss_factors.in_force(day), day)
    return ImbalanceRun(run_id, day, run_kind, created_at, rows)
