"""Saving and loading the tick state (:mod:`openami.mdms.tick_cache`) across restarts.

Built from stored rows, the state of a national fleet costs a first tick of 100-140 s
against about 50 s for a warm one. Saved on shutdown (and periodically) with a tag — the
interval store's count of committed writes (:meth:`DuckIntervalStore.durable_writes`) and a
fingerprint of the VEE parameters — it is loaded at the next start when the tag still
matches: nothing was written to the store since, and the rules that shaped the facts are the
same. Otherwise it is dropped and the first tick builds the state as before; a stale or
damaged snapshot costs time, never correctness.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.mdms.columns import int_column
from openami.mdms.tick_cache import ROW_DTYPES, WIDE_DTYPES, TickCache, TickRows, put
from openami.mdms.vee_config import VeeConfig
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.tick_snapshot import (
    SnapshotReader,
    SnapshotUnreadable,
    open_snapshot,
    remove_snapshot,
    save_snapshot,
)

#: the snapshot's file name in a data directory
TICK_STATE_FILE = "tick_state.arrow"


@dataclass(frozen=True)
class TickStateLoad:
    """What :func:`load_tick_state` did: ``loaded`` rows, or why not."""

    loaded: bool
    meters: int
    reason: str


def vee_fingerprint(vee: VeeConfig) -> str:
    """A short digest of the VEE parameters (rules, thresholds, defaults)."""
    return hashlib.sha256(repr(vee).encode()).hexdigest()[:16]


def save_tick_state(
    cache: TickCache, store: DuckIntervalStore, vee: VeeConfig, path: Path
) -> int | None:
    """Save the state when it is in step with the store; bytes written, or None (nothing
    worth saving: no rows, or out of step — then an older snapshot is removed too, as it
    cannot match the store any more)."""
    with store.locked():  # no write between reading the count and the rows
        if not cache.in_step_with(store.generation):
            remove_snapshot(path)
            return None
        rows = cache.rows
        table = pa.table({f.name: getattr(rows, f.name) for f in fields(TickRows)})
        tag = {"store_writes": store.durable_writes(), "vee": vee_fingerprint(vee)}
        return save_snapshot(path, table, tag)


def load_tick_state(
    cache: TickCache, store: DuckIntervalStore, vee: VeeConfig, path: Path
) -> TickStateLoad:
    """Load the snapshot at ``path`` into ``cache`` when its tag matches the store."""
    try:
        snapshot = open_snapshot(path)
    except SnapshotUnreadable as exc:
        return TickStateLoad(False, 0, str(exc))
    if snapshot is None:
        return TickStateLoad(False, 0, "no snapshot")
    with snapshot, store.locked():
        writes = store.durable_writes()
        if snapshot.tag.get("store_writes") != writes:
            return TickStateLoad(False, 0, "the store was written after the snapshot")
        if snapshot.tag.get("vee") != vee_fingerprint(vee):
            return TickStateLoad(False, 0, "the VEE parameters changed")
        try:
            rows = _rows_of(snapshot)
        except SnapshotUnreadable as exc:
            return TickStateLoad(False, 0, str(exc))
        if rows is None:
            return TickStateLoad(False, 0, "the snapshot's columns do not match")
        cache.adopt(rows, store.generation)
    return TickStateLoad(True, len(rows), "loaded")


def mark_missing_in_step(
    store: DuckIntervalStore,
    cache: TickCache | None,
    installations: pa.Table,
    slots: tuple[int, int],
    recorded_at: float,
) -> int:
    """Missing marks for the slots ``first..last`` (see
    :meth:`DuckIntervalStore.mark_missing`), keeping ``cache`` in step: the marks are
    versions, so the rows of the marked supply points learn them; values marked."""
    with store.locked():
        before = store.generation
        marked = store.mark_missing_points(installations, slots[0], slots[1], recorded_at)
        if cache is not None:
            cache.absorb_versions(
                before,
                store.generation,
                int_column(marked, "supply_point_key"),
                int_column(marked, "last_slot"),
            )
    return int(pc.sum(marked.column("marked")).as_py() or 0)


def _rows_of(snapshot: SnapshotReader) -> TickRows | None:
    """Writable NumPy columns filled batch by batch (one batch of the file in memory beside
    the rows), or None if any column is missing, of another type or has nulls; meters must
    be sorted, as the cache requires."""
    names = [f.name for f in fields(TickRows)]
    for name in names:
        if snapshot.schema.get_field_index(name) < 0:
            return None
        allowed = {pa.from_numpy_dtype(np.dtype(t[name])) for t in (ROW_DTYPES, WIDE_DTYPES)}
        if snapshot.schema.field(name).type not in allowed:
            return None
    n = snapshot.num_rows
    columns: dict[str, np.ndarray] = {name: np.empty(n, dtype=ROW_DTYPES[name]) for name in names}
    at = 0
    for batch in snapshot.batches():
        end = at + batch.num_rows
        if end > n:
            return None
        for name in names:
            column = batch.column(name)
            if column.null_count:
                return None
            put(columns, name, slice(at, end), column.to_numpy(zero_copy_only=False))
        at = end
    if at != n:
        return None
    meters = columns["meter_id"]
    if len(meters) > 1 and not bool(np.all(meters[1:] > meters[:-1])):
        return None
    return TickRows(**columns)
