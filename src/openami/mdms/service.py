"""The MDMS service: turns register reads from the bus into versioned half-hour values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.inprocess import Bus
from openami.bus.messages import (
    METER_EVENT_KINDS,
    READ_SCHEMA,
    TOPIC_EVENTS,
    TOPIC_READINGS,
    MeterEvent,
    Quality,
    ReadSource,
)
from openami.clock import Clock, slot_at_s, slot_start_s, slots_of_day
from openami.mdms.audit_port import AUTOMATIC_USER, PURPOSE_MDMS_CORRECTION, AuditTrail
from openami.mdms.billing import billing_determinants
from openami.mdms.bulk import ImportReport, import_reads, values_csv
from openami.mdms.completeness import completeness, load_area_targets, load_targets
from openami.mdms.indexes import InstallIndex, MeterIndex, installed_during
from openami.mdms.ingest import IngestContext, TickCache, VeeIngestResult, ingest_batch
from openami.mdms.jobs import EditResult, EstimationResult, edit_values, flat_total, run_estimation
from openami.mdms.settlement import SettlementRun, settle_day
from openami.mdms.spark_engine import SparkEngine
from openami.mdms.tick_state import mark_missing_in_step
from openami.mdms.vee_config import VeeConfig, load_vee_config
from openami.registry import Registry
from openami.storage.day_cluster import WINDOW_DAYS, ClusterResult, cluster_days
from openami.storage.day_pack import PackResult, pack_days
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.mdms_schema import upgrade_mdms_schema
from openami.storage.mdms_watermarks import set_watermark, watermark
from openami.storage.meter_data import meter_parameters, record_meter_events, set_meter_master
from openami.storage.meter_reads import current_reads
from openami.storage.parquet_days import compact_day
from openami.storage.point_days import PointDays
from openami.storage.point_read import FinalPeriods, current_values
from openami.storage.value_jobs import declare_final

#: the watermark of the missing-value deadline: the last slot it has closed
DEADLINE_WATERMARK = "missing_deadline"


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
        tick_cache: bool = True,  # False: ticks look up stored facts every time (tick_cache.py)
        audit: AuditTrail | None = None,  # where people's changes to values are recorded
        point_days: bool = True,  # a read-only store: point reads from point-day files
    ) -> None:
        self.audit = audit
        self.store = store
        self.registry = registry
        self.clock = clock
        self.vee = vee or load_vee_config()
        self.tick_cache = TickCache() if tick_cache else None
        upgrade_mdms_schema(store)
        self._final_periods = FinalPeriods(store)
        # a read-only store's day rows by point, mapped in the background (point_days.py)
        self.point_days = PointDays.start(store) if point_days else None

    def attach(self, bus: Bus) -> None:
        bus.subscribe(TOPIC_READINGS, self.ingest)
        bus.subscribe(TOPIC_EVENTS, self.ingest_hes_events)

    def ingest_hes_events(self, events: pa.Table) -> int:
        """Meter alarms from the HES (``hes.events``): last gasp / restore pairs become
        outages (V10O, valid zeros), tamper flags its slot (V10). Other kinds are ignored."""
        code = events.column("event").to_numpy(zero_copy_only=False).astype(np.int64)
        names = np.array([""] * (max(MeterEvent) + 1), dtype=object)
        for event in MeterEvent:
            names[event] = event.label
        known = np.isin(code, list(MeterEvent))
        if not known.any():
            return 0
        at = events.column("occurred_at").to_numpy(zero_copy_only=False)[known]
        kind = names[code[known]]
        table = pa.table(
            {
                "meter_id": events.column("meter_id").filter(pa.array(known)),
                "kind": pa.array(kind.tolist(), pa.string()),
                "start_s": at,
                # a tamper is a moment: give it one second so it touches its slot
                "end_s": np.where(kind == "tamper", at + 1.0, at),
            }
        )
        return self.record_events(table)

    def refresh_registry(self) -> None:
        """Forget cached installations and meter data (call after the registry changes)."""
        for cached in ("installations", "install_index", "meter_index"):
            self.__dict__.pop(cached, None)

    @cached_property
    def install_index(self) -> InstallIndex:
        return InstallIndex(self.installations)

    @cached_property
    def meter_index(self) -> MeterIndex:
        """Registry contract amperage joined with the MDMS meter master data."""
        amps = self.registry.meter_amperages_table()
        return MeterIndex(meter_parameters(self.store, amps), self.vee)

    @cached_property
    def installations(self) -> pa.Table:
        return self.registry.installations_table()

    def ingest(
        self, batch: pa.Table, reason: str = "register difference", revalue: bool = False
    ) -> VeeIngestResult:
        """Validate and store a batch of register reads in one transaction; idempotent."""
        context = IngestContext(
            self.store,
            self.install_index,
            self.meter_index,
            self.vee,
            self.clock.timestamp(),
            reason,
            revalue,
            self.tick_cache,
        )
        return ingest_batch(context, batch)

    def mark_missing(self, first_slot: int, last_slot: int) -> int:
        """Mark slots without a value as missing, for each supply point and slot with a meter
        installed during the slot (a slot that has any version is left alone, so marking
        twice adds nothing)."""
        inst = self.installations.filter(
            installed_during(self.installations, first_slot, last_slot)
        )
        return mark_missing_in_step(
            self.store, self.tick_cache, inst, (first_slot, last_slot), self.clock.timestamp()
        )

    def close_due_slots(self, now_s: float) -> int:
        """Mark as missing every slot still without a value once the deadline
        (``vee.missing_deadline_s`` after the slot's end, the C-route delivery rule) has
        passed at ``now_s``; returns the values marked. The last slot closed is stored, so
        that a restarted MDMS goes on where it stopped and closes each slot once. An MDMS that
        has closed nothing yet starts with the slots due after ``now_s`` unless
        :meth:`start_closing_at` said otherwise."""
        due_through = slot_at_s(now_s - self.vee.missing_deadline_s) - 1
        closed_through = watermark(self.store, DEADLINE_WATERMARK)
        if closed_through is None:
            set_watermark(self.store, DEADLINE_WATERMARK, due_through, self.clock.timestamp())
            return 0
        if due_through <= closed_through:
            return 0
        # marking twice adds nothing: a crash before the watermark moves loses no work
        marked = self.mark_missing(closed_through + 1, due_through)
        set_watermark(self.store, DEADLINE_WATERMARK, due_through, self.clock.timestamp())
        return marked

    def start_closing_at(self, first_slot: int) -> None:
        """Make ``first_slot`` the first slot :meth:`close_due_slots` closes, unless it has
        closed slots before (then it goes on from where it stopped)."""
        if watermark(self.store, DEADLINE_WATERMARK) is None:
            set_watermark(self.store, DEADLINE_WATERMARK, first_slot - 1, self.clock.timestamp())

    # -- VEE jobs ---------------------------------------------------------------------------
    def estimate(
        self,
        first_slot: int,
        last_slot: int,
        supply_point_keys: list[int] | None = None,
        final: bool = False,
        user: str = "vee",
    ) -> EstimationResult:
        """Estimate missing/invalid/absent values in the slot range (see ``estimate.py``)."""
        result = run_estimation(
            self.store,
            self.installations,
            self.meter_index,
            self.vee,
            first_slot,
            last_slot,
            self.clock.timestamp(),
            supply_point_keys,
            final,
            user,
        )
        if user != AUTOMATIC_USER:
            span = {"first_slot": first_slot, "last_slot": last_slot, "final": final}
            detail = {**span, "keys": supply_point_keys, "estimated": result.candidates}
            self._audit(user, "mdms estimation", None, detail)
        return result

    def _audit(
        self, user: str, action: str, supply_point_key: int | None, detail: dict[str, Any]
    ) -> None:
        if self.audit is None:
            return
        subject = None
        if supply_point_key is not None:
            subject = self.registry.supply_point_id_map([supply_point_key]).get(supply_point_key)
        self.audit.record(
            user, action, self.clock.timestamp(), PURPOSE_MDMS_CORRECTION, subject, detail
        )

    def meter_at(self, supply_point_key: int, slot: int) -> int | None:
        """The meter installed at the supply point during the slot, if any."""
        inst = self.installations
        at_point = pc.equal(inst.column("supply_point_key"), supply_point_key).to_numpy(
            zero_copy_only=False
        )
        mask = at_point & installed_during(inst, slot, slot)
        hit = inst.column("meter_id").filter(pa.array(mask)).to_pylist()
        return int(hit[0]) if hit else None

    def edit(
        self,
        supply_point_key: int,
        slots: Sequence[int],
        import_wh: Sequence[int],
        export_wh: Sequence[int | None],
        user: str,
        reason: str,
    ) -> EditResult:
        """Manual edit (quality ``edited``, method ``M``) with user and reason; V05 runs over
        the edited span when the meter's register reads at both ends are stored."""
        s = np.asarray(slots, dtype=np.int64)
        meter = self.meter_at(supply_point_key, int(s.min())) if len(s) else None
        result = edit_values(
            self.store,
            supply_point_key,
            s,
            np.asarray(import_wh, dtype=np.int64),
            np.array([np.nan if e is None else e for e in export_wh], dtype=np.float64),
            user,
            reason,
            self.clock.timestamp(),
            meter_id=meter,
            cfg=self.vee,
        )
        detail = {
            "reason": reason,
            "slots": [int(x) for x in s],
            "import_wh": [int(x) for x in import_wh],
            "export_wh": list(export_wh),
            "versions": result.versions,
        }
        self._audit(user, "mdms manual edit", supply_point_key, detail)
        return result

    def distribute_total(
        self,
        supply_point_key: int,
        first_slot: int,
        last_slot: int,
        total_import_wh: int,
        user: str,
        reason: str,
    ) -> EditResult:
        """E4: spread a known import total (e.g. an operator's reading) evenly over slots."""
        n = last_slot - first_slot + 1
        s = np.arange(first_slot, last_slot + 1, dtype=np.int64)
        meter = self.meter_at(supply_point_key, first_slot)
        result = edit_values(
            self.store,
            supply_point_key,
            s,
            flat_total(total_import_wh, n),
            np.full(n, np.nan),
            user,
            reason,
            self.clock.timestamp(),
            quality=Quality.ESTIMATED,
            method="E4",
            meter_id=meter,
            cfg=self.vee,
        )
        span = {"first_slot": first_slot, "last_slot": last_slot, "reason": reason}
        detail = {**span, "total_import_wh": total_import_wh, "versions": result.versions}
        self._audit(user, "mdms known total", supply_point_key, detail)
        return result

    def finalize(self, first_slot: int, last_slot: int, user: str) -> EstimationResult:
        """Final estimates for the range, then declare it final (no longer preliminary)."""
        result = self.estimate(first_slot, last_slot, final=True, user=user)
        declare_final(self.store, first_slot, last_slot, self.clock.timestamp(), user)
        return result

    def record_events(self, events: pa.Table) -> int:
        """Store meter events: columns meter_id, kind (outage, disconnected, tamper, reset,
        test), start_s, end_s [epoch s]. Affects values ingested or estimated afterwards."""
        kinds = set(events.column("kind").to_pylist())
        bad = kinds - set(METER_EVENT_KINDS)
        if bad:
            raise ValueError(f"unknown event kinds {sorted(bad)}; known: {METER_EVENT_KINDS}")
        return record_meter_events(self.store, events, self.clock.timestamp())

    def set_meter_master(self, rows: pa.Table) -> None:
        """Meter master data for VEE: meter_id, register_digits, register_unit_wh, multiplier."""
        set_meter_master(self.store, rows)
        self.__dict__.pop("meter_index", None)  # (cached_property)

    def exchange_meter(
        self,
        supply_point_key: int,
        old_meter_id: int,
        old_closing: tuple[int, int | None],
        new_meter_id: int,
        new_opening: tuple[int, int | None],
        at_boundary: int,
    ) -> VeeIngestResult:
        """Meter exchange at a :00/:30 boundary: the old meter's closing registers and the
        new meter's opening registers (import, export) are both reads at ``at_boundary``, so
        the slot before comes from the old meter and the slot after from the new one."""
        self.registry.exchange_meter(
            supply_point_key, old_meter_id, new_meter_id, slot_start_s(at_boundary)
        )
        self.refresh_registry()
        now = self.clock.timestamp()
        reads = pa.table(
            {
                "meter_id": [old_meter_id, new_meter_id],
                "boundary": [at_boundary, at_boundary],
                "import_register_wh": [old_closing[0], new_opening[0]],
                "export_register_wh": [old_closing[1], new_opening[1]],
                "received_at": [now, now],
                "source": [ReadSource.EXCHANGE, ReadSource.EXCHANGE],
            },
            schema=READ_SCHEMA,
        )
        result = self.ingest(reads, reason="meter exchange")
        # reads of the new meter that arrived before the registry knew of it get values now
        later = self.current_reads(new_meter_id, at_boundary, None)
        if later.num_rows > 1:
            reads = later.select(READ_SCHEMA.names).cast(READ_SCHEMA)
            self.ingest(reads, reason="meter exchange", revalue=True)
        return result

    def current_values(self, supply_point_key: int, first_slot: int, last_slot: int) -> pa.Table:
        """The current half-hour value (the highest version) of each slot of one supply point
        in ``[first_slot, last_slot]`` that has one, by slot: slot, import_wh, export_wh,
        quality, method, vee_flags, final (stored final, or in a period declared final),
        version, recorded_at, reason, edited_by (``storage/point_read.py``).

        The one rule of "the current value": the C-route API, ESPI feeds, jobs, exports and
        the dashboard all ask this."""
        periods, files = self._final_periods, self.point_days
        return current_values(self.store, supply_point_key, first_slot, last_slot, periods, files)

    def current_reads(
        self, meter_id: int, first_boundary: int, last_boundary: int | None
    ) -> pa.Table:
        """The current register read (the one stored last) of one meter at each boundary in
        ``[first_boundary, last_boundary]`` (``None``: no upper bound) that has one, by
        boundary: meter_id, boundary, import_register_wh, export_register_wh, source,
        received_at, ingest_seq (``storage/meter_reads.py``)."""
        return current_reads(self.store, meter_id, first_boundary, last_boundary)

    def settle(
        self,
        day: date,
        kind: str = "preliminary",
        estimate: bool = True,
        user: str = "settlement",
        spark: SparkEngine | None = None,
    ) -> SettlementRun:
        """One settlement run of a JST day (see ``settlement.py``): estimates first (final
        estimates for a ``final`` run) so that no sum has a hole, then Σ per slot and level
        (by ``spark`` over the shared interval store, published first, when given)."""
        slots = slots_of_day(day)
        if estimate:
            if kind == "final":
                self.finalize(slots.start, slots.stop - 1, user)
            else:
                self.estimate(slots.start, slots.stop - 1, user=user)
        sums = None if spark is None else spark.ready(self.store)
        return settle_day(self.store, self.registry, day, kind, self.clock.timestamp(), user, sums)

    def bill(
        self,
        first_day: date,
        last_day: date,
        supply_point_keys: list[int] | None = None,
        day_band: tuple[str, str] = ("07:00", "23:00"),
        spark: SparkEngine | None = None,
    ) -> pa.Table:
        """Billing determinants per supply point for JST days ``first_day``…``last_day``
        (all supply points with a meter installed during a slot of the period unless keys
        are given); summed by ``spark`` over the shared interval store when given."""
        if supply_point_keys is None:
            inst = self.installations
            period = installed_during(
                inst, slots_of_day(first_day).start, slots_of_day(last_day).stop - 1
            )
            keys = pc.unique(inst.column("supply_point_key").filter(pa.array(period)))
            supply_point_keys = sorted(int(k) for k in keys.to_pylist())
        return billing_determinants(
            self.store,
            self.installations,
            supply_point_keys,
            first_day,
            last_day,
            self.vee,
            day_band,
            self.registry.certification_table(),
            None if spark is None else spark.ready(self.store),
        )

    def completeness(
        self,
        day: date,
        targets: dict[str, float] | None = None,
        area_targets: dict[str, float] | None = None,
    ) -> pa.Table:
        """Reading rate and T+60 min / T+24 h / D+4 completeness per area vs targets (by
        default vee.toml's ``[targets]`` and each utility area's automatic reading rate
        target from ``config/reading_rate_targets.csv``)."""
        points = self.registry.supply_points_table()
        return completeness(
            self.store,
            self.installations,
            points,
            day,
            load_targets() if targets is None else targets,
            load_area_targets() if targets is None and area_targets is None else area_targets,
        )

    # -- bulk import / export ---------------------------------------------------------------
    def import_file(
        self,
        path: Path,
        chunk_rows: int = 1_000_000,
        estimate: bool = True,
        progress: Callable[[VeeIngestResult], None] | None = None,
    ) -> ImportReport:
        """Check every row of a CSV/Parquet file, ingest the good ones chunk by chunk (one
        transaction each, acknowledged through ``progress``), then estimate the gaps
        between the file's first and last read. Running it again adds nothing."""
        return import_reads(self, path, chunk_rows, estimate, progress)

    def export_csv(self, supply_point_id: str, first_day: date, last_day: date) -> str:
        """Half-hour values with quality of one supply point, JST days inclusive, as CSV."""
        sp = self.registry.supply_point(supply_point_id)
        if sp is None:
            raise KeyError(f"unknown supply point {supply_point_id}")
        if last_day < first_day:
            raise ValueError("the last day comes before the first day")
        first = slots_of_day(first_day).start
        last = slots_of_day(last_day).stop - 1
        return values_csv(
            self.current_values(sp.supply_point_key, first, last), supply_point_id, first, last
        )

    def cluster(
        self, first_day: date, last_day: date, window_days: int = WINDOW_DAYS
    ) -> ClusterResult:
        """Re-write the day rows of every closed window of ``window_days`` days overlapping
        the days in (supply point, day) order (``storage/day_cluster.py``): one supply
        point's month then reads a few blocks instead of one per day."""
        return cluster_days(
            self.store,
            slots_of_day(first_day).start,
            slots_of_day(last_day).start,
            window_days,
        )

    def compact_day(self, day: date, root: Path) -> int:
        """Write (or replace) the JST day's wide Parquet partition of current values under
        ``root`` (``storage/parquet_days.py``); returns the supply points written."""
        return compact_day(self.store, day, root)

    def pack(self, first_day: date, last_day: date) -> PackResult:
        """Pack closed JST days of A-route ticks into day rows (``storage/day_pack.py``):
        each supply-point day whose narrow rows a day row holds unchanged; the views give
        the same rows before and after, one point's days are then one row each."""
        return pack_days(
            self.store,
            self.installations,
            slots_of_day(first_day).start,
            slots_of_day(last_day).start,
            self.clock.timestamp(),
        )
