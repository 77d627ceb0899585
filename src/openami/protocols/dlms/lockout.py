"""Lockout with exponential backoff after failed associations (one logical device, one client).

After ``free_failures`` consecutive failed authentications (a wrong password, HLS keys that
do not match, a replayed or downgraded AARQ, a wrong challenge answer) the client is locked
out for ``base_delay_s``; each further failure right after a lock doubles the delay up to
``max_delay_s``. While locked, AARQs are refused *without checking the secret*, so a burst of
guesses costs the attacker time, not the meter CPU, and guesses cannot succeed. A success
clears the consecutive count. Time comes from the injected ``now_s`` (the meter's clock).

Sans-I/O: the association machine asks :meth:`locked`, reports :meth:`failed` and
:meth:`succeeded`; the owner turns a started lock into a meter event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_FREE_FAILURES = 3
DEFAULT_BASE_DELAY_S = 2.0
DEFAULT_MAX_DELAY_S = 3600.0


@dataclass
class AssociationLockout:
    """Counts failed associations and decides when the next one may be tried."""

    now_s: Callable[[], float] = field(repr=False)
    free_failures: int = DEFAULT_FREE_FAILURES
    base_delay_s: float = DEFAULT_BASE_DELAY_S
    max_delay_s: float = DEFAULT_MAX_DELAY_S
    consecutive_failures: int = 0
    total_failures: int = 0  # secrets checked and found wrong, ever
    refused_while_locked: int = 0  # attempts refused unread during a lock
    locks: int = 0
    locked_until_s: float = 0.0

    def __post_init__(self) -> None:
        if self.free_failures < 1 or self.base_delay_s <= 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("lockout needs free_failures ≥ 1 and 0 < base delay ≤ max delay")

    def locked(self) -> bool:
        """True while attempts are refused unread (each call while locked is counted)."""
        if self.now_s() < self.locked_until_s:
            self.refused_while_locked += 1
            return True
        return False

    def failed(self) -> float:
        """Record one failed authentication; the lock delay it starts (0.0: none)."""
        self.consecutive_failures += 1
        self.total_failures += 1
        over = self.consecutive_failures - self.free_failures
        if over < 0:
            return 0.0
        delay = min(self.max_delay_s, self.base_delay_s * 2.0 ** min(over, 64))
        self.locked_until_s = self.now_s() + delay
        self.locks += 1
        return delay

    def succeeded(self) -> None:
        self.consecutive_failures = 0


__all__ = ["AssociationLockout"]
