"""Remote switching controls: customer authorisation of switches, objection windows,
disconnect notice, caps that hold requests, four-eyes approval, the emergency stop, alerts
and the hub's signature on every remote switching command (issue #15 §1).

- **Switching needs the customer.** A customer confirms, logged in to their account
  (``POST /v1/customer/switch-authorisations``), that one retailer may take over one of
  their supply points from one JST day; the answer is an authorisation id the retailer quotes
  in its ``switch_start`` (once). The effective day must begin at least the objection
  window after the request (and never today or before); the losing retailer is notified by
  webhook (``switch.pending``) and may object until the window closes.
- **Disconnects and suspensions give notice** (``disconnect_notice_s``,
  ``suspend_notice_s``); :meth:`SwitchingControl.notice_exempt`
  is the hook for the customer's own move-out (none today).
- **Caps.** When an accepted disconnect, reconnect or ampere change comes due, the requests
  handed to the HES in the last ``window_s`` are counted per retailer, per area and
  fleet-wide; a request over any cap (count, or share of the points) is not sent but
  ``held``, and an alert is raised (log event ``switching.cap_hit``, a stored alert that
  :meth:`alerts_total` counts for ``/metrics``, and a webhook ``operator.alert`` to
  operator clients' subscriptions, or a log line when there are none).
- **Four eyes.** A held request runs only after two different operators with the
  ``approver`` role approved it (:meth:`approve`); it is then sent whatever the caps.
- **Emergency stop.** :meth:`halt` stops all remote switching (stored flag, shared with the
  HES's guard); due requests wait until :meth:`resume`.
- **Signed commands.** With a signer, every remote switching command is signed (Ed25519)
  over kind, meter, argument, effective time, request id, approvals and expiry.
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import structlog

from openami.bus.messages import CommandKind
from openami.clock import JST, jst_day_start_s
from openami.hub.context import HubContext
from openami.hub.oauth_grants import consent_store
from openami.hub.switching_errors import Rejected
from openami.hub.switching_ops import HALT_ROLES as OPERATOR_ROLES
from openami.hub.switching_ops import HELD_APPROVALS, SwitchingOps, approved
from openami.registry import InvalidSupplyPointId
from openami.storage.repositories.command_signing import CommandSigner, SignedCommand
from openami.storage.repositories.requests import RequestRow, RequestStore
from openami.storage.repositories.switching import Authorisation, Controls, StopFlag, SwitchingStore
from openami.storage.repositories.webhooks import WebhookStore

log = structlog.get_logger(__name__)

REMOTE_KINDS = (
    "disconnect",
    "reconnect",
    "ampere_change",
    # retail operations (hub/retail_requests.py): switching, or a limiter change
    "suspend",
    "resume",
    "move_in",
    "move_out",
    "contract_change",
)
SWITCH_PENDING_EVENT = "switch.pending"
MAX_LEAD_DAYS = 365
OPERATOR_ALERT_EVENT = "operator.alert"


@dataclass(frozen=True)
class Cap:
    """At most ``min(max_count, max(floor, max_share × points))`` sends per window."""

    max_count: int
    max_share: float
    floor: int

    def limit(self, points: int) -> int:
        return int(min(self.max_count, max(self.floor, math.floor(self.max_share * points))))


@dataclass(frozen=True)
class SwitchingConfig:
    objection_window_s: float = 2 * 86400.0
    disconnect_notice_s: float = 2 * 86400.0
    # 供給停止: the customer is notified at least 5 days before (common retail terms)
    suspend_notice_s: float = 5 * 86400.0
    authorisation_lifetime_s: float = 60 * 86400.0
    window_s: float = 3600.0
    retailer_cap: Cap = field(default_factory=lambda: Cap(20, 0.10, 3))
    area_cap: Cap = field(default_factory=lambda: Cap(50, 0.10, 5))
    fleet_cap: Cap = field(default_factory=lambda: Cap(100, 0.05, 5))
    command_validity_s: float = 3600.0  # a signed command expires this long after signing
    # an operator's command for more points than this waits for another approver
    operator_approval_threshold: int = 1


class CapCounter:
    """Sends in the current window per retailer, area and fleet, and the points of each."""

    def __init__(self, control: SwitchingControl, now_s: float) -> None:
        cfg = control.config
        ctx = control.context
        sent = control.store.sent_since(now_s - cfg.window_s, REMOTE_KINDS)
        self.retailer = Counter(r for r, _ in sent)
        self.area = Counter(a for _, a in sent)
        self.fleet = len(sent)
        members = ctx.registry.members_on(ctx.clock.now().astimezone(JST).date())
        self.retailer_points = Counter(members.column("retailer_id").to_pylist())
        self.area_points = Counter(members.column("area_code").to_pylist())
        self.fleet_points = max(ctx.registry.supply_point_count(), members.num_rows)
        self.config = cfg

    def over(self, retailer: str, area: str) -> list[tuple[str, str, int, int]]:
        """The caps one more send would break: (scope, key, count after, limit)."""
        cfg = self.config
        checks = (
            (
                "retailer",
                retailer,
                self.retailer[retailer],
                cfg.retailer_cap,
                self.retailer_points[retailer],
            ),
            ("area", area, self.area[area], cfg.area_cap, self.area_points[area]),
            ("fleet", "*", self.fleet, cfg.fleet_cap, self.fleet_points),
        )
        return [
            (scope, key, n + 1, cap.limit(points))
            for scope, key, n, cap, points in checks
            if n + 1 > cap.limit(points)
        ]

    def count(self, retailer: str, area: str) -> None:
        self.retailer[retailer] += 1
        self.area[area] += 1
        self.fleet += 1


class SwitchingControl:
    def __init__(self, context: HubContext, config: SwitchingConfig | None = None) -> None:
        self.context = context
        self.config = config or SwitchingConfig()
        self.store = SwitchingStore(context.clients.database)
        self.requests = RequestStore(context.clients.database)
        self.signer: CommandSigner | None = context.command_signer
        self.ops = SwitchingOps(context.clients.database, context.audit, context.clock.timestamp)

    # -- customer authorisations ------------------------------------------------------------
    def authorise(
        self, customer_id: str, retailer_id: str, supply_point_id: str, effective_date: date
    ) -> Authorisation:
        """The customer authorises ``retailer_id`` to take over their supply point (a
        switch, or a reconnect that starts a supply contract) from ``effective_date``; the
        request that quotes it checks the timing (objection window, not today)."""
        ctx = self.context
        try:
            sp = ctx.registry.supply_point(supply_point_id)
        except InvalidSupplyPointId as exc:
            raise Rejected("E_INVALID_SUPPLY_POINT", str(exc)) from None
        held = consent_store(ctx).customer_points(customer_id)
        if sp is None or sp.supply_point_key not in held:
            raise Rejected("E_NOT_CUSTOMERS_POINT", "not a supply point of this customer")
        if retailer_id not in {r.retailer_id for r in ctx.registry.retailers()}:
            raise Rejected("E_UNKNOWN_RETAILER", f"no retailer {retailer_id}")
        now_s = ctx.clock.timestamp()
        today = ctx.clock.now().astimezone(JST).date()
        if effective_date < today:
            raise Rejected("E_DATE_IN_PAST", f"effective date {effective_date} is before today")
        if effective_date > today + timedelta(days=MAX_LEAD_DAYS):
            raise Rejected("E_DATE_TOO_FAR", f"more than {MAX_LEAD_DAYS} days ahead")
        row = Authorisation(
            authorisation_id=f"sa-{uuid.uuid4().hex[:24]}",
            customer_id=customer_id,
            supply_point_key=sp.supply_point_key,
            retailer_id=retailer_id,
            effective_date=effective_date.isoformat(),
            created_at=now_s,
            expires_at=now_s + self.config.authorisation_lifetime_s,
            used_by=None,
            revoked_at=None,
        )
        self.store.add_authorisation(row)
        self._audit(
            f"customer:{customer_id}",
            "switch_authorised",
            row.authorisation_id,
            {"retailer": retailer_id, "effective_date": row.effective_date},
        )
        return row

    def check_lead(self, day: date, now_s: float, lead_s: float, what: str) -> None:
        """The effective day is after today and begins at least ``lead_s`` from now."""
        today = self.context.clock.now().astimezone(JST).date()
        if day <= today or jst_day_start_s(day) < now_s + lead_s:
            earliest = today + timedelta(days=1)
            while jst_day_start_s(earliest) < now_s + lead_s:
                earliest += timedelta(days=1)
            notice = what in ("disconnect", "suspend")
            code = "E_NOTICE_TOO_SHORT" if notice else "E_EFFECTIVE_TOO_SOON"
            raise Rejected(code, f"a {what} takes effect on {earliest} at the earliest")

    def check_authorisation(
        self, authorisation_id: str | None, retailer_id: str, key: int, day: date
    ) -> Authorisation:
        """The customer's authorisation the switch quotes, if it fits; else E_NO_AUTHORISATION."""
        if not authorisation_id:
            raise Rejected("E_NO_AUTHORISATION", "a switch quotes the customer's authorisation_id")
        auth = self.store.authorisation(authorisation_id)
        now_s = self.context.clock.timestamp()
        if auth is None:
            raise Rejected("E_NO_AUTHORISATION", "the authorisation is unknown")
        checks = (
            (auth.retailer_id != retailer_id, "for another retailer"),
            (auth.supply_point_key != key, "for another supply point"),
            (auth.effective_date != day.isoformat(), "for another day"),
            (auth.revoked_at is not None, "revoked"),
            (auth.used_by is not None, "used already"),
            (now_s > auth.expires_at, "expired"),
        )
        problem = next((what for failed, what in checks if failed), None)
        if problem is not None:
            raise Rejected("E_NO_AUTHORISATION", f"the authorisation is {problem}")
        return auth

    def notice_exempt(self, row: RequestRow) -> bool:
        """Hook: a disconnect without notice (the customer's own move-out, confirmed by the
        customer). No such confirmation exists yet, so none is exempt."""
        return False

    def notify_losing_retailer(self, row: RequestRow, losing: str, deadline_s: float) -> int:
        """Queue ``switch.pending`` to the losing retailer's webhook subscriptions."""
        subs = WebhookStore(self.context.clients.database).subscribed_retailers().get(losing, [])
        body = {
            "event": SWITCH_PENDING_EVENT,
            "request_id": row.request_id,
            "gaining_retailer": row.retailer_id,
            "effective_date": row.effective_date,
            "objection_deadline": _iso(deadline_s),
            "request": f"/v1/retailer-requests/{row.request_id}",
            "object": f"/v1/retailer-requests/{row.request_id}/object",
        }
        rows = [
            (s.subscription_id, json.dumps({**body, "subscription_id": s.subscription_id}).encode())
            for s in subs
        ]
        WebhookStore(self.context.clients.database).enqueue(rows, self.context.clock.timestamp())
        log.info("switch.pending_notified", request_id=row.request_id, subscribers=len(rows))
        return len(rows)

    # -- sending ----------------------------------------------------------------------------
    def halted(self) -> bool:
        return self.store.stop_flag().halted

    def approved(self, controls: Controls | None) -> tuple[str, ...]:
        return approved(controls)

    def gate(
        self, row: RequestRow, counter: CapCounter, now_s: float
    ) -> tuple[bool, tuple[str, ...]]:
        """May this due remote request be sent now? (send, approvals). Over a cap it is
        held (status ``held``) and an alert raised."""
        controls = self.store.controls(row.request_id)
        approvals = self.approved(controls)
        sp_area = self._area(row)
        if approvals:
            counter.count(row.retailer_id, sp_area)
            return True, approvals
        broken = counter.over(row.retailer_id, sp_area)
        if not broken:
            counter.count(row.retailer_id, sp_area)
            return True, ()
        reason = "; ".join(f"{s} cap {k}: {n} > {limit}" for s, k, n, limit in broken)
        self.store.set_controls(row.request_id, hold_reason=reason, approvals_needed=HELD_APPROVALS)
        if self.requests.set_status(
            row.request_id, "held", now_s, "E_CAP_HIT", reason, expect="accepted"
        ):
            for scope, key, n, limit in broken:
                self.alert(
                    now_s,
                    scope,
                    key,
                    {"request_id": row.request_id, "count": n, "limit": limit, "kind": row.kind},
                )
        return False, ()

    def _area(self, row: RequestRow) -> str:
        sp = self.context.registry.supply_point(row.supply_point_id)
        return sp.area_code if sp is not None else "?"

    def sign(
        self,
        row: RequestRow,
        kind: CommandKind,
        meter_id: int,
        now_s: float,
        approvals: tuple[str, ...],
    ) -> SignedCommand | None:
        if self.signer is None:
            return None
        command = SignedCommand(
            kind=int(kind),
            meter_id=int(meter_id),
            argument=int(row.amperage_a or 0) if kind == CommandKind.SET_AMPERAGE else 0,
            effective_s=float(jst_day_start_s(date.fromisoformat(row.effective_date))),
            request_id=row.request_id,
            approvals=approvals,
            expires_s=now_s + self.config.command_validity_s,
        )
        return self.signer.sign(command)

    # -- alerts -----------------------------------------------------------------------------
    def alert(self, now_s: float, scope: str, key: str, detail: dict[str, object]) -> None:
        self.store.add_alert(now_s, "hub", scope, key, detail)
        log.warning("switching.cap_hit", source="hub", scope=scope, key=key, **detail)
        subs = self.store.operator_subscriptions()
        body = {
            "event": OPERATOR_ALERT_EVENT,
            "at": _iso(now_s),
            "scope": scope,
            "key": key,
            **detail,
        }
        if subs:
            WebhookStore(self.context.clients.database).enqueue(
                [(sub_id, json.dumps(body).encode()) for sub_id, _, _ in subs], now_s
            )
        else:
            fields = {k: v for k, v in body.items() if k != "event"}
            log.warning(OPERATOR_ALERT_EVENT, delivery="log-only", **fields)

    def alerts_total(self) -> int:
        """Cap hits so far (hub and HES), for the ``/metrics`` collector."""
        return self.store.alerts_total()

    # -- operators (see :class:`openami.hub.switching_ops.SwitchingOps`) ------------------
    def operator_command(
        self, kind: str, supply_point_ids: list[str], operator: str, role: str, reason: str
    ) -> list[RequestRow]:
        """An operator disconnects or reconnects meters directly (a safety case, no contract
        change), effective now. Above ``operator_approval_threshold`` points every request is
        ``held`` until an approver other than ``operator`` approves it; below it the caps
        and the stop apply as to any request."""
        if role not in OPERATOR_ROLES:
            raise Rejected("E_NOT_OPERATOR", f"role {role} may not command meters")
        if kind not in ("disconnect", "reconnect"):
            raise Rejected("E_UNKNOWN_KIND", "operators disconnect or reconnect")
        ctx = self.context
        keys = []
        for sp_id in supply_point_ids:
            try:
                sp = ctx.registry.supply_point(sp_id)
            except InvalidSupplyPointId as exc:
                raise Rejected("E_INVALID_SUPPLY_POINT", str(exc)) from None
            if sp is None:
                raise Rejected("E_UNKNOWN_SUPPLY_POINT", f"no supply point {sp_id}")
            if self.requests.open_for_supply_point(sp.supply_point_key):
                raise Rejected("E_CONFLICTING_REQUEST", f"a request for {sp_id} is open")
            keys.append((sp.supply_point_key, sp_id))
        now_s = ctx.clock.timestamp()
        today = ctx.clock.now().astimezone(JST).date().isoformat()
        needs_approval = len(keys) > self.config.operator_approval_threshold
        out = []
        for key, sp_id in keys:
            retailer = ctx.registry.retailer_on(key, ctx.clock.now().astimezone(JST).date())
            row = RequestRow(
                f"rq-{uuid.uuid4().hex[:20]}",
                f"operator:{operator}",
                retailer or "-",
                kind,
                key,
                sp_id,
                today,
                None,
                "received",
                None,
                None,
                None,
                now_s,
                now_s,
            )
            self.requests.add_request(row)
            self.requests.set_decision(row.request_id, key, "{}")
            self.store.set_controls(
                row.request_id,
                requested_by=operator,
                hold_reason=f"operator command for {len(keys)} points" if needs_approval else None,
                approvals_needed=1 if needs_approval else 0,
            )
            status = "held" if needs_approval else "accepted"
            self.requests.set_status(row.request_id, status, now_s, expect="received")
            out.append(self.requests.request(row.request_id) or row)
        self._audit(
            f"operator:{operator}",
            f"operator_{kind}",
            None,
            {"points": len(keys), "reason": reason, "held": needs_approval},
        )
        return out

    def held(self) -> list[tuple[RequestRow, Controls | None]]:
        return self.ops.held()

    def stop_flag(self) -> StopFlag:
        """Whether remote switching is halted, by whom and since when."""
        return self.store.stop_flag()

    def approve(self, request_id: str, operator: str, role: str) -> RequestRow:
        return self.ops.approve(request_id, operator, role)

    def halt(self, operator: str, role: str, reason: str = "") -> None:
        self.ops.halt(operator, role, reason)

    def resume(self, operator: str, role: str) -> None:
        self.ops.resume(operator, role)

    def _audit(
        self, actor: str, action: str, subject: str | None, detail: dict[str, object]
    ) -> None:
        self.ops.audit(actor, action, subject, detail)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).isoformat()


_BUILD_LOCK = threading.Lock()


def switching_control(
    context: HubContext, config: SwitchingConfig | None = None
) -> SwitchingControl:
    """The context's switching control (built on first use, with ``config`` if given then)."""
    with _BUILD_LOCK:
        service = context.services.get("switching")
        if not isinstance(service, SwitchingControl):
            service = SwitchingControl(context, config)
            context.services["switching"] = service
        return service
