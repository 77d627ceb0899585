"""Rules judged on each register read alone: V09 (meter clock off) and V11 (multiplier or
register unit). Their flags spill onto both slots the read ends or starts."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.mdms.indexes import MeterIndex
from openami.mdms.vee_config import VeeConfig, bit

I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]
BoolArr = npt.NDArray[np.bool_]


def clock_flags(reads: pa.Table, cfg: VeeConfig) -> U32 | None:
    """V09 per read from the optional ``clock_offset_s`` column (``None`` without it)."""
    if "clock_offset_s" not in reads.column_names:
        return None
    offset_s = np.abs(np.asarray(pc.fill_null(reads.column("clock_offset_s"), 0).to_numpy()))
    late = offset_s > cfg.rule("V09").p("tolerance_s")
    return np.where(late, bit("V09"), 0).astype(np.uint32)


def read_flags(
    reads: pa.Table,
    meter_id: I64,
    import_register_wh: I64,
    export_register_wh: I64,
    export_valid: BoolArr,
    meters: MeterIndex,
    cfg: VeeConfig,
) -> U32:
    """Per read: V09 (clock deviation) and V11 (the multiplier reported with the read, or
    registers that are not whole register units)."""
    flags = clock_flags(reads, cfg)
    if flags is None:
        flags = np.zeros(len(meter_id), dtype=np.uint32)
    told = "multiplier" in reads.column_names
    if not told and meters.max_unit_wh <= 1:  # V11 cannot fail here
        return flags
    params = meters.params(meter_id)
    if told:
        multiplier = np.asarray(pc.fill_null(reads.column("multiplier"), 0).to_numpy(), np.int64)
        flags |= np.where(multiplier != params.multiplier, bit("V11"), 0).astype(np.uint32)
    if bool(np.any(params.unit_wh > 1)):
        unit = np.maximum(params.unit_wh, 1)
        off_unit = (import_register_wh % unit != 0) | (
            export_valid & (export_register_wh % unit != 0)
        )
        flags |= np.where(off_unit, bit("V11"), 0).astype(np.uint32)
    return flags
