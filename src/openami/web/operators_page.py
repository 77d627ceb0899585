"""Operator accounts page (admins only): the accounts, and a form to add one.

Adding an account is an operator action: CSRF-checked, and written to the audit log with
who added whom and with which role (never the password).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from openami.clock import JST
from openami.hub.audit import record_operator
from openami.hub.operators import ROLES, Operator, OperatorError
from openami.web.auth import admin, check_csrf, current_session
from openami.web.common import hub, render

router = APIRouter(include_in_schema=False)


def _page(request: Request, message: str | None, error: str | None, status: int) -> HTMLResponse:
    accounts = hub(request).operator_accounts.store.all()
    rows = [
        {
            "name": a.name,
            "role": a.role,
            "created": datetime.fromtimestamp(a.created_at, JST).strftime("%Y-%m-%d %H:%M"),
            "disabled": a.disabled,
        }
        for a in accounts
    ]
    values = {"accounts": rows, "roles": ROLES, "message": message, "error": error}
    return render(request, "operators.html", values, status_code=status)


@router.get("/operators", response_class=HTMLResponse)
def operators(request: Request, _: Annotated[Operator, Depends(admin)]) -> HTMLResponse:
    return _page(request, None, None, 200)


@router.post("/operators", response_class=HTMLResponse)
def add_operator(
    request: Request,
    who: Annotated[Operator, Depends(admin)],
    name: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=16)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=256)] = "",
) -> HTMLResponse:
    session = current_session(request)
    assert session is not None  # admin() passed
    check_csrf(request, session, csrf_token)
    context = hub(request)
    try:
        context.operator_accounts.add(name, role, password, context.clock.timestamp())
    except OperatorError as exc:
        return _page(request, None, str(exc), 422)
    record_operator(context, who.name, "add operator", subject=name, detail={"role": role})
    return _page(request, "operators.added", None, 201)
