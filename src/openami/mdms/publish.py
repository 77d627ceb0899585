"""Where an MDMS worker hands the value versions it has just committed, for readers in other
processes (issue #13 §3: a shared table of value versions).

A worker calls :meth:`VersionPublisher.publish_new` after each committed ingest or tick of a
partition and before the bus acknowledges the batch, with the partition's store and a source
name (``p<kk>``). The publisher appends what that store committed since its last call and
says how many versions it published; it must be idempotent, since a worker killed between
the call and the acknowledgement calls it again for the same versions. The real publisher
(a Delta Lake table) is wired in by the composition root when it is configured; without one
nothing is published and the partition stores alone hold the values.
"""

from __future__ import annotations

from typing import Protocol

from openami.storage.duckdb_interval import DuckIntervalStore


class VersionPublisher(Protocol):
    def publish_new(self, store: DuckIntervalStore, source: str) -> int:
        """Publish the versions ``store`` committed since the last call for ``source``;
        how many were published."""
        ...


def partition_source(partition: int) -> str:
    """The source name of a partition's store: ``p00``, ``p01`` … ``p63``."""
    return f"p{partition:02d}"
