"""Guessing one client secret or customer password from many addresses is stopped per id
(issue #15 §3): a budget per client id and per customer, and a lockout after repeated
failures that holds whatever address the guesses come from."""

from __future__ import annotations

import httpx
import pytest
from tests.hub.hubrig import SECRET, hub_rig

from openami.hub.lockout import Lockout
from openami.hub.oauth_grants import consent_store
from openami.hub.ratelimit import RateLimiter

TOKEN = {"grant_type": "client_credentials"}
GENEROUS = RateLimiter(token_rate_per_s=1000.0, token_burst=1000.0)  # only the lockout acts


def _guess(http: httpx.Client, i: int, secret: str, client_id: str = "r1") -> httpx.Response:
    return http.post(
        "/oauth/token",
        data=TOKEN,
        auth=(client_id, secret),
        headers={"X-Forwarded-For": f"203.0.{i // 250}.{i % 250 + 1}"},
    )


def test_rotating_forwarded_addresses_cannot_make_300_guesses() -> None:
    """Behind a trusted proxy every guess comes from a new client address: the lockout per
    client id still stops them, and holds against the right secret too until it expires."""
    with hub_rig(trusted_proxies=("127.0.0.1",), rate_limits=GENEROUS) as rig:
        codes = [_guess(rig.http, i, f"guess-{i}").status_code for i in range(300)]
        assert codes.count(401) <= 10  # secrets actually checked
        assert codes.count(429) >= 290
        locked = _guess(rig.http, 999, SECRET)
        assert locked.status_code == 429 and locked.json()["code"] == "locked_out"
        assert int(locked.headers["retry-after"]) > 0
        assert _guess(rig.http, 1000, SECRET, "r2").status_code == 200  # other ids unaffected
        rig.clock.advance(24 * 3600 + 1)  # the longest lockout is over
        assert _guess(rig.http, 1001, SECRET).status_code == 200


def test_lockout_doubles_and_success_clears_the_count() -> None:
    lock = Lockout(max_failures=3, lockout_s=10.0, max_lockout_s=25.0)
    for _ in range(2):
        lock.failed("k", 0.0)
    lock.succeeded("k")
    lock.failed("k", 0.0)
    assert lock.wait_s("k", 0.0) == 0.0  # the success started the count again
    for _ in range(2):
        lock.failed("k", 0.0)
    assert lock.wait_s("k", 0.0) == 10.0
    for _ in range(3):
        lock.failed("k", 10.0)
    assert lock.wait_s("k", 10.0) == 20.0
    for _ in range(3):
        lock.failed("k", 30.0)
    assert lock.wait_s("k", 30.0) == 25.0  # capped
    with pytest.raises(ValueError):
        Lockout(max_failures=0)


def test_budget_per_client_id_whatever_the_address() -> None:
    limits = RateLimiter(token_rate_per_s=0.01, token_burst=4)
    with hub_rig(trusted_proxies=("127.0.0.1",), rate_limits=limits, lockout=None) as rig:
        codes = [_guess(rig.http, i, f"guess-{i}").status_code for i in range(8)]
    assert codes[:4] == [401] * 4 and codes[4:] == [429] * 4


def test_customer_password_is_locked_out_per_customer() -> None:
    with hub_rig(trusted_proxies=("127.0.0.1",), rate_limits=GENEROUS) as rig:
        consent_store(rig.context).add_customer("cust-1", "customer-right-password", [])
        codes = [
            rig.http.get(
                "/v1/customer/consents",
                auth=("cust-1", f"guess-{i}"),
                headers={"X-Forwarded-For": f"198.51.100.{i % 250 + 1}"},
            ).status_code
            for i in range(40)
        ]
        right = rig.http.get("/v1/customer/consents", auth=("cust-1", "customer-right-password"))
    assert codes.count(401) <= 10 and codes.count(429) >= 30
    assert right.status_code == 429 and right.json()["code"] == "locked_out"
