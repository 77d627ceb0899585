"""The general path's look-ups of stored values: the values just before a narrow batch (so
that runs and days continue across batches) and the current version of each value the
batch computes (so that only changed values get a new version)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import SLOTS_PER_DAY, slot_of_day
from openami.mdms.columns import (
    float_column,
    int_column,
    is_sorted,
    run_starts,
    usable_values,
    valid_mask,
)
from openami.mdms.vee import Q_INVALID, QUALITIES, PriorValues, SlotValues
from openami.mdms.vee_config import VeeConfig
from openami.storage.interval_ingest import IngestTransaction

I64 = npt.NDArray[np.int64]


def running_means(
    tx: IngestTransaction, keys: I64, supply_point_key: I64
) -> tuple[npt.NDArray[np.float64], I64]:
    """V06 reference per value: its supply point's running mean import and the number of
    values behind it (0 without a stored mean); ``keys``: the supply points, each once
    (sorted: the look-up needs no membership test)."""
    mean_wh = np.zeros(len(supply_point_key))
    count = np.zeros(len(supply_point_key), dtype=np.int64)
    means = tx.running_means(keys)
    if means.num_rows:
        stored = int_column(means, "supply_point_key")
        i = np.minimum(np.searchsorted(stored, supply_point_key), len(stored) - 1)
        found = stored[i] == supply_point_key
        mean_wh = np.where(found, float_column(means, "mean_wh")[i], 0.0)
        count = np.where(found, int_column(means, "n")[i], 0)
    return mean_wh, count


def prior_values(
    tx: IngestTransaction,
    vals: SlotValues,
    supply_point_key: I64,
    boundaries: tuple[int, int],
    cfg: VeeConfig,
    candidates_only: bool = True,
) -> tuple[PriorValues | None, pa.Table | None]:
    """For a batch (reads at ``boundaries`` first … last) too narrow to hold a whole zero
    or flat run (e.g. one A-route tick), the stored values just before it, so that V08
    sees runs that began earlier, and for a narrow batch holding a JST day's last slot the
    day's stored values (V07 low); also the current versions it fetched (slots up to the
    last boundary), which :func:`changed_versions` reuses. ``candidates_only``: a tick
    looks back only for the supply points whose value can continue a run."""
    lo, hi = boundaries
    r8 = cfg.rule("V08")
    run = int(max(r8.p("zero_run_slots"), r8.p("flat_run_slots")))
    batch_slots = hi - lo + 1
    need_run = batch_slots < run
    need_day = batch_slots < SLOTS_PER_DAY and bool(
        np.any(slot_of_day(vals.slot) == SLOTS_PER_DAY - 1)
    )
    if len(vals) == 0 or not (need_run or need_day):
        return None, None
    first = lo - 1 - max(run if need_run else 0, SLOTS_PER_DAY if need_day else 0)
    in_order = supply_point_key if is_sorted(supply_point_key) else np.sort(supply_point_key)
    keys = in_order[run_starts(in_order)]
    tick = len(keys) == len(supply_point_key) and bool(np.all(vals.slot == vals.slot[0]))
    if candidates_only and tick and not need_day:
        got = _tick_versions(tx, vals, supply_point_key, keys, first, hi)
    else:
        got = tx.current_versions(keys, first, hi)
    if got.num_rows == 0:
        return None, got
    return _prior_of(got, vals, supply_point_key, first, hi), got


def _prior_of(
    got: pa.Table, vals: SlotValues, supply_point_key: I64, first: int, hi: int
) -> PriorValues:
    """The usable stored values the batch does not recompute (membership by binary search
    in the sorted batch keys: ``np.isin`` hashes both sides, several times slower)."""
    width = hi - first + 2
    got_key, got_slot = int_column(got, "supply_point_key"), int_column(got, "slot")
    batch_keys = np.sort(supply_point_key * width + (vals.slot - first))
    got_keys = got_key * width + (got_slot - first)
    at = np.minimum(np.searchsorted(batch_keys, got_keys), len(batch_keys) - 1)
    keep = usable_values(got) & (batch_keys[at] != got_keys)
    export_wh = int_column(got, "export_wh")[keep]
    import_wh = int_column(got, "import_wh")[keep]
    return PriorValues(
        got_key[keep], got_slot[keep], import_wh, (import_wh == 0) & (export_wh == 0)
    )


def _tick_versions(
    tx: IngestTransaction, vals: SlotValues, supply_point_key: I64, keys: I64, first: int, hi: int
) -> pa.Table:
    """Current versions for a tick (one value per supply point, all in slot ``s``): slots
    ``s - 1 … hi`` of every supply point, and the look-back ``first … s - 2`` only for
    :func:`_run_candidates` — the V08 flags of the others cannot depend on it. At national
    scale that reads one stored slot instead of a run's length of them."""
    s = int(vals.slot[0])
    near = tx.current_versions(keys, s - 1, hi)
    candidates = _run_candidates(vals, supply_point_key, near, s)
    if len(candidates) == 0 or first > s - 2:
        return near
    far = tx.current_versions(candidates, first, s - 2)
    if far.num_rows == 0:
        return near
    both = pa.concat_tables([far, near.cast(far.schema)])
    order = pc.sort_indices(both, [("supply_point_key", "ascending"), ("slot", "ascending")])
    return both.take(order)


