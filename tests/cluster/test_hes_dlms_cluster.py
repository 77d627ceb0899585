"""End to end across processes: 2,000 DLMS meters (`openami dlms serve`) → `openami serve
hes` → NATS JetStream → an MDMS, on one accelerated clock (×20: a half hour passes in 90 s
of wall time; every process is given the same anchor, so they agree on the time).

The target is the first boundary after the HES service started: every meter's read at it
must be received, and its half-hour value stored, before the next boundary (within the
slot), and the day's collection KPIs are computed from the store as for the simulation.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.cluster.field import (
    SharedClock,
    first_boundary,
    free_port,
    provision,
    start_field,
    start_hes,
    wait_listening,
)

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.clock import JST, SLOT_SECONDS
from openami.mdms import Mdms
from openami.mdms.kpi import daily_kpis
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore

METERS = 2000
SPEED = 20.0  # a slot in 90 s of wall time: the deadline, not the test's length
LEAD_S = 25.0  # a boundary this long from now (the next one if start-up takes longer)
SLOT_WALL_S = SLOT_SECONDS / SPEED


@pytest.mark.cluster
def test_every_dlms_meter_is_read_and_its_value_stored_within_the_slot(
    js_config: JetStreamConfig, tmp_path: Path
) -> None:
    data, port = tmp_path / "data", free_port()
    provision(data, METERS, port)
    shared, _ = SharedClock.before_boundary(SPEED, LEAD_S)
    field_log, hes_log = tmp_path / "field.log", tmp_path / "hes.log"
    field = start_field(data, METERS, port, shared, field_log)
    hes = start_hes(
        data,
        js_config.url,
        js_config.prefix,
        shared,
        hes_log,
        *("--boundaries", "1", "--catch-up-slots", "1", "--retry-base", "60"),
    )
    registry = Registry.open(data / "registry.sqlite")
    store = DuckIntervalStore(tmp_path / "interval.duckdb")
    bus = JetStreamBus(replace(js_config, consumer="mdms", ack_wait_s=30.0))
    try:
        Mdms(store, registry, shared.clock()).attach(bus)
        wait_listening(port, field, field_log)
        boundary = first_boundary(hes_log, hes, 60)
        # one range read per meter at the boundary fetches it and the one before (catch-up)
        assert hes.wait(timeout=2 * SLOT_WALL_S + 30) == 0, hes_log.read_text()[-3000:]
        bus.settle(60)
        slot_end = (boundary + 1) * SLOT_SECONDS  # the next boundary
        reads = store.query(
            f"SELECT COUNT(DISTINCT meter_id) AS n, MAX(received_at) AS last "
            f"FROM register_reads WHERE boundary = {boundary}"
        ).to_pylist()[0]
        assert reads["n"] == METERS, hes_log.read_text()[-3000:]
        assert reads["last"] <= slot_end
        values = store.query(
            f"SELECT COUNT(DISTINCT supply_point_key) AS n, MAX(recorded_at) AS last, "
            f"MIN(import_wh) AS low FROM half_hour_values WHERE slot = {boundary - 1}"
        ).to_pylist()[0]
        assert values["n"] == METERS  # every meter's slot value …
        assert values["last"] <= slot_end  # … stored within the slot
        assert values["low"] >= 0
        day = datetime.fromtimestamp(boundary * SLOT_SECONDS + 1, UTC).astimezone(JST).date()
        total = daily_kpis(store, registry, day)[-1]
        assert total.meters == METERS
        assert total.network_connection_rate == 1.0
        assert total.collection_30min_rate > 0.0
    finally:
        if hes.poll() is None:
            hes.kill()
        field.terminate()
        field.wait(timeout=30)
        bus.close()
        store.close()
        registry.close()
