"""Per-segment permits: never more concurrent sessions than permits, priority first."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from openami.hes.throttle import lane_schedule


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.floats(0, 100), st.floats(0.1, 20)),
        min_size=1,
        max_size=200,
    ),
    st.lists(st.integers(1, 5), min_size=4, max_size=4),
)
def test_sessions_never_exceed_permits_and_never_start_early(
    rows: list[tuple[int, float, float]], permits: list[int]
) -> None:
    seg = np.array([r[0] for r in rows], dtype=np.int64)
    ready = np.array([r[1] for r in rows])
    dur = np.array([r[2] for r in rows])
    cap = np.array(permits, dtype=np.int64)
    start = lane_schedule(seg, ready, dur, cap)
    assert (start >= ready).all()
    for s in range(4):
        sel = seg == s
        # concurrency at every session start
        for t in start[sel]:
            running = (start[sel] <= t) & (start[sel] + dur[sel] > t)
            assert running.sum() <= cap[s]


def test_full_segment_drains_at_permits_per_session_time() -> None:
    n = 400
    start = lane_schedule(
        np.zeros(n, dtype=np.int64), np.zeros(n), np.full(n, 2.0), np.array([16], dtype=np.int64)
    )
    assert start.max() == 2.0 * (n // 16 - 1)
    assert np.bincount((start // 2).astype(np.int64)).max() == 16


def test_priority_goes_first_within_a_segment() -> None:
    prio = np.array([2, 2, 0, 0, 1], dtype=np.uint8)
    start = lane_schedule(np.zeros(5, dtype=np.int64), np.zeros(5), np.ones(5), np.array([1]), prio)
    assert list(np.argsort(start, kind="stable")) == [2, 3, 4, 0, 1]
