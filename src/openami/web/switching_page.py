"""Remote switching page: the emergency stop, requests held over a cap and their approvals.

Seeing it needs the operator role (held requests name supply points); halting needs an
operator, approving an approver (never one's own request, two different approvers release
a held request), resuming an approver or admin; the hub's :class:`SwitchingControl` checks
the role again and writes every action to the audit log. Every form carries the session's
CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from openami.clock import JST
from openami.hub.operators import Operator
from openami.hub.switching import switching_control
from openami.hub.switching_errors import Rejected
from openami.web.auth import check_csrf, current_session, personal
from openami.web.common import hub, render

router = APIRouter(include_in_schema=False)


def _when(epoch_s: float | None) -> str:
    if epoch_s is None:
        return ""
    return datetime.fromtimestamp(epoch_s, JST).strftime("%Y-%m-%d %H:%M")


def _page(
    request: Request, who: Operator, message: str | None, error: str | None, status: int
) -> HTMLResponse:
    control = switching_control(hub(request))
    flag = control.stop_flag()
    held = [
        {
            "request_id": row.request_id,
            "kind": row.kind,
            "retailer_id": row.retailer_id,
            "effective_date": row.effective_date,
            "reason": controls.hold_reason if controls else "",
            "approvals": ", ".join(a[0] for a in controls.approvals) if controls else "",
            "requested_by": controls.requested_by if controls else "",
        }
        for row, controls in control.held()
    ]
    values = {
        "halted": flag.halted,
        "halted_by": flag.changed_by,
        "halted_at": _when(flag.changed_at),
        "held": held,
        "alerts_total": control.alerts_total(),
        "can_approve": who.can("approve"),
        "message": message,
        "error": error,
    }
    return render(request, "switching.html", values, status_code=status)


@router.get("/switching", response_class=HTMLResponse)
def switching(request: Request, who: Annotated[Operator, Depends(personal)]) -> HTMLResponse:
    return _page(request, who, None, None, 200)


def _act(
    request: Request,
    who: Operator,
    csrf_token: str,
    action: str,
    request_id: str = "",
    reason: str = "",
) -> HTMLResponse:
    session = current_session(request)
    assert session is not None  # the dependency passed
    check_csrf(request, session, csrf_token)
    control = switching_control(hub(request))
    try:
        if action == "approve":
            control.approve(request_id, who.name, who.role)
        elif action == "halt":
            control.halt(who.name, who.role, reason)
        else:
            control.resume(who.name, who.role)
    except Rejected as exc:
        return _page(request, who, None, f"{exc.code}: {exc.message}", exc.http_status)
    done = {"approve": "switching.approved", "halt": "switching.halted_msg"}
    return _page(request, who, done.get(action, "switching.resumed"), None, 200)


@router.post("/switching/approve", response_class=HTMLResponse)
def approve(
    request: Request,
    who: Annotated[Operator, Depends(personal)],
    request_id: Annotated[str, Form(max_length=64)],
    csrf_token: Annotated[str, Form(max_length=256)] = "",
) -> HTMLResponse:
    return _act(request, who, csrf_token, "approve", request_id=request_id)


@router.post("/switching/halt", response_class=HTMLResponse)
def halt(
    request: Request,
    who: Annotated[Operator, Depends(personal)],
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=256)] = "",
) -> HTMLResponse:
    return _act(request, who, csrf_token, "halt", reason=reason)


@router.post("/switching/resume", response_class=HTMLResponse)
def resume(
    request: Request,
    who: Annotated[Operator, Depends(personal)],
    csrf_token: Annotated[str, Form(max_length=256)] = "",
) -> HTMLResponse:
    return _act(request, who, csrf_token, "resume")
