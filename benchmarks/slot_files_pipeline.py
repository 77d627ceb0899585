"""Pipeline latency of slot files (used by ``bench_slot_files.py --pipeline``): a read
arrives at the HES → the value is in a downloadable slot file.

A simulated city of N meters (one supply point each, the default method mix and network)
runs through the slot 00:00-00:30 JST on one manual clock in ticks of ``tick_s``: the HES
collects, the MDMS ingests what arrived, closes due slots, and the slot-file service writes
its passes after each tick (``SlotFileService.tick``, first among the after-tick hooks, as
``openami serve`` wires it). Per supply point: arrival at the HES (``received_at``) of the
later of the two reads its value is made of (the slot's start and end; usually the end)
→ the instant of the first pass whose file holds a value for it,
plus the wall time that tick took (the clock stands still while the tick is processed; the
file is downloadable when the tick is done). A value that arrives after the preliminary
pass is in the deadline pass (60 minutes after the slot end), as the design says.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from openami.clock import JST, SLOT_SECONDS, ManualClock, day_first_slot
from openami.hub.context import HubContext
from openami.hub.slot_files import attach_slot_files, deadline_s
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ClientStore
from openami.storage.slot_files import SlotFileStore

DAY = date(2026, 11, 1)


def run_pipeline(meters: int, tick_s: float, retention_days: int = 2) -> dict[str, object]:
    """The pipeline for ``meters`` meters; ``retention_days``: how many days of registers
    each simulated meter keeps (the field's 45 need about 35 GiB at 1 M meters; the run
    spans one slot and its 60-minute deadline, so 2 days leave every read it makes)."""
    with tempfile.TemporaryDirectory(prefix="bench-slot-pipeline-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        database = open_database(root / "registry.sqlite")
        registry = Registry(database)
        city = build_city(
            CityConfig(meters=meters, seed=2, start_day=DAY, retention_days=retention_days),
            registry,
        )
        clock = ManualClock(datetime.combine(DAY, datetime.min.time(), JST))
        store = DuckIntervalStore(root / "interval.duckdb")
        sim = Simulation.create(city, store, clock, tick_s=tick_s)
        context = HubContext(
            registry, sim.mdms, ClientStore(database), clock, "operator", "", rate_limits=None
        )
        files = SlotFileStore(root / "slot-files", store)
        service = attach_slot_files(context, files)
        sim.after_tick.insert(0, service.tick)
        setup_s = time.perf_counter() - t0
        slot = day_first_slot(DAY)
        tick_wall: dict[float, float] = {}
        now = clock.timestamp()
        while now < deadline_s(slot) + tick_s:
            t1 = time.perf_counter()
            sim.run_until(now + tick_s)
            now = clock.timestamp()
            tick_wall[now] = time.perf_counter() - t1
        first_as_of: dict[str, float] = {}
        passes = sorted(files.manifests(slot), key=lambda m: m.as_of_s)  # in time order
        for manifest in passes:
            for recipient in manifest.rows:
                for f in files.files_of(recipient, slot):
                    if f.fmt != "parquet" or (f.kind, f.seq) != (manifest.kind, manifest.seq):
                        continue
                    path = files.layout.file_path(
                        recipient,
                        files.parse_file_id(f.file_id),  # type: ignore[arg-type]
                    )
                    table = pq.read_table(path, columns=["supply_point_id", "import_wh"])
                    ids = table.column("supply_point_id").to_pylist()
                    valued = table.column("import_wh").is_valid().to_pylist()
                    for sp, ok in zip(ids, valued, strict=True):
                        if ok:
                            first_as_of.setdefault(sp, manifest.as_of_s)
        # a value is the difference of the reads at both ends of its slot: it can be in a
        # file only once the later of the two arrived
        reads = store.query(
            "SELECT meter_id, max(arrived) AS arrived, "
            "count(*) = 2 AND arg_max(boundary, arrived) = ? AS start_later "
            "FROM (SELECT meter_id, boundary, min(received_at) AS arrived FROM register_reads "
            "WHERE boundary IN (?, ?) GROUP BY meter_id, boundary) "
            "GROUP BY meter_id HAVING max(boundary) = ?",
            [slot, slot, slot + 1, slot + 1],
        )
        sp_of_meter = dict(zip(city.fleet.meter_ids.tolist(), city.supply_point_ids, strict=True))
        prelim = next((p.as_of_s for p in passes if p.kind == "preliminary"), None)
        latency, in_prelim, start_later = [], [], 0
        for meter, at, later in zip(
            reads.column("meter_id").to_pylist(),
            reads.column("arrived").to_pylist(),
            reads.column("start_later").to_pylist(),
            strict=True,
        ):
            as_of = first_as_of.get(sp_of_meter[meter])
            if as_of is not None:
                latency.append(as_of - at + tick_wall.get(as_of, 0.0))
                in_prelim.append(as_of == prelim)
                start_later += bool(later)
        store.close()
        registry.close()
    values = np.array(latency)
    return {
        "pipeline_meters": meters,
        "pipeline_tick_s": tick_s,
        "meter_retention_days": retention_days,
        "pipeline_setup_wall_s": round(setup_s, 1),
        "reads_at_slot_end": reads.num_rows,
        "values_in_files": int(values.size),
        "slot_start_read_came_later": start_later,
        "preliminary_after_slot_end_s": None
        if prelim is None
        else prelim - (slot + 1) * SLOT_SECONDS,
        "share_in_preliminary": round(float(np.mean(in_prelim)), 4) if in_prelim else None,
        "latency_p50_s": round(float(np.percentile(values, 50)), 1) if values.size else None,
        "latency_p95_s": round(float(np.percentile(values, 95)), 1) if values.size else None,
        "latency_max_s": round(float(values.max()), 1) if values.size else None,
        "slowest_tick_wall_s": round(max(tick_wall.values()), 2),
        "target_p95_s": 60,
    }
