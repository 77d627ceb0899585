"""Per-segment session permits (GXF-style throttling), computed for whole batches at once.

A segment (a concentrator, or a cellular cell) allows ``permits`` sessions at a time. The
batch is ordered per segment by priority and then by the time each session is ready; the
k-th session of a segment runs on lane ``k mod permits`` and starts when it is ready and
its lane's previous session has finished. This "round-robin lanes" discipline is exact for
equal session lengths and a close, conservative stand-in for a shared permit pool otherwise;
it needs one vectorised step per *round* (segment size ÷ permits), not per session.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def lane_schedule(
    segment: I64,
    ready_s: F64,
    duration_s: F64,
    permits: I64,
    priority: npt.NDArray[np.integer] | None = None,
) -> F64:
    """Start time of each session under ``permits[segment]`` concurrent sessions per segment.

    Lower ``priority`` values go first within a segment (then earlier ``ready_s``).
    """
    n = len(segment)
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    ready_s = np.asarray(ready_s, dtype=np.float64)
    keys = (ready_s, segment) if priority is None else (ready_s, priority, segment)
    order = np.lexsort(keys)
    seg = segment[order]
    first = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    rank = np.arange(n, dtype=np.int64) - np.repeat(first, np.diff(np.r_[first, n]))
    cap = np.maximum(np.asarray(permits, dtype=np.int64)[seg], 1)
    rounds = rank // cap
    ready = ready_s[order]
    dur = np.asarray(duration_s, dtype=np.float64)[order]
    start = ready.copy()
    finish = start + dur
    counts = np.bincount(rounds)
    if len(counts) > 1:
        by_round = np.argsort(rounds, kind="stable")
        bounds = np.cumsum(counts)
        for r in range(1, len(counts)):
            pos = by_round[bounds[r - 1] : bounds[r]]
            s = np.maximum(ready[pos], finish[pos - cap[pos]])
            start[pos] = s
            finish[pos] = s + dur[pos]
    out = np.empty(n, dtype=np.float64)
    out[order] = start
    return out
