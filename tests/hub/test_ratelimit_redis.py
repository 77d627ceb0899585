"""Rate limits and lockouts in Redis: the same rules as in memory, one budget for every
hub process (real Redis at 127.0.0.1:6379; each test under a key prefix of its own)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi import HTTPException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openami.hub.lockout import Lockout
from openami.hub.ratelimit import RateLimiter, enforce
from openami.hub.ratelimit_redis import RedisLockout, RedisRateLimiter, connect

REDIS_URL = os.environ.get("OPENAMI_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    try:
        client = connect(REDIS_URL)
    except redis.RedisError as exc:
        pytest.skip(f"no Redis server answers at {REDIS_URL}: {exc}")
    yield client
    client.close()


def _drop(client: redis.Redis, prefix: str) -> None:
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    name = f"openami-test-{uuid.uuid4().hex[:12]}"
    yield name
    _drop(client, name)


def test_two_replicas_share_one_budget(client: redis.Redis, prefix: str) -> None:
    one = RedisRateLimiter(client, prefix, rate_per_s=1.0, burst=5.0)
    two = RedisRateLimiter(connect(REDIS_URL), prefix, rate_per_s=1.0, burst=5.0)
    granted = [(one if i % 2 else two).acquire("client-a", 1000.0) == 0.0 for i in range(12)]
    assert granted.count(True) == 5  # in memory each replica would grant 5: 10
    assert one.acquire("client-a", 1001.0) == 0.0  # one token back a second later
    assert two.acquire("client-a", 1001.0) == pytest.approx(1.0)
    assert one.acquire("client-b", 1001.0) == 0.0  # another client has its own bucket


# the client fixture is only a connection: sharing it between examples is intended
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.tuples(st.floats(0.0, 5.0), st.sampled_from(["take", "peek"])), max_size=25),
    rate=st.floats(0.1, 10.0),
    burst=st.integers(1, 8),
)
def test_redis_buckets_answer_as_the_in_memory_ones(
    client: redis.Redis, steps: list[tuple[float, str]], rate: float, burst: int
) -> None:
    prefix = f"openami-test-{uuid.uuid4().hex[:12]}"
    memory = RateLimiter(anonymous_rate_per_s=rate, anonymous_burst=burst)
    shared = RedisRateLimiter(client, prefix, anonymous_rate_per_s=rate, anonymous_burst=burst)
    now = 100.0
    try:
        for gap, what in steps:
            now += gap
            if what == "peek":
                expected = memory.anonymous_wait("10.0.0.1", now)
                assert shared.anonymous_wait("10.0.0.1", now) == pytest.approx(expected, abs=1e-9)
            else:
                memory.anonymous_failed("10.0.0.1", now)
                shared.anonymous_failed("10.0.0.1", now)
    finally:
        _drop(client, prefix)


def test_concurrent_takes_never_exceed_the_burst(client: redis.Redis, prefix: str) -> None:
    limiters = [RedisRateLimiter(connect(REDIS_URL), prefix, rate_per_s=0.001, burst=20.0)]
    limiters.append(RedisRateLimiter(connect(REDIS_URL), prefix, rate_per_s=0.001, burst=20.0))
    granted: list[bool] = []
    lock = threading.Lock()

    def hammer(limiter: RedisRateLimiter) -> None:
        for _ in range(25):
            ok = limiter.acquire("busy", 5000.0) == 0.0
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=hammer, args=(lim,)) for lim in limiters * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 100 and granted.count(True) == 20


def test_no_client_id_in_redis_keys(client: redis.Redis, prefix: str) -> None:
    RedisRateLimiter(client, prefix).acquire_guess("customer:customer-0001", 10.0)
    RedisLockout(client, prefix).failed("customer:customer-0001", 10.0)
    keys = [k.decode() for k in client.scan_iter(f"{prefix}:*")]
    assert len(keys) == 2 and not any("customer" in k for k in keys)
    assert all(client.ttl(k) > 0 for k in keys)  # nothing stays for ever


def test_lockout_is_shared_and_doubles(client: redis.Redis, prefix: str) -> None:
    one = RedisLockout(client, prefix, max_failures=3, lockout_s=60.0, max_lockout_s=200.0)
    two = RedisLockout(client, prefix, max_failures=3, lockout_s=60.0, max_lockout_s=200.0)
    memory = Lockout(max_failures=3, lockout_s=60.0, max_lockout_s=200.0)
    for i, now in enumerate((0.0, 1.0, 2.0)):
        (one if i % 2 else two).failed("client:x", now)
        memory.failed("client:x", now)
    assert one.wait_s("client:x", 2.0) == two.wait_s("client:x", 2.0) == 60.0
    assert memory.wait_s("client:x", 2.0) == 60.0
    for now in (70.0, 71.0, 72.0):  # the second lockout lasts twice as long
        two.failed("client:x", now)
    assert one.wait_s("client:x", 72.0) == 120.0
    for now in (200.0, 201.0, 202.0):  # … capped at max_lockout_s
        one.failed("client:x", now)
    assert two.wait_s("client:x", 202.0) == 200.0
    two.succeeded("client:x")
    assert one.wait_s("client:x", 203.0) == 0.0
    assert one.wait_s("client:never-seen", 203.0) == 0.0


def test_no_redis_means_503_never_unlimited() -> None:
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    limiter = RedisRateLimiter(dead, "openami-test")
    with pytest.raises(HTTPException) as refused:
        enforce(limiter, "client-a", 10.0)
    assert refused.value.status_code == 503
    with pytest.raises(HTTPException) as locked:
        RedisLockout(dead, "openami-test").wait_s("client:a", 10.0)
    assert locked.value.status_code == 503
