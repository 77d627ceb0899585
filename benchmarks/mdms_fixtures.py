"""Shared set-up of the MDMS benchmarks (not a benchmark itself)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from openami.bus.messages import READ_SCHEMA
from openami.clock import slot_start_s
from openami.mdms.indexes import InstallIndex, MeterIndex
from openami.mdms.vee_config import VeeConfig


def one_point_per_meter(
    meters: int, amps: np.ndarray, cfg: VeeConfig
) -> tuple[InstallIndex, MeterIndex]:
    """Meters 0 … n-1, each installed for good at supply point key meter + 1, with the given
    contract amperage per meter (no registry needed)."""
    ids = np.arange(meters, dtype=np.int64)
    installs = InstallIndex(
        pa.table(
            {
                "meter_id": ids,
                "supply_point_key": ids + 1,
                "valid_from": np.zeros(meters),
                "valid_to": pa.nulls(meters, pa.float64()),
            }
        )
    )
    return installs, MeterIndex(pa.table({"meter_id": ids, "contract_amperage_a": amps}), cfg)


def tick_reads(
    ids: np.ndarray, boundary: int, imp: np.ndarray, exp: np.ndarray, delay_s: float = 60.0
) -> pa.Table:
    """One A-route tick: every meter's registers at one boundary, received ``delay_s``
    after it (scheduled reads)."""
    n = len(ids)
    return pa.table(
        {
            "meter_id": ids,
            "boundary": np.full(n, boundary, dtype=np.int64),
            "import_register_wh": imp,
            "export_register_wh": exp,
            "received_at": np.full(n, slot_start_s(boundary) + delay_s),
            "source": np.zeros(n, dtype=np.uint8),
        },
        schema=READ_SCHEMA,
    )
