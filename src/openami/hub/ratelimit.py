"""Per-client rate limits: a token bucket per API client on the system's one clock.

A client may burst ``burst`` requests, then ``rate_per_s`` requests per second. A request
over the limit is answered ``429 Too Many Requests`` with ``Retry-After`` (whole seconds)
and the usual ``{code, message}`` body. Applied in ``current_client`` so every
authenticated C-route endpoint (``/v1/...`` and ``/espi/...``) shares one budget.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from fastapi import HTTPException


@dataclass
class RateLimiter:
    rate_per_s: float = 20.0
    burst: float = 60.0
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0 or self.burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")

    def acquire(self, key: str, now_s: float) -> float:
        """Take one token for ``key``; returns 0.0 if granted, else seconds to wait."""
        with self._lock:
            tokens, last_s = self._buckets.get(key, (self.burst, now_s))
            tokens = min(self.burst, tokens + max(0.0, now_s - last_s) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now_s)
                return 0.0
            self._buckets[key] = (tokens, now_s)
            return (1.0 - tokens) / self.rate_per_s


def enforce(limiter: RateLimiter | None, client_id: str, now_s: float) -> None:
    """Raise 429 with Retry-After when ``client_id`` is over its limit (no-op without one)."""
    if limiter is None:
        return
    wait_s = limiter.acquire(client_id, now_s)
    if wait_s > 0:
        retry_after = max(1, math.ceil(wait_s))
        raise HTTPException(
            status_code=429,
            detail={
                "code": "rate_limited",
                "message": f"client {client_id} is over its limit of "
                f"{limiter.rate_per_s:g} requests/s (burst {limiter.burst:g}); "
                f"retry after {retry_after} s",
            },
            headers={"Retry-After": str(retry_after)},
        )
