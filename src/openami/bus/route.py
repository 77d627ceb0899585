"""Which supply point a meter's rows belong to, for partitioning the bus's subjects.

The composition root builds a :class:`MeterRoute` from the registry's installations; the
bus asks it for the supply point key of each row's meter. A meter it does not know yet
(installed since) makes it load the installations again, at most once per
``reload_every_s``; a meter that is still unknown is routed by its own id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

#: () → (meter ids, supply point keys), one row per installation, the latest last
Loader = Callable[[], tuple[np.ndarray, np.ndarray]]


class MeterRoute:
    def __init__(self, load: Loader, reload_every_s: float = 60.0) -> None:
        self._load = load
        self._reload_every_s = reload_every_s
        self._lock = threading.Lock()
        self._loaded_at: float | None = None  # loaded on first use, when the city exists
        self._meters = np.empty(0, np.int64)
        self._keys = np.empty(0, np.int64)

    def _reload(self) -> None:
        meters, keys = self._load()
        meters = np.asarray(meters, np.int64)
        keys = np.asarray(keys, np.int64)
        # the latest installation of a meter wins: keep each meter's last row
        reversed_unique, first = np.unique(meters[::-1], return_index=True)
        self._meters = reversed_unique
        self._keys = keys[::-1][first]
        self._loaded_at = time.monotonic()

    def _find(self, meter_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        at = np.searchsorted(self._meters, meter_ids)
        at = np.minimum(at, max(len(self._meters) - 1, 0))
        known = (
            self._meters[at] == meter_ids if len(self._meters) else np.zeros(len(meter_ids), bool)
        )
        return at, known

    def __call__(self, meter_ids: np.ndarray) -> np.ndarray:
        """The supply point key of each meter (its own id where none is known)."""
        meter_ids = np.asarray(meter_ids, np.int64)
        with self._lock:
            if self._loaded_at is None:
                self._reload()
            at, known = self._find(meter_ids)
            due = time.monotonic() - (self._loaded_at or 0.0) >= self._reload_every_s
            if not known.all() and due:
                self._reload()
                at, known = self._find(meter_ids)
            keys = self._keys[at] if len(self._keys) else meter_ids
        return np.where(known, keys, meter_ids)
