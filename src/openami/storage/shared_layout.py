"""The shared interval store's table layout: one Delta Lake table, two row shapes.

Partitioned by ``day`` (the JST day of the slot, ``date``) and ``shape``:

- ``shape=tick``: value versions as the MDMS workers publish them, one row each, with the
  columns of ``bus.messages.PUBLISHED_VALUE_SCHEMA`` (each commit a small file sorted by
  supply point and slot);
- ``shape=day``: compacted day rows, one per supply point and day, sorted by supply point,
  with the current version of each of the 48 slots in list columns (``*_48``; the scalar
  value columns are NULL, ``slot`` is the day's first slot). Slots without any version have
  ``qcode`` ``QCODE_NONE`` and NULL values and version;
- ``shape=win``: copies of the day rows of several days, sorted by supply point and day
  (``storage/shared_windows.py``): what a point query reads. ``day`` is the window's first
  day, ``partition`` names the day file each row was copied from.

The current value of a slot is its highest version over both shapes: a reader may see a
day file and the tick rows it was made from at the same moment (never, within one
snapshot, as compaction swaps them in one commit) and still answers the same.
This module converts between the shapes in NumPy/Arrow (no Python object per value).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import PUBLISHED_VALUE_SCHEMA, QCODE_NONE
from openami.clock import SLOTS_PER_DAY
from openami.clock.slots import JST_OFFSET_SLOTS

SHAPE_TICK = "tick"
SHAPE_DAY = "day"
#: point-major copies of day rows over several days (``storage/shared_windows.py``)
SHAPE_WINDOW = "win"
PARTITION_BY = ["day", "shape"]

#: Delta Lake has no unsigned types: quality codes (0 … ``QCODE_NONE`` = 255) are stored as
#: 16-bit integers and read back as ``uint8``
QCODE_STORED = pa.int16()
#: the per-slot columns of a day row, and their element types
DAY_LISTS: tuple[tuple[str, pa.DataType], ...] = (
    ("import_wh_48", pa.int32()),
    ("export_wh_48", pa.int32()),
    ("qcode_48", QCODE_STORED),
    ("version_48", pa.int32()),
    ("vee_flags_48", pa.int32()),
    ("final_48", pa.bool_()),
)
#: the columns the current value of a slot has (what readers return, by slot or point)
CURRENT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("import_wh", pa.int64()),
    ("export_wh", pa.int64()),
    ("qcode", pa.uint8()),
    ("version", pa.int32()),
    ("vee_flags", pa.int32()),
    ("final", pa.bool_()),
)
TABLE_SCHEMA = pa.schema(
    [
        *(
            pa.field(f.name, QCODE_STORED) if f.name == "qcode" else f
            for f in PUBLISHED_VALUE_SCHEMA
        ),
        pa.field("shape", pa.string()),
        *(pa.field(name, pa.list_(kind)) for name, kind in DAY_LISTS),
    ]
)
I64 = npt.NDArray[np.int64]


def jst_day_numbers(slots: I64) -> I64:
    """Days since 1970-01-01 of the JST day of each slot (Arrow ``date32`` values)."""
    return (np.asarray(slots, dtype=np.int64) + JST_OFFSET_SLOTS) // SLOTS_PER_DAY


def first_slot_of_day_number(day_number: int) -> int:
    return day_number * SLOTS_PER_DAY - JST_OFFSET_SLOTS


def tick_rows(versions: pa.Table, partition: str) -> pa.Table:
    """Value versions (the published columns but ``partition`` and ``day``) as tick rows of
    the table, sorted by supply point, slot and version."""
    n = versions.num_rows
    days = jst_day_numbers(versions.column("slot").to_numpy(zero_copy_only=False))
    columns: dict[str, pa.Array] = {
        "partition": pa.array(np.full(n, partition, dtype=object), pa.string()),
        "day": pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32()),
    }
    for field in TABLE_SCHEMA:
        if field.name in PUBLISHED_VALUE_SCHEMA.names and field.name not in columns:
            columns[field.name] = pc.cast(versions.column(field.name), field.type)
    columns["shape"] = pa.array(np.full(n, SHAPE_TICK, dtype=object), pa.string())
    for name, kind in DAY_LISTS:
        columns[name] = pa.nulls(n, pa.list_(kind))
    table = pa.table(columns, schema=TABLE_SCHEMA)
    return table.sort_by([("supply_point_key", "ascending"), ("slot", "ascending")])


def explode_day_rows(rows: pa.Table) -> pa.Table:
    """Day rows → one row per (supply point, slot) that has a version: supply_point_key,
    slot and the :data:`CURRENT_COLUMNS`."""
    n = rows.num_rows
    if n == 0:
        return _empty_current(with_key=True)
    keys = np.repeat(rows.column("supply_point_key").to_numpy(zero_copy_only=False), SLOTS_PER_DAY)
    first = rows.column("slot").to_numpy(zero_copy_only=False)
    slots = (first[:, None] + np.arange(SLOTS_PER_DAY)[None, :]).reshape(-1)
    flat = {name: pc.list_flatten(rows.column(name)) for name, _ in DAY_LISTS}
    present = pc.not_equal(flat["qcode_48"], QCODE_NONE)
    table = pa.table(
        {
            "supply_point_key": keys,
            "slot": slots,
            **{name: pc.cast(flat[f"{name}_48"], kind) for name, kind in CURRENT_COLUMNS},
        }
    )
    return table.filter(present)


def latest_versions(values: pa.Table) -> pa.Table:
    """The highest version of each (supply point, slot), sorted by supply point and slot
    (``values``: supply_point_key, slot, :data:`CURRENT_COLUMNS`)."""
    if values.num_rows == 0:
        return values
    key = values.column("supply_point_key").to_numpy(zero_copy_only=False)
    slot = values.column("slot").to_numpy(zero_copy_only=False)
    version = pc.fill_null(values.column("version"), 0).to_numpy(zero_copy_only=False)
    order = np.lexsort((-version.astype(np.int64), slot, key))
    k, s = key[order], slot[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (k[1:] != k[:-1]) | (s[1:] != s[:-1])
    return values.take(pa.array(order[first]))


def day_rows(current: pa.Table, day_number: int) -> pa.Table:
    """Current values (one per supply point and slot of one day, sorted by supply point and
    slot, as :func:`latest_versions` gives) → day rows of the table, by supply point."""
    key = current.column("supply_point_key").to_numpy(zero_copy_only=False)
    first_slot = first_slot_of_day_number(day_number)
    pos = current.column("slot").to_numpy(zero_copy_only=False) - first_slot
    if len(pos) and (pos.min() < 0 or pos.max() >= SLOTS_PER_DAY):
        raise ValueError("values outside the day given to day_rows")
    keys, row = np.unique(key, return_inverse=True)
    n = len(keys)
    cell = row * SLOTS_PER_DAY + pos
    columns: dict[str, pa.Array] = {
        "partition": pa.nulls(n, pa.string()),
        "day": pa.array(np.full(n, day_number, dtype=np.int32), pa.int32()).cast(pa.date32()),
        "supply_point_key": pa.array(keys, pa.int64()),
        "slot": pa.array(np.full(n, first_slot, dtype=np.int64), pa.int64()),
    }
    for field in TABLE_SCHEMA:
        if field.name in PUBLISHED_VALUE_SCHEMA.names and field.name not in columns:
            columns[field.name] = pa.nulls(n, field.type)
    columns["shape"] = pa.array(np.full(n, SHAPE_DAY, dtype=object), pa.string())
    for (name, kind), (source, _) in zip(DAY_LISTS, CURRENT_COLUMNS, strict=True):
        columns[name] = _grid_lists(current.column(source), cell, n, kind, source == "qcode")
    return pa.table(columns, schema=TABLE_SCHEMA)


def _grid_lists(
    values: pa.ChunkedArray, cell: I64, rows: int, kind: pa.DataType, is_qcode: bool
) -> pa.Array:
    """``values`` placed at ``cell`` of a (rows × 48) grid, as ``rows`` lists of 48."""
    size = rows * SLOTS_PER_DAY
    flat = pc.cast(values.combine_chunks(), kind)
    if is_qcode:
        grid = np.full(size, QCODE_NONE, dtype=np.int16)
        grid[cell] = pc.fill_null(flat, QCODE_NONE).to_numpy(zero_copy_only=False)
        elements = pa.array(grid, kind)
    else:
        valid = np.zeros(size, dtype=bool)
        valid[cell] = flat.is_valid().to_numpy(zero_copy_only=False)
        dense = np.zeros(size, dtype=kind.to_pandas_dtype())
        filled = pc.fill_null(flat, False if kind == pa.bool_() else 0)
        dense[cell] = filled.to_numpy(zero_copy_only=False)
        elements = pa.array(dense, kind, mask=~valid)
    offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * SLOTS_PER_DAY, pa.int32())
    return pa.ListArray.from_arrays(offsets, elements)


def _empty_current(with_key: bool) -> pa.Table:
    fields = [("supply_point_key", pa.int64())] if with_key else []
    fields += [("slot", pa.int64()), *CURRENT_COLUMNS]
    return pa.schema(fields).empty_table()


def empty_current(with_key: bool = True) -> pa.Table:
    """An empty table of current values (``supply_point_key`` optional)."""
    return _empty_current(with_key)


def measured_day_rows(
    keys: I64, day_number: int, import_wh: np.ndarray, export_wh: np.ndarray
) -> pa.Table:
    """Day rows of measured version-1 values given as (points × 48) matrices (bulk loads,
    benchmarks); ``keys`` sorted."""
    n = len(keys)
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * SLOTS_PER_DAY, pa.int32())

    def lists(flat: np.ndarray, kind: pa.DataType) -> pa.Array:
        return pa.ListArray.from_arrays(offsets, pa.array(flat.reshape(-1), kind))

    size = n * SLOTS_PER_DAY
    columns: dict[str, pa.Array] = {
        "day": pa.array(np.full(n, day_number, dtype=np.int32), pa.int32()).cast(pa.date32()),
        "supply_point_key": pa.array(keys, pa.int64()),
        "slot": pa.array(np.full(n, first_slot_of_day_number(day_number)), pa.int64()),
        "shape": pa.array(np.full(n, SHAPE_DAY, dtype=object), pa.string()),
        "import_wh_48": lists(import_wh.astype(np.int32), pa.int32()),
        "export_wh_48": lists(export_wh.astype(np.int32), pa.int32()),
        "qcode_48": lists(np.zeros(size, dtype=np.int16), QCODE_STORED),
        "version_48": lists(np.ones(size, dtype=np.int32), pa.int32()),
        "vee_flags_48": lists(np.zeros(size, dtype=np.int32), pa.int32()),
        "final_48": lists(np.zeros(size, dtype=bool), pa.bool_()),
    }
    return pa.table(
        [columns.get(f.name, pa.nulls(n, f.type)) for f in TABLE_SCHEMA], schema=TABLE_SCHEMA
    )
