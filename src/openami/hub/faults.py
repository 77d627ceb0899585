"""Fault tickets opened automatically from what meters report (issue #17 §2).

Sources and the cause each opens (:data:`CAUSES`):

- HES alarms on ``hes.events`` (pushed or read from the meter's DLMS event log, event
  codes mapped to :class:`openami.bus.messages.MeterEvent` by the HES): ``tamper``;
- the ECHONET Lite fault status (EPC 0x88) of a smart meter: ``0x41`` (fault) opens
  ``self_diagnosis``; ``0x42`` is no fault;
- VEE flags of stored values: V10 (tamper, reset or test mode) opens ``vee_tamper_reset``.

Opening is idempotent: one open ticket per meter and cause (a UNIQUE key in the store), so a
burst of alarms or a re-delivered batch opens one ticket. A ticket spawns a repair work
order (:meth:`FaultTickets.spawn_repair`); completing that order closes the ticket.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import TOPIC_EVENTS, MeterEvent
from openami.hub.context import HubContext
from openami.hub.work_orders import WorkOrderError, WorkOrderRow, WorkOrders, work_orders_of
from openami.mdms.flags import flagged_values
from openami.mdms.service import Mdms
from openami.mdms.vee_config import bit
from openami.storage.repositories.settings import SettingsStore
from openami.storage.repositories.work_orders import FaultTicket

ECHONET_FAULT = 0x41
ECHONET_NO_FAULT = 0x42
CAUSES = {
    "tamper": "hes alarm: tamper (cover opened, magnetic field)",
    "self_diagnosis": "ECHONET Lite 0x88 fault status 0x41",
    "vee_tamper_reset": "VEE V10: tamper, reset or test mode",
}
_EVENT_CAUSES = {int(MeterEvent.TAMPER): "tamper"}


#: where the scan of V10 flags keeps the end of its last window (Unix s)
SCAN_SETTING = "fault_tickets.v10_scanned_through_s"
#: the first scan looks back this far [s] (older flags predate the ticket system)
SCAN_FIRST_WINDOW_S = 86_400.0


class FaultTickets:
    def __init__(self, orders: WorkOrders) -> None:
        self.orders = orders
        self.store = orders.store

    def open(self, meter_id: int, cause: str, source: str) -> tuple[FaultTicket, bool]:
        """The open ticket of (meter, cause): newly opened (True) or the one already open."""
        if cause not in CAUSES:
            raise ValueError(f"unknown fault cause {cause!r}")
        return self.store.open_ticket(int(meter_id), cause, source, self.orders.now_s())

    def on_events(self, events: pa.Table) -> int:
        """Handler of ``hes.events``: tickets for the alarms that mean a fault; the number
        newly opened."""
        codes = events.column("event").to_numpy(zero_copy_only=False).astype(np.int64)
        meters = events.column("meter_id").to_numpy(zero_copy_only=False)
        opened = 0
        for code, cause in _EVENT_CAUSES.items():
            for meter in np.unique(meters[codes == code]):
                opened += self.open(int(meter), cause, "hes.events")[1]
        return opened

    def on_fault_status(self, meter_id: int, edt: bytes) -> FaultTicket | None:
        """An ECHONET Lite 0x88 value read from a meter: a fault opens a ticket."""
        if edt not in (bytes([ECHONET_FAULT]), bytes([ECHONET_NO_FAULT])):
            raise ValueError(f"0x88 carries 0x41 or 0x42, got {edt.hex()}")
        if edt[0] != ECHONET_FAULT:
            return None
        return self.open(meter_id, "self_diagnosis", "echonet 0x88")[0]

    def on_flagged_values(self, values: pa.Table) -> int:
        """Values with ``meter_id`` and ``vee_flags``: V10 opens a ticket per meter."""
        flags = pc.fill_null(values.column("vee_flags"), 0).to_numpy(zero_copy_only=False)
        meters = values.column("meter_id").to_numpy(zero_copy_only=False)
        hit = (flags.astype(np.int64) & bit("V10")) != 0
        return sum(
            self.open(int(m), "vee_tamper_reset", "vee V10")[1] for m in np.unique(meters[hit])
        )

    def scan_flagged_values(self, mdms: Mdms, settings: SettingsStore, now_s: float) -> int:
        """Tickets for the values VEE flagged V10 since the last scan (its end is stored, so
        a restart neither misses nor re-reads a window); the number newly opened."""
        since_s = float(settings.get(SCAN_SETTING) or now_s - SCAN_FIRST_WINDOW_S)
        if now_s <= since_s:
            return 0
        opened = self.on_flagged_values(flagged_values(mdms, ("V10",), since_s, now_s))
        settings.put(SCAN_SETTING, repr(now_s))
        return opened

    def tickets(self, open_only: bool = True) -> list[FaultTicket]:
        return self.store.tickets(open_only)

    def spawn_repair(self, ticket_id: int, by: str, role: str) -> WorkOrderRow:
        """A repair work order at the supply point where the ticket's meter is installed."""
        ticket = self.store.ticket(ticket_id)
        if ticket is None:
            raise WorkOrderError("E_UNKNOWN_TICKET", f"no fault ticket {ticket_id}", 404)
        if ticket.closed_at is not None or ticket.work_order_id is not None:
            raise WorkOrderError("E_TICKET_HANDLED", "the ticket is closed or has an order", 409)
        inst = self.orders.registry.installations_table()
        here = inst.filter(
            pc.and_(
                pc.equal(inst.column("meter_id"), ticket.meter_id),
                pc.is_null(inst.column("valid_to")),
            )
        )
        if here.num_rows == 0:
            raise WorkOrderError("E_NO_METER", "the ticket's meter is not installed", 409)
        key = int(here.column("supply_point_key")[0].as_py())
        supply_point_id = self.orders.registry.supply_point_ids([key])[0]
        note = f"fault ticket {ticket_id}: {CAUSES[ticket.cause]}"
        return self.orders.create("repair", supply_point_id, by, role, note, ticket_id)


_BUILD_LOCK = threading.Lock()


def fault_tickets_of(context: HubContext) -> FaultTickets:
    """The context's fault tickets (built on first use)."""
    with _BUILD_LOCK:
        service = context.services.get("fault_tickets")
        if not isinstance(service, FaultTickets):
            service = FaultTickets(work_orders_of(context))
            context.services["fault_tickets"] = service
        return service


def attach_fault_tickets(
    context: HubContext, after_tick: list[Callable[[float], None]] | None = None
) -> None:
    """Open tickets from the alarms on the context's bus (``hes.events``) and, after every
    tick of the loop that owns ``after_tick``, from the values VEE flagged V10."""
    tickets = fault_tickets_of(context)
    if context.bus is not None:
        context.bus.subscribe(TOPIC_EVENTS, tickets.on_events)
    if after_tick is not None:
        settings = SettingsStore(context.clients.database)

        def scan(now_s: float) -> None:
            tickets.scan_flagged_values(context.mdms, settings, now_s)

        after_tick.append(scan)
