"""The values of one slot for a slot-file pass: every audience point with its current
value, as columns.

The versions of the slot are read as they are stored (``hh_slots``: one row per version,
only the columns a file holds, recorded up to the pass's instant), and the current one of
each point is picked here with NumPy: the highest version, with all its columns (the rule
of :func:`~openami.storage.current_values_sql.current_versions_sql`, which
``tests/storage/test_slot_files_values.py`` checks this against on random versions). At
national size (81.5 million points) the SQL rule's hash aggregation over every point of
the slot costs several times the whole file write; here the supply point key indexes a
dense array, and the audience (supply point ID, retailer code) is joined by position
instead of carrying 22-character IDs through the database. No Python object per point.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_reads import read_query

_TS = pa.timestamp("ms", tz="UTC")
#: an audience this small is filtered in the database (a third party's consented points)
SMALL_AUDIENCE = 200_000
#: a key range up to this many times the rows is indexed densely (else keys are ranked)
_DENSE_FACTOR = 4

_VERSIONS = """
SELECT supply_point_key, version, import_wh, export_wh, quality, recorded_at
FROM hh_slots($slot, $slot) WHERE recorded_at <= $as_of
"""
_CHANGED = """
 AND supply_point_key IN (SELECT supply_point_key FROM hh_slots($slot, $slot)
                          WHERE recorded_at >= $changed_after AND recorded_at <= $as_of)"""
_IN_AUDIENCE = " AND supply_point_key IN (SELECT supply_point_key FROM aud)"


def read_versions(
    store: DuckIntervalStore,
    slot: int,
    as_of_s: float,
    changed_after_s: float | None,
    audience_keys: pa.Table | None,
) -> pa.Table:
    """The slot's versions recorded up to ``as_of_s``: of the points with a version
    recorded since ``changed_after_s`` only (a correction), of the points in
    ``audience_keys`` only (a small audience), else of every point."""
    sql = _VERSIONS
    params: dict[str, object] = {"slot": int(slot), "as_of": float(as_of_s)}
    tables: dict[str, pa.Table] = {}
    if changed_after_s is not None:
        sql += _CHANGED
        params["changed_after"] = float(changed_after_s)
    if audience_keys is not None:
        sql += _IN_AUDIENCE
        tables["aud"] = audience_keys
    return read_query(store, sql, params, **tables)


def current_rows(keys: np.ndarray, versions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The current version of each key: (the keys that have one, ascending; the row of
    each one's highest version). Versions of one key are distinct (the store numbers
    them)."""
    index, row = _current_by_index(keys, versions)
    present = row >= 0
    return index[present], row[present]


def _current_by_index(keys: np.ndarray, versions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the keys of a dense index, ascending; the row of each one's highest version, -1
    where it has none)."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    dense, index = _key_index(keys)
    numbers = versions.astype(np.int64) + 1  # 0: no version
    highest = np.zeros(len(index), np.int64)
    np.maximum.at(highest, dense, numbers)
    current = np.flatnonzero(numbers == highest[dense])
    row = np.full(len(index), -1, np.int64)
    row[dense[current]] = current
    return index, row


def _key_index(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each key's slot in a dense index, the key of every slot): the key itself less the
    smallest when the keys are dense enough, else the key's rank."""
    low, high = int(keys.min()), int(keys.max())
    if high - low < _DENSE_FACTOR * len(keys) + 1024:
        return keys - low, np.arange(low, high + 1, dtype=np.int64)
    index, dense = np.unique(keys, return_inverse=True)
    return dense.astype(np.int64), index


def _rows_of(index: np.ndarray, row: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The current row of each ``wanted`` key (-1: none): by offset when ``index`` is a
    whole key range, else by binary search."""
    if len(index) == 0:
        return np.full(len(wanted), -1, np.int64)
    if int(index[-1]) - int(index[0]) + 1 == len(index):
        offset = wanted - index[0]
        inside = (offset >= 0) & (offset < len(index))
        out = np.full(len(wanted), -1, np.int64)
        out[inside] = row[offset[inside]]
        return out
    where = np.minimum(np.searchsorted(index, wanted), len(index) - 1)
    return np.where(index[where] == wanted, row[where], -1)


def join_audience(slot: int, audience: pa.Table, versions: pa.Table) -> pa.Table:
    """Every audience row in supply point key order (``recipient``, ``supply_point_key``,
    ``supply_point_id``) with the slot start and its point's current value (nulls where
    the point has none)."""
    aud_keys = np.asarray(audience.column("supply_point_key").to_numpy(), dtype=np.int64)
    if len(aud_keys) > 1 and not bool(np.all(aud_keys[1:] >= aud_keys[:-1])):
        order = np.argsort(aud_keys, kind="stable")
        audience = audience.take(pa.array(order))
        aud_keys = aud_keys[order]
    keys = np.asarray(versions.column("supply_point_key").to_numpy(), dtype=np.int64)
    numbers = np.asarray(versions.column("version").to_numpy(), dtype=np.int64)
    row_of = _rows_of(*_current_by_index(keys, numbers), aud_keys)
    found = row_of >= 0
    picked = versions.take(pa.array(np.where(found, row_of, 0), mask=~found))
    recorded_us = pc.round(pc.multiply(picked.column("recorded_at"), 1_000_000.0))
    recorded_ms = pc.divide(pc.cast(recorded_us, pa.int64()), 1000)
    return pa.table(
        {
            "recipient": audience.column("recipient").cast(pa.int32()),
            "supply_point_key": audience.column("supply_point_key"),
            "supply_point_id": audience.column("supply_point_id"),
            "slot_start": pa.array(np.full(len(aud_keys), int(slot) * 1_800_000), _TS),
            "import_wh": picked.column("import_wh").cast(pa.int64()),
            "export_wh": picked.column("export_wh").cast(pa.int64()),
            "quality": picked.column("quality").cast(pa.string()),
            "version": picked.column("version").cast(pa.int32()),
            "recorded_at": recorded_ms.cast(_TS),
        }
    )
