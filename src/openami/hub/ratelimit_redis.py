"""Rate limits and lockouts shared by every hub process, in Redis (``openami serve hub``).

The in-memory :class:`~openami.hub.ratelimit.RateLimiter` and
:class:`~openami.hub.lockout.Lockout` count per process: behind a load balancer with N hub
replicas a client would get N times its budget and N times the guesses. These subclasses
keep the same buckets and failure counts in Redis instead, with the same rules and the same
answers: each check is one Lua script, which Redis runs atomically, so two replicas taking
a token at the same instant never both get the last one.

Keys are ``<prefix>:rl:<digest>`` and ``<prefix>:lo:<digest>``, the digest a SHA-256 of the
bucket or id (client ids, customer ids and addresses never appear in Redis in clear); each
key expires once it carries no state (a full bucket, a lockout long past), so Redis holds
only what is in use. Instants are the hub clock's (replicas' clocks are assumed in step,
as with NTP); a bucket never runs backwards if one replica's clock lags. When Redis does
not answer, a request is refused with 503 (never let through unlimited).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, ClassVar

import redis
from fastapi import HTTPException

from openami.hub.lockout import Lockout
from openami.hub.ratelimit import RateLimiter

# KEYS[1] bucket; ARGV: burst, rate per s, now s, peek (1/0). Returns the wait in s, as text
# (Redis turns Lua numbers into integers).
_BUCKET = """
local burst, rate, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now < at then now = at end
tokens = math.min(burst, tokens + (now - at) * rate)
if ARGV[4] == '1' then
  if tokens >= 1 then return '0' end
  return tostring((1 - tokens) / rate)
end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""

# KEYS[1] id; ARGV: now s, max failures, lockout s, max lockout s. Returns nothing.
_FAILED = """
local now, most = tonumber(ARGV[1]), tonumber(ARGV[2])
local first, longest = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'count', 'lockouts', 'until')
local count = (tonumber(state[1]) or 0) + 1
local lockouts = tonumber(state[2]) or 0
local locked = tonumber(state[3]) or 0
if count >= most then
  lockouts = lockouts + 1
  count = 0
  locked = now + math.min(longest, first * 2 ^ (lockouts - 1))
end
redis.call('HSET', KEYS[1], 'count', count, 'lockouts', lockouts,
           'until', string.format('%.17g', locked))
redis.call('EXPIRE', KEYS[1], math.ceil(math.max(locked - now, 0) + 2 * longest))
return 0
"""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _unavailable() -> HTTPException:
    return HTTPException(
        status_code=503,
        detail={"code": "unavailable", "message": "rate limits cannot be checked: try later"},
        headers={"Retry-After": "5"},
    )


def connect(url: str) -> redis.Redis:
    """A Redis client for ``url`` (``redis://host:6379/0``, ``rediss://…``, ``unix://…``),
    checked with one PING (``redis.RedisError`` when nothing answers)."""
    client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    client.ping()
    return client


class RedisRateLimiter(RateLimiter):
    """:class:`RateLimiter` whose buckets live in Redis, shared by every hub process."""

    blocking_io: ClassVar[bool] = True  # a Redis round trip per check

    def __init__(self, client: redis.Redis, prefix: str = "openami", **limits: Any) -> None:
        super().__init__(**limits)
        self.redis = client
        self.prefix = prefix
        self._script = client.register_script(_BUCKET)

    def _take(self, key: str, now_s: float, rate: float, burst: float, peek: bool = False) -> float:
        args = [repr(float(burst)), repr(float(rate)), repr(float(now_s)), "1" if peek else "0"]
        try:
            wait = self._script(keys=[f"{self.prefix}:rl:{_digest(key)}"], args=args)
        except redis.RedisError:
            raise _unavailable() from None
        value = float(wait.decode() if isinstance(wait, bytes) else wait)
        return 0.0 if value <= 0 or math.isnan(value) else value


class RedisLockout(Lockout):
    """:class:`Lockout` whose failure counts live in Redis, shared by every hub process."""

    def __init__(self, client: redis.Redis, prefix: str = "openami", **limits: Any) -> None:
        super().__init__(**limits)
        self.redis = client
        self.prefix = prefix
        self._failed = client.register_script(_FAILED)

    def _key(self, key: str) -> str:
        return f"{self.prefix}:lo:{_digest(key)}"

    def wait_s(self, key: str, now_s: float) -> float:
        try:
            until = self.redis.hget(self._key(key), "until")
        except redis.RedisError:
            raise _unavailable() from None
        return 0.0 if until is None else max(0.0, float(until) - now_s)

    def failed(self, key: str, now_s: float) -> None:
        args: list[str | int] = [
            repr(float(now_s)),
            self.max_failures,
            repr(self.lockout_s),
            repr(self.max_lockout_s),
        ]
        try:
            self._failed(keys=[self._key(key)], args=args)
        except redis.RedisError:
            raise _unavailable() from None

    def succeeded(self, key: str) -> None:
        try:
            self.redis.delete(self._key(key))
        except redis.RedisError:
            raise _unavailable() from None
