"""Issue #15 §4: supply point IDs (personal data) never reach the HTTP access log."""

from __future__ import annotations

import signal
import threading
import time
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from tests.httpserver import free_port

from openami.cli import serve as serve_cli
from openami.log import OPAQUE_PREFIX, OpaqueIdFilter, uvicorn_log_config

SP_ID = "0300111234567890123456"


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/supply-points/{supply_point_id}/half-hour-values")
    def values(supply_point_id: str) -> dict[str, str]:
        return {"ok": "yes"}

    return app


def test_the_access_log_shows_an_opaque_form_of_supply_point_ids(
    capfd: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    config = uvicorn.Config(
        _app(), host="127.0.0.1", port=port, log_level="info", log_config=uvicorn_log_config()
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        base = f"http://127.0.0.1:{port}"
        for query in ("", f"?other={SP_ID}"):
            url = f"{base}/v1/supply-points/{SP_ID}/half-hour-values{query}"
            assert httpx.get(url).status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    out = capfd.readouterr()
    logged = out.out + out.err
    assert "/v1/supply-points/sp-" in logged and '" 200' in logged  # the line is there …
    assert SP_ID not in logged  # … without the ID


def test_the_opaque_form_is_keyed_stable_and_leaves_other_numbers() -> None:
    one, other = OpaqueIdFilter(b"k" * 32), OpaqueIdFilter(b"j" * 32)
    text = f"GET /v1/supply-points/{SP_ID}/x?date=2026-11-01&n=12345 {SP_ID}1"
    masked = one.opaque(text)
    token = masked.split("/")[3]
    assert token.startswith(OPAQUE_PREFIX) and len(token) == len(OPAQUE_PREFIX) + 12
    assert one.opaque(SP_ID) == token and other.opaque(SP_ID) != token
    assert "2026-11-01" in masked and "n=12345" in masked and f"{SP_ID}1" in masked


def test_serve_runs_uvicorn_with_the_opaque_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Server:
        def __init__(self, config: uvicorn.Config) -> None:
            seen["log_config"] = config.log_config

        def run(self) -> None:
            pass

    monkeypatch.setattr(serve_cli.uvicorn, "Server", Server)
    previous = signal.getsignal(signal.SIGTERM)
    system = SimpleNamespace(
        settings=SimpleNamespace(host="127.0.0.1", port=1, tls_cert=None, tls_key=None),
        run_live=lambda stop: None,
        app=lambda: None,
        close=lambda: None,
    )
    try:
        serve_cli.serve_system(system)  # type: ignore[arg-type]
    finally:
        signal.signal(signal.SIGTERM, previous)
    filters = seen["log_config"]["filters"]["opaque_ids"]
    assert filters["()"] is OpaqueIdFilter
    assert "opaque_ids" in seen["log_config"]["handlers"]["access"]["filters"]
