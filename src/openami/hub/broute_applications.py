"""The B-route service lifecycle: apply, issue, provision over the A route, notify, revoke,
rotate (issue #18 §4; docs/broute-service.md).

:class:`BrouteService` is the one place of its rules, used by the API
(:mod:`openami.hub.broute_applications_api`) and the customer portal alike:

- :meth:`BrouteService.apply` — a retailer for a point it supplies today, or the customer
  holding the point; the point's area must have opened its B-route service (the seed's
  dates, ``config/broute_openings.csv``) and a smart meter must be installed there. The
  utility issues a B-route ID (32 hex digits) and a password (12 characters) from the
  operating system's CSPRNG (:mod:`secrets`); the password is sealed in the store.
- :meth:`BrouteService.tick` (from the hub workers, on the loop that drives the HES) sends
  ``SET_BROUTE_CREDENTIALS`` with the application's credential version, follows the
  outcome (confirmed by the read-back of the ID and a password proof), then notifies: a
  signed webhook ``broute.provisioned`` to the retailer's subscriptions and the customer's
  portal message (the status ``notified``; the password is shown once,
  :meth:`BrouteService.take_password`).
- :meth:`BrouteService.revoke` drops the pair and clears the meter's; :meth:`rotate`
  issues a new pair and provisions it (the old one keeps working until the meter takes
  the new one).

Every change is audited (kind ``broute``) without any secret; logs carry ids only.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import uuid
from dataclasses import dataclass
from datetime import date

import structlog

from openami.bus.messages import CommandKind, CommandState
from openami.clock import JST, jst_day_start_s
from openami.hub.context import HubContext
from openami.registry import InvalidSupplyPointId
from openami.registry.ids import area_of, validate_supply_point_id
from openami.registry.opening import AreaOpening, load_openings
from openami.storage.repositories import AlreadyExists
from openami.storage.repositories.audit import AuditRecord
from openami.storage.repositories.broute_apps import BrouteApplication, BrouteApplicationStore
from openami.storage.repositories.webhooks import WebhookStore

log = structlog.get_logger(__name__)

PROVISIONED_EVENT = "broute.provisioned"
PASSWORD_ALPHABET = string.ascii_uppercase + string.digits  # 36^12 ≈ 2^62
PASSWORD_LENGTH = 12
CLEAR_VERSION = 0
COMMAND_TIMEOUT_S = 6 * 3600.0
REVOKE_RETRY_S = 3600.0


class BrouteRefused(Exception):
    """An application refused: ``code`` (E_…) and the HTTP ``status`` the API answers."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Applicant:
    """Who acts: a retailer (``retailer_id``) or a customer (``customer_id``)."""

    retailer_id: str | None = None
    customer_id: str | None = None

    @property
    def label(self) -> str:
        return (
            f"retailer:{self.retailer_id}" if self.retailer_id else f"customer:{self.customer_id}"
        )


def new_rbid() -> str:
    """A B-route ID: 32 upper-case hex digits from the CSPRNG."""
    return secrets.token_hex(16).upper()


