"""Arrow columns as NumPy arrays for the VEE ingest (zero-copy where there are no nulls)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]


def int_column(table: pa.Table, name: str) -> I64:
    """A column as int64, nulls as 0 (copied only where there are nulls)."""
    col = table.column(name)
    if col.null_count:
        col = pc.fill_null(col, 0)
    return np.asarray(col.to_numpy(), dtype=np.int64)


def float_column(table: pa.Table, name: str) -> npt.NDArray[np.float64]:
    """A column as float64, nulls as 0."""
    col = table.column(name)
    if col.null_count:
        col = pc.fill_null(col, 0.0)
    return np.asarray(col.to_numpy(), dtype=np.float64)


def valid_mask(table: pa.Table, name: str) -> BoolArr:
    """Where a column is not null."""
    return np.asarray(table.column(name).is_valid().to_numpy(zero_copy_only=False), np.bool_)


def valid_or_none(table: pa.Table, name: str) -> BoolArr | None:
    """Where a column is not null, ``None`` when it has no nulls."""
    if table.column(name).null_count == 0:
        return None
    return valid_mask(table, name)


def usable_values(versions: pa.Table) -> BoolArr:
    """Stored versions V08 and V07 low look at: an import, quality measured, estimated or
    edited."""
    usable = pc.is_in(
        versions.column("quality"), value_set=pa.array(["measured", "estimated", "edited"])
    )
    return valid_mask(versions, "import_wh") & np.asarray(
        pc.fill_null(usable, False).to_numpy(zero_copy_only=False), dtype=np.bool_
    )


def is_sorted(values: npt.NDArray[Any], strictly: bool = False) -> bool:
    """Whether ``values`` are in ascending order (each once with ``strictly``)."""
    if len(values) < 2:
        return True
    if strictly:
        return bool(np.all(values[1:] > values[:-1]))
    return bool(np.all(values[1:] >= values[:-1]))


def sorted_unique(values: I64) -> I64:
    """``np.unique`` of integers, cheaper when they are already in order (``np.unique``
    hashes, which costs more than checking sorted keys)."""
    if is_sorted(values, strictly=True):
        return values
    if is_sorted(values):
        return values[np.r_[True, values[1:] != values[:-1]]]
    return np.unique(values)


def run_starts(*cols: npt.NDArray[np.generic]) -> BoolArr:
    """Where a run of equal rows (over all ``cols``) begins."""
    n = len(cols[0])
    first = np.ones(n, dtype=np.bool_)
    if n > 1:
        diff = np.zeros(n - 1, dtype=np.bool_)
        for c in cols:
            diff |= c[1:] != c[:-1]
        first[1:] = diff
    return first
