"""The MDMS as a hub replica sees it: current values from the shared interval store.

A hub process of the scale-out deployment (``openami serve hub``, docs/deployment.md) holds
no interval store of its own that the MDMS writes: the MDMS workers publish every committed
value version to the shared interval store (a Delta Lake table), and this service answers
"the current value" from there, by the same rule (the highest version of each slot). Its
own interval store is an empty one in memory: what else an ``Mdms`` offers (reports over
stored reads, settlement, edits) belongs to the MDMS workers, not to a hub replica.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from openami.clock import Clock
from openami.mdms.service import Mdms
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.shared_current import shared_current_values, shared_values_of_points
from openami.storage.shared_read import SharedValuesReader


class SharedValuesMdms(Mdms):
    """:class:`Mdms` whose current values are read from the shared interval store at
    ``uri`` (refreshed at most every ``refresh_s`` seconds)."""

    def __init__(self, uri: str, registry: Registry, clock: Clock, refresh_s: float = 1.0) -> None:
        super().__init__(DuckIntervalStore(":memory:"), registry, clock, tick_cache=False)
        self.reader = SharedValuesReader(uri, refresh_s=refresh_s)

    def current_values(self, supply_point_key: int, first_slot: int, last_slot: int) -> pa.Table:
        return shared_current_values(self.reader, supply_point_key, first_slot, last_slot)

    def current_values_of_points(
        self, supply_point_keys: Sequence[int], first_slot: int, last_slot: int
    ) -> pa.Table:
        """Many points at once, with a leading ``supply_point_key`` (as ``MdmsReports``)."""
        return shared_values_of_points(self.reader, supply_point_keys, first_slot, last_slot)
