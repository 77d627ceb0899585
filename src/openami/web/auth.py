"""Operator authentication of the dashboard: a session cookie from the login page, roles,
and CSRF tokens for every state-changing form (issue #15 §3).

- :func:`operator` is the dependency of every dashboard page: the operator of the session
  cookie, else a ``303`` to ``/login?next=...``; it needs the ``view`` permission.
- :func:`personal` additionally needs ``view-personal`` (supply point pages), :func:`admin`
  ``manage-operators``; a missing permission is a ``403``.
- :func:`check_csrf` guards every POST: the form's ``csrf_token`` must equal the session's,
  and a browser's ``Origin`` / ``Sec-Fetch-Site`` must not name another site
  (:func:`openami.hub.csrf.same_site`).

The cookie is ``HttpOnly``, ``SameSite=Strict``, ``Path=/`` and ``Secure`` whenever the
request came over HTTPS (under TLS, or from a trusted proxy that says so).
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response

from openami.hub.client_address import is_https
from openami.hub.context import HubContext
from openami.hub.csrf import csrf_refused, same_site
from openami.hub.operators import MANAGE_OPERATORS, VIEW, VIEW_PERSONAL, Operator, Session

SESSION_COOKIE = "openami_session"


def _hub(request: Request) -> HubContext:
    context: HubContext = request.app.state.hub
    return context


def set_session_cookie(request: Request, response: Response, token: str, max_age_s: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def current_session(request: Request) -> Session | None:
    """The live session of the request's cookie, if any (remembered on the request)."""
    known = getattr(request.state, "operator_session", None)
    if isinstance(known, Session):
        return known
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    context = _hub(request)
    session = context.operator_sessions.get(token, context.clock.timestamp())
    if session is not None:
        request.state.operator_session = session
    return session


def _login_redirect(request: Request) -> HTTPException:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return HTTPException(
        status_code=303,
        detail={"code": "login_required", "message": "log in at /login"},
        headers={"Location": "/login?next=" + quote(target, safe="")},
    )


def _allowed(session: Session | None, request: Request, permission: str) -> Operator:
    if session is None:
        raise _login_redirect(request)
    if not session.operator.can(permission):
        raise HTTPException(
            status_code=403,
            detail={
                "code": "forbidden",
                "message": f"the role {session.operator.role!r} may not do this ({permission})",
            },
        )
    return session.operator


def operator(request: Request) -> Operator:
    """Dependency of the fleet pages: a logged-in operator of any role."""
    return _allowed(current_session(request), request, VIEW)


def personal(request: Request) -> Operator:
    """Dependency of pages with personal data (supply points): operator, approver, admin."""
    return _allowed(current_session(request), request, VIEW_PERSONAL)


def admin(request: Request) -> Operator:
    """Dependency of the operator accounts page."""
    return _allowed(current_session(request), request, MANAGE_OPERATORS)


def check_csrf(request: Request, session: Session, token: str | None) -> None:
    """Raise 403 unless ``token`` is the session's CSRF token and the request is same-site."""
    if not same_site(request):
        raise csrf_refused("cross-site requests may not change anything")
    if not token or not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise csrf_refused("the form's CSRF token is missing or wrong: reload the page")


def session_of(request: Request, _: Annotated[Operator, Depends(operator)]) -> Session:
    """Dependency of POST handlers: the session (for its CSRF token)."""
    session = current_session(request)
    assert session is not None  # operator() passed
    return session
