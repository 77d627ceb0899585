"""Request body limit, enforced before a body is read, for every request (issue #15 §3).

:class:`BodyLimit` is a plain ASGI middleware, so it runs before routing, authentication and
any body parsing:

- a declared ``Content-Length`` above the limit is answered ``413`` at once, without reading
  a byte of the body (a malformed one: ``400``);
- a body without a length (``Transfer-Encoding: chunked``) is counted as it streams; once it
  passes the limit the application's own answer is dropped and ``413`` goes out instead, so
  at most ``max_body_bytes`` plus one chunk are ever held.

Errors have the API's ``{code, message}`` shape and close the connection.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: default limit of a request body [bytes]: far above any C-route request (a consent or
#: retailer request lists at most a few hundred supply points) and far below a flood
DEFAULT_MAX_BODY_BYTES = 1 << 20


class BodyTooLarge(Exception):
    """Raised to the application by ``receive`` once the body passed the limit."""


def _declared_length(scope: Scope) -> int | None:
    """The request's Content-Length; 0 when it has no body (neither a length nor a
    Transfer-Encoding, RFC 9112 §6.3), None when its length is not declared (a
    Transfer-Encoding, whatever Content-Length says); ValueError if one is malformed."""
    length, chunked = 0, False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            if not text.isdigit() or len(text) > 18:
                raise ValueError(text[:40])
            length = int(text)
        elif name == b"transfer-encoding":
            chunked = True  # it overrides any Content-Length (§6.3): the body is counted
    return None if chunked else length


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_body_bytes`` with 413."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if max_body_bytes < 0:
            raise ValueError("max_body_bytes must be >= 0")
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        too_large = f"the request body is larger than the limit of {limit} bytes"
        try:
            declared = _declared_length(scope)
        except ValueError as exc:
            await _answer(send, 400, "invalid_content_length", f"bad Content-Length: {exc}")
            return
        if declared is not None and declared > limit:
            await _answer(send, 413, "body_too_large", too_large)
            return
        if declared is not None:  # the server delivers no more than declared: nothing to count
            await self.app(scope, receive, send)
            return
        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge(too_large)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(too_large)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the application answers, the 413 below goes out instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _answer(send, 413, "body_too_large", too_large)
