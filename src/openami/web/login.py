"""The dashboard's login page and logout (issue #15 §3).

``GET /login`` shows the form with a login CSRF token (double submit: the same random value
in an ``HttpOnly``, ``SameSite=Strict`` cookie and in the form). ``POST /login`` checks that
token and the site of the request, the per-address budget, then the name and password
(argon2id; locked after repeated failures, see :class:`openami.hub.operators.
OperatorAccounts`), and on success opens a session (cookie, see :mod:`openami.web.auth`) and
goes to ``next`` (a local path only). ``POST /logout`` (with the session's CSRF token) ends
the session. Logins and logouts are in the audit log; failed logins are counted the way
anonymous requests are (:func:`openami.hub.audit.record_anonymous`).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openami.hub.audit import PURPOSE_OPERATIONS, record_anonymous, record_operator
from openami.hub.client_address import client_address, is_https
from openami.hub.csrf import csrf_refused, same_site
from openami.hub.operators import LockedOut, Session
from openami.hub.ratelimit import enforce_token_requests
from openami.web.auth import SESSION_COOKIE, check_csrf, session_of, set_session_cookie
from openami.web.common import hub, render
from openami.web.i18n import pick_language, translator

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "openami_login_csrf"


def _local(next_url: str | None) -> str:
    """``next_url`` if it is a path on this site, else ``/`` (no open redirect)."""
    if not next_url or not next_url.startswith("/") or next_url.startswith(("//", "/\\")):
        return "/"
    return next_url[:2000]


def login_form(
    request: Request,
    renderer: Callable[..., HTMLResponse],
    page: tuple[str, str, str],
    next_url: str,
    error: str | None,
    status: int,
) -> HTMLResponse:
    """A login page (``page``: template, CSRF cookie name, the login path the cookie is
    scoped to) with a fresh login CSRF token, in the form and in a strict, HttpOnly cookie
    (the dashboard's and the customer portal's login share this rule)."""
    template, cookie, path = page
    token = secrets.token_urlsafe(32)
    values = {"login_csrf": token, "next_url": next_url, "error": error}
    response = renderer(request, template, values, status_code=status)
    response.set_cookie(
        cookie,
        token,
        max_age=3600,
        path=path,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    return response


def _form(request: Request, next_url: str, error: str | None, status: int) -> HTMLResponse:
    return login_form(
        request, render, ("login.html", LOGIN_CSRF_COOKIE, "/login"), next_url, error, status
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _form(request, _local(request.query_params.get("next")), None, 200)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    name: Annotated[str, Form(max_length=256)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
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
    try:
        found = context.operator_accounts.authenticate(name, password, now_s)
    except LockedOut:
        found = None
        error = t("login.locked")
    else:
        error = t("login.failed")
    if found is None:
        record_anonymous(context, "POST /login", 401, address, PURPOSE_OPERATIONS)
        return _form(request, _local(next), error, 401)
    token, _ = context.operator_sessions.open(found, now_s)
    record_operator(context, found.name, "login", detail={"client_ip": address})
    response = RedirectResponse(_local(next), status_code=303)
    set_session_cookie(request, response, token, int(context.operator_sessions.max_s))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request,
    session: Annotated[Session, Depends(session_of)],
    csrf_token: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    check_csrf(request, session, csrf_token)
    context = hub(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    if context.operator_sessions.close(token) is None:
        raise HTTPException(status_code=409, detail={"code": "no_session", "message": "gone"})
    record_operator(context, session.operator.name, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it on pages without an icon link (JSON errors): the dashboard's."""
    return RedirectResponse("/static/favicon.svg", status_code=301)
