"""Fault tickets opened by what meters report (HES alarms on a real in-process bus, the
ECHONET Lite fault status, VEE V10 flags), one open ticket per meter and cause, and a
ticket's repair work order that closes it when completed; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
from tests.storage.engines import database, postgres_url

from openami.bus.inprocess import InProcessBus
from openami.bus.messages import EVENT_SCHEMA, READ_SCHEMA, TOPIC_EVENTS, MeterEvent
from openami.clock import SLOT_SECONDS, ManualClock
from openami.hub.faults import SCAN_SETTING, FaultTickets
from openami.hub.work_orders import Completion, WorkOrderError, WorkOrders
from openami.mdms import Mdms
from openami.mdms.vee_config import bit
from openami.registry import Meter, Registry, make_supply_point_id
from openami.registry.assets import Assets, MeterModel
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import Database
from openami.storage.repositories.settings import SettingsStore

__all__ = ["database", "postgres_url"]  # the engines fixture
SP_ID = make_supply_point_id("03", 1)
NOW = 1_790_000_000.0


def _events(rows: list[tuple[int, MeterEvent]]) -> pa.Table:
    return pa.table(
        {
            "meter_id": [m for m, _ in rows],
            "event": [int(e) for _, e in rows],
            "occurred_at": [NOW - 60] * len(rows),
            "received_at": [NOW] * len(rows),
            "via_log": [False] * len(rows),
        },
        schema=EVENT_SCHEMA,
    )


@pytest.fixture
def tickets(database: Database) -> FaultTickets:
    registry = Registry(database)
    keys = registry.add_supply_points([SP_ID])
    registry.add_meters([Meter(7, "Maker", "S7", 30, "mesh", None, date(2030, 1, 1))])
    registry.install_meters([(keys[0], 7)], 0.0)
    assets = Assets(database)
    assets.add_model(MeterModel("M", "Maker", "X", 30, "1P3W", ("mesh",), "s", "single_electronic"))
    assets.receive_meters([(8, "M", None, "S8")], date(2026, 1, 1), "depot", 0.0)
    assets.certify(8, "C-8", date(2026, 1, 1), 0.0)
    clock = [NOW]
    orders = WorkOrders(database, registry, None, None, lambda: clock[0])
    return FaultTickets(orders)


def test_alarms_on_the_bus_open_one_ticket_per_meter_and_cause(tickets: FaultTickets) -> None:
    bus = InProcessBus()
    bus.subscribe(TOPIC_EVENTS, tickets.on_events)
    burst = _events([(7, MeterEvent.TAMPER), (7, MeterEvent.TAMPER), (9, MeterEvent.LAST_GASP)])
    bus.publish(TOPIC_EVENTS, burst)
    bus.publish(TOPIC_EVENTS, burst)  # re-delivered
    open_now = tickets.tickets()
    assert [(t.meter_id, t.cause, t.source) for t in open_now] == [(7, "tamper", "hes.events")]


def test_echonet_fault_status_and_vee_flags(tickets: FaultTickets) -> None:
    assert tickets.on_fault_status(7, b"\x42") is None
    first = tickets.on_fault_status(7, b"\x41")
    assert first is not None and first.cause == "self_diagnosis"
    assert tickets.on_fault_status(7, b"\x41") == first  # still the same open ticket
    with pytest.raises(ValueError, match="0x41 or 0x42"):
        tickets.on_fault_status(7, b"\x00")
    values = pa.table({"meter_id": [7, 7, 8], "vee_flags": [bit("V10"), 0, bit("V06")]})
    assert tickets.on_flagged_values(values) == 1
    assert tickets.on_flagged_values(values) == 0
    assert sorted(t.cause for t in tickets.tickets()) == ["self_diagnosis", "vee_tamper_reset"]
    with pytest.raises(ValueError, match="unknown fault cause"):
        tickets.open(7, "rust", "x")


def test_a_ticket_spawns_a_repair_that_closes_it(tickets: FaultTickets) -> None:
    ticket = tickets.on_fault_status(7, b"\x41")
    assert ticket is not None
    with pytest.raises(WorkOrderError, match="E_FORBIDDEN"):
        tickets.spawn_repair(ticket.ticket_id, "vera", "viewer")
    order = tickets.spawn_repair(ticket.ticket_id, "otto", "operator")
    assert (order.kind, order.fault_ticket_id, order.old_meter_id) == (
        "repair",
        ticket.ticket_id,
        7,
    )
    with pytest.raises(WorkOrderError, match="E_TICKET_HANDLED"):
        tickets.spawn_repair(ticket.ticket_id, "otto", "operator")
    with pytest.raises(WorkOrderError, match="E_UNKNOWN_TICKET"):
        tickets.spawn_repair(999, "otto", "operator")
    orders = tickets.orders
    orders.assign(order.work_order_id, "crew", "otto", "operator")
    at_s = float(int((NOW + 3600) // SLOT_SECONDS) * SLOT_SECONDS)
    orders.now_s = lambda: NOW + 7200
    orders.complete(order.work_order_id, Completion(at_s, 8, 1234, 0), "otto", "operator")
    assert tickets.tickets() == []  # closed by the completed repair
    again = tickets.on_fault_status(7, b"\x41")  # the old meter is gone: 7 reports again
    assert again is not None and again.ticket_id != ticket.ticket_id


def test_v10_flags_in_stored_values_open_tickets_once(tickets: FaultTickets) -> None:
    """The after-tick scan: values VEE flagged V10 (a tamper event in their slot) open a
    ticket for the meter that metered them; the scanned window's end is stored."""
    registry = tickets.orders.registry
    database = tickets.store.database
    mdms = Mdms(DuckIntervalStore(), registry, ManualClock(datetime.fromtimestamp(NOW - 100, UTC)))
    first = int(NOW // SLOT_SECONDS) - 10
    tamper_s = (first + 2) * SLOT_SECONDS + 60
    mdms.record_events(
        pa.table(
            {
                "meter_id": [7],
                "kind": ["tamper"],
                "start_s": [tamper_s],
                "end_s": [tamper_s + 1.0],
            }
        )
    )
    mdms.ingest(
        pa.table(
            {
                "meter_id": [7] * 5,
                "boundary": [first + b for b in range(5)],
                "import_register_wh": [1000 + 200 * b for b in range(5)],
                "export_register_wh": [0] * 5,
                "received_at": [NOW - 100] * 5,
                "source": [0] * 5,
            },
            schema=READ_SCHEMA,
        )
    )
    settings = SettingsStore(database)
    assert tickets.scan_flagged_values(mdms, settings, NOW) == 1
    opened = [t for t in tickets.tickets() if t.cause == "vee_tamper_reset"]
    assert [t.meter_id for t in opened] == [7]
    assert float(settings.get(SCAN_SETTING) or 0) == NOW
    assert tickets.scan_flagged_values(mdms, settings, NOW + 60) == 0  # nothing new since
