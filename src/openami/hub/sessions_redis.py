"""Login sessions in Redis (``openami serve hub --redis``), for :class:`~openami.hub.sessions.
SharedSessions`.

One hash per session, ``<prefix>:ws:<realm>:<SHA-256 of the token>`` (the token itself never
reaches Redis), with the session's fields and its expiry instant (hub clock); the key also
expires in Redis once the session has (its remaining seconds, from the hub clock), so Redis
holds only live sessions. A session read back past its expiry is not returned either way.
"""

from __future__ import annotations

import math
from typing import Any

import redis

from openami.storage.repositories.web_sessions import SessionRecord

_FIELDS = ("subject", "role", "csrf_token", "created_s", "last_seen_s", "expires_s")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisSessionBackend:
    def __init__(self, client: redis.Redis, prefix: str, realm: str) -> None:
        self.redis = client
        self.prefix = prefix
        self.realm = realm

    def _key(self, token_hash: str) -> str:
        return f"{self.prefix}:ws:{self.realm}:{token_hash}"

    @staticmethod
    def _ttl_ms(expires_s: float, now_s: float) -> int:
        return max(1000, math.ceil((expires_s - now_s) * 1000))

    def add(self, token_hash: str, record: SessionRecord) -> None:
        key = self._key(token_hash)
        mapping: dict[Any, Any] = {n: str(getattr(record, n)) for n in _FIELDS}
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping=mapping)
        pipe.pexpire(key, self._ttl_ms(record.expires_s, record.created_s))
        pipe.execute()

    def get(self, token_hash: str, now_s: float) -> SessionRecord | None:
        raw = self.redis.hgetall(self._key(token_hash))
        if not raw:
            return None
        values = {_text(k): _text(v) for k, v in raw.items()}
        if not set(_FIELDS) <= values.keys():  # touched as it expired: gone
            return None
        record = SessionRecord(
            values["subject"],
            values["role"],
            values["csrf_token"],
            float(values["created_s"]),
            float(values["last_seen_s"]),
            float(values["expires_s"]),
        )
        return record if record.expires_s > now_s else None

    def touch(self, token_hash: str, last_seen_s: float, expires_s: float) -> None:
        key = self._key(token_hash)
        pipe = self.redis.pipeline()
        mapping: dict[Any, Any] = {
            "last_seen_s": str(last_seen_s),
            "expires_s": str(expires_s),
        }
        pipe.hset(key, mapping=mapping)
        pipe.pexpire(key, self._ttl_ms(expires_s, last_seen_s))
        pipe.execute()

    def remove(self, token_hash: str) -> bool:
        return bool(self.redis.delete(self._key(token_hash)))
