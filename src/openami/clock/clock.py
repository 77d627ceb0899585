"""Clock implementations: real, simulated (accelerated) and manual."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """The one source of time. Always returns timezone-aware datetimes."""

    def now(self) -> datetime:
        """Current time (timezone-aware)."""
        ...

    def timestamp(self) -> float:
        """Current time as Unix seconds."""
        ...


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"time must be timezone-aware, got naive {moment.isoformat()}")
    return moment


class RealClock:
    """Wall-clock time, as UTC-aware datetimes."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def timestamp(self) -> float:
        return time.time()


class SimClock:
    """Accelerated clock: starts at ``start`` and runs ``speed`` times faster than real time.

    ``speed=1800`` makes one half-hour slot pass per real second.
    """

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._start = _require_aware(start).timestamp()
        self._speed = speed
        self._t0 = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    def timestamp(self) -> float:
        return self._start + (time.monotonic() - self._t0) * self._speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)


class AnchoredClock:
    """Accelerated clock that several processes share: it reads ``sim_at_anchor_s`` when
    the wall clock reads ``anchor_wall_s`` and runs ``speed`` times faster than the wall.

    Two processes given the same three numbers agree on the time (to their wall clocks'
    agreement), unlike two :class:`SimClock` started at different moments: for a DLMS
    field and a HES service run accelerated in tests and demos.
    """

    def __init__(self, sim_at_anchor_s: float, anchor_wall_s: float, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._sim = float(sim_at_anchor_s)
        self._anchor = float(anchor_wall_s)
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def timestamp(self) -> float:
        return self._sim + (time.time() - self._anchor) * self._speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)


class ManualClock:
    """A clock that moves only when told: for simulations run as fast as possible, and tests."""

    def __init__(self, start: datetime) -> None:
        self._ts = _require_aware(start).timestamp()
        self._lock = threading.Lock()

    def timestamp(self) -> float:
        with self._lock:
            return self._ts

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def set(self, moment: datetime) -> None:
        """Jump to ``moment``; time never runs backwards."""
        ts = _require_aware(moment).timestamp()
        with self._lock:
            if ts < self._ts:
                raise ValueError("a clock never runs backwards")
            self._ts = ts

    def set_timestamp(self, epoch_s: float) -> None:
        """Jump to Unix time ``epoch_s``; time never runs backwards."""
        with self._lock:
            if epoch_s < self._ts:
                raise ValueError("a clock never runs backwards")
            self._ts = float(epoch_s)

    def advance(self, delta: timedelta | float) -> None:
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        if seconds < 0:
            raise ValueError("a clock never runs backwards")
        with self._lock:
            self._ts += seconds
