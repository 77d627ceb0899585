"""Current values for a process that has no working store of its own: from the shared
interval store (``storage/shared_read.py``), in the columns of the MDMS's one rule of "the
current value" (:data:`openami.storage.point_read.CURRENT_VALUES_SCHEMA`).

A hub or dashboard process of the multi-process deployment (``openami serve hub
--shared-values URI``) gives its :class:`openami.mdms.Mdms` one of these
(``Mdms.values_source``): the values the MDMS workers published are then what its API and
dashboard serve, seconds after the workers committed them. The shared table holds each
version's value, quality code, version, VEE flags and finality; how it was made (method,
editor, reason, recording time) stays in the workers' stores, so those columns are empty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake.exceptions import TableNotFoundError

from openami.bus.messages import QUALITY_NAMES
from openami.storage.point_read import CURRENT_VALUES_SCHEMA
from openami.storage.shared_read import SharedValuesReader


class SharedCurrentValues:
    """``current_values(key, first_slot, last_slot)`` read from the shared store at ``uri``."""

    def __init__(self, uri: str | Path, refresh_s: float = 1.0) -> None:
        self.reader = SharedValuesReader(uri, refresh_s)

    def __call__(self, supply_point_key: int, first_slot: int, last_slot: int) -> pa.Table:
        try:
            found = self.reader.current_values(supply_point_key, first_slot, last_slot)
        except TableNotFoundError:  # no worker has published yet: no values yet
            return CURRENT_VALUES_SCHEMA.empty_table()
        n = found.num_rows
        codes = found.column("qcode").to_numpy(zero_copy_only=False).astype(np.int64)
        names = np.array([*QUALITY_NAMES, "invalid"], dtype=object)
        known = np.where(codes < len(QUALITY_NAMES), codes, len(QUALITY_NAMES))
        return pa.table(
            {
                "slot": found.column("slot").cast(pa.int64()),
                "import_wh": found.column("import_wh").cast(pa.int64()),
                "export_wh": found.column("export_wh").cast(pa.int64()),
                "quality": pa.array(names[known].tolist() if n else [], pa.string()),
                "method": pa.nulls(n, pa.string()),
                "vee_flags": found.column("vee_flags").cast(pa.int32()),
                "final": found.column("final").cast(pa.bool_()),
                "version": found.column("version").cast(pa.int32()),
                "recorded_at": pa.nulls(n, pa.float64()),
                "reason": pa.array([""] * n, pa.string()),
                "edited_by": pa.nulls(n, pa.string()),
            },
            schema=CURRENT_VALUES_SCHEMA,
        )
