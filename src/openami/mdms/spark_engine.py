"""Settlement and billing on Spark (``openami mdms settle|bill --engine spark``).

The embedded DuckDB engine is the default: it sums the MDMS's own interval store. For
deployments that outgrow one machine the same sums run as Spark jobs over the shared
interval store (``storage/spark_values.py``, ``storage/spark_sums.py``) — the Delta Lake
table the MDMS workers publish to. :meth:`SparkEngine.ready` first publishes what the
working store holds and the shared store does not (idempotent: nothing twice), so the
Spark job sees every value the DuckDB engine would, estimates included; the settlement run
is stored in the MDMS store as a DuckDB run is. See docs/mdms.md, *Settlement and billing on Spark*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from openami.log import get_logger
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.shared_values import SINGLE_SOURCE, SharedValueStore
from openami.storage.spark_sums import SnapshotSource, SparkSums
from openami.storage.spark_values import spark_session

log = get_logger(__name__)

ENGINES = ("duckdb", "spark")
DEFAULT_MASTER = "local[2]"


@dataclass
class SparkEngine:
    """A Spark session at ``master`` over the shared interval store at ``uri``; values of
    the working store are published as ``source`` before each job (``publish``)."""

    uri: str | Path
    master: str = DEFAULT_MASTER
    source: str = SINGLE_SOURCE
    publish: bool = True
    _sums: SparkSums | None = field(default=None, init=False, repr=False)
    _shared: SharedValueStore | None = field(default=None, init=False, repr=False)

    def sums(self) -> SparkSums:
        """The Spark side (the session starts on first use: seconds, a JVM)."""
        if self._sums is None:
            session = spark_session(self.master, app_name="openami-settlement")
            self._sums = SparkSums(session, SnapshotSource(str(self.uri)))
        return self._sums

    def ready(self, store: DuckIntervalStore) -> SparkSums:
        """Publish ``store``'s new value versions (when ``publish``), then the Spark side."""
        if self.publish:
            if self._shared is None:
                self._shared = SharedValueStore(self.uri)
            count = self._shared.publish_new(store, self.source)
            log.info("published before the Spark job", value_versions=count)
        return self.sums()
