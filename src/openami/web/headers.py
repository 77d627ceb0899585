"""Security headers on every response of the web application (issue #15 §3).

- ``Content-Security-Policy``: only this origin's scripts, styles, images and connections,
  no plugins, no ``<base>``, never framed (the pages have no inline script or style);
- ``X-Frame-Options: DENY`` (older browsers), ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: same-origin``;
- ``Cache-Control: no-store`` unless the response set its own: pages and API answers carry
  personal data and must not stay in shared or browser caches. Static assets may be cached.

FastAPI's own ``/docs`` and ``/redoc`` load their viewer from a CDN with inline script: they
get every header but the CSP.
"""

from __future__ import annotations

from openami.hub.body_limit import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
COMMON = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
NO_CSP_PATHS = ("/docs", "/redoc")
CACHEABLE_PREFIX = "/static/"


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in COMMON if h[0] not in names]
                if b"content-security-policy" not in names and not path.startswith(NO_CSP_PATHS):
                    headers.append((b"content-security-policy", CSP.encode()))
                if b"cache-control" not in names and not path.startswith(CACHEABLE_PREFIX):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
