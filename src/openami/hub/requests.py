"""Retailer requests (OCCTO-style): switching start, reconnect (再点), disconnect (廃止) and
ampere change, as a state machine with effective dates and explicit error codes.

States: ``received`` → ``rejected`` (with a code) or ``accepted``; on the effective date
(JST 00:00, or at the next worker round when it is today) an accepted request becomes an
HES command and
turns ``scheduled`` (with the command's correlation ID); the command's outcome on the bus
topic ``hes.commands`` (the meter's read-back) turns it ``completed``, or ``failed`` with
``E_METER_TIMEOUT`` / ``E_READBACK_MISMATCH``. Commands: disconnect → DISCONNECT,
reconnect → RECONNECT, ampere change → SET_AMPERAGE, switching start → READ (the switching
reading). Registry membership changes when a request is accepted, effective-dated from its
effective date (the supply contract ends / starts that JST day), so point-in-time balancing
group membership follows; the contract amperage is recorded when the meter confirms it.
A completed switching start returns the registers read in its ``result``. The retail kinds
(suspend, resume, on_demand_read, move_in, move_out, contract_change) are decided and
mapped to commands in :mod:`openami.hub.retail_requests`; every concluded request is
announced to its retailer's webhooks (``retailer_request.concluded``).
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from openami.bus.messages import CONTRACT_AMPERAGES_A, TOPIC_COMMANDS, CommandKind, CommandState
from openami.clock import JST, jst_day_start_s
from openami.hub import retail_requests as retail
from openami.hub.context import HubContext
from openami.hub.ports import CommandPort
from openami.hub.request_outcomes import Outcome, outcome_rows
from openami.hub.retail_requests import RETAIL_KINDS, Intake
from openami.hub.switching import REMOTE_KINDS, CapCounter, switching_control
from openami.hub.switching_errors import ERROR_STATUS, Rejected
from openami.registry import InvalidSupplyPointId, RegistryError
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.requests import RequestRow, RequestStore

KINDS = ("switch_start", "reconnect", "disconnect", "ampere_change", *RETAIL_KINDS)
MAX_LEAD_DAYS = 365
__all__ = ["ERROR_STATUS", "KINDS", "Rejected", "RequestService", "request_service"]

_COMMAND_OF = {
    "disconnect": CommandKind.DISCONNECT,
    "reconnect": CommandKind.RECONNECT,
    "ampere_change": CommandKind.SET_AMPERAGE,
    "switch_start": CommandKind.READ,
}


def _ended(retailer: str, day: date, former_end: date | None) -> list[str | None]:
    return [retailer, day.isoformat(), former_end.isoformat() if former_end else None]


class RequestService:
    def __init__(self, context: HubContext) -> None:
        self.context = context
        self.store = RequestStore(context.clients.database)
        self._lock = threading.Lock()
        self.commands: CommandPort | None = context.command_port
        if self.commands is not None and context.bus is not None:
            context.bus.subscribe(TOPIC_COMMANDS, self.on_command_outcomes)

    # -- intake -----------------------------------------------------------------------------
    def submit(
        self,
        client: ApiClient,
        kind: str,
        supply_point_id: str,
        effective_date: date,
        amperage_a: int | None = None,
        authorisation_id: str | None = None,
        detail: dict[str, object] | None = None,
    ) -> RequestRow:
        """Record a request and decide it; raises :class:`Rejected` (the record stays).
        A ``switch_start`` quotes the customer's ``authorisation_id``; ``detail``: the
        kind-specific input (``contract_change``: ``contract_kw`` or ``supply_plan``)."""
        now = self.context.clock.timestamp()
        row = RequestRow(
            request_id=f"rq-{uuid.uuid4().hex[:20]}",
            client_id=client.client_id,
            retailer_id=client.party_id,
            kind=kind[:40],
            supply_point_key=None,
            supply_point_id=supply_point_id[:40],
            effective_date=effective_date.isoformat(),
            amperage_a=amperage_a,
            status="received",
            error_code=None,
            error_message=None,
            correlation_id=None,
            received_at=now,
            updated_at=now,
            detail=json.dumps(detail) if detail else None,
        )
        self.store.add_request(row)
        with self._lock:  # one decision at a time: conflicts are seen
            try:
                key, undo = self._decide(row, client, effective_date, authorisation_id)
            except Rejected as exc:
                self.store.set_status(
                    row.request_id, "rejected", now, exc.code, exc.message, expect="received"
                )
                exc.request_id = row.request_id
                raise
            self.store.set_decision(row.request_id, key, json.dumps(undo))
            if row.kind == "switch_start":
                self._open_objection_window(row, undo, authorisation_id, now)
            elif "authorised" in undo:  # a reconnect that starts a contract
                switching_control(self.context).store.use_authorisation(
                    str(authorisation_id), row.request_id
                )
            self.store.set_status(row.request_id, "accepted", now, expect="received")
        # effective today: the next worker round (on the simulation/HES loop, never this
        # API thread: the HES command queue is not shared between threads) sends it
        out = self.store.request(row.request_id)
        assert out is not None
        return out

    def _open_objection_window(
        self, row: RequestRow, undo: dict[str, list[str | None]], auth_id: str | None, now: float
    ) -> None:
        """An accepted switch: its authorisation is used up, the losing retailer notified."""
        control = switching_control(self.context)
        losing = str(undo["ended"][0])
        deadline = now + control.config.objection_window_s
        control.store.use_authorisation(str(auth_id), row.request_id)
        control.store.set_controls(
            row.request_id,
            losing_retailer_id=losing,
            objection_deadline=deadline,
            authorisation_id=auth_id,
        )
        control.notify_losing_retailer(row, losing, deadline)

    def _decide(
        self, row: RequestRow, client: ApiClient, day: date, authorisation_id: str | None = None
    ) -> tuple[int, dict[str, list[str | None]]]:
        """Check the request; apply its registry change; returns the supply point key and
        how to take the change back (for a cancellation)."""
        ctx = self.context
        if client.role != "retailer":
            raise Rejected("E_NOT_RETAILER", "only retailers file requests")
        if row.kind not in KINDS:
            raise Rejected("E_UNKNOWN_KIND", f"kind must be one of {', '.join(KINDS)}")
        try:
            sp = ctx.registry.supply_point(row.supply_point_id)
        except InvalidSupplyPointId as exc:
            raise Rejected("E_INVALID_SUPPLY_POINT", str(exc)) from None
        today = ctx.clock.now().astimezone(JST).date()
        if day < today:
            raise Rejected("E_DATE_IN_PAST", f"effective date {day} is before today ({today})")
        if day > today + timedelta(days=MAX_LEAD_DAYS):
            raise Rejected("E_DATE_TOO_FAR", f"effective date more than {MAX_LEAD_DAYS} days ahead")
        me = client.party_id
        if row.kind in RETAIL_KINDS:
            intake = Intake(row, me, sp, day, authorisation_id, retail.parse_detail(row))
            control = switching_control(ctx)
            return retail.decide_retail(ctx, control, self.store, self.commands, intake)
        # an unknown point is answered as someone else's: no enumeration of supply point IDs
        if sp is None and row.kind == "switch_start":
            raise Rejected("E_NO_AUTHORISATION", "a switch quotes the customer's authorisation")
        supplier = None if sp is None else ctx.registry.retailer_on(sp.supply_point_key, day)
        if sp is None or (
            row.kind in ("disconnect", "ampere_change")
            and supplier != me
            and (supplier is not None or row.kind == "ampere_change")
        ):
            raise Rejected("E_NOT_SUPPLIER", f"{me} does not supply it on {day}")
        key = sp.supply_point_key
        control = switching_control(ctx)
        now_s = ctx.clock.timestamp()
        if row.kind == "switch_start":
            control.check_lead(day, now_s, control.config.objection_window_s, "switch")
        elif row.kind == "disconnect" and not control.notice_exempt(row):
            control.check_lead(day, now_s, control.config.disconnect_notice_s, "disconnect")
        if self.store.open_for_supply_point(key):
            raise Rejected(
                "E_CONFLICTING_REQUEST",
                f"another request for supply point {row.supply_point_id} is still open",
            )
        meter = self._meter_of(key)
        if meter is None:
            raise Rejected("E_NO_METER", "no meter is installed at the supply point")
        me, current = client.party_id, ctx.registry.retailer_on(key, day)
        port = self.commands
        connected = port.switch_connected(meter) if port is not None else None
        if row.kind == "ampere_change":
            if current != me:
                raise Rejected("E_NOT_SUPPLIER", f"{me} does not supply it on {day}")
            if row.amperage_a is None:
                raise Rejected("E_AMPERAGE_REQUIRED", "ampere_change needs amperage_a")
            if row.amperage_a not in CONTRACT_AMPERAGES_A:
                raise Rejected(
                    "E_UNSUPPORTED_AMPERAGE",
                    "contract amperage must be one of "
                    f"{', '.join(map(str, CONTRACT_AMPERAGES_A))} A",
                )
            now_a = port.contract_amperage_a(meter) if port is not None else None
            if now_a == row.amperage_a:
                raise Rejected("E_AMPERAGE_UNCHANGED", f"the contract is already {now_a} A")
            return key, {}
        undo: dict[str, list[str | None]] = {}
        try:
            if row.kind == "disconnect":
                if current is None and connected is False:
                    raise Rejected("E_ALREADY_DISCONNECTED", "the supply point is disconnected")
                if current != me:
                    raise Rejected("E_NOT_SUPPLIER", f"{me} does not supply it on {day}")
                if connected is False:
                    raise Rejected("E_ALREADY_DISCONNECTED", "the meter's switch is open")
                undo["ended"] = _ended(me, day, ctx.registry.contract_end(key, me, day))
                ctx.registry.end_supply_contract(key, me, day)
            elif row.kind == "reconnect":
                if current is not None and current != me:
                    raise Rejected("E_SUPPLIED_BY_OTHER", f"another retailer supplies it on {day}")
                if current == me and connected is not False:
                    raise Rejected("E_ALREADY_CONNECTED", f"{me} supplies it on {day} already")
                if current is None:  # a new supply contract: only with the customer
                    control.check_authorisation(authorisation_id, me, key, day)
                    ctx.registry.start_supply_contract(key, me, day)
                    undo["started"] = [me, day.isoformat()]
                    undo["authorised"] = [authorisation_id]
            else:  # switch_start
                if current == me:
                    raise Rejected("E_ALREADY_SUPPLIER", f"{me} supplies it on {day} already")
                if current is None:
                    raise Rejected("E_NOT_CONNECTED", "nobody supplies it then: file a reconnect")
                control.check_authorisation(authorisation_id, me, key, day)
                undo["ended"] = _ended(current, day, ctx.registry.contract_end(key, current, day))
                ctx.registry.start_supply_contract(key, me, day, switch=True)
                undo["started"] = [me, day.isoformat()]
        except RegistryError as exc:
            raise Rejected("E_CONFLICTING_CONTRACT", str(exc)) from None
        return key, undo

    def cancel(self, client: ApiClient, request_id: str) -> RequestRow:
        """Withdraw an accepted (or held) request before it is sent to the HES (取消): its
        registry change is taken back. Raises :class:`Rejected` (E_UNKNOWN_REQUEST,
        E_NOT_CANCELLABLE)."""
        with self._lock:
            row = self.store.request(request_id)
            if row is None or row.client_id != client.client_id:
                raise Rejected("E_UNKNOWN_REQUEST", f"no request {request_id}")
            if row.status not in ("accepted", "held"):
                raise Rejected("E_NOT_CANCELLABLE", f"the request is {row.status}")
            self._take_back(row, "cancelled", None, None)
        out = self.store.request(request_id)
        assert out is not None
        return out

    def object(self, client: ApiClient, request_id: str, reason: str) -> RequestRow:
        """The losing retailer objects to a switch within its objection window: the switch
        is rejected with E_OBJECTED and its registry change taken back. Raises
        :class:`Rejected` (E_UNKNOWN_REQUEST, E_OBJECTION_CLOSED)."""
        control = switching_control(self.context)
        with self._lock:
            row = self.store.request(request_id)
            controls = control.store.controls(request_id)
            if (
                row is None
                or controls is None
                or controls.losing_retailer_id is None
                or client.role != "retailer"
                or controls.losing_retailer_id != client.party_id
            ):
                raise Rejected("E_UNKNOWN_REQUEST", f"no switch {request_id} away from you")
            now_s = self.context.clock.timestamp()
            deadline = controls.objection_deadline or 0.0
            if row.status != "accepted" or now_s > deadline:
                raise Rejected(
                    "E_OBJECTION_CLOSED",
                    f"the request is {row.status}, the objection window closed"
                    if now_s > deadline
                    else f"the request is {row.status}",
                )
            message = f"the losing retailer {client.party_id} objected: {reason}"[:300]
            self._take_back(row, "rejected", "E_OBJECTED", message)
        out = self.store.request(request_id)
        assert out is not None
        return out

    def _take_back(
        self, row: RequestRow, status: str, code: str | None, message: str | None
    ) -> None:
        """Undo the registry change of an accepted or held request and move it to
        ``status`` (call with ``self._lock`` held)."""
        undo = json.loads(self.store.undo_of(row.request_id) or "{}")
        started, ended = undo.get("started"), undo.get("ended")
        try:
            self.context.registry.undo_contract_change(
                int(row.supply_point_key or 0),
                (str(started[0]), date.fromisoformat(started[1])) if started else None,
                (
                    str(ended[0]),
                    date.fromisoformat(ended[1]),
                    date.fromisoformat(ended[2]) if ended[2] else None,
                )
                if ended
                else None,
            )
        except RegistryError as exc:
            raise Rejected("E_NOT_CANCELLABLE", str(exc)) from None
        self.store.set_status(
            row.request_id,
            status,
            self.context.clock.timestamp(),
            code,
            message,
            expect=row.status,
        )

    def _meter_of(self, supply_point_key: int) -> int | None:
        return self.context.registry.current_meter(supply_point_key)

    # -- scheduling and confirmation ----------------------------------------------------------
    def tick(self, now_s: float) -> int:
        """Turn accepted requests whose effective date has begun into HES commands: remote
        switching only while not halted, and within the caps (else ``held``)."""
        if self.commands is None:
            return 0
        control = switching_control(self.context)
        sent = 0
        counter: CapCounter | None = None
        halted: bool | None = None
        for req in self.store.with_status("accepted"):
            if jst_day_start_s(date.fromisoformat(req.effective_date)) > now_s:
                continue
            approvals: tuple[str, ...] = ()
            if _remote(req):
                if halted is None:
                    halted = control.halted()
                if halted:
                    continue  # the emergency stop: due requests wait for resume
                counter = counter or CapCounter(control, now_s)
                with self._lock:
                    current = self.store.request(req.request_id)
                    if current is None or current.status != "accepted":
                        continue
                    go, approvals = control.gate(req, counter, now_s)
                if not go:
                    continue
            with self._lock:  # not while a cancellation takes it back
                sent += self._send(req, now_s, approvals)
        return sent

    def _send(self, req: RequestRow, now_s: float, approvals: tuple[str, ...] = ()) -> int:
        """One accepted request → one HES command (call with ``self._lock`` held)."""
        assert self.commands is not None
        current = self.store.request(req.request_id)
        if current is None or current.status != "accepted":  # cancelled meanwhile
            return 0
        meter = self._meter_of(int(req.supply_point_key or 0))
        kind = _COMMAND_OF.get(req.kind)
        if meter is not None and req.kind in RETAIL_KINDS:
            kind = retail.command_of(req, self.commands, meter)
            if kind is None:  # a contract kW: stored from its day, no command
                return self._complete_without_command(req, now_s)
        corr = None
        if meter is not None and kind is not None:
            signed = (
                switching_control(self.context).sign(req, kind, meter, now_s, approvals)
                if req.kind in REMOTE_KINDS
                else None
            )
            corr = self.commands.submit(
                kind,
                meter,
                now_s,
                retail.argument_of(req),
                reference=req.request_id,
                authorisation=signed,
                timeout_s=retail.timeout_of(req),
            )
        if corr is None:
            unreachable = req.kind == "on_demand_read"
            self._finish(
                req,
                "failed",
                now_s,
                "E_METER_UNREACHABLE" if unreachable else "E_NO_METER",
                "meter not reachable by HES",
            )
            return 0
        refused = self.commands.refusal(corr)
        if refused is not None:  # the embedded HES's guard answers at once
            self._finish(req, "failed", now_s, *retail.refused(refused), correlation_id=corr)
            return 0
        self.store.set_status(
            req.request_id, "scheduled", now_s, correlation_id=corr, expect="accepted"
        )
        return 1

    def on_command_outcomes(self, outcomes: pa.Table) -> None:
        """Bus handler (``hes.commands``): confirmation by read-back completes requests."""
        corr = outcomes.column("correlation_id").to_numpy()
        if len(corr) == 0:
            return
        mine = self.store.by_correlation([int(c) for c in corr])
        if not mine:
            return
        for outcome in outcome_rows(outcomes, np.flatnonzero(np.isin(corr, list(mine)))):
            self._conclude(mine[outcome[0]], outcome)

    def _conclude(self, request_id: str, outcome: Outcome) -> bool:
        """Complete or fail a scheduled request by its command's outcome (once: a request no
        longer scheduled is left alone); True if it moved."""
        _, state, at_s, import_wh, export_wh, offset_s = outcome
        req = self.store.request(request_id)
        if req is None or req.status != "scheduled":
            return False
        if state == CommandState.CONFIRMED:
            if req.kind in ("ampere_change", "contract_change") and req.amperage_a:
                meter = self._meter_of(int(req.supply_point_key or 0))
                if meter is not None:
                    self.context.registry.set_contract_amperage(meter, req.amperage_a)
                    self.context.mdms.refresh_registry()
            result = retail.reading_result(req, import_wh, export_wh, at_s, offset_s)
            if result is not None:
                self.store.set_result(request_id, json.dumps(result))
            return self._finish(req, "completed", at_s, None, None, expect="scheduled")
        refused = None  # a HES service refuses asynchronously: its FAILED outcome says why
        if state == CommandState.FAILED and self.commands is not None:
            refused = self.commands.refusal(outcome[0])
        code, message = (
            retail.refused(refused) if refused else retail.failure_of(req, state, import_wh)
        )
        return self._finish(req, "failed", at_s, code, message, expect="scheduled")

    def _complete_without_command(self, req: RequestRow, now_s: float) -> int:
        """A contract kW change takes effect on its day: stored, then completed."""
        result = retail.store_contract_kw(self.context, req, now_s)
        self.store.set_result(req.request_id, json.dumps(result))
        return int(self._finish(req, "completed", now_s, None, None, expect="accepted"))

    def _finish(
        self,
        req: RequestRow,
        status: str,
        at_s: float,
        code: str | None,
        message: str | None,
        correlation_id: int | None = None,
        expect: str = "accepted",
    ) -> bool:
        """Conclude a request (completed or failed) and notify its retailer by webhook."""
        moved = self.store.set_status(
            req.request_id, status, at_s, code, message, correlation_id, expect=expect
        )
        if moved:
            retail.notify_concluded(self.context, req, status, code)
        return moved

    def reconcile(self) -> int:
        """Conclude scheduled requests whose command outcome was missed (the hub was not
        listening when it came, e.g. across a restart), asking the command port for the
        outcomes of their correlation IDs. Requests whose command is still queued stay
        scheduled. Returns how many requests moved."""
        if self.commands is None:
            return 0
        waiting = {
            int(r.correlation_id): r.request_id
            for r in self.store.with_status("scheduled")
            if r.correlation_id is not None
        }
        if not waiting:
            return 0
        outcomes = self.commands.outcomes(sorted(waiting))
        moved = 0
        with self._lock:
            for outcome in outcome_rows(outcomes, np.arange(outcomes.num_rows)):
                moved += self._conclude(waiting[outcome[0]], outcome)
        return moved


def _remote(req: RequestRow) -> bool:
    """Whether the request operates the meter (caps, approvals, signature)."""
    return retail.is_remote(req) if req.kind in RETAIL_KINDS else req.kind in REMOTE_KINDS


_BUILD_LOCK = threading.Lock()


def request_service(context: HubContext) -> RequestService:
    """The context's request service: built on first use, subscribed to command outcomes,
    then reconciled with the outcomes it missed while nobody listened."""
    with _BUILD_LOCK:
        service = context.services.get("requests")
        if not isinstance(service, RequestService):
            service = RequestService(context)
            context.services["requests"] = service
            service.reconcile()
        return service
