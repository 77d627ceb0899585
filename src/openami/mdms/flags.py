"""Values that VEE flagged with given rules, with the meter that metered each: what a job
outside the MDMS acts on (a tamper or reset flag, V10, opens a fault ticket)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from openami.mdms.vee_config import bit
from openami.storage.flagged_values import values_flagged_between

if TYPE_CHECKING:
    from openami.mdms.service import Mdms


def flagged_values(
    mdms: Mdms, rule_ids: tuple[str, ...], since_s: float, until_s: float
) -> pa.Table:
    """(meter_id, supply_point_key, slot, vee_flags) of the values recorded in
    ``(since_s, until_s]`` that any of ``rule_ids`` flagged; a value whose slot had no meter
    installed is left out. Flags are rare, so the meters are looked up one value at a time."""
    mask = 0
    for rule_id in rule_ids:
        mask |= bit(rule_id)
    found = values_flagged_between(mdms.store, mask, since_s, until_s)
    rows = []
    for key, slot, flags in zip(
        found.column("supply_point_key").to_pylist(),
        found.column("slot").to_pylist(),
        found.column("vee_flags").to_pylist(),
        strict=True,
    ):
        meter = mdms.meter_at(int(key), int(slot))
        if meter is not None:
            rows.append((meter, int(key), int(slot), int(flags)))
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    return pa.table(
        {
            "meter_id": pa.array(columns[0], pa.int64()),
            "supply_point_key": pa.array(columns[1], pa.int64()),
            "slot": pa.array(columns[2], pa.int64()),
            "vee_flags": pa.array(columns[3], pa.int64()),
        }
    )
