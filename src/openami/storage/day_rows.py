"""The physical layout of a day row: one supply point's JST day in one ``day_rows`` row.

A day row holds the meter, the read at the day's first boundary (``prev_*_register_wh``),
the 48 reads that end the day's slots as ``BIGINT[48]`` lists and the 48 values (version 1)
with their quality codes and flags. Where all 48 values are measured, unflagged register
differences at multiplier 1 — nearly every row — the value lists are NULL and the views
(:mod:`openami.storage.duckdb_interval`) derive the values from the registers, so a day costs
the store its reads and little more. Writers: the dense VEE ingest (``openami.mdms.grid``)
and the packing of closed A-route days (:mod:`openami.storage.day_pack`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from openami.bus.messages import QCODE_NONE, Quality
from openami.clock import SLOTS_PER_DAY

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]
U32 = npt.NDArray[np.uint32]


@dataclass
class OpeningReads:
    """Per row: the read at the day's first boundary (closing the day before)."""

    import_register_wh: I64
    export_register_wh: I64
    present: BoolArr  # the read is there
    export_present: BoolArr  # … with an export register


@dataclass
class DayGrids:
    """A dense part's meter-days as (row × 48) grids, to be stored as day rows.

    Presence masks are ``None`` where every cell has its read; ``export_ok is has_value``
    and ``export_present is present`` (the same objects) say that export follows import."""

    supply_point_key: I64
    day_first_slot: I64
    meter_id: I64
    received_at_s: npt.NDArray[np.float64]  # per row: one receipt time …
    source: npt.NDArray[np.uint8]  # … and source for the row's reads
    opening: OpeningReads
    import_register_wh: I64  # the reads at the 48 boundaries that end the slots
    export_register_wh: I64
    present: BoolArr | None
    export_present: BoolArr | None
    import_wh: I64  # the values (meaningless where there is none)
    export_wh: I64
    has_value: BoolArr  # both ends of the slot were read
    export_ok: BoolArr  # … with export registers
    invalid: BoolArr
    vee_flags: U32
    #: rows whose values the view can derive: 48 measured, unflagged differences at
    #: multiplier 1 (their export values are checked here)
    derivable: BoolArr


def day_rows_table(grids: DayGrids) -> pa.Table | None:
    """The rows to append (``None`` if an explicit value does not fit 32 bits), ordered by
    (supply point, day) so that zone maps find a supply point even where meter and supply
    point numbers are unrelated. Value lists are NULL where the view derives every value."""
    no_export = _rows_without_export(grids)
    derivable = _derivable(grids, no_export)
    listed = np.flatnonzero(~derivable)
    has, invalid = grids.has_value[listed], grids.invalid[listed]
    imp_null = ~has | invalid
    exp_null = imp_null | ~grids.export_ok[listed]
    imp = np.where(imp_null, 0, grids.import_wh[listed])
    exp = np.where(exp_null, 0, grids.export_wh[listed])
    if over_32_bits(imp) or over_32_bits(exp):
        return None
    quality = np.where(invalid, int(Quality.INVALID), int(Quality.MEASURED)).astype(np.uint8)
    quality[~has] = QCODE_NONE
    lists = ValueLists(derivable)
    opening = grids.opening
    valued = grids.has_value & ~grids.invalid
    top = np.where(valued, grids.import_wh, np.iinfo(np.int64).min).max(axis=1)
    table = pa.table(
        {
            "supply_point_key": pa.array(grids.supply_point_key, pa.int64()),
            "day_first_slot": pa.array(grids.day_first_slot, pa.int64()),
            "meter_id": pa.array(grids.meter_id, pa.int64()),
            "prev_import_register_wh": pa.array(
                opening.import_register_wh, pa.int64(), mask=~opening.present
            ),
            "prev_export_register_wh": pa.array(
                opening.export_register_wh, pa.int64(), mask=~opening.export_present
            ),
            "import_register_wh": register_lists(grids.import_register_wh, grids.present),
            "export_register_wh": register_lists(
                grids.export_register_wh, grids.export_present, no_export
            ),
            "import_wh": lists.of(imp, pa.int32(), ~imp_null),
            "export_wh": lists.of(exp, pa.int32(), ~exp_null),
            "qcode": lists.of(quality, pa.uint8(), None),
            "vee_flags": lists.of(grids.vee_flags[listed], pa.uint32(), None),
            "received_at": pa.array(grids.received_at_s, pa.float64()),
            "source": pa.array(grids.source, pa.uint8()),
            "max_import_wh": pa.array(top, pa.int64(), mask=~valued.any(axis=1)),
        }
    )
    order = np.lexsort((grids.day_first_slot, grids.supply_point_key))
    return table if bool(np.all(order[1:] > order[:-1])) else table.take(order)


