"""Per-client rate limits: a token bucket per API client on the system's one clock.

A client may burst ``burst`` requests, then ``rate_per_s`` requests per second. A request
over the limit is answered ``429 Too Many Requests`` with ``Retry-After`` (whole seconds)
and the usual ``{code, message}`` body. Applied in ``current_client`` so every
authenticated C-route endpoint (``/v1/...`` and ``/espi/...``) shares one budget. The token
endpoint has its own, stricter budget per client address (``token_rate_per_s``,
``token_burst``), checked before the secret is; every secret or password check also draws
on a budget of the same size per client id or customer id (:meth:`acquire_guess`), so
rotating addresses does not multiply the guesses at one id (see :mod:`openami.hub.guesses`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import ClassVar

from fastapi import HTTPException

MAX_TRACKED_KEYS = 10_000  # beyond this, buckets that have refilled completely are dropped


@dataclass
class RateLimiter:
    """Per-client API budget, plus a stricter per-address budget for the token endpoint
    (each token request costs a ~50 ms scrypt check: this caps CPU spent on guessing)."""

    #: does a check wait on the network (a shared store)? then it runs in a worker thread,
    #: never on the event loop
    blocking_io: ClassVar[bool] = False
    rate_per_s: float = 20.0
    burst: float = 60.0
    token_rate_per_s: float = 0.5
    token_burst: float = 10.0
    # failed authentications per address (bad or missing token, wrong password): once spent,
    # that address's unauthenticated requests are refused before any lookup is made
    anonymous_rate_per_s: float = 2.0
    anonymous_burst: float = 30.0
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0 or self.burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        if self.token_rate_per_s <= 0 or self.token_burst < 1:
            raise ValueError("token_rate_per_s must be > 0 and token_burst >= 1")
        if self.anonymous_rate_per_s <= 0 or self.anonymous_burst < 1:
            raise ValueError("anonymous_rate_per_s must be > 0 and anonymous_burst >= 1")

    def acquire(self, key: str, now_s: float) -> float:
        """Take one token for ``key``; returns 0.0 if granted, else seconds to wait."""
        return self._take(key, now_s, self.rate_per_s, self.burst)

    def acquire_token_request(self, address: str, now_s: float) -> float:
        """Like :meth:`acquire`, for token requests from one network address."""
        return self._take(
            f"token-endpoint:{address}", now_s, self.token_rate_per_s, self.token_burst
        )

    def acquire_guess(self, key: str, now_s: float) -> float:
        """Like :meth:`acquire_token_request`, per guessed id (``client:ID``, ``customer:ID``)."""
        return self._take(f"guess:{key}", now_s, self.token_rate_per_s, self.token_burst)

    def anonymous_wait(self, address: str, now_s: float) -> float:
        """Seconds until ``address`` may fail authentication again (0.0: now); takes nothing."""
        return self._take(
            f"anonymous:{address}", now_s, self.anonymous_rate_per_s, self.anonymous_burst, True
        )

    def anonymous_failed(self, address: str, now_s: float) -> None:
        """Spend one failed authentication of ``address``."""
        self._take(f"anonymous:{address}", now_s, self.anonymous_rate_per_s, self.anonymous_burst)

    def _take(self, key: str, now_s: float, rate: float, burst: float, peek: bool = False) -> float:
        with self._lock:
            tokens, last_s = self._buckets.get(key, (burst, now_s))
            tokens = min(burst, tokens + max(0.0, now_s - last_s) * rate)
            if peek:
                return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now_s)
                granted = True
            else:
                self._buckets[key] = (tokens, now_s)
                granted = False
            if len(self._buckets) > MAX_TRACKED_KEYS:
                self._prune(now_s)
            return 0.0 if granted else (1.0 - tokens) / rate

    def _prune(self, now_s: float) -> None:
        # a bucket idle long enough to be full again carries no state worth keeping
        horizon_s = max(
            self.burst / self.rate_per_s,
            self.token_burst / self.token_rate_per_s,
            self.anonymous_burst / self.anonymous_rate_per_s,
        )
        self._buckets = {k: v for k, v in self._buckets.items() if now_s - v[1] < horizon_s}


def _too_many(wait_s: float, message: str) -> HTTPException:
    retry_after = max(1, math.ceil(wait_s))
    return HTTPException(
        status_code=429,
        detail={"code": "rate_limited", "message": f"{message}; retry after {retry_after} s"},
        headers={"Retry-After": str(retry_after)},
    )


def enforce(limiter: RateLimiter | None, client_id: str, now_s: float) -> None:
    """Raise 429 with Retry-After when ``client_id`` is over its limit (no-op without one)."""
    if limiter is None:
        return
    wait_s = limiter.acquire(client_id, now_s)
    if wait_s > 0:
        raise _too_many(
            wait_s,
            f"client {client_id} is over its limit of {limiter.rate_per_s:g} requests/s "
            f"(burst {limiter.burst:g})",
        )


def enforce_token_requests(limiter: RateLimiter | None, address: str | None, now_s: float) -> None:
    """Raise 429 when one network address asks for tokens too often (no-op without a limiter)."""
    if limiter is None:
        return
    wait_s = limiter.acquire_token_request(address or "unknown", now_s)
    if wait_s > 0:
        raise _too_many(
            wait_s,
            f"too many token requests from this address (limit {limiter.token_rate_per_s:g}/s, "
            f"burst {limiter.token_burst:g})",
        )


def enforce_guesses(limiter: RateLimiter | None, key: str, now_s: float) -> None:
    """Raise 429 when one id (``client:ID``, ``customer:ID``) is tried too often."""
    if limiter is None:
        return
    wait_s = limiter.acquire_guess(key, now_s)
    if wait_s > 0:
        raise _too_many(
            wait_s,
            f"too many attempts for this {key.partition(':')[0]} "
            f"(limit {limiter.token_rate_per_s:g}/s, burst {limiter.token_burst:g})",
        )


def enforce_anonymous(limiter: RateLimiter | None, address: str | None, now_s: float) -> None:
    """Raise 429 before any credential lookup when ``address`` failed too often lately."""
    if limiter is None:
        return
    wait_s = limiter.anonymous_wait(address or "unknown", now_s)
    if wait_s > 0:
        raise _too_many(wait_s, "too many failed authentications from this address")


def unauthenticated(
    limiter: RateLimiter | None,
    address: str | None,
    now_s: float,
    detail: dict[str, str],
    challenge: str,
) -> HTTPException:
    """A 401 to raise, after spending one failed authentication of ``address``."""
    if limiter is not None:
        limiter.anonymous_failed(address or "unknown", now_s)
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": challenge})
