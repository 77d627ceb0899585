"""Per-client rate limits: 429 with Retry-After, per client, refilled on the one clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.httpserver import serve

from openami.clock import JST, ManualClock
from openami.hub.context import HubContext
from openami.hub.ratelimit import RateLimiter
from openami.mdms import Mdms
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ApiClient, ClientStore
from openami.web.app import create_app

SECRET = "rate-limit-test-secret"
URL = "/v1/supply-points/0300000000000000000110/half-hour-values?date=2026-11-01"


@pytest.fixture
def setup() -> Iterator[tuple[httpx.Client, ManualClock]]:
    database = open_database(":memory:")
    registry = Registry(database)
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    clients = ClientStore(database)
    for cid in ("a", "b"):
        clients.register(ApiClient(cid, "retailer", f"R-{cid}"), SECRET)
    context = HubContext(
        registry,
        Mdms(DuckIntervalStore(), registry, clock),
        clients,
        clock,
        "op",
        "op-password-long",
        rate_limits=RateLimiter(rate_per_s=2.0, burst=3.0, token_rate_per_s=0.5, token_burst=4),
    )
    with serve(create_app(context)) as base, httpx.Client(base_url=base) as http:
        yield http, clock


def _auth(http: httpx.Client, cid: str) -> dict[str, str]:
    resp = http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, SECRET))
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_burst_then_429_with_retry_after(setup: tuple[httpx.Client, ManualClock]) -> None:
    http, clock = setup
    a, b = _auth(http, "a"), _auth(http, "b")
    assert [http.get(URL, headers=a).status_code for _ in range(3)] == [403, 403, 403]
    limited = http.get(URL, headers=a)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["code"] == "rate_limited" and "2 requests/s" in limited.json()["message"]
    espi = http.get("/espi/1_1/resource/ReadServiceStatus", headers=a)
    assert espi.status_code == 429  # one budget for /v1 and /espi
    assert http.get(URL, headers=b).status_code == 403  # other clients are not affected
    clock.advance(0.5)  # one token back at 2/s
    assert http.get(URL, headers=a).status_code == 403
    assert http.get(URL, headers=a).status_code == 429
    clock.advance(10)  # refills to the burst, not beyond
    assert [http.get(URL, headers=a).status_code for _ in range(4)] == [403, 403, 403, 429]


def test_token_endpoint_has_its_own_stricter_budget(
    setup: tuple[httpx.Client, ManualClock],
) -> None:
    http, clock = setup
    data = {"grant_type": "client_credentials"}
    # wrong secrets and right ones count alike: the limit is on scrypt work per address
    codes = [
        http.post("/oauth/token", data=data, auth=("a", "wrong-secret-guess")).status_code
        for _ in range(3)
    ]
    assert codes == [401, 401, 401]
    assert http.post("/oauth/token", data=data, auth=("a", SECRET)).status_code == 200
    limited = http.post("/oauth/token", data=data, auth=("b", SECRET))
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert "token requests" in limited.json()["message"]
    clock.advance(2)  # 0.5/s: one more
    assert http.post("/oauth/token", data=data, auth=("b", SECRET)).status_code == 200


def test_idle_buckets_are_pruned() -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=2.0)
    for i in range(10_001):
        limiter.acquire(f"client-{i}", 0.0)
    assert limiter.acquire("late", 100.0) == 0.0  # triggers pruning of the idle buckets
    assert len(limiter._buckets) < 10


@given(
    rate=st.floats(0.1, 100),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0, 5), min_size=1, max_size=60),
)
def test_bucket_never_grants_more_than_burst_plus_rate_times_time(
    rate: float, burst: int, gaps: list[float]
) -> None:
    limiter = RateLimiter(rate_per_s=rate, burst=float(burst))
    now, granted = 0.0, 0
    for gap in gaps:
        now += gap
        wait = limiter.acquire("k", now)
        assert wait >= 0
        if wait == 0:
            granted += 1
        else:
            assert wait <= 1 / rate + 1e-9
            assert limiter.acquire("k", now + wait + 1e-6) == 0  # the promised wait is enough
            granted += 1
            now += wait + 1e-6
    assert granted <= burst + rate * now + 1e-6


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        RateLimiter(rate_per_s=0)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(burst=0.5)
    with pytest.raises(ValueError, match="token_rate_per_s"):
        RateLimiter(token_rate_per_s=0)
