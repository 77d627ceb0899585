"""Batches for a busy handler are merged into its next call.

Every consumer of a JetStream bus (one per partition a worker holds) hands its batches to
the same handler, which runs in one thread. While the handler is busy, the batches that
arrive for it wait here; its next call gets them all as one batch (up to
:data:`MAX_MERGED_BYTES`), so 64 partitions cost the MDMS a few transactions per round
rather than 64. Each submitter learns the outcome of the call that took its batch.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

import pyarrow as pa

from openami.bus.port import Handler

#: the most bytes of batches merged into one handler call (at least one batch is taken)
MAX_MERGED_BYTES = 64 * 1024 * 1024


class Coalescer:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._waiting: dict[Handler, list[tuple[pa.Table, asyncio.Future[None]]]] = {}
        self._draining: dict[Handler, asyncio.Task[None]] = {}  # kept: tasks are weakly held

    async def submit(self, handler: Handler, batch: pa.Table) -> None:
        """Return once a handler call that included ``batch`` has returned (or raise what
        it raised)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.setdefault(handler, []).append((batch, done))
        if handler not in self._draining:
            self._draining[handler] = loop.create_task(self._drain(handler))
        await done

    async def _drain(self, handler: Handler) -> None:
        loop = asyncio.get_running_loop()
        waiting = self._waiting[handler]
        try:
            while waiting:
                taken, size = 0, 0
                while taken < len(waiting) and (taken == 0 or size < MAX_MERGED_BYTES):
                    size += waiting[taken][0].nbytes
                    taken += 1
                items, waiting[:taken] = waiting[:taken], []
                tables = [table for table, _ in items]
                merged = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
                try:
                    await loop.run_in_executor(self._executor, handler, merged)
                except Exception as exc:
                    for _, done in items:
                        done.set_exception(exc)
                else:
                    for _, done in items:
                        done.set_result(None)
        finally:
            self._draining.pop(handler, None)
