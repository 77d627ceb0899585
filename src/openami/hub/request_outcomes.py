"""Command outcomes (rows of ``hes.commands``) as the request service reads them."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pyarrow as pa

#: (correlation ID, state, completed at [s], import [Wh], export [Wh], clock offset [s])
Outcome = tuple[int, int, float, int, int, float]


def outcome_rows(table: pa.Table, positions: npt.NDArray[np.int64]) -> list[Outcome]:
    """The outcomes at ``positions`` of a ``COMMAND_SCHEMA`` table (registers -1 and the
    offset NaN where the command read none)."""
    rows = table.take(pa.array(positions, pa.int64()))

    def column(name: str, fill: float) -> list[float]:
        return [fill if v is None else v for v in rows.column(name).to_pylist()]

    return list(
        zip(
            [int(v) for v in column("correlation_id", 0)],
            [int(v) for v in column("state", 0)],
            column("completed_at", 0.0),
            [int(v) for v in column("import_register_wh", -1)],
            [int(v) for v in column("export_register_wh", -1)],
            column("clock_offset_s", math.nan),
            strict=True,
        )
    )
