"""The quick lane: a few worker threads of their own for the C route's short, bounded calls —
the one-point reads (a JSON point-day, an ESPI UsagePoint) and the bearer checks that must
ask a store (a token not remembered, a shared rate limit).

A point-day costs 1–2 ms of CPU under the GIL. In anyio's shared pool of 40 threads, eight
concurrent ones contend for the GIL and each costs more than when they run one after
another: one hub process answered 200–250 JSON point-days/s at 4.7–5.9 ms of CPU each in
the shared pool, against 400–480/s at 2.2–2.6 ms in the lane (interleaved runs,
docs/croute.md). In one thread, though, a slow request (a bulk download, a data job's
page) would hold the quick ones up. So the quick calls get their own lane of
``HubContext.quick_lane_threads`` threads (default 1, ``openami serve hub
--quick-lane-threads``) and everything else keeps the shared pool: a bulk download never
waits behind point reads, nor they behind it.

The work runs in a thread, never on the event loop: the access rule asks the registry, which
in a deployment is PostgreSQL over the network. The hand-off is a plain executor call, which
costs the event loop less than anyio's worker threads.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from openami.hub.context import HubContext

T = TypeVar("T")
_MADE = threading.Lock()


def _lane(context: HubContext) -> ThreadPoolExecutor:
    """The context's lane (made on first use; its threads live as long as the process)."""
    lane = context.services.get("quick-lane")
    if isinstance(lane, ThreadPoolExecutor):
        return lane
    with _MADE:
        lane = context.services.get("quick-lane")
        if not isinstance(lane, ThreadPoolExecutor):
            lane = ThreadPoolExecutor(
                max(1, context.quick_lane_threads), thread_name_prefix="quick-lane"
            )
            context.services["quick-lane"] = lane
    return lane


async def in_quick_lane(context: HubContext, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in a thread of the quick lane, with the caller's context variables
    (such as the audit entries a request collects)."""
    call = functools.partial(contextvars.copy_context().run, work, *args)
    return await asyncio.get_running_loop().run_in_executor(_lane(context), call)
