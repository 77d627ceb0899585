"""End to end across processes: 2,000 DLMS meters (`openami dlms serve`) → `openami serve
hes` → NATS JetStream → an MDMS, on one accelerated clock (×20: a half hour passes in 90 s
of wall time; every process is given the same anchor, so they agree on the time).

The target is the first boundary after the HES service started: every meter's read at it
must be received, and its half-hour value stored, before the next boundary (within the
slot), and the day's collection KPIs are computed from the store as for the simulation.
Meanwhile commands go to the HES through ``hes.command_requests``: a disconnect the hub
signed is confirmed by read-back, an unsigned one is refused by the switching guard.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from tests.cluster.field import (
    SharedClock,
    field_dir,
    first_boundary,
    free_port,
    provision,
    start_field,
    start_hes,
    wait_listening,
)

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import (
    COMMAND_REQUEST_SCHEMA,
    TOPIC_COMMAND_REQUESTS,
    TOPIC_COMMANDS,
    CommandKind,
    CommandState,
)
from openami.clock import JST, SLOT_SECONDS
from openami.hes.service_commands import encode_authorisation
from openami.mdms import Mdms
from openami.mdms.kpi import daily_kpis
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories.command_signing import (
    CommandSigner,
    SignedCommand,
    load_signing_key,
)

METERS = 2000
SPEED = 20.0  # a slot in 90 s of wall time: the deadline, not the test's length
LEAD_S = 25.0  # a boundary this long from now (the next one if start-up takes longer)
SLOT_WALL_S = SLOT_SECONDS / SPEED


def requests(signer: CommandSigner, now_s: float) -> pa.Table:
    """Disconnect meter 1 with the hub's signature, and meter 2 without (refused)."""
    auth = SignedCommand(
        int(CommandKind.DISCONNECT), 1, 0, now_s - 60, "rq-1", ("op",), now_s + 3600
    )
    row = {"kind": int(CommandKind.DISCONNECT), "priority": 0, "argument": 0}
    row |= {"issued_at": now_s, "deadline_at": now_s + 3600}
    return pa.Table.from_pylist(
        [
            row
            | {"correlation_id": 1, "meter_id": 1, "reference": "rq-1"}
            | {"authorisation": encode_authorisation(signer.sign(auth))},
            row | {"correlation_id": 2, "meter_id": 2, "reference": "rq-2", "authorisation": None},
        ],
        schema=COMMAND_REQUEST_SCHEMA,
    )


@pytest.mark.cluster
def test_every_dlms_meter_is_read_and_its_value_stored_within_the_slot(
    js_config: JetStreamConfig, tmp_path: Path
) -> None:
    data, port = tmp_path / "data", free_port()
    provision(data, METERS, port)
    signer = load_signing_key(data)  # the hub's key; the HES verifies with it
    shared, _ = SharedClock.before_boundary(SPEED, LEAD_S)
    field_log, hes_log = tmp_path / "field.log", tmp_path / "hes.log"
    meters_dir = field_dir(data)
    field = start_field(meters_dir, METERS, port, shared, field_log)
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
        outcomes: list[pa.Table] = []
        bus.subscribe(TOPIC_COMMANDS, outcomes.append)
        wait_listening(port, field, field_log)
        boundary = first_boundary(hes_log, hes, 60)
        bus.publish(TOPIC_COMMAND_REQUESTS, requests(signer, shared.clock().timestamp()))
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
        done = pa.concat_tables(outcomes)
        state = dict(
            zip(done["correlation_id"].to_pylist(), done["state"].to_pylist(), strict=True)
        )
        assert state == {1: CommandState.CONFIRMED, 2: CommandState.FAILED}
        why = dict(
            zip(done["correlation_id"].to_pylist(), done["refusal"].to_pylist(), strict=True)
        )
        assert why == {1: None, 2: "unsigned"}  # the reason travels with the outcome
    finally:
        if hes.poll() is None:
            hes.kill()
        field.terminate()
        field.wait(timeout=30)
        shutil.rmtree(meters_dir, ignore_errors=True)
        bus.close()
        store.close()
        registry.close()
