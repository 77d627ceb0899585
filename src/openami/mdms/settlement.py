"""Imbalance settlement input (計画値同時同量): Σ half-hour values per slot and balancing group.

For one JST day the run sums the current value of every supply point that a retailer
supplied that day (point-in-time membership from the registry's supply contracts) per slot
and per (area, balancing group, retailer), with roll-ups per (area, balancing group) and per
area. Each row says how many points it holds and how many of their values were measured,
estimated, edited or missing, the estimated energy and an aggregate quality:
``measured`` (all measured), ``estimated`` (complete, some estimated or edited),
``partially_missing`` or ``missing``. The run also counts the values metered after their
meter's certification expired (``not_billable_values``, VEE rule V12). Missing values
count as 0 Wh in the sums — run the estimation first (the default) so a sum has no holes.

Runs are versioned and append-only: ``preliminary`` (after the day), ``final`` (after
:meth:`Mdms.finalize`), ``correction`` (later re-runs); the latest run of a day is current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from openami.clock import slots_of_day
from openami.mdms.certification import certified_installations
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.settlement_runs import not_billable_count, store_settlement_run
from openami.storage.spark_sums import SparkSums

RUN_KINDS = ("preliminary", "final", "correction")


@dataclass(frozen=True)
class SettlementRun:
    run_id: int
    day: date
    kind: str
    rows: pa.Table
    # values of the day metered after their meter's certification expired (VEE rule V12):
    # in the sums, not billable
    not_billable_values: int = 0


def settle_day(
    store: DuckIntervalStore,
    registry: Registry,
    day: date,
    kind: str,
    created_at: float,
    user: str,
    spark: SparkSums | None = None,
) -> SettlementRun:
    """Compute and store one settlement run of a JST day (all slots, all levels): summed
    by DuckDB over ``store``, or by ``spark`` over the shared interval store (which must
    hold what ``store`` holds: publish first), stored in ``store`` either way."""
    if kind not in RUN_KINDS:
        raise ValueError(f"settlement run kind must be one of {RUN_KINDS}, got {kind!r}")
    members = registry.members_on(day)
    slots = slots_of_day(day)
    certified = certified_installations(
        registry.installations_table(), registry.certification_table()
    )
    if spark is None:
        run_id, rows = store_settlement_run(store, members, day, kind, created_at, user, slots)
        expired = not_billable_count(store, members, certified, slots)
    else:  # summed by Spark over the shared interval store, stored here as a run
        computed = spark.settlement_sums(members, slots.start, slots.stop - 1)
        expired = spark.not_billable_count(members, certified, slots)
        run_id, rows = store_settlement_run(
            store, members, day, kind, created_at, user, slots, computed
        )
    return SettlementRun(run_id, day, kind, rows, expired)
