"""Customer login of the portal at ``/my/`` (issue #18 §5).

The customers are the C route's consent customers (``ConsentStore``: customer id, scrypt
password hash, the supply points they hold). The rules of the dashboard login apply:

- ``GET /my/login`` shows the form with a login CSRF token (double submit: the same random
  value in an ``HttpOnly``, ``SameSite=Strict`` cookie and in the form);
- ``POST /my/login`` checks that token and the site of the request, the per-address budget
  (:func:`openami.hub.ratelimit.enforce_token_requests`), then the customer id and password
  with :func:`openami.hub.guesses.authenticate_customer` (per-id budget, lockout after
  repeated failures, then the slow hash). Success opens a session (its own cookie
  ``openami_my_session``, ``Path=/my``, ``HttpOnly``, ``SameSite=Strict``, ``Secure`` over
  HTTPS; 30 min idle, 12 h at most) and goes to ``next`` (a path under ``/my/`` only);
- ``POST /my/logout`` (with the session's CSRF token) ends the session.

Customer sessions are kept apart from operator sessions (another store, another cookie): a
customer's cookie opens no dashboard page and an operator's no portal page. Logins and
logouts are in the audit log with the actor ``customer:<id>``; failed and locked-out logins
are counted the bounded way of anonymous requests (:func:`openami.hub.audit.
record_anonymous`), as the dashboard's.
"""

from __future__ import annotations

import hmac
import threading
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openami.hub.audit import record_anonymous
from openami.hub.client_address import client_address, is_https
from openami.hub.context import HubContext
from openami.hub.csrf import csrf_refused, same_site
from openami.hub.guesses import authenticate_customer
from openami.hub.operators import Operator, Session, Sessions, SessionStore
from openami.hub.portal_audit import PURPOSE_OWN_DATA, record_customer
from openami.hub.ratelimit import enforce_token_requests
from openami.web.common import hub, render
from openami.web.i18n import pick_language, translator
from openami.web.login import login_form

router = APIRouter(prefix="/my", include_in_schema=False)
PORTAL = "/my"
SESSION_COOKIE = "openami_my_session"
LOGIN_CSRF_COOKIE = "openami_my_login_csrf"
CUSTOMER_ROLE = "customer"  # no dashboard permission (hub.operators.PERMISSIONS)
_sessions_lock = threading.Lock()


def portal_sessions(state: Any) -> SessionStore:
    """The customer sessions: the hub context's shared store when it has one (hub
    replicas), else those kept in an app's ``state`` (created on first use)."""
    shared = getattr(getattr(state, "hub", None), "portal_sessions", None)
    if shared is not None:
        return cast(SessionStore, shared)
    with _sessions_lock:
        found = getattr(state, "portal_sessions", None)
        if found is None:
            found = Sessions()
            state.portal_sessions = found
        return cast(Sessions, found)


def current_customer_session(request: Request) -> Session | None:
    known = getattr(request.state, "customer_session", None)
    if isinstance(known, Session):
        return known
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    session = portal_sessions(request.app.state).get(token, hub(request).clock.timestamp())
    if session is not None:
        request.state.customer_session = session
    return session


def customer(request: Request) -> Session:
    """Dependency of every portal page: the customer's session, else a ``303`` to the
    portal's login page (coming back here afterwards)."""
    session = current_customer_session(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(
            status_code=303,
            detail={"code": "login_required", "message": "log in at /my/login"},
            headers={"Location": f"{PORTAL}/login?next=" + quote(target, safe="")},
        )
    return session


CustomerSession = Annotated[Session, Depends(customer)]


def check_form(request: Request, session: Session, token: str | None) -> None:
    """Raise 403 unless ``token`` is the session's CSRF token and the request is same-site."""
    if not same_site(request):
        raise csrf_refused("cross-site requests may not change anything")
    if not token or not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise csrf_refused("the form's CSRF token is missing or wrong: reload the page")


def render_my(
    request: Request, name: str, values: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A portal page: the dashboard's ``render`` with the customer and their CSRF token."""
    session = current_customer_session(request)
    return render(
        request,
        name,
        {
            "current_operator": None,
            "customer_id": session.operator.name if session else None,
            "csrf_token": session.csrf_token if session else "",
            **values,
        },
        status_code=status_code,
    )


def _local(next_url: str | None) -> str:
    """``next_url`` if it is a path of the portal, else the portal's home (no open redirect)."""
    home = f"{PORTAL}/"
    if not next_url or not next_url.startswith(home) or "\\" in next_url or "/.." in next_url:
        return home
    return next_url[:2000]


def _form(request: Request, next_url: str, error: str | None, status: int) -> HTMLResponse:
    page = ("my/login.html", LOGIN_CSRF_COOKIE, f"{PORTAL}/login")
    return login_form(request, render_my, page, next_url, error, status)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _form(request, _local(request.query_params.get("next")), None, 200)


def _check_password(context: HubContext, customer_id: str, password: str) -> bool | None:
    """True/False for a right/wrong password, None while the id is locked out."""
    try:
        return authenticate_customer(context, customer_id, password)
    except HTTPException as exc:
        detail: dict[str, Any] = exc.detail if isinstance(exc.detail, dict) else {}
        if exc.status_code == 429 and detail.get("code") == "locked_out":
            return None
        raise


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    customer_id: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = f"{PORTAL}/",
) -> Response:
    context = hub(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same_site(request):
        raise csrf_refused("cross-site login attempts are refused")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        raise csrf_refused("the login form's CSRF token is missing or wrong: reload the page")
    address = client_address(request)
    now_s = context.clock.timestamp()
    enforce_token_requests(context.rate_limits, address, now_s)
    t = translator(pick_language(request))
    ok = _check_password(context, customer_id, password)
    if not ok:
        locked = ok is None
        status = 429 if locked else 401
        record_anonymous(context, "POST /my/login", status, address, PURPOSE_OWN_DATA)
        error = t("my.login.locked") if locked else t("my.login.failed")
        return _form(request, _local(next), error, status)
    token, _ = portal_sessions(request.app.state).open(Operator(customer_id, CUSTOMER_ROLE), now_s)
    record_customer(context, customer_id, "portal login", detail={"client_ip": address})
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(portal_sessions(request.app.state).max_s),
        path=PORTAL,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=f"{PORTAL}/login")
    return response


@router.post("/logout")
def logout(
    request: Request,
    session: CustomerSession,
    csrf_token: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    check_form(request, session, csrf_token)
    portal_sessions(request.app.state).close(request.cookies.get(SESSION_COOKIE, ""))
    record_customer(hub(request), session.operator.name, "portal logout")
    response = RedirectResponse(f"{PORTAL}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PORTAL)
    return response
