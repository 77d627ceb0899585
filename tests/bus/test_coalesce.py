"""Batches that wait for a busy handler reach it merged, and each submitter learns the
outcome of the call that took its batch."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from openami.bus.coalesce import Coalescer


def batch(value: int) -> pa.Table:
    return pa.table({"x": [value]})


def test_batches_waiting_for_a_busy_handler_are_merged() -> None:
    calls: list[list[int]] = []
    first_started, release = threading.Event(), threading.Event()

    def handler(table: pa.Table) -> None:
        calls.append(table.column("x").to_pylist())
        if len(calls) == 1:
            first_started.set()
            release.wait(10)

    async def main() -> None:
        coalescer = Coalescer(ThreadPoolExecutor(max_workers=1))
        first = asyncio.create_task(coalescer.submit(handler, batch(0)))
        await asyncio.get_running_loop().run_in_executor(None, first_started.wait, 10)
        rest = [asyncio.create_task(coalescer.submit(handler, batch(i))) for i in (1, 2, 3)]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(first, *rest)

    asyncio.run(main())
    assert calls == [[0], [1, 2, 3]]


def test_every_submitter_of_a_failed_call_gets_the_error() -> None:
    def handler(table: pa.Table) -> None:
        raise RuntimeError("database away")

    async def main() -> list[BaseException | None]:
        coalescer = Coalescer(ThreadPoolExecutor(max_workers=1))
        tasks = [coalescer.submit(handler, batch(i)) for i in range(3)]
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    results = asyncio.run(main())
    assert len(results) == 3 and all(isinstance(r, RuntimeError) for r in results)
