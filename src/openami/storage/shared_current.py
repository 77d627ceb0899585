"""Current values from the shared interval store in the columns of ``Mdms.current_values``.

A hub replica (``openami serve hub``) cannot open the MDMS workers' DuckDB files; it reads
the values they publish to the shared interval store (:mod:`.shared_read`) instead. The
shared store keeps, per slot, what a reader needs to serve a value (import and export Wh,
quality code, version, VEE flags, final) and not the provenance columns of the MDMS's own
store: ``method``, ``recorded_at``, ``reason`` and ``edited_by`` come back empty (the API's
``updated_at`` is then null).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake.exceptions import TableNotFoundError

from openami.bus.messages import QUALITY_NAMES
from openami.storage.point_read import CURRENT_VALUES_SCHEMA, INVALID_CODE
from openami.storage.shared_read import SharedValuesReader

_QUALITY_BY_CODE = pa.array(QUALITY_NAMES, pa.string())
_EMPTY = ("method", "recorded_at", "reason", "edited_by")


def as_current_values(rows: pa.Table) -> pa.Table:
    """Reader rows (slot, import_wh, export_wh, qcode, version, vee_flags, final) as
    :data:`CURRENT_VALUES_SCHEMA`, by slot."""
    stored = pc.fill_null(rows.column("qcode"), INVALID_CODE).cast(pa.int64())
    codes = pc.if_else(pc.less(stored, len(QUALITY_NAMES)), stored, INVALID_CODE)
    present = set(rows.column_names)
    columns = {n: rows.column(n) for n in CURRENT_VALUES_SCHEMA.names if n in present}
    columns["quality"] = _QUALITY_BY_CODE.take(codes)
    for name in _EMPTY:
        columns[name] = pa.nulls(rows.num_rows, CURRENT_VALUES_SCHEMA.field(name).type)
    return pa.table(
        [columns[name] for name in CURRENT_VALUES_SCHEMA.names], schema=CURRENT_VALUES_SCHEMA
    )


def shared_current_values(
    reader: SharedValuesReader, supply_point_key: int, first_slot: int, last_slot: int
) -> pa.Table:
    """One point's current values in ``[first_slot, last_slot]`` (as ``Mdms.current_values``);
    none before any MDMS worker has published (the table does not exist yet)."""
    try:
        rows = reader.current_values(supply_point_key, first_slot, last_slot)
    except TableNotFoundError:
        return CURRENT_VALUES_SCHEMA.empty_table()
    return as_current_values(rows)


def shared_values_of_points(
    reader: SharedValuesReader, supply_point_keys: Sequence[int], first_slot: int, last_slot: int
) -> pa.Table:
    """Many points' current values with a leading ``supply_point_key``, by point and slot."""
    parts = []
    for key in sorted(set(supply_point_keys)):
        values = shared_current_values(reader, key, first_slot, last_slot)
        keys = pa.array(np.full(values.num_rows, key, dtype=np.int64))
        parts.append(values.add_column(0, "supply_point_key", keys))
    if not parts:
        schema = pa.schema([("supply_point_key", pa.int64()), *CURRENT_VALUES_SCHEMA])
        return schema.empty_table()
    return pa.concat_tables(parts)
