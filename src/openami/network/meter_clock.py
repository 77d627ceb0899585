"""Real-time clocks of simulated meters: a start offset plus a constant drift per meter.

This is the device-side truth the HES measures when it reads a simulated meter's clock
(``offset_s``) and changes when it synchronises one (``adjust``). Columnar: three arrays.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from openami.meter.load import hash_normal, hash_uniform
from openami.network.config import ClockParams, load_clock_params

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class MeterClocks:
    """Offsets (meter time − true time) of N meter clocks [s]."""

    def __init__(
        self,
        meter_ids: npt.ArrayLike,
        seed: int,
        start_s: float,
        params: ClockParams | None = None,
    ) -> None:
        ids = np.asarray(meter_ids, dtype=np.int64)
        p = params or load_clock_params()
        self.params = p
        offset = p.offset_sigma_s * hash_normal(seed, 801, ids)
        bad = hash_uniform(seed, 802, ids) < p.bad_share
        sign = np.where(hash_uniform(seed, 803, ids) < 0.5, -1.0, 1.0)
        self._offset0: F64 = np.where(bad, sign * p.bad_offset_s, offset)
        self._drift: F64 = p.drift_ppm_sigma * 1e-6 * hash_normal(seed, 804, ids)
        self._ref_s: F64 = np.full(len(ids), float(start_s))

    def __len__(self) -> int:
        return len(self._offset0)

    def offset_s(self, index: npt.ArrayLike, at_s: npt.ArrayLike | float) -> F64:
        idx = np.asarray(index, dtype=np.int64)
        at = np.asarray(at_s, dtype=np.float64)
        return self._offset0[idx] + self._drift[idx] * (at - self._ref_s[idx])

    def adjust(self, index: npt.ArrayLike, at_s: npt.ArrayLike | float) -> None:
        """Set the clocks right at ``at_s`` (what shift_time / a clock SET does)."""
        idx = np.asarray(index, dtype=np.int64)
        self._offset0[idx] = 0.0
        self._ref_s[idx] = np.broadcast_to(np.asarray(at_s, dtype=np.float64), idx.shape)
