"""What every step of the VEE ingest works with: the context of one ingest call, the plan of
one checked part and its counts."""

from __future__ import annotations

import time
from dataclasses import astuple, dataclass, field

import numpy as np
import pyarrow as pa

from openami.mdms.indexes import InstallIndex, MeterIndex
from openami.mdms.tick_cache import TickCache
from openami.mdms.vee_config import VeeConfig
from openami.storage.duckdb_interval import DEFAULT_REASON, DuckIntervalStore
from openami.storage.interval_appends import TAKE_COLUMN
from openami.storage.interval_ingest import IngestAppend

#: rows per part: keeps NumPy temporaries small enough to be reused
PART_ROWS = 1 << 20


@dataclass(frozen=True)
class VeeIngestResult:
    """Counts of one ingest call (or part): reads in, reads and value versions stored, reads
    already stored (or repeated in the batch), values invalid and flagged."""

    rows_in: int
    reads_new: int
    values_new: int
    duplicates: int = 0
    invalid: int = 0
    flagged: int = 0

    def __add__(self, other: VeeIngestResult) -> VeeIngestResult:
        return VeeIngestResult(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


@dataclass(frozen=True)
class IngestContext:
    """One ingest call's store, registry look-ups, rules and bookkeeping.

    ``tick_cache``: the VEE facts carried from tick to tick (``None``: every A-route tick
    looks up what is stored, as after a start). ``dense=False`` sends everything through
    the general path (to compare the paths); ``revalue`` computes values from reads already
    stored too. ``lookback_candidates_only``: a tick's V08 look-back reads only the supply
    points whose value can continue a run (``False``: all, to compare)."""

    store: DuckIntervalStore
    installs: InstallIndex
    meters: MeterIndex
    vee: VeeConfig
    recorded_at_s: float
    reason: str = DEFAULT_REASON
    revalue: bool = False
    tick_cache: TickCache | None = None
    dense: bool = True
    part_rows: int = PART_ROWS
    lookback_candidates_only: bool = True

    @property
    def history_cap(self) -> int:
        """Values behind a V06 running mean at most."""
        return int(self.vee.rule("V06").p("history_cap"))

    @property
    def active_tick_cache(self) -> TickCache | None:
        """The tick cache, where this call may use it (dense, not a revaluation)."""
        return self.tick_cache if self.dense and not self.revalue else None


@dataclass
class PartPlan:
    """What one checked part stores, and its counts."""

    result: VeeIngestResult
    append: IngestAppend = field(default_factory=IngestAppend)

    def merged(self, other: PartPlan) -> PartPlan:
        """This plan and one for other meters of the same part, stored together (running
        means come from the tick path only, so at most one of them has any)."""
        first, second = self.append, other.append
        means = first if first.history_means is not None else second
        return PartPlan(
            self.result + other.result,
            IngestAppend(
                reads=_concat_reads(first.reads, second.reads),
                values=_concat(first.values, second.values),
                day_rows=_concat(first.day_rows, second.day_rows),
                history_folds=_concat(first.history_folds, second.history_folds),
                history_means=means.history_means,
                history_means_stored=means.history_means_stored,
            ),
        )


def _concat(first: pa.Table | None, second: pa.Table | None) -> pa.Table | None:
    if first is None or second is None:
        return first if second is None else second
    return pa.concat_tables([first, second])


def _concat_reads(first: pa.Table | None, second: pa.Table | None) -> pa.Table | None:
    """Reads of both plans; where the first marks the rows to append, all of the second's
    are marked."""
    if first is not None and second is not None and TAKE_COLUMN in first.column_names:
        second = second.append_column(
            TAKE_COLUMN, pa.array(np.ones(second.num_rows, dtype=np.bool_))
        )
    return _concat(first, second)


class PhaseClock:
    """Seconds per phase of an ingest (prepare, lookup, validate, store), summed into
    ``sink`` (nothing is measured without one)."""

    def __init__(self, sink: dict[str, float] | None) -> None:
        self.sink = sink
        self.t = time.perf_counter()

    def lap(self, phase: str) -> None:
        if self.sink is not None:
            now = time.perf_counter()
            self.sink[phase] = self.sink.get(phase, 0.0) + now - self.t
            self.t = now
