"""Lockout after failed guesses at one secret, whatever address they come from (issue #15 §3).

After ``max_failures`` consecutive failures for one id (a client id, a customer id, an
operator name) the id is locked for ``lockout_s``, doubled on each further lockout up to
``max_lockout_s``; while locked even the right secret is refused. A success clears the count.
Unknown ids are tracked like known ones, so a lockout tells nothing about whether an id
exists. Used by :mod:`openami.hub.guesses` (API clients, customers) and the dashboard login.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

MAX_TRACKED_IDS = 10_000


@dataclass
class _Failures:
    count: int = 0
    lockouts: int = 0
    locked_until_s: float = 0.0


@dataclass
class Lockout:
    """Consecutive failures per id (in memory, one process), and the lockouts they earn."""

    max_failures: int = 10
    lockout_s: float = 300.0
    max_lockout_s: float = 86_400.0
    _ids: dict[str, _Failures] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.lockout_s <= 0 or self.max_lockout_s < self.lockout_s:
            raise ValueError("need max_failures >= 1 and 0 < lockout_s <= max_lockout_s")

    def wait_s(self, key: str, now_s: float) -> float:
        """Seconds until ``key`` may try again (0.0: now)."""
        with self._lock:
            state = self._ids.get(key)
            return 0.0 if state is None else max(0.0, state.locked_until_s - now_s)

    def failed(self, key: str, now_s: float) -> None:
        with self._lock:
            state = self._ids.pop(key, None) or _Failures()
            self._ids[key] = state  # most recently failed last: pruning drops the oldest
            state.count += 1
            if state.count >= self.max_failures:
                state.lockouts += 1
                state.count = 0
                span_s = min(self.max_lockout_s, self.lockout_s * 2 ** (state.lockouts - 1))
                state.locked_until_s = now_s + span_s
            if len(self._ids) > MAX_TRACKED_IDS:
                self._prune(now_s)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._ids.pop(key, None)

    def _prune(self, now_s: float) -> None:
        locked = {k: v for k, v in self._ids.items() if v.locked_until_s > now_s}
        rest = [k for k in self._ids if k not in locked]
        for key in rest[: len(self._ids) - MAX_TRACKED_IDS // 2]:
            del self._ids[key]
