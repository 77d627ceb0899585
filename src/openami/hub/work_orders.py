"""Work orders of field crews (issue #17 §2): installation on request, exchange at
certification expiry, fault repair and removal, with their steps, assignment and completion.

States and steps (:data:`STEPS`): ``requested`` → ``assigned`` (again to reassign) →
``completed``; ``requested`` or ``assigned`` → ``cancelled``. Anything else is
``E_BAD_STEP`` (409). Only operator roles (:data:`OPERATOR_ROLES`) act (else 403).

Completion does the field work in the books, after checking everything first:

- ``install``: the new meter (in stock, certified on the day) is installed at the supply
  point from the completion's half-hour boundary, its opening register read stored;
- ``exchange`` / ``repair``: the MDMS's meter exchange (:meth:`Mdms.exchange_meter`) at
  that boundary, with the old meter's closing and the new meter's opening reads, so the
  slot before comes from the old meter and the slot after from the new one: no gap;
- ``removal``: the old meter's closing read is stored and its installation closed.

The old meter's closing read may not be below its last stored read (``E_READING_BACKWARDS``,
422). The asset register follows (old meter ``removed``, new meter ``installed``), a fault
ticket the order came from is closed, and every step is written to the audit log.
Lead time = completion − request, measured against the kind's target (:data:`TARGET_DAYS`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, cast

import pyarrow as pa

from openami.bus.messages import READ_SCHEMA, ReadSource
from openami.clock import DAY_SECONDS, SLOT_SECONDS, jst_day_of_s, slot_start_s
from openami.hub.context import HubContext
from openami.mdms.service import Mdms
from openami.registry import COMM_METHODS, CommMethod, Meter, Registry, RegistryError
from openami.registry.assets import AssetError, AssetMeter, Assets
from openami.storage.repositories import Conflict, Database
from openami.storage.repositories.audit import AuditLog, AuditRecord
from openami.storage.repositories.work_orders import StepRow, WorkOrderRow, WorkOrderStore

KINDS: Final = ("install", "exchange", "repair", "removal")
STATES: Final = ("requested", "assigned", "completed", "cancelled")
OPEN_STATES: Final = ("requested", "assigned")
STEPS: Final[dict[str, frozenset[str]]] = {
    "requested": frozenset({"assigned", "cancelled"}),
    "assigned": frozenset({"assigned", "completed", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}
#: target lead time per kind [calendar days]; install: low voltage with meter work, 8
#: business days + 2 calendar days (Chugoku NW's standard period, reference §1.4) ≈ 12
TARGET_DAYS: Final = {"install": 12, "exchange": 30, "repair": 5, "removal": 10}
OPERATOR_ROLES: Final = ("operator", "approver", "admin")
__all__ = ["KINDS", "STATES", "StepRow", "WorkOrderError", "WorkOrderRow", "WorkOrders"]


class WorkOrderError(ValueError):
    """A refused work-order action: ``code``, ``message`` and the HTTP status to answer."""

    def __init__(self, code: str, message: str, http_status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


@dataclass(frozen=True)
class Completion:
    at_s: float
    new_meter_id: int | None
    old_final_import_wh: int | None
    new_initial_import_wh: int | None


@dataclass(frozen=True)
class LeadTimes:
    kind: str
    open_orders: int
    completed: int
    mean_lead_days: float | None
    within_target: int
    target_days: int


class WorkOrders:
    def __init__(
        self,
        database: Database,
        registry: Registry,
        mdms: Mdms | None,
        audit: AuditLog | None,
        now_s: Callable[[], float],
    ) -> None:
        self.store = WorkOrderStore(database)
        self.assets = Assets(database)
        self.registry = registry
        self.mdms = mdms
        self.audit_log = audit
        self.now_s = now_s

    # -- reads -----------------------------------------------------------------------------
    def get(self, work_order_id: int) -> WorkOrderRow:
        row = self.store.get(work_order_id)
        if row is None:
            raise WorkOrderError("E_UNKNOWN_WORK_ORDER", f"no work order {work_order_id}", 404)
        return row

    def steps(self, work_order_id: int) -> list[StepRow]:
        self.get(work_order_id)
        return self.store.steps(work_order_id)

    def listing(self, state: str | None = None, limit: int = 200) -> list[WorkOrderRow]:
        if state is not None and state not in STATES:
            raise WorkOrderError("E_BAD_VALUE", f"state is one of {', '.join(STATES)}", 422)
        return self.store.listing((state,) if state else None, limit)

    def lead_times(self) -> list[LeadTimes]:
        """Per kind: the backlog (open orders) and lead times of completed ones."""
        sums = self.store.lead_time_sums(OPEN_STATES)
        out = []
        for kind in KINDS:
            open_n, done_n, lead_s, within = sums.get(kind, (0, 0, 0.0, 0))
            mean = lead_s / done_n / DAY_SECONDS if done_n else None
            out.append(LeadTimes(kind, open_n, done_n, mean, within, TARGET_DAYS[kind]))
        return out

    # -- steps -----------------------------------------------------------------------------
    def create(
        self,
        kind: str,
        supply_point_id: str,
        by: str,
        role: str,
        note: str = "",
        fault_ticket_id: int | None = None,
    ) -> WorkOrderRow:
        _check_role(role)
        if kind not in KINDS:
            raise WorkOrderError("E_BAD_VALUE", f"kind is one of {', '.join(KINDS)}", 422)
        key = self._key(supply_point_id)
        old = self.registry.current_meter(key)
        if kind == "install" and old is not None:
            raise WorkOrderError("E_HAS_METER", f"meter {old} is installed there", 409)
        if kind != "install" and old is None:
            raise WorkOrderError("E_NO_METER", "no meter is installed there", 409)
        now = self.now_s()
        values: dict[str, Any] = {
            "kind": kind,
            "state": "requested",
            "supply_point_id": supply_point_id,
            "old_meter_id": old,
            "requested_at": now,
            "target_days": TARGET_DAYS[kind],
            "fault_ticket_id": fault_ticket_id,
            "note": note[:500],
        }
        row = self.store.add(values, by)
        self._audit(by, "work-order.create", row, {"kind": kind})
        return row

    def order_expiry_exchanges(self, until: date, by: str, role: str, limit: int = 10_000) -> int:
        """An ``exchange`` order for each installed meter whose certification expires on or
        before ``until`` (soonest first, at most ``limit``), unless its supply point has an
        open exchange order already; the number of orders made."""
        _check_role(role)
        _total, due = self.registry.expiring_meters(until, 0, limit)
        have = self.store.open_supply_points("exchange", OPEN_STATES)
        made = 0
        for row in due.select(["supply_point_id", "certification_expiry"]).to_pylist():
            if row["supply_point_id"] in have:
                continue
            note = f"certification expires {row['certification_expiry']}"
            self.create("exchange", row["supply_point_id"], by, role, note)
            made += 1
        return made

    def assign(self, work_order_id: int, assignee: str, by: str, role: str) -> WorkOrderRow:
        _check_role(role)
        if not assignee.strip():
            raise WorkOrderError("E_BAD_VALUE", "an assignee is required", 422)
        row = self._step(work_order_id, "assigned", {"assigned_to": assignee.strip()}, by)
        return row

    def cancel(self, work_order_id: int, by: str, role: str) -> WorkOrderRow:
        _check_role(role)
        return self._step(work_order_id, "cancelled", {}, by)

    def complete(self, work_order_id: int, done: Completion, by: str, role: str) -> WorkOrderRow:
        _check_role(role)
        order = self.get(work_order_id)
        _check_step(order, "completed")
        boundary = int(done.at_s // SLOT_SECONDS)
        new_meter = self._check_completion(order, done, boundary)
        self._do_field_work(order, done, boundary, new_meter, by)
        changes = {
            "completed_at": done.at_s,
            "new_meter_id": done.new_meter_id,
            "old_final_import_wh": done.old_final_import_wh,
            "new_initial_import_wh": done.new_initial_import_wh,
        }
        row = self._step(work_order_id, "completed", changes, by, at_s=done.at_s)
        if order.fault_ticket_id is not None:
            self.store.close_ticket(order.fault_ticket_id, done.at_s)
        return row

    # -- completion ------------------------------------------------------------------------
    def _check_completion(
        self, order: WorkOrderRow, done: Completion, boundary: int
    ) -> AssetMeter | None:
        if done.at_s < order.requested_at or done.at_s > self.now_s():
            raise WorkOrderError("E_BAD_TIME", "completion lies between request and now", 422)
        takes_new = order.kind != "removal"
        if takes_new != (done.new_meter_id is not None and done.new_initial_import_wh is not None):
            need = "needs" if takes_new else "takes no"
            raise WorkOrderError("E_BAD_VALUE", f"a {order.kind} {need} new meter and reading", 422)
        if order.kind != "install":
            self._check_final_read(order, done, boundary)
        if done.new_initial_import_wh is not None and done.new_initial_import_wh < 0:
            raise WorkOrderError("E_BAD_VALUE", "a register reading is not negative", 422)
        if done.new_meter_id is None:
            return None
        try:
            meter = self.assets.meter(done.new_meter_id)
            if meter.state != "in_stock":
                raise WorkOrderError("E_METER_NOT_IN_STOCK", f"the new meter is {meter.state}", 409)
            self.assets.check_certified(meter, jst_day_of_s(done.at_s))
        except AssetError as exc:
            raise WorkOrderError(exc.code, exc.message, 422) from None
        return meter

    def _check_final_read(self, order: WorkOrderRow, done: Completion, boundary: int) -> None:
        final = done.old_final_import_wh
        if final is None or final < 0:
            raise WorkOrderError("E_BAD_VALUE", "the old meter's final reading is required", 422)
        assert order.old_meter_id is not None  # every kind but install has one
        if self.mdms is None:
            return
        reads = self.mdms.current_reads(order.old_meter_id, 0, boundary)
        if reads.num_rows:
            last = int(reads.column("import_register_wh")[-1].as_py())
            if final < last:
                raise WorkOrderError(
                    "E_READING_BACKWARDS",
                    f"the final reading {final} Wh is below the last stored {last} Wh",
                    422,
                )

    def _do_field_work(
        self,
        order: WorkOrderRow,
        done: Completion,
        boundary: int,
        new_meter: AssetMeter | None,
        by: str,
    ) -> None:
        key = self._key(order.supply_point_id)
        at_s = slot_start_s(boundary)
        day = jst_day_of_s(done.at_s)
        try:
            if new_meter is not None:
                self._ensure_in_registry(new_meter, key)
            if order.kind == "install":
                assert new_meter is not None and done.new_initial_import_wh is not None
                self.registry.install_meters([(key, new_meter.meter_id)], at_s)
                self._ingest_read(new_meter.meter_id, boundary, done.new_initial_import_wh)
            elif order.kind == "removal":
                assert order.old_meter_id is not None and done.old_final_import_wh is not None
                self._ingest_read(order.old_meter_id, boundary, done.old_final_import_wh)
                self.registry.remove_meter(key, order.old_meter_id, at_s)
            else:
                assert order.old_meter_id is not None and new_meter is not None
                assert done.old_final_import_wh is not None
                assert done.new_initial_import_wh is not None
                self._exchange(key, order.old_meter_id, done, new_meter.meter_id, boundary)
        except RegistryError as exc:
            raise WorkOrderError("E_CONFLICT", str(exc), 409) from None
        if self.mdms is not None:
            self.mdms.refresh_registry()
        self._books(order, new_meter, day, by)

    def _exchange(self, key: int, old: int, done: Completion, new: int, boundary: int) -> None:
        assert done.old_final_import_wh is not None and done.new_initial_import_wh is not None
        if self.mdms is None:
            self.registry.exchange_meter(key, old, new, slot_start_s(boundary))
            return
        self.mdms.exchange_meter(
            key,
            old,
            (done.old_final_import_wh, None),
            new,
            (done.new_initial_import_wh, None),
            boundary,
        )

    def _ingest_read(self, meter_id: int, boundary: int, import_wh: int) -> None:
        if self.mdms is None:
            return
        self.mdms.refresh_registry()
        reads = pa.table(
            {
                "meter_id": [meter_id],
                "boundary": [boundary],
                "import_register_wh": [import_wh],
                "export_register_wh": [None],
                "received_at": [self.now_s()],
                "source": [ReadSource.EXCHANGE],
            },
            schema=READ_SCHEMA,
        )
        self.mdms.ingest(reads, reason="work order")

    def _ensure_in_registry(self, meter: AssetMeter, key: int) -> None:
        """Add the new meter to the registry's meters if it is not there (maker, serial and
        expiry from the asset register; contract amperage and method of the meter it
        replaces, else the model's rated current and first communication option)."""
        if self.assets.store.in_registry(meter.meter_id):
            return
        model = self.assets.model(meter.model_id)
        amperage_a, method = model.rated_current_a, (model.comm_unit_options or ("mesh",))[0]
        old = self.registry.installed_meter(key)
        if old is not None:
            amperage_a, method = int(old["contract_amperage_a"]), str(old["comm_method"])
        if method not in COMM_METHODS:
            method = "mesh"
        assert meter.expires_on is not None  # checked before
        row = Meter(
            meter.meter_id,
            model.maker,
            meter.serial,
            amperage_a,
            cast(CommMethod, method),
            None,
            meter.expires_on,
        )
        self.registry.add_meters([row])

    def _books(self, order: WorkOrderRow, new: AssetMeter | None, day: date, by: str) -> None:
        reason = f"work order {order.work_order_id} ({order.kind})"
        old = order.old_meter_id
        if old is not None and self.assets.store.meters(meter_ids=[old]):  # in the register
            self.assets.move(old, "removed", day, reason, by, self.now_s())
        if new is not None:
            self.assets.move(new.meter_id, "installed", day, reason, by, self.now_s())

    # -- helpers ---------------------------------------------------------------------------
    def _key(self, supply_point_id: str) -> int:
        found = self.registry.supply_point_key_of([supply_point_id])
        if supply_point_id not in found:
            raise WorkOrderError("E_UNKNOWN_SUPPLY_POINT", "no such supply point", 404)
        return found[supply_point_id]

    def _step(
        self,
        work_order_id: int,
        to: str,
        changes: dict[str, Any],
        by: str,
        at_s: float | None = None,
    ) -> WorkOrderRow:
        order = self.get(work_order_id)
        _check_step(order, to)
        try:
            row = self.store.step(
                work_order_id, order.state, {**changes, "state": to}, at_s or self.now_s(), by
            )
        except Conflict as exc:
            raise WorkOrderError("E_CONFLICT", str(exc), 409) from None
        self._audit(by, f"work-order.{to}", row, {})
        return row

    def _audit(self, by: str, action: str, row: WorkOrderRow, detail: dict[str, Any]) -> None:
        if self.audit_log is not None:
            self.audit_log.append(
                AuditRecord(
                    self.now_s(),
                    "operation",
                    by,
                    action,
                    "meter work orders",
                    f"work-order:{row.work_order_id}",
                    {"state": row.state, **detail},
                )
            )


def _check_role(role: str) -> None:
    if role not in OPERATOR_ROLES:
        raise WorkOrderError("E_FORBIDDEN", "work orders are for operator roles", 403)


def _check_step(order: WorkOrderRow, to: str) -> None:
    if to not in STEPS[order.state]:
        raise WorkOrderError(
            "E_BAD_STEP",
            f"work order {order.work_order_id} is {order.state}, cannot become {to}",
            409,
        )


_BUILD_LOCK = threading.Lock()


def work_orders_of(context: HubContext) -> WorkOrders:
    """The context's work-order service (built on first use, on the hub's database)."""
    with _BUILD_LOCK:
        service = context.services.get("work_orders")
        if not isinstance(service, WorkOrders):
            service = WorkOrders(
                context.clients.database,
                context.registry,
                context.mdms,
                context.audit,
                context.clock.timestamp,
            )
            context.services["work_orders"] = service
        return service
