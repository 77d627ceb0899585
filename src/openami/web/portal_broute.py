"""The customer's B-route service in the portal (issue #18 §4, §5): a thin view over
:class:`openami.hub.broute_applications.BrouteService` (docs/broute-service.md), the one
place of its rules.

- ``GET /my/broute``: each of the customer's supply points with its B-route application
  (status, credential version, dates) or an **Apply** button;
- ``POST /my/broute/apply`` (``supply_point_id``): apply for one of the customer's points;
- ``POST /my/broute/{application_id}/revoke`` and ``…/rotate``: stop the service, or have a
  new ID and password issued and provisioned;
- ``POST /my/broute/{application_id}/credentials``: the one view of the current B-route ID
  and password once the meter has them (a second view is refused: rotate for a new pair).
  A POST, so the pair is never in a URL, a history entry or a cache (``no-store``).

Every form carries the session's CSRF token; every POST counts against the service's write
budget (``write_budget``, as the API's). Refusals of the service (area not open yet, no
smart meter, already applied, not provisioned yet, shown already…) come back as the page
with the service's message and HTTP status; another customer's application is ``404``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openami.clock import JST
from openami.hub.broute_applications import Applicant, BrouteRefused, broute_service
from openami.hub.broute_applications_api import write_budget
from openami.web.common import hub
from openami.web.portal_auth import CustomerSession, check_form, render_my
from openami.web.portal_data import own_point, own_points

router = APIRouter(prefix="/my", include_in_schema=False)
AppId = Annotated[str, Path(max_length=64)]
Csrf = Annotated[str, Form(max_length=256)]
DONE = ("applied", "revoked", "rotated")


def _jst(epoch_s: float | None) -> str:
    return (
        "" if epoch_s is None else datetime.fromtimestamp(epoch_s, JST).strftime("%Y-%m-%d %H:%M")
    )


def _page(
    request: Request, customer_id: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    context = hub(request)
    apps = broute_service(context).applications(Applicant(customer_id=customer_id))
    by_key: dict[int, Any] = {}
    for app in sorted(apps, key=lambda a: a.created_at):
        by_key[app.supply_point_key] = app  # the latest per point
    rows = [
        {"supply_point_id": sp, "app": by_key.get(key)}
        for sp, key in own_points(context, customer_id).items()
    ]
    done = request.query_params.get("done")
    return render_my(
        request,
        "my/broute.html",
        {"rows": rows, "jst": _jst, "error": error, "done": done if done in DONE else None},
        status_code=status,
    )


@router.get("/broute", response_class=HTMLResponse)
def broute_page(request: Request, session: CustomerSession) -> HTMLResponse:
    return _page(request, session.operator.name)


def _refused(request: Request, customer_id: str, exc: BrouteRefused) -> HTMLResponse:
    return _page(request, customer_id, f"{exc} ({exc.code})", exc.status)


@router.post("/broute/apply", response_model=None)
def apply(
    request: Request,
    session: CustomerSession,
    supply_point_id: Annotated[str, Form(max_length=40)],
    csrf_token: Csrf = "",
) -> Response:
    check_form(request, session, csrf_token)
    context, customer_id = hub(request), session.operator.name
    own_point(context, customer_id, supply_point_id)  # 404 for anyone else's
    write_budget(context, Applicant(customer_id=customer_id))
    try:
        broute_service(context).apply(Applicant(customer_id=customer_id), supply_point_id)
    except BrouteRefused as exc:
        return _refused(request, customer_id, exc)
    return RedirectResponse("/my/broute?done=applied", status_code=303)


def _act(request: Request, session: Any, csrf_token: str, app_id: str, action: str) -> Response:
    check_form(request, session, csrf_token)
    customer_id = session.operator.name
    service = broute_service(hub(request))
    who = Applicant(customer_id=customer_id)
    write_budget(hub(request), who)
    try:
        (service.revoke if action == "revoked" else service.rotate)(who, app_id)
    except BrouteRefused as exc:
        return _refused(request, customer_id, exc)
    return RedirectResponse(f"/my/broute?done={action}", status_code=303)


@router.post("/broute/{application_id}/revoke", response_model=None)
def revoke(
    request: Request, session: CustomerSession, application_id: AppId, csrf_token: Csrf = ""
) -> Response:
    return _act(request, session, csrf_token, application_id, "revoked")


@router.post("/broute/{application_id}/rotate", response_model=None)
def rotate(
    request: Request, session: CustomerSession, application_id: AppId, csrf_token: Csrf = ""
) -> Response:
    return _act(request, session, csrf_token, application_id, "rotated")


@router.post("/broute/{application_id}/credentials", response_model=None)
def credentials(
    request: Request, session: CustomerSession, application_id: AppId, csrf_token: Csrf = ""
) -> Response:
    check_form(request, session, csrf_token)
    customer_id = session.operator.name
    write_budget(hub(request), Applicant(customer_id=customer_id))
    try:
        app, password = broute_service(hub(request)).take_password(customer_id, application_id)
    except BrouteRefused as exc:
        return _refused(request, customer_id, exc)
    return render_my(request, "my/broute_credentials.html", {"app": app, "password": password})
