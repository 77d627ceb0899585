"""Work orders over a real registry, asset register and MDMS, on SQLite and PostgreSQL:
every step, the exchange without a gap, installation and removal, lead times, and every
refusal (out-of-order steps, readings going backwards, an expired or unknown new meter,
non-operator callers) leaving the books as they were."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from tests.mdms.vee_world import B0, METER, SP_ID, current, reads
from tests.storage.engines import database, postgres_url

from openami.clock import SLOT_SECONDS, ManualClock
from openami.hub.work_orders import Completion, WorkOrderError, WorkOrders
from openami.mdms import Mdms
from openami.registry import Meter, Registry, make_supply_point_id
from openami.registry.assets import Assets, MeterModel
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import Database
from openami.storage.repositories.audit import AuditLog

EMPTY_SP = make_supply_point_id("03", 2)
MODEL = MeterModel("M30", "Toshiba", "SM30", 30, "1P3W", ("mesh",), "spec", "single_electronic")
FRESH, EXPIRED, SPARE = 8, 9, 10
__all__ = ["database", "postgres_url"]  # the engines fixture


@pytest.fixture
def world(database: Database) -> tuple[WorkOrders, Mdms, ManualClock]:
    registry = Registry(database)
    keys = registry.add_supply_points([SP_ID, EMPTY_SP])
    registry.add_meters([Meter(METER, "Toshiba", "S7", 30, "mesh", None, date(2030, 1, 1))])
    registry.install_meters([(keys[0], METER)], 0.0)
    assets = Assets(database)
    assets.add_model(MODEL)
    rows = [(m, "M30", None, f"S{m}") for m in (METER, FRESH, EXPIRED, SPARE)]
    assets.receive_meters(rows, date(2016, 1, 1), "depot", 0.0)
    for meter, day in ((METER, 2016), (FRESH, 2026), (EXPIRED, 2010), (SPARE, 2026)):
        assets.certify(meter, f"C-{meter}", date(day, 3, 1), 0.0)
    assets.move(METER, "installed", date(2016, 4, 1), "rollout", "depot", 0.0)
    clock = ManualClock(datetime(2026, 10, 31, 22, tzinfo=UTC))  # 2026-11-01 07:00 JST
    mdms = Mdms(DuckIntervalStore(), registry, clock, None)
    orders = WorkOrders(database, registry, mdms, AuditLog(database), clock.timestamp)
    return orders, mdms, clock


def _at(clock: ManualClock, boundary: int) -> float:
    clock.set_timestamp(boundary * SLOT_SECONDS + 900)
    return float(boundary * SLOT_SECONDS)


def test_exchange_completes_without_a_gap(world: tuple[WorkOrders, Mdms, ManualClock]) -> None:
    orders, mdms, clock = world
    mdms.ingest(reads([(b, 50_000 + 100 * b, 0) for b in range(21)]))  # to 10:00
    order = orders.create("exchange", SP_ID, "op1", "operator", note="expiry")
    assert (order.state, order.old_meter_id, order.target_days) == ("requested", METER, 30)
    with pytest.raises(WorkOrderError) as early:
        orders.complete(order.work_order_id, Completion(0, FRESH, 1, 0), "op1", "operator")
    assert (early.value.code, early.value.http_status) == ("E_BAD_STEP", 409)
    orders.assign(order.work_order_id, "crew-7", "op1", "operator")
    at_s = _at(clock, B0 + 20)
    backwards = Completion(at_s, FRESH, 50_000 + 100 * 20 - 1, 3)
    with pytest.raises(WorkOrderError, match="E_READING_BACKWARDS"):
        orders.complete(order.work_order_id, backwards, "op1", "operator")
    with pytest.raises(WorkOrderError, match="E_CERTIFICATION_EXPIRED"):
        orders.complete(
            order.work_order_id, Completion(at_s, EXPIRED, 52_000, 3), "op1", "operator"
        )
    with pytest.raises(WorkOrderError, match="E_UNKNOWN_METER"):
        orders.complete(order.work_order_id, Completion(at_s, 99, 52_000, 3), "op1", "operator")
    assert orders.get(order.work_order_id).state == "assigned"  # refusals changed nothing
    assert orders.registry.current_meter(1) == METER
    done = orders.complete(
        order.work_order_id, Completion(at_s, FRESH, 52_050, 3), "op1", "operator"
    )
    assert (done.state, done.new_meter_id, done.old_final_import_wh) == ("completed", FRESH, 52_050)
    assert [s.state for s in orders.steps(order.work_order_id)] == [
        "requested",
        "assigned",
        "completed",
    ]
    mdms.ingest(reads([(20 + i, 3 + 200 * i, 0) for i in range(1, 5)], meter=FRESH))
    values = [r["import_wh"] for r in current(mdms, 0, 23)]
    assert values == [100] * 19 + [150] + [200] * 4  # slot 19 ends on the closing read
    assert orders.assets.meter(METER).state == "removed"
    assert orders.assets.meter(FRESH).state == "installed"
    assert orders.registry.current_meter(1) == FRESH
    with pytest.raises(WorkOrderError, match="E_BAD_STEP"):
        orders.cancel(order.work_order_id, "op1", "operator")


def test_install_on_request_and_removal(world: tuple[WorkOrders, Mdms, ManualClock]) -> None:
    orders, _, clock = world
    with pytest.raises(WorkOrderError, match="E_HAS_METER"):
        orders.create("install", SP_ID, "op1", "operator")
    order = orders.create("install", EMPTY_SP, "op1", "operator")
    orders.assign(order.work_order_id, "crew-1", "op1", "operator")
    with pytest.raises(WorkOrderError, match="E_BAD_VALUE"):
        orders.complete(
            order.work_order_id, Completion(_at(clock, B0 + 30), None, None, None), "op1", "admin"
        )
    orders.complete(
        order.work_order_id, Completion(_at(clock, B0 + 30), SPARE, None, 0), "op1", "admin"
    )
    assert orders.registry.current_meter(2) == SPARE
    removal = orders.create("removal", EMPTY_SP, "op1", "operator")
    orders.assign(removal.work_order_id, "crew-1", "op1", "operator")
    orders.complete(
        removal.work_order_id, Completion(_at(clock, B0 + 40), None, 500, None), "op1", "operator"
    )
    assert orders.registry.current_meter(2) is None
    assert orders.assets.meter(SPARE).state == "removed"
    times = {t.kind: t for t in orders.lead_times()}
    assert (times["install"].completed, times["install"].within_target) == (1, 1)
    assert times["install"].mean_lead_days == pytest.approx(8 / 24)  # 07:00 → 15:00 JST
    assert (times["exchange"].completed, times["exchange"].mean_lead_days) == (0, None)
    assert times["removal"].open_orders == 0


@pytest.mark.parametrize("role", ["viewer", "", "retailer"])
def test_non_operators_are_refused(world: tuple[WorkOrders, Mdms, ManualClock], role: str) -> None:
    orders = world[0]
    with pytest.raises(WorkOrderError) as refused:
        orders.create("exchange", SP_ID, "someone", role)
    assert (refused.value.code, refused.value.http_status) == ("E_FORBIDDEN", 403)
    assert orders.listing() == []


def test_bad_input(world: tuple[WorkOrders, Mdms, ManualClock]) -> None:
    orders = world[0]
    with pytest.raises(WorkOrderError, match="E_BAD_VALUE"):
        orders.create("paint", SP_ID, "op1", "operator")
    with pytest.raises(WorkOrderError, match="E_UNKNOWN_SUPPLY_POINT"):
        orders.create("exchange", make_supply_point_id("03", 99), "op1", "operator")
    with pytest.raises(WorkOrderError, match="E_NO_METER"):
        orders.create("repair", EMPTY_SP, "op1", "operator")
    with pytest.raises(WorkOrderError, match="E_UNKNOWN_WORK_ORDER"):
        orders.assign(42, "crew", "op1", "operator")
    order = orders.create("repair", SP_ID, "op1", "operator")
    with pytest.raises(WorkOrderError, match="E_BAD_VALUE"):
        orders.assign(order.work_order_id, " ", "op1", "operator")
    assert orders.cancel(order.work_order_id, "op1", "operator").state == "cancelled"


def test_exchange_orders_for_expiring_meters(world: tuple[WorkOrders, Mdms, ManualClock]) -> None:
    orders = world[0]
    # meter 7 (certified 2016-03-01) expires 2026-03-31 and is installed at SP_ID
    assert orders.order_expiry_exchanges(date(2026, 3, 30), "op1", "operator") == 0
    assert orders.order_expiry_exchanges(date(2026, 3, 31), "op1", "operator") == 1
    assert orders.order_expiry_exchanges(date(2026, 12, 31), "op1", "operator") == 0  # open one
    [order] = orders.listing("requested")
    assert (order.kind, order.supply_point_id, order.old_meter_id) == ("exchange", SP_ID, METER)
    assert "2026-03-31" in order.note
    with pytest.raises(WorkOrderError, match="E_FORBIDDEN"):
        orders.order_expiry_exchanges(date(2030, 1, 1), "vera", "viewer")
