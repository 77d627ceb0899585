"""The one collection core of the head-end: what to read, when, how often to retry, which
gaps to backfill and which clocks to set, whatever carries the sessions.

Two drivers use it, each through its own meter-access adapter (:mod:`openami.hes.access`):

- :class:`openami.hes.engine.HeadEnd`, the simulation: sessions through the statistical
  network model, whole batches at once in simulated time;
- :class:`openami.hes.service.HesService`, the HES service: sessions over DLMS/TCP with the
  real (or an accelerated) clock, one asyncio task per meter session.

The rules live here once:

- **schedule**: every meter is read once per :00/:30 boundary, at a seeded per-meter jitter
  after it (:func:`read_jitter_s`);
- **retries**: up to ``max_retries`` more sessions, waiting ``retry_base_s × multiplier^(k-1)``
  with ± ``retry_jitter`` (:func:`retry_wait_s`);
- **caps**: sessions per segment (a concentrator, a cell, or a DLMS endpoint) are limited
  to its permits (:func:`segment_permits`);
- **backfill**: a window of ``window_slots`` boundaries remembers what was collected
  (:class:`GapWindow`); meters with gaps get one range read of their load profile;
- **clock**: every session reads the meter clock; compliance and the need for a clock set
  follow from the offset (:class:`ClockWatch`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from openami.hes.commands import CommandConfig
from openami.meter.load import hash_uniform

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
BOOL = npt.NDArray[np.bool_]

#: salt of the per-meter read jitter (kept: the simulation's results depend on it)
JITTER_SALT = 501
#: salt base of the retry-wait jitter (+ attempt base + retry number)
RETRY_SALT = 510


@dataclass(frozen=True)
class CollectionConfig:
    push_jitter_s: float = 120.0  # spread of read start times after each boundary
    retry_base_s: float = 150.0  # wait before the first retry; doubles each time
    retry_multiplier: float = 2.0
    max_retries: int = 3
    retry_jitter: float = 0.1  # ± share of each wait
    backfill_every_s: float = 6 * 3600.0
    window_slots: int = 4 * 48  # how far back the HES tracks and backfills gaps
    concentrator_permits: int = 16  # concurrent bulk sessions per concentrator
    cell_permits: int = 64  # concurrent bulk sessions per cell (and per DLMS endpoint)
    clock_threshold_s: float = 10.0  # compliant when |meter − HES| <= this
    clock_sync_threshold_s: float = 5.0  # synchronise above this
    outage_missed_share: float = 0.9  # a segment missing this share of a boundary's reads …
    outage_min_meters: int = 5  # … with at least this many meters is a suspected outage
    commands: CommandConfig = field(default_factory=CommandConfig)

    def __post_init__(self) -> None:
        if self.window_slots < 2 or self.max_retries < 0:
            raise ValueError("window_slots must be >= 2 and max_retries >= 0")
        if min(self.concentrator_permits, self.cell_permits) < 1:
            raise ValueError("permits must be at least 1")


def read_jitter_s(config: CollectionConfig, seed: int, meter_ids: I64, boundary: int | I64) -> F64:
    """Seconds after ``boundary`` at which each meter's scheduled read starts."""
    return hash_uniform(seed, JITTER_SALT, meter_ids, boundary) * config.push_jitter_s


def retry_wait_s(
    config: CollectionConfig,
    seed: int,
    attempt_base: int,
    retry_no: int,
    meter_ids: I64,
    boundary: I64,
) -> F64:
    """Wait before retry ``retry_no`` (1, 2 …): exponential backoff with seeded jitter."""
    u = hash_uniform(seed, RETRY_SALT + attempt_base + retry_no, meter_ids, boundary)
    wait = config.retry_base_s * config.retry_multiplier ** (retry_no - 1)
    return np.asarray(wait * (1.0 + config.retry_jitter * (u - 0.5)), dtype=np.float64)


def segment_permits(config: CollectionConfig, segment_is_cell: BOOL) -> I64:
    """Concurrent sessions each segment allows: cells (and DLMS endpoints) many, a
    concentrator's mesh few."""
    return np.where(segment_is_cell, config.cell_permits, config.concentrator_permits).astype(
        np.int64
    )


class GapWindow:
    """Which of the last ``slots`` boundaries each meter's read was collected (or scheduled)
    for: the gaps a backfill fetches."""

    def __init__(self, meters: int, slots: int) -> None:
        self.slots = slots
        self.collected = np.zeros((meters, slots), dtype=np.bool_)
        self.boundary = np.full(slots, -1, dtype=np.int64)

    def open(self, boundary: int) -> None:
        """Start tracking ``boundary`` (forgets the boundary ``slots`` before it)."""
        col = boundary % self.slots
        if self.boundary[col] != boundary:
            self.boundary[col] = boundary
            self.collected[:, col] = False

    def mark(self, index: I64, boundary: I64) -> None:
        """Record reads of meters ``index`` at ``boundary`` (those outside the window: none)."""
        if len(index) == 0:
            return
        col = boundary % self.slots
        inside = self.boundary[col] == boundary
        self.collected[index[inside], col[inside]] = True

    def gaps(self, now_boundary: int, logged: BOOL | None = None) -> npt.NDArray[np.bool_]:
        """Meters × window columns not collected, among boundaries up to ``now_boundary``
        (and, with ``logged``, still in the meters' logs)."""
        valid = (self.boundary >= 0) & (self.boundary <= now_boundary)
        if logged is not None:
            valid &= logged
        return np.asarray(~self.collected & valid[None, :], dtype=np.bool_)

    def oldest_gap(self, now_boundary: int, logged: BOOL | None = None) -> I64:
        """Per meter, the oldest boundary not collected (-1: none): the start of the one
        range read that fills every gap of the meter."""
        gaps = self.gaps(now_boundary, logged)
        stamped = np.where(gaps, self.boundary[None, :], np.iinfo(np.int64).max)
        oldest = stamped.min(axis=1) if self.slots else np.zeros(0, np.int64)
        return np.where(gaps.any(axis=1), oldest, -1).astype(np.int64)


class ClockWatch:
    """Each meter's clock as the sessions found it: checked, compliant, last offset, and
    whether a clock set is wanted."""

    def __init__(self, meters: int, threshold_s: float, sync_threshold_s: float) -> None:
        self.threshold_s = threshold_s
        self.sync_threshold_s = sync_threshold_s
        self.checked = np.zeros(meters, dtype=np.bool_)
        self.ok = np.zeros(meters, dtype=np.bool_)
        self.offset_s = np.full(meters, np.nan)
        self.sync_wanted = np.zeros(meters, dtype=np.bool_)

    def check(self, index: I64, offset_s: F64) -> None:
        """Record the offsets (meter − HES) that sessions with meters ``index`` read."""
        if len(index) == 0:
            return
        self.checked[index] = True
        self.offset_s[index] = offset_s
        self.ok[index] = np.abs(offset_s) <= self.threshold_s
        self.sync_wanted[index] = np.abs(offset_s) > self.sync_threshold_s

    def new_day(self) -> None:
        """Start a new day's record of which meters were checked."""
        self.checked = np.zeros(len(self.checked), dtype=np.bool_)
