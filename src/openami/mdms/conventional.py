"""Half-hour values of conventional meters: the periods between manual reads, profiled.

Two consecutive reads of a meter (days ``d1 < d2``) span the slots of the JST days
``[d1, d2)``: a meter reader's read counts at 00:00 JST of its day. The period's energy is
``(register₂ − register₁) × multiplier`` [Wh]; it is profiled (``mdms/profiling.py``) with
the load shape of the supply point the meter was installed at when the period began, and
stored as versions of quality ``profiled`` (method ``P``). A slot whose current value is
measured or edited keeps it; a missing, invalid, estimated or differently profiled one gets
the profiled value as its next version. Running it again adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import Quality
from openami.clock import JST_OFFSET_SLOTS, SLOT_SECONDS, SLOTS_PER_DAY
from openami.mdms.profiling import profile, shape_indexes
from openami.registry.kinds import MeterKinds
from openami.storage.meter_data import meter_parameters
from openami.storage.value_jobs import value_job

if TYPE_CHECKING:
    from openami.mdms.service import Mdms

I64 = npt.NDArray[np.int64]
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: qualities a profiled value may replace
REPLACEABLE = ("missing", "invalid", "estimated", "profiled")
PROFILING_REASON = "profiled from manual reads"


@dataclass(frozen=True)
class ProfileResult:
    periods: int  # periods between two reads of a meter
    unplaced: int  # periods whose meter was installed at no supply point when they began
    energy_wh: int  # metered energy of the placed periods
    values: int  # new value versions


def set_meter_kinds(mdms: Mdms, rows: list[tuple[int, str, int]]) -> None:
    """Set meters' type and multiplier in the registry (rows of meter_id, meter_type,
    multiplier) and give the MDMS's meter master data the same multiplier, so that A-route
    register differences (VEE) and profiled manual reads are multiplied alike. The meters'
    register digits and unit stay as stored (the VEE defaults where none are)."""
    mdms.registry.kinds.set_meter_kinds(rows)
    ids = pa.array([r[0] for r in rows], pa.int64())
    stored = meter_parameters(
        mdms.store,
        pa.table({"meter_id": ids, "contract_amperage_a": pa.nulls(len(ids), pa.int64())}),
    )
    defaults = mdms.vee.meter_defaults
    master = pa.table(
        {
            "meter_id": stored.column("meter_id"),
            "register_digits": pc.fill_null(
                stored.column("register_digits"), int(defaults.get("register_digits", 9))
            ),
            "register_unit_wh": pc.fill_null(
                stored.column("register_unit_wh"), int(defaults.get("register_unit_wh", 1))
            ),
            "multiplier": pa.array([int(m) for _, _, m in rows], pa.int64()).take(
                pc.index_in(stored.column("meter_id"), value_set=ids)
            ),
        }
    )
    mdms.set_meter_master(master)


def first_slot_of_days(ordinals: I64) -> I64:
    """The first slot (00:00 JST) of each JST day given as a proleptic ordinal."""
    return (ordinals - _EPOCH_ORDINAL) * SLOTS_PER_DAY - JST_OFFSET_SLOTS


def read_periods(reads: pa.Table, kinds: pa.Table) -> pa.Table:
    """Periods between consecutive reads of each meter: meter_id, first_slot, n_slots,
    energy_wh. ``reads``: meter_id, read_on (ISO day), import_register_wh, sorted by meter
    and day; ``kinds``: meter_id, multiplier of those meters."""
    meter = np.asarray(reads.column("meter_id").to_numpy(), dtype=np.int64)
    day = np.array(
        [date.fromisoformat(d).toordinal() for d in reads.column("read_on").to_pylist()],
        dtype=np.int64,
    )
    register = np.asarray(reads.column("import_register_wh").to_numpy(), dtype=np.int64)
    pair = np.flatnonzero(meter[1:] == meter[:-1])
    at = pc.index_in(pa.array(meter[pair]), value_set=kinds.column("meter_id"))
    multiplier = np.asarray(
        pc.fill_null(kinds.column("multiplier").take(at), 1).to_numpy(), dtype=np.int64
    )
    first = first_slot_of_days(day[pair])
    return pa.table(
        {
            "meter_id": meter[pair],
            "first_slot": first,
            "n_slots": first_slot_of_days(day[pair + 1]) - first,
            "energy_wh": (register[pair + 1] - register[pair]) * multiplier,
        }
    )


def place_periods(periods: pa.Table, installations: pa.Table) -> pa.Table:
    """The periods with the supply point their meter was installed at when they began
    (periods of a meter installed nowhere then are left out), in period order."""
    indexed = periods.append_column("period", pa.array(np.arange(periods.num_rows)))
    joined = indexed.join(installations, "meter_id", join_type="inner")
    start_s = pc.multiply(joined.column("first_slot").cast(pa.float64()), float(SLOT_SECONDS))
    valid_to = pc.fill_null(joined.column("valid_to"), float("inf"))
    inside = pc.and_(
        pc.less_equal(joined.column("valid_from"), start_s), pc.less(start_s, valid_to)
    )
    return joined.filter(inside).sort_by("period")


def profile_manual_reads(
    mdms: Mdms, kinds: MeterKinds, meter_ids: list[int] | None = None
) -> ProfileResult:
    """Profile every period between stored manual reads (of ``meter_ids``, or of every
    meter) into half-hour values of quality ``profiled``."""
    reads = kinds.manual_reads(meter_ids)
    meters = pc.unique(reads.column("meter_id"))
    periods = read_periods(reads, kinds.meter_kinds(meters))
    placed = place_periods(periods, mdms.installations)
    if placed.num_rows == 0:
        return ProfileResult(periods.num_rows, periods.num_rows, 0, 0)
    keys = placed.column("supply_point_key")
    classes = kinds.point_classes(keys)
    energy_wh = np.asarray(placed.column("energy_wh").to_numpy(), dtype=np.int64)
    shaped = profile(
        energy_wh,
        np.asarray(placed.column("first_slot").to_numpy(), dtype=np.int64),
        np.asarray(placed.column("n_slots").to_numpy(), dtype=np.int64),
        shape_indexes(classes.column("load_shape").to_numpy(zero_copy_only=False)),
    )
    key_of_slot = np.asarray(keys.to_numpy(), dtype=np.int64)[shaped.period]
    values = pa.table({"supply_point_key": key_of_slot, "slot": shaped.slot})
    values = values.append_column("import_wh", pa.array(shaped.energy_wh))
    written = _store(mdms, values)
    return ProfileResult(
        periods.num_rows, periods.num_rows - placed.num_rows, int(energy_wh.sum()), written
    )


def _store(mdms: Mdms, values: pa.Table) -> int:
    """Append the profiled values as next versions where the current value may be replaced
    by them; returns how many were appended."""
    slots = values.column("slot")
    first, last = pc.min(slots).as_py(), pc.max(slots).as_py()
    keys = pa.table({"supply_point_key": pc.unique(values.column("supply_point_key")).sort()})
    with value_job(mdms.store) as job:
        current = job.current_versions(keys, first, last).select(
            ["supply_point_key", "slot", "version", "import_wh", "quality"]
        )
        current = current.rename_columns(
            ["supply_point_key", "slot", "version", "current_wh", "quality"]
        )
        joined = values.join(current, ["supply_point_key", "slot"], join_type="left outer")
        quality = joined.column("quality")
        replaceable = pc.fill_null(pc.is_in(quality, pa.array(REPLACEABLE)), False)
        same = pc.and_(
            pc.equal(quality, Quality.PROFILED.label),
            pc.equal(joined.column("current_wh"), joined.column("import_wh")),
        )
        take = pc.and_(
            pc.or_(pc.is_null(quality), replaceable), pc.invert(pc.fill_null(same, False))
        )
        order = [("supply_point_key", "ascending"), ("slot", "ascending")]
        new = joined.filter(take).sort_by(order)
        n = new.num_rows
        if n == 0:
            return 0
        version = pc.add(pc.fill_null(new.column("version"), 0), 1).cast(pa.int32())
        rows = pa.table(
            {
                "supply_point_key": new.column("supply_point_key"),
                "slot": new.column("slot"),
                "import_wh": new.column("import_wh"),
                "export_wh": pa.nulls(n, pa.int64()),
                "qcode": pa.array(np.full(n, int(Quality.PROFILED), np.uint8)),
                "version": version,
                "vee_flags": pa.array(np.zeros(n, np.int32)),
                "method": pa.array(np.full(n, "P", dtype=object), pa.string()),
            }
        )
        job.append_values(rows, mdms.clock.timestamp(), PROFILING_REASON)
    return n
