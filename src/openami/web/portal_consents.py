"""The customer's consents in the portal (issue #18 §5).

- ``GET /my/consents``: every consent the customer decided (active, denied, revoked,
  expired), with recipient, purpose, data kinds, period, supply points and expiry;
- ``POST /my/consents/{consent_id}/revoke`` (the session's CSRF token): withdraw an active
  one, as ``POST /v1/customer/consents/{id}/revoke`` does (``ConsentStore.revoke``; the data
  endpoints check the consent on every request, so the recipient's next request is refused).
  Another customer's consent or an unknown id is ``404``; one no longer active ``409``.

New consents are granted where the third party sends the customer: the OAuth consent screen
(``/oauth/authorize``), since the grant there also hands the third party its code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openami.clock import JST
from openami.hub.errors import api_error
from openami.hub.oauth_grants import consent_store, record_consent
from openami.web.common import hub
from openami.web.portal_auth import CustomerSession, check_form, render_my

router = APIRouter(prefix="/my", include_in_schema=False)


def _jst(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).strftime("%Y-%m-%d %H:%M")


@router.get("/consents", response_class=HTMLResponse)
def consents_page(request: Request, session: CustomerSession) -> HTMLResponse:
    context = hub(request)
    now_s = context.clock.timestamp()
    rows = [
        (c, c.effective_status(now_s), _jst(c.expires_at))
        for c in consent_store(context).of_customer(session.operator.name)
    ]
    done = request.query_params.get("done")
    return render_my(request, "my/consents.html", {"consents": rows, "revoked": done == "revoked"})


@router.post("/consents/{consent_id}/revoke")
def revoke(
    request: Request,
    session: CustomerSession,
    consent_id: Annotated[str, Path(max_length=64)],
    csrf_token: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    check_form(request, session, csrf_token)
    context = hub(request)
    customer_id = session.operator.name
    store = consent_store(context)
    now_s = context.clock.timestamp()
    consent = store.get(consent_id)
    if consent is None or consent.customer_id != customer_id:
        raise api_error(404, "unknown_consent", "no such consent of this customer")
    if not store.revoke(consent_id, customer_id, now_s):
        raise api_error(409, "not_active", f"the consent is {consent.effective_status(now_s)}")
    revoked = store.get(consent_id)
    assert revoked is not None
    record_consent(context, f"customer:{customer_id}", "revoked", revoked)
    return RedirectResponse("/my/consents?done=revoked", status_code=303)
