"""Cross-site request forgery checks shared by the dashboard and the customer API (issue #15 §3).

Browsers send HTTP Basic credentials and cookies with cross-site requests, so anything that
changes state must prove it was sent by the hub's own pages or by a program, not by another
site's form or script:

- :func:`same_site`: the browser's ``Sec-Fetch-Site`` is ``same-origin`` or ``none`` (typed
  or bookmarked), and an ``Origin``, when sent, is this host under this scheme. Programs
  send neither header and pass;
- customer actions (:func:`customer_action`) also need the header ``X-Requested-With``
  (any value): another site's form cannot set it, and its scripts cannot without a CORS
  preflight that the hub never grants;
- dashboard forms carry the session's CSRF token (:mod:`openami.web.auth`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from openami.hub.client_address import is_https

CUSTOMER_ACTION_HEADER = "X-Requested-With"


def same_site(request: Request) -> bool:
    """False when the browser says the request came from another site."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    scheme = "https" if is_https(request) else "http"
    return parts.netloc == request.headers.get("host", "") and parts.scheme == scheme


def csrf_refused(message: str) -> HTTPException:
    return HTTPException(status_code=403, detail={"code": "csrf_refused", "message": message})


def customer_action(request: Request) -> None:
    """Dependency of state-changing customer endpoints: 403 ``csrf_refused`` unless same-site
    and carrying ``X-Requested-With``."""
    if not same_site(request):
        raise csrf_refused("cross-site requests may not change anything")
    if not request.headers.get(CUSTOMER_ACTION_HEADER, "").strip():
        raise csrf_refused(
            f"customer actions need the header {CUSTOMER_ACTION_HEADER} (any value): "
            "a page of another site cannot send it"
        )
