"""What operators do about remote switching, over the store alone (the hub's
:class:`openami.hub.switching.SwitchingControl` and the ``openami ops`` commands share it):
list held requests, approve them (four eyes), halt and resume all remote switching.
Every action is audited. Roles (viewer, operator, approver, admin) are given by the caller,
who authenticated the operator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from openami.hub.switching_errors import Rejected
from openami.storage.repositories import Database
from openami.storage.repositories.audit import AuditLog, AuditRecord
from openami.storage.repositories.requests import RequestRow, RequestStore
from openami.storage.repositories.switching import Controls, SwitchingStore

log = structlog.get_logger(__name__)

APPROVER_ROLES = ("approver",)
HALT_ROLES = ("operator", "approver", "admin")
RESUME_ROLES = ("approver", "admin")
HELD_APPROVALS = 2  # four eyes: two different approvers


def approved(controls: Controls | None) -> tuple[str, ...]:
    """The approvers of a request that was held and then approved enough (else empty)."""
    if controls is None or controls.approvals_needed == 0:
        return ()
    names = tuple(sorted({a[0] for a in controls.approvals}))
    return names if len(names) >= controls.approvals_needed else ()


class SwitchingOps:
    def __init__(
        self, database: Database, audit: AuditLog | None, now_s: Callable[[], float]
    ) -> None:
        self.store = SwitchingStore(database)
        self.requests = RequestStore(database)
        self.audit_log = audit
        self.now_s = now_s
        self._lock = threading.Lock()

    def held(self) -> list[tuple[RequestRow, Controls | None]]:
        return [(r, self.store.controls(r.request_id)) for r in self.requests.with_status("held")]

    def approve(self, request_id: str, operator: str, role: str) -> RequestRow:
        """An approver approves a held request; with two different approvers it is released
        (``accepted``) and sent at the next worker round, whatever the caps."""
        if role not in APPROVER_ROLES:
            raise Rejected("E_NOT_APPROVER", "only operators with the approver role approve")
        with self._lock:
            row = self.requests.request(request_id)
            if row is None:
                raise Rejected("E_UNKNOWN_REQUEST", f"no request {request_id}")
            if row.status != "held":
                raise Rejected("E_NOT_HELD", f"the request is {row.status}")
            controls = self.store.controls(request_id)
            if controls is None:
                raise Rejected("E_NOT_HELD", "the request has no hold")
            if controls.requested_by == operator:
                raise Rejected("E_OWN_REQUEST", "nobody approves their own request")
            if operator in {a[0] for a in controls.approvals}:
                raise Rejected("E_ALREADY_APPROVED", f"{operator} approved it already")
            now_s = self.now_s()
            controls = self.store.add_approval(request_id, operator, role, now_s)
            self.audit(
                f"operator:{operator}",
                "switching_approved",
                request_id,
                {"role": role, "approvals": len(controls.approvals)},
            )
            if approved(controls):
                self.requests.set_status(request_id, "accepted", now_s, expect="held")
        out = self.requests.request(request_id)
        assert out is not None
        return out

    def halt(self, operator: str, role: str, reason: str = "") -> None:
        """Emergency stop: no remote switching command is sent (hub) or admitted (HES)."""
        if role not in HALT_ROLES:
            raise Rejected("E_NOT_OPERATOR", f"role {role} may not halt switching")
        now_s = self.now_s()
        self.store.set_halted(True, now_s, operator)
        log.warning("switching.halted", operator=operator, reason=reason)
        self.audit(f"operator:{operator}", "switching_halted", None, {"reason": reason})

    def resume(self, operator: str, role: str) -> None:
        if role not in RESUME_ROLES:
            raise Rejected("E_NOT_APPROVER", f"role {role} may not resume switching")
        now_s = self.now_s()
        self.store.set_halted(False, now_s, operator)
        log.warning("switching.resumed", operator=operator)
        self.audit(f"operator:{operator}", "switching_resumed", None, {})

    def audit(
        self, actor: str, action: str, subject: str | None, detail: dict[str, object]
    ) -> None:
        audit = self.audit_log
        if audit is not None:
            audit.append(
                AuditRecord(
                    self.now_s(),
                    "operation",
                    actor,
                    action,
                    "remote switching control",
                    subject,
                    detail,
                )
            )