def new_password() -> str:
    """A B-route password: 12 characters of A–Z, 0–9 from the CSPRNG."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


class BrouteService:
    def __init__(self, context: HubContext, openings: dict[str, AreaOpening] | None = None):
        self.context = context
        self.store = BrouteApplicationStore(context.clients.database)
        self.openings = openings if openings is not None else load_openings(route="broute")
        self._lock = threading.Lock()
        self._clear_tried: dict[str, float] = {}  # revoked application -> last clear sent

    # -- rules -----------------------------------------------------------------------------
    def _today(self) -> date:
        return self.context.clock.now().astimezone(JST).date()

    def _check_area(self, supply_point_id: str, now_s: float) -> None:
        opening = self.openings.get(area_of(supply_point_id))
        if opening is None:
            raise BrouteRefused(422, "E_UNKNOWN_AREA", "no B-route service in this area")
        if now_s < jst_day_start_s(opening.full_area):
            raise BrouteRefused(
                409,
                "E_BROUTE_NOT_OPEN",
                f"the B-route service of {opening.utility_en} opens on "
                f"{opening.full_area.isoformat()}",
            )

    def _point(self, applicant: Applicant, supply_point_id: str, now_s: float) -> tuple[int, int]:
        """(supply point key, meter id) the applicant may apply for, or a refusal."""
        registry = self.context.registry
        try:
            validate_supply_point_id(supply_point_id)
        except InvalidSupplyPointId as exc:
            raise BrouteRefused(422, "E_INVALID_SUPPLY_POINT_ID", str(exc)) from None
        point = registry.supply_point(supply_point_id)
        key = None if point is None else point.supply_point_key
        allowed = key is not None and (
            registry.retailer_on(key, self._today()) == applicant.retailer_id
            if applicant.retailer_id
            else key in self._customer_keys(str(applicant.customer_id))
        )
        if key is None or not allowed:  # one answer: no enumeration of others' points
            raise BrouteRefused(404, "E_UNKNOWN_SUPPLY_POINT", "no such supply point of yours")
        self._check_area(supply_point_id, now_s)
        meter_id = registry.current_meter(key)
        if meter_id is None:
            raise BrouteRefused(409, "E_NO_METER", "no meter is installed at the point")
        kind = registry.kinds.meter_kinds([meter_id]).column("meter_type")[0].as_py()
        if kind != "smart":
            raise BrouteRefused(409, "E_NOT_SMART_METER", "the point's meter has no B route")
        return key, meter_id

    def _customer_keys(self, customer_id: str) -> list[int]:
        from openami.hub.oauth_grants import consent_store

        return list(consent_store(self.context).customer_points(customer_id))

    # -- the service functions -------------------------------------------------------------
    def apply(self, applicant: Applicant, supply_point_id: str) -> BrouteApplication:
        """Apply for a point's B-route service; the pair is issued at once (``issued``)."""
        now_s = self.context.clock.timestamp()
        key, meter_id = self._point(applicant, supply_point_id, now_s)
        app_id = f"ba-{uuid.uuid4().hex[:20]}"
        try:
            self.store.create(
                app_id,
                key,
                meter_id,
                applicant.label,
                applicant.retailer_id,
                applicant.customer_id,
                now_s,
            )
        except AlreadyExists:
            raise BrouteRefused(
                409, "E_ALREADY_APPLIED", "the point has a live B-route application"
            ) from None
        self._audit(applicant.label, "applied", app_id, now_s, {"meter_id": meter_id})
        return self._issue(app_id, applicant.label, now_s)

    def _issue(self, app_id: str, actor: str, now_s: float) -> BrouteApplication:
        version = self.store.issue(app_id, new_rbid(), new_password(), now_s)
        self._audit(actor, "issued", app_id, now_s, {"credential_version": version})
        issued = self.store.get(app_id)
        assert issued is not None
        return issued

    def status(self, applicant: Applicant, application_id: str) -> BrouteApplication:
        """The application, if the applicant may see it (else 404)."""
        app = self.store.get(application_id)
        if app is None or not self._may_see(applicant, app):
            raise BrouteRefused(404, "E_UNKNOWN_APPLICATION", "no such application of yours")
        return app

    def _may_see(self, applicant: Applicant, app: BrouteApplication) -> bool:
        if applicant.retailer_id:
            return app.retailer_id == applicant.retailer_id
        return app.customer_id == applicant.customer_id or app.supply_point_key in (
            self._customer_keys(str(applicant.customer_id))
        )

    def applications(self, applicant: Applicant) -> list[BrouteApplication]:
        if applicant.retailer_id:
            return self.store.of_retailer(applicant.retailer_id)
        customer = str(applicant.customer_id)
        return self.store.of_customer(customer, self._customer_keys(customer))

    def revoke(self, applicant: Applicant, application_id: str) -> BrouteApplication:
        """Stop the service: the pair is dropped and the meter told to forget it."""
        app = self.status(applicant, application_id)
        now_s = self.context.clock.timestamp()
        if not self.store.revoke(app.application_id, f"revoked by {applicant.label}", now_s):
            raise BrouteRefused(409, "E_NOT_LIVE", f"the application is {app.status}")
        self.store.set_command(app.application_id, None, now_s)  # the clear goes next tick
        self._audit(applicant.label, "revoked", app.application_id, now_s, {})
        return self.status(applicant, application_id)

    def rotate(self, applicant: Applicant, application_id: str) -> BrouteApplication:
        """Issue a new pair (new version) and provision it."""
        app = self.status(applicant, application_id)
        if app.status in ("revoked", "failed"):
            raise BrouteRefused(409, "E_NOT_LIVE", f"the application is {app.status}")
        now_s = self.context.clock.timestamp()
        self.store.set_command(app.application_id, None, now_s)  # outcomes of older: ignored
        return self._issue(app.application_id, applicant.label, now_s)

    def take_password(self, customer_id: str, application_id: str) -> tuple[BrouteApplication, str]:
        """The customer's one view of the current pair (409 once shown or before
        provisioning)."""
        app = self.status(Applicant(customer_id=customer_id), application_id)
        if app.status not in ("provisioned", "notified"):
            raise BrouteRefused(409, "E_NOT_PROVISIONED", f"the application is {app.status}")
        now_s = self.context.clock.timestamp()
        password = self.store.take_password_once(app.application_id, app.credential_version, now_s)
        if password is None:
            raise BrouteRefused(
                409, "E_ALREADY_SHOWN", "the password was shown once; rotate for a new one"
            )
        self._audit(f"customer:{customer_id}", "password shown", app.application_id, now_s, {})
        return app, password

    # -- the worker ------------------------------------------------------------------------
    def tick(self, now_s: float) -> None:
        """Send due commands and follow their outcomes (from the loop driving the HES)."""
        port = self.context.command_port
        if port is None:
            return
        with self._lock:
            self._follow_outcomes(now_s)
            for app in self._due_commands(now_s):
                version = CLEAR_VERSION if app.status == "revoked" else app.credential_version
                corr = port.submit(
                    CommandKind.SET_BROUTE_CREDENTIALS,
                    int(app.meter_id or 0),
                    now_s,
                    version,
                    reference=f"broute:{app.application_id}:{version}:{int(now_s)}",
                    timeout_s=COMMAND_TIMEOUT_S,
                )
                if corr is None:
                    self._failed(app, "the head-end does not serve the meter", now_s)
                    continue
                self.store.set_command(app.application_id, corr, now_s)

    def _due_commands(self, now_s: float) -> list[BrouteApplication]:
        out = []
        for app in self.store.of_status(("issued", "revoked")):
            if app.correlation_id is not None or app.meter_id is None:
                continue
            if app.status == "revoked":
                tried = self._clear_tried.get(app.application_id)
                if app.meter_version is None or (
                    tried is not None and now_s - tried < REVOKE_RETRY_S
                ):
                    continue
                self._clear_tried[app.application_id] = now_s
            out.append(app)
        return out

    def _follow_outcomes(self, now_s: float) -> None:
        port = self.context.command_port
        assert port is not None
        in_flight = self.store.in_flight()
        if not in_flight:
            return
        outcomes = port.outcomes([int(a.correlation_id or 0) for a in in_flight])
        ended = dict(
            zip(
                outcomes.column("correlation_id").to_pylist(),
                outcomes.column("state").to_pylist(),
                strict=True,
            )
        )
        for app in in_flight:
            state = ended.get(app.correlation_id)
            if state is None:
                continue
            if state == CommandState.CONFIRMED:
                self._confirmed(app, now_s)
            elif app.status == "revoked":
                self.store.set_command(app.application_id, None, now_s)
                self._audit("hes", "clear failed", app.application_id, now_s, {"state": state})
            else:
                self._failed(app, f"the meter did not confirm ({CommandState(state).name})", now_s)

    def _confirmed(self, app: BrouteApplication, now_s: float) -> None:
        if app.status == "revoked":
            self.store.clear_meter(app.application_id, now_s)
            self._audit("hes", "meter cleared", app.application_id, now_s, {})
            return
        self.store.confirm_meter(app.application_id, app.credential_version, now_s)
        self._audit(
            "hes",
            "provisioned",
            app.application_id,
            now_s,
            {"credential_version": app.credential_version},
        )
        self._notify(app, now_s)

    def _failed(self, app: BrouteApplication, reason: str, now_s: float) -> None:
        if app.status == "revoked":
            self.store.set_command(app.application_id, None, now_s)
            return
        self.store.fail(app.application_id, reason, now_s)
        self._audit("hes", "failed", app.application_id, now_s, {"reason": reason})

    def _notify(self, app: BrouteApplication, now_s: float) -> None:
        """Webhook to the retailer's subscriptions; the customer's portal shows the status."""
        webhooks = WebhookStore(self.context.clients.database)
        # the retailer that applied hears of it; a customer's own application stays private
        subs = webhooks.subscribed_retailers().get(app.retailer_id, []) if app.retailer_id else []
        body = {
            "event": PROVISIONED_EVENT,
            "application_id": app.application_id,
            "status": "notified",
            "credential_version": app.credential_version,
            "application": f"/v1/broute-applications/{app.application_id}",
        }
        rows = [
            (s.subscription_id, json.dumps({**body, "subscription_id": s.subscription_id}).encode())
            for s in subs
        ]
        if rows:
            webhooks.enqueue(rows, now_s)
        self.store.mark_notified(app.application_id, now_s)
        self._audit("hub", "notified", app.application_id, now_s, {"webhooks": len(rows)})
        log.info("broute.notified", application_id=app.application_id, webhooks=len(rows))

    def _audit(
        self, actor: str, action: str, app_id: str, now_s: float, detail: dict[str, object]
    ) -> None:
        audit = self.context.audit
        if audit is None:
            return
        audit.append(
            AuditRecord(
                now_s, "broute", actor, f"broute {action}", "B-route service", app_id, detail
            )
        )


_BUILD_LOCK = threading.Lock()


def broute_service(context: HubContext) -> BrouteService:
    """The context's B-route service (built on first use)."""
    with _BUILD_LOCK:
        service = context.services.get("broute")
        if not isinstance(service, BrouteService):
            service = BrouteService(context)
            context.services["broute"] = service
        return service
