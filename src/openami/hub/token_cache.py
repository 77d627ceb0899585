"""Client-credentials bearer tokens remembered for a few seconds in one hub process.

Every API request checks its token; asking the clients' store each time costs a database
round trip. A token the store confirmed is remembered by its SHA-256 (never the token
itself) for ``HubContext.token_cache_s`` seconds (monotonic clock) and never past its own
expiry (the hub's clock). A token revoked through this process is forgotten at once; one
revoked through another replica, or a client removed from the store, still works here for at
most ``token_cache_s`` seconds. Unknown tokens are not remembered (a wrong token costs a
look-up every time, and can fill nothing). ``token_cache_s = 0`` asks the store every time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import TYPE_CHECKING

from openami.storage.repositories.clients import ApiClient, ClientStore

if TYPE_CHECKING:
    from openami.hub.context import HubContext

MAX_TOKENS = 10_000  # the oldest are forgotten first


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenCache:
    def __init__(self, clients: ClientStore, ttl_s: float, max_tokens: int = MAX_TOKENS):
        self._clients = clients
        self.ttl_s = ttl_s
        self._max = max_tokens
        self._known: dict[bytes, tuple[float, ApiClient, float]] = {}  # mono at, client, expiry
        self._lock = threading.Lock()

    def client(self, token: str, now_s: float) -> ApiClient | None:
        """The client whose live access token this is (``None``: unknown or expired)."""
        if self.ttl_s <= 0:
            return self._clients.client_for_token(token, now_s)
        key, mono = _key(token), time.monotonic()
        known = self._known.get(key)
        if known is not None and mono - known[0] < self.ttl_s and now_s < known[2]:
            return known[1]
        found = self._clients.client_and_expiry(token, now_s)
        with self._lock:
            self._known.pop(key, None)
            if found is not None:
                self._known[key] = (mono, found[0], found[1])
                while len(self._known) > self._max:
                    del self._known[next(iter(self._known))]
        return found[0] if found is not None else None

    def remembers(self, token: str, now_s: float) -> bool:
        """Would :meth:`client` answer ``token`` from memory, without asking the store?"""
        if self.ttl_s <= 0:
            return False
        known = self._known.get(_key(token))
        return known is not None and time.monotonic() - known[0] < self.ttl_s and now_s < known[2]

    def forget(self, token: str) -> None:
        """A token revoked here: asked of the store again next time."""
        with self._lock:
            self._known.pop(_key(token), None)


_MADE = threading.Lock()


def token_cache(context: HubContext) -> TokenCache:
    """The process's :class:`TokenCache` of the context (made on first use)."""
    cache = context.services.get("token-cache")
    if not isinstance(cache, TokenCache):
        with _MADE:
            cache = context.services.get("token-cache")
            if not isinstance(cache, TokenCache):
                cache = TokenCache(context.clients, context.token_cache_s)
                context.services["token-cache"] = cache
    return cache


def answered_in_memory(context: HubContext, authorization: str | None) -> bool:
    """Can the bearer check of a request run on the event loop: its token remembered here and
    the rate limits kept in this process (no database or network round trip to wait for)?
    Otherwise the check runs in the quick lane (``hub.lanes``)."""
    limits = context.rate_limits
    if limits is not None and limits.blocking_io:
        return False
    if not authorization or not authorization.lower().startswith("bearer "):
        return True  # refused at once (401), after the in-memory address budget
    return token_cache(context).remembers(authorization[7:].strip(), context.clock.timestamp())
