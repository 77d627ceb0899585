"""``ThreadPoolCap``: the event loop's worker threads capped at the first event, and a bad
count refused."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
import pytest

from openami.web.app import ThreadPoolCap


def test_the_first_event_caps_the_threads_and_passes_through() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def main() -> tuple[float, float]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        before = limiter.total_tokens
        cap = ThreadPoolCap(inner, threads=1)
        await cap({"type": "lifespan"}, None, None)
        await cap({"type": "http"}, None, None)
        return before, limiter.total_tokens

    before, after = anyio.run(main)
    assert before == 40 and after == 1
    assert seen == ["lifespan", "http"]


def test_fewer_than_one_thread_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ThreadPoolCap(object(), threads=0)