def _rows_without_export(grids: DayGrids) -> BoolArr:
    """Rows whose reads have no export register (every row has a read)."""
    if grids.export_present is not None and grids.export_present is not grids.present:
        return np.asarray(~grids.export_present.any(axis=1), dtype=np.bool_)
    return np.zeros(len(grids.supply_point_key), dtype=np.bool_)


def _derivable(grids: DayGrids, no_export: BoolArr) -> BoolArr:
    """A derivable row is full: it needs every export value as well (or no export)."""
    if grids.export_ok is grids.has_value:
        return grids.derivable
    rows = np.flatnonzero(grids.derivable)
    derivable = grids.derivable.copy()
    derivable[rows] = no_export[rows] | grids.export_ok[rows].all(axis=1)
    return derivable


class ValueLists:
    """Per-row value lists: NULL for the derivable rows, 48 values for the others."""

    def __init__(self, derivable: BoolArr) -> None:
        sizes = np.where(derivable, 0, SLOTS_PER_DAY)
        self.offsets = pa.array(np.append(0, np.cumsum(sizes)), pa.int32())
        self.row_null = pa.array(derivable)

    def of(
        self, values: npt.NDArray[np.generic], type_: pa.DataType, valid: BoolArr | None
    ) -> pa.Array:
        """The lists of the listed rows' ``values`` (rows × 48), ``valid`` (None: all) as
        the elements' validity."""
        child = with_validity(values, type_, valid)
        return pa.ListArray.from_arrays(self.offsets, child, mask=self.row_null)


def register_lists(
    registers: I64, valid: BoolArr | None, row_null: BoolArr | None = None
) -> pa.Array:
    """(rows × 48) registers as ``BIGINT[48]`` lists, ``valid`` (None: all) as the
    elements' validity and ``row_null`` (None: none) as the rows'."""
    child = with_validity(registers, pa.int64(), valid)
    if row_null is None or not row_null.any():
        return pa.FixedSizeListArray.from_arrays(child, SLOTS_PER_DAY)
    return pa.FixedSizeListArray.from_arrays(child, SLOTS_PER_DAY, mask=pa.array(row_null))


def over_32_bits(values: I64) -> bool:
    return bool(values.size) and (int(values.min()) < -(2**31) or int(values.max()) >= 2**31)


def with_validity(
    values: npt.NDArray[np.generic], type_: pa.DataType, valid: BoolArr | None
) -> pa.Array:
    """A flat Arrow array of ``values`` (cast to ``type_``) with ``valid`` as its validity,
    bit-packed in one pass (``None``: no nulls)."""
    flat = np.ascontiguousarray(values, dtype=type_.to_pandas_dtype()).ravel()
    nulls = 0 if valid is None else valid.size - int(np.count_nonzero(valid))
    if nulls == 0:
        return pa.array(flat, type_)
    assert valid is not None
    bits = np.packbits(valid.ravel(), bitorder="little")
    return pa.Array.from_buffers(
        type_, len(flat), [pa.py_buffer(bits), pa.py_buffer(flat)], null_count=nulls
    )
