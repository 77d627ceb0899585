"""The C-route API's error shape, and reading a body with a limit of the endpoint's own.

Every refusal is ``{"detail": {"code": "E_…", "message": "…"}}`` with its HTTP status
(docs/croute.md lists the codes). The server-wide body limit (``hub/body_limit.py``) stops
floods; an endpoint that takes files (plans, operator readings) caps its own body lower.
"""

from __future__ import annotations

from fastapi import HTTPException, Request


def api_error(status: int, code: str, message: str) -> HTTPException:
    """The exception that answers ``status`` with the API's ``{code, message}``."""
    return HTTPException(status_code=status, detail={"code": code, "message": message})


async def capped_body(request: Request, limit_bytes: int, what: str) -> bytes:
    """The request's body, read as it streams; ``413 body_too_large`` once it passes
    ``limit_bytes`` (nothing more is read). ``what``: the body's name in the message."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit_bytes:
            raise api_error(413, "body_too_large", f"{what} has at most {limit_bytes} bytes")
    return bytes(body)