def _run_candidates(vals: SlotValues, supply_point_key: I64, near: pa.Table, s: int) -> I64:
    """Sorted supply points of a tick whose new value (slot ``s``) may be in a V08 run that
    reaches back: a zero, or a positive value equal to the known stored value of slot
    ``s - 1`` (a run needs consecutive slots, and a flat run's values each equal a
    neighbour), or any point with a known stored value after ``s`` (the run could come from
    there)."""
    imp, exp = vals.import_wh, vals.export_wh
    candidate = (imp == 0) & (~vals.export_valid | (exp == 0))
    if near.num_rows:
        near_key, near_slot = int_column(near, "supply_point_key"), int_column(near, "slot")
        known = usable_values(near)
        near_import = int_column(near, "import_wh")
        before, after = known & (near_slot == s - 1), known & (near_slot > s)
        for pick, equal in ((before, True), (after, False)):
            pick_key, pick_import = near_key[pick], near_import[pick]
            if len(pick_key):
                at = np.minimum(np.searchsorted(pick_key, supply_point_key), len(pick_key) - 1)
                hit = pick_key[at] == supply_point_key
                candidate |= hit & (pick_import[at] == imp) & (imp > 0) if equal else hit
    return np.sort(supply_point_key[candidate])


def changed_versions(
    tx: IngestTransaction,
    vals: SlotValues,
    supply_point_key: I64,
    boundaries: tuple[int, int],
    fetched: pa.Table | None = None,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int32]]:
    """Indexes of values that differ from the current version (or have none) and their new
    version numbers. Automatic processing never replaces a manual edit. ``fetched``:
    current versions already read for a wider slot range ending at the last boundary."""
    lo, hi = boundaries
    if len(supply_point_key) == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int32)
    if fetched is not None:
        current = fetched.filter(pc.greater_equal(fetched.column("slot"), lo - 1))
    else:
        keys = supply_point_key[run_starts(supply_point_key)]
        current = tx.current_versions(keys, lo - 1, hi)
    if current.num_rows == 0:
        return np.arange(len(vals)), np.ones(len(vals), dtype=np.int32)
    span = hi - lo + 3
    current_keys = int_column(current, "supply_point_key") * span + (
        int_column(current, "slot") - lo + 1
    )
    value_keys = supply_point_key * span + (vals.slot - lo + 1)
    i = np.minimum(np.searchsorted(current_keys, value_keys), len(current_keys) - 1)
    found = current_keys[i] == value_keys
    # stored quality names as codes (-1: a name not in QUALITIES) for integer comparisons
    codes = pc.fill_null(pc.index_in(current.column("quality"), value_set=pa.array(QUALITIES)), -1)
    quality = np.asarray(codes.to_numpy(), dtype=np.int64)[i]
    import_null, export_null = vals.quality == Q_INVALID, ~vals.export_valid
    export_null |= import_null
    same = found & (quality == vals.quality)
    same &= (~valid_mask(current, "import_wh")[i]) == import_null
    same &= import_null | (int_column(current, "import_wh")[i] == vals.import_wh)
    same &= (~valid_mask(current, "export_wh")[i]) == export_null
    same &= export_null | (int_column(current, "export_wh")[i] == vals.export_wh)
    edited = found & (quality == QUALITIES.index("edited"))
    add = np.flatnonzero(~same & ~edited)
    version = np.where(found, int_column(current, "version")[i], 0)[add] + 1
    return add, version.astype(np.int32)
