"""Request bodies are limited before they are read, for everyone (issue #15 §3): a declared
Content-Length over the limit is refused at once, and a chunked body is counted as it streams
and refused with 413 as soon as it passes the limit, long before it ends."""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.httpserver import serve

from openami.clock import JST, ManualClock
from openami.hub.body_limit import DEFAULT_MAX_BODY_BYTES, BodyLimit
from openami.hub.context import HubContext
from openami.mdms import Mdms
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ClientStore
from openami.web.app import create_app

CHUNK = b"x" * 65536


def _context(**options: object) -> HubContext:
    database = open_database(":memory:")
    registry = Registry(database)
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    mdms = Mdms(DuckIntervalStore(), registry, clock)
    clients = ClientStore(database)
    return HubContext(registry, mdms, clients, clock, "op", "op-password-long", **options)  # type: ignore[arg-type]


@pytest.fixture
def base() -> Iterator[str]:
    with serve(create_app(_context())) as url:
        yield url


def _connect(base: str) -> socket.socket:
    parts = urlsplit(base)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=5)
    sock.settimeout(5)
    return sock


def _answer(sock: socket.socket, timeout_s: float = 5.0) -> bytes:
    sock.settimeout(timeout_s)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            part = sock.recv(65536)
            if not part:
                break
            data += part
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def _readable(sock: socket.socket) -> bool:
    ready, _, _ = select.select([sock], [], [], 0.0)
    return bool(ready)


def test_declared_length_over_the_limit_is_refused_before_any_body(base: str) -> None:
    with _connect(base) as sock:
        sock.sendall(
            b"POST /v1/consents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 400000000\r\n\r\n"
        )
        answer = _answer(sock)  # not one byte of the 400 MB was sent
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"body_too_large" in answer or b"content-length" in answer.lower()


def test_streamed_body_is_refused_once_past_the_limit_never_buffered(base: str) -> None:
    """Anonymous chunked POST: the 413 arrives while the client is still sending, after at
    most a little more than the limit; the server never waited for (or kept) the whole body."""
    sent = 0
    answer = b""
    with _connect(base) as sock:
        sock.sendall(
            b"POST /v1/consents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        give_up = DEFAULT_MAX_BODY_BYTES * 8
        deadline = time.monotonic() + 20
        while sent < give_up and time.monotonic() < deadline:
            if _readable(sock):
                answer = _answer(sock)
                break
            try:
                sock.sendall(b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n")
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                answer = _answer(sock)
                break
            sent += len(CHUNK)
            time.sleep(0.002)
        else:
            answer = _answer(sock, 1.0)  # the body never ended: an answer only if refused
    assert answer.startswith(b"HTTP/1.1 413"), (sent, answer[:200])
    assert sent < give_up  # refused mid-stream, not after the end of the body


def test_small_bodies_pass_and_the_limit_is_configurable() -> None:
    with serve(create_app(_context(max_body_bytes=1000))) as url:
        small = httpx.post(url + "/oauth/token", data={"grant_type": "client_credentials"})
        big = httpx.post(
            url + "/oauth/token", data={"grant_type": "client_credentials", "pad": "y" * 2000}
        )
    assert small.status_code == 401  # read and answered: no credentials
    assert big.status_code == 413
    assert big.json()["code"] == "body_too_large"


def test_bad_content_length_is_a_clear_400(base: str) -> None:
    with _connect(base) as sock:
        sock.sendall(b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]


def _run_asgi(headers: list[tuple[bytes, bytes]], bodies: list[bytes]) -> tuple[Any, list[Any]]:
    """BodyLimit (limit 1,000 bytes) over an app that reads the whole body, on plain ASGI
    calls: (what the app was handed as receive, the messages sent)."""
    handed: list[Any] = []
    sent: list[Any] = []
    messages = [
        {"type": "http.request", "body": b, "more_body": i < len(bodies) - 1}
        for i, b in enumerate(bodies)
    ]

    async def receive() -> Any:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    async def app(scope: Any, app_receive: Any, app_send: Any) -> None:
        handed.append(app_receive)
        while (await app_receive()).get("more_body"):
            pass
        await app_send({"type": "http.response.start", "status": 200, "headers": []})
        await app_send({"type": "http.response.body", "body": b"ok"})

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(BodyLimit(app, max_body_bytes=1000)(scope, receive, send))
    return handed[0] if handed else None, sent


def test_a_request_without_a_body_goes_through_unwrapped() -> None:
    handed, sent = _run_asgi([(b"host", b"x")], [b""])
    assert handed is not None and handed.__name__ == "receive"  # the server's own receive
    assert sent[0]["status"] == 200


def test_transfer_encoding_wins_over_a_small_content_length() -> None:
    """A request declaring both (a smuggling attempt) is counted as it streams (RFC 9112
    §6.3: Transfer-Encoding overrides Content-Length), so a small length cannot smuggle a
    large body past the limit."""
    headers = [(b"content-length", b"10"), (b"transfer-encoding", b"chunked")]
    handed, sent = _run_asgi(headers, [b"x" * 600, b"x" * 600, b"x" * 600])
    assert handed is not None and handed.__name__ == "counted_receive"
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]
