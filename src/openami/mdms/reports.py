"""The read side of the MDMS for the C-route hub and the operator dashboard.

``Mdms.current_values`` is the one source of half-hour values; this service answers
everything else the hub and the dashboard read from the interval store: register reads of
the meters at a supply point, the value versions recorded in a time window (webhooks), the
delivery SLO, the dashboard's collection timeline, watermarks, day range and value
versions, and the A-route KPIs. The queries live in storage
(:mod:`openami.storage.duckdb_data_api`, :mod:`openami.storage.dashboard_queries`,
:mod:`openami.storage.slo_queries`); what they need from the registry is passed in as
Arrow tables, so storage never imports the registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.mdms.indexes import installed_slots
from openami.mdms.kpi import HesJournal, KpiRow, daily_kpis
from openami.mdms.service import Mdms
from openami.storage import dashboard_queries, duckdb_data_api, slo_queries
from openami.storage.dashboard_queries import SlotCollection

__all__ = ["MdmsReports", "SlotCollection"]

METER_RANGES_SCHEMA = pa.schema(
    [("meter_id", pa.int64()), ("first_boundary", pa.int64()), ("last_boundary", pa.int64())]
)


class MdmsReports:
    """Read-only reports over one MDMS (cheap to build: holds only the service)."""

    def __init__(self, mdms: Mdms) -> None:
        self.mdms = mdms

    # -- current values of many points ------------------------------------------------------
    def current_values_of_points(
        self, supply_point_keys: Sequence[int], first_slot: int, last_slot: int
    ) -> pa.Table:
        """``Mdms.current_values`` of many points at once (a page of a bulk feed), with a
        leading ``supply_point_key`` column, by point and slot: the same rule in one query
        instead of one read per point."""
        from openami.mdms.shared_values import SharedValuesMdms  # hub replicas

        if isinstance(self.mdms, SharedValuesMdms):
            return self.mdms.current_values_of_points(supply_point_keys, first_slot, last_slot)
        keys = pa.table({"supply_point_key": pa.array(list(supply_point_keys), pa.int64())})
        return duckdb_data_api.current_values_of_points(
            self.mdms.store, keys, first_slot, last_slot
        )

    # -- register reads ---------------------------------------------------------------------
    def meter_ranges(self, supply_point_key: int, slot_ranges: pa.Table) -> pa.Table:
        """The boundaries of each meter installed at the point within ``slot_ranges``
        (``first_slot``, ``last_slot``, inclusive), as ``meter_id``, ``first_boundary``,
        ``last_boundary``; a read at an exchange boundary belongs to both meters."""
        table = self.mdms.installations
        inst = table.filter(pc.equal(table.column("supply_point_key"), supply_point_key))
        meter = np.asarray(inst.column("meter_id").to_numpy(), dtype=np.int64)
        first_slot = np.asarray(slot_ranges.column("first_slot").to_numpy(), dtype=np.int64)
        last_slot = np.asarray(slot_ranges.column("last_slot").to_numpy(), dtype=np.int64)
        # the meter reads the boundaries of the slots it is installed during: first..stop
        first_installed, last_installed = installed_slots(inst)
        lo = np.maximum(first_slot[:, None], first_installed[None, :])
        hi = np.minimum(last_slot[:, None], last_installed[None, :])
        keep = lo <= hi
        return pa.table(
            {
                "meter_id": np.broadcast_to(meter[None, :], keep.shape)[keep],
                "first_boundary": lo[keep],
                "last_boundary": hi[keep],
            },
            schema=METER_RANGES_SCHEMA,
        )

    def register_reads_page(
        self,
        supply_point_key: int,
        slot_ranges: pa.Table,
        updated_since_s: float | None,
        limit: int,
        offset: int,
    ) -> tuple[pa.Table, int]:
        """One page of the current register reads of the meters installed at the point
        within ``slot_ranges`` (by boundary, then meter), and how many match in all:
        meter_id, boundary, import_register_wh, export_register_wh, source (a
        ``ReadSource`` code), updated_at, final."""
        meters = self.meter_ranges(supply_point_key, slot_ranges)
        if meters.num_rows == 0:
            return pa.table({}), 0
        return duckdb_data_api.register_reads_page(
            self.mdms.store, meters, updated_since_s, limit, offset
        )

    def meter_register_reads(
        self, meter_id: int, first_boundary: int, last_boundary: int
    ) -> list[dict[str, Any]]:
        """One meter's reads at boundaries in a range: latest value, first arrival, source
        code of the first arrival, delay and number of reads stored."""
        return dashboard_queries.meter_register_reads(
            self.mdms.store, meter_id, first_boundary, last_boundary
        )

    # -- what changed (webhooks) ------------------------------------------------------------
    def changed_slots(
        self, after_s: float, until_s: float, contracts: pa.Table, max_keys: int
    ) -> pa.Table:
        """Per retailer and slot, the supplied points with a value version recorded in
        ``(after_s, until_s]`` (see :func:`openami.storage.duckdb_data_api.changed_slots`)."""
        return duckdb_data_api.changed_slots(self.mdms.store, after_s, until_s, contracts, max_keys)

    def changed_slots_of(self, changes: pa.Table, contracts: pa.Table, max_keys: int) -> pa.Table:
        """:meth:`changed_slots` of given (supply_point_key, slot) pairs (a hub replica's
        changes from the shared interval store)."""
        return duckdb_data_api.changed_slots_of(self.mdms.store, changes, contracts, max_keys)

    # -- delivery SLO -----------------------------------------------------------------------
    def delivery_slo(self, first_slot: int, last_slot: int, now_s: float) -> pa.Table:
        """Per slot: expected values, availability latencies and completeness (see
        :mod:`openami.storage.slo_queries`)."""
        return slo_queries.delivery_slo(
            self.mdms.store, self.mdms.installations, first_slot, last_slot, now_s
        )

    # -- the operator dashboard -------------------------------------------------------------
    def data_day_range(self) -> tuple[date, date] | None:
        """First and last JST day with register reads, or None."""
        return dashboard_queries.data_day_range(self.mdms.store)

    def ingest_watermark(self) -> tuple[int, int, int]:
        """Changes whenever anything was stored."""
        return dashboard_queries.ingest_watermark(self.mdms.store)

    def day_watermark(self, day: date) -> tuple[int, int, int]:
        """Changes whenever anything about ``day`` was stored."""
        return dashboard_queries.day_watermark(self.mdms.store, day)

    def slot_timeline(
        self, meters: pa.Table, day: date, by: str = "comm_method"
    ) -> list[SlotCollection]:
        """Reads expected and received per slot end of ``day`` and group."""
        return dashboard_queries.slot_timeline(self.mdms.store, meters, day, by)

    def value_versions(
        self, supply_point_key: int, first_slot: int, last_slot: int
    ) -> dict[int, tuple[int, str]]:
        """Per slot of one point: (number of versions, reason of the current one)."""
        return dashboard_queries.value_versions(
            self.mdms.store, supply_point_key, first_slot, last_slot
        )

    def daily_kpis(
        self,
        day: date,
        by: str = "comm_method",
        journal: HesJournal | None = None,
        meters: pa.Table | None = None,
    ) -> list[KpiRow]:
        """A-route KPIs of ``day`` grouped ``by``; the last row is the total."""
        return daily_kpis(self.mdms.store, self.mdms.registry, day, by, journal, meters)
