"""When DuckDB checkpoints the interval store: after a large ingest, on a helper thread.

DuckDB checkpoints on its own once its write-ahead log passes ``checkpoint_threshold``
(16 MB by default). An A-route tick logs every V06 running mean it replaces (a range delete
per part: 8 bytes a row, about 650 MB at national scale), so with the default DuckDB
checkpointed some forty times inside one national tick, and those checkpoints took 14 s of
its 60 s of CPU. The interval store therefore raises the threshold
(:data:`DEFAULT_CHECKPOINT_THRESHOLD`, configurable), and the MDMS asks for one checkpoint
after an ingest that logged enough (:meth:`BackgroundCheckpoint.start_if_due`): it runs on a
helper thread
while the next tick is still minutes away, holding the store's lock, so a write that comes
meanwhile waits for it rather than meeting it half done. What was committed is durable in
the log either way; the checkpoint only folds the log into the file.

The MDMS asks after every ingest call, and a checkpoint starts once the log holds
:data:`CHECKPOINT_DUE_BYTES`: a national tick's ingest ends far above it, while a worker's
partition store, written in small batches, checkpoints every 64 MB of log (DuckDB's own
default was 16 MB), so that a restart (failover) never replays more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import duckdb

#: DuckDB's automatic checkpoint once the log holds this much (above one national tick's log)
DEFAULT_CHECKPOINT_THRESHOLD = "2GB"
#: the environment variable that overrides it
CHECKPOINT_THRESHOLD_ENV = "OPENAMI_DUCKDB_CHECKPOINT_THRESHOLD"
#: after an ingest call, a checkpoint starts once the log holds this many bytes
CHECKPOINT_DUE_BYTES = 64 * 2**20

log = logging.getLogger(__name__)


class BackgroundCheckpoint:
    """One checkpoint at a time on a helper thread; ``checkpoint`` runs it (holding the
    store's lock) and says whether DuckDB could (not while another connection's
    transaction is open); ``log_bytes`` is the size of the write-ahead log."""

    def __init__(self, checkpoint: Callable[[], bool], log_bytes: Callable[[], int]) -> None:
        self._checkpoint, self._log_bytes = checkpoint, log_bytes
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        #: seconds the last checkpoint took (None: none yet, or it could not run)
        self.last_s: float | None = None

    def start(self) -> None:
        """Start a checkpoint unless one is running."""
        with self._guard:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="duckdb-checkpoint", daemon=True)
            self._thread.start()

    def start_if_due(self, due_bytes: int | None = None) -> bool:
        """Start a checkpoint if the log holds ``due_bytes`` (default
        :data:`CHECKPOINT_DUE_BYTES`) or more; whether it did."""
        if self._log_bytes() < (CHECKPOINT_DUE_BYTES if due_bytes is None else due_bytes):
            return False
        self.start()
        return True

    def wait(self, timeout_s: float | None = None) -> float | None:
        """Wait for the running checkpoint (if any); seconds the last one took."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return self.last_s

    def _run(self) -> None:
        t0 = time.perf_counter()
        try:
            done = self._checkpoint()
        except duckdb.Error as exc:  # e.g. the store closed meanwhile: the log stays
            log.warning("interval store checkpoint failed", extra={"error": type(exc).__name__})
            done = False
        self.last_s = time.perf_counter() - t0 if done else None
