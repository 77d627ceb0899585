"""Freed heap pages go back to the system after a large batch."""

from __future__ import annotations

import numpy as np

from openami.mdms.memory import release_free_memory


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_free_heap_pages_are_returned() -> None:
    # once a large mapped block is freed, glibc serves blocks below it from its heap
    big = np.ones(16 << 17)  # 16 MiB (glibc: mapped, and on free its threshold rises to it)
    del big
    blocks = [np.ones(1 << 19) for _ in range(64)]  # 64 × 4 MiB, touched
    last = blocks.pop()  # kept: the heap's top stays in use, so free() trims nothing
    blocks.clear()
    before = _rss_kib()
    release_free_memory()
    after = _rss_kib()
    assert before - after > 100 << 10  # more than 100 MiB of the 252 freed went back
    assert float(last[0]) == 1.0
