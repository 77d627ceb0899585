"""The token cache asks the clients' store once per token and ``ttl_s``, never answers past
the token's expiry or after a revocation through it, and remembers no unknown token."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from openami.hub.ratelimit import RateLimiter
from openami.hub.ratelimit_redis import RedisRateLimiter
from openami.hub.token_cache import TokenCache, answered_in_memory, token_cache
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ApiClient, ClientStore

NOW_S = 1_800_000_000.0


def _store(tmp_path: Path) -> tuple[ClientStore, list[str]]:
    clients = ClientStore(open_database(tmp_path / "clients.sqlite"))
    clients.register(ApiClient("r1", "retailer", "RET1"), "a-secret-of-16-chars")
    asked: list[str] = []
    real = clients.client_and_expiry

    def counted(token: str, now_s: float) -> tuple[ApiClient, float] | None:
        asked.append(token)
        return real(token, now_s)

    clients.client_and_expiry = counted  # type: ignore[method-assign]
    return clients, asked


def test_a_known_token_is_asked_once_within_the_ttl_and_not_past_its_expiry(
    tmp_path: Path,
) -> None:
    clients, asked = _store(tmp_path)
    client = clients.get("r1")
    assert client is not None
    token = clients.issue_token(client, NOW_S, 60.0)
    cache = TokenCache(clients, ttl_s=30.0)
    assert [cache.client(token, NOW_S + s) for s in (0, 1, 2)] == [client] * 3
    assert len(asked) == 1
    assert cache.client(token, NOW_S + 60.0) is None  # expired: asked again, and refused
    assert len(asked) == 2


def test_the_ttl_bounds_what_another_replica_revoked(tmp_path: Path) -> None:
    clients, _asked = _store(tmp_path)
    client = clients.get("r1")
    assert client is not None
    token = clients.issue_token(client, NOW_S, 600.0)
    cache = TokenCache(clients, ttl_s=0.05)
    assert cache.client(token, NOW_S) == client
    clients.revoke_token(token, "r1")  # as another process would
    time.sleep(0.06)
    assert cache.client(token, NOW_S) is None


def test_forget_and_no_cache(tmp_path: Path) -> None:
    clients, asked = _store(tmp_path)
    client = clients.get("r1")
    assert client is not None
    token = clients.issue_token(client, NOW_S, 600.0)
    cache = TokenCache(clients, ttl_s=30.0)
    assert cache.client(token, NOW_S) == client
    clients.revoke_token(token, "r1")
    cache.forget(token)  # revoked through this process
    assert cache.client(token, NOW_S) is None
    for _ in range(3):  # unknown tokens: asked every time
        assert cache.client("forged", NOW_S) is None
    assert asked.count("forged") == 3
    other = clients.issue_token(client, NOW_S, 600.0)
    uncached = TokenCache(clients, ttl_s=0)
    assert uncached.client(other, NOW_S) == client  # ttl 0: through client_for_token
    assert other not in asked


def test_remembers_says_whether_the_store_would_be_asked(tmp_path: Path) -> None:
    clients, asked = _store(tmp_path)
    client = clients.get("r1")
    assert client is not None
    token = clients.issue_token(client, NOW_S, 60.0)
    cache = TokenCache(clients, ttl_s=30.0)
    assert not cache.remembers(token, NOW_S)  # never confirmed yet
    assert cache.client(token, NOW_S) == client
    assert cache.remembers(token, NOW_S) and len(asked) == 1
    assert not cache.remembers(token, NOW_S + 60.0)  # past the token's expiry
    assert not cache.remembers("an-unknown-token", NOW_S)
    assert not TokenCache(clients, ttl_s=0.0).remembers(token, NOW_S)  # no cache: always asked


def test_a_check_runs_on_the_event_loop_only_without_io(tmp_path: Path) -> None:
    clients, _asked = _store(tmp_path)
    client = clients.get("r1")
    assert client is not None
    token = clients.issue_token(client, NOW_S, 60.0)
    context: Any = SimpleNamespace(
        rate_limits=RateLimiter(),
        clock=SimpleNamespace(timestamp=lambda: NOW_S),
        services={},
        clients=clients,
        token_cache_s=5.0,
    )
    header = f"Bearer {token}"
    assert not answered_in_memory(context, header)  # the store must be asked first
    assert token_cache(context).client(token, NOW_S) == client
    assert answered_in_memory(context, header)
    assert answered_in_memory(context, None)  # refused at once, nothing to look up
    assert RedisRateLimiter.blocking_io and not RateLimiter.blocking_io
    context.rate_limits = SimpleNamespace(blocking_io=True)  # a limit kept over the network
    assert not answered_in_memory(context, header)
