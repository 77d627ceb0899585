"""The MDMS service: turns register reads from the bus into versioned half-hour values."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from openami.bus.inprocess import TOPIC_READINGS, Bus
from openami.clock import Clock, slots_of_day
from openami.mdms.ingest import InstallIndex, MeterIndex, VeeIngestResult, ingest_batch
from openami.mdms.vee_config import VeeConfig, load_vee_config
from openami.registry import Registry
from openami.storage import duckdb_mdms as db
from openami.storage.duckdb_interval import DuckIntervalStore


class Mdms:
    """Meter data management: ingest, missing marks, queries.

    Half-hour value of slot ``s`` = register at boundary ``s+1`` minus register at ``s`` of
    the meter installed at the supply point during the slot.
    """

    def __init__(
        self,
        store: DuckIntervalStore,
        registry: Registry,
        clock: Clock,
        vee: VeeConfig | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.vee = vee or load_vee_config()
        db.ensure_schema(store)
        self._installations: pa.Table | None = None
        self._install_index: InstallIndex | None = None
        self._meter_index: MeterIndex | None = None

    def attach(self, bus: Bus) -> None:
        bus.subscribe(TOPIC_READINGS, self.ingest)

    def refresh_registry(self) -> None:
        """Forget cached installations and meter data (call after the registry changes)."""
        self._installations = None
        self._install_index = None
        self._meter_index = None

    @property
    def install_index(self) -> InstallIndex:
        if self._install_index is None:
            self._install_index = InstallIndex(self.installations)
        return self._install_index

    @property
    def meter_index(self) -> MeterIndex:
        """Registry contract amperage joined with the MDMS meter master data."""
        if self._meter_index is None:
            amps = self.registry.store.query_table(
                "SELECT meter_id, contract_amperage_a FROM meters"
            )
            if amps.num_rows == 0:
                amps = pa.table(
                    {
                        "meter_id": pa.array([], pa.int64()),
                        "contract_amperage_a": pa.array([], pa.int64()),
                    }
                )
            table = self.store.query(
                "SELECT a.meter_id, a.contract_amperage_a, m.register_digits, "
                "m.register_unit_wh, m.multiplier FROM amps a "
                "LEFT JOIN meter_master m USING (meter_id)",
                amps=amps,
            )
            self._meter_index = MeterIndex(table, self.vee)
        return self._meter_index

    @property
    def installations(self) -> pa.Table:
        if self._installations is None:
            self._installations = self.registry.installations_table()
        return self._installations

    def ingest(self, batch: pa.Table, reason: str = "register difference") -> VeeIngestResult:
        """Validate and store a batch of register reads in one transaction; idempotent."""
        return ingest_batch(
            self.store,
            batch,
            self.install_index,
            self.meter_index,
            self.vee,
            self.clock.timestamp(),
            reason,
        )

    def mark_missing(self, first_slot: int, last_slot: int) -> int:
        """Mark slots without a value as missing for every supply point with a meter then."""
        inst = self.installations
        t0, t1 = first_slot * 1800.0, (last_slot + 1) * 1800.0
        expected = self.store.query(
            "SELECT DISTINCT supply_point_key FROM inst WHERE valid_from < ? "
            "AND (valid_to IS NULL OR valid_to > ?)",
            [t1, t0],
            inst=inst,
        )
        return self.store.mark_missing(expected, first_slot, last_slot, self.clock.timestamp())

    def day_values(self, supply_point_key: int, day: date) -> pa.Table:
        """Current half-hour values of one supply point for one JST day (up to 48 rows)."""
        slots = slots_of_day(day)
        return self.store.current_values(supply_point_key, slots.start, slots.stop - 1)
