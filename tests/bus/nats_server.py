"""A NATS server with JetStream for the bus tests.

The machine's server at ``OPENAMI_TEST_NATS`` (default ``nats://127.0.0.1:4222``) when it
answers; else ``nats-server -js`` started on a free port with its store in the test's tmp
directory, when the binary is on PATH (Debian package ``nats-server``); else the tests skip
and say why. Every test gets its own subject and stream prefix, and its streams are deleted
afterwards, so tests never see each other's messages.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from openami.bus.jetstream import JetStreamBus, JetStreamConfig

NATS_URL = os.environ.get("OPENAMI_TEST_NATS", "nats://127.0.0.1:4222")


def _answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), 1):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if _answers(NATS_URL):
        yield NATS_URL
        return
    binary = shutil.which("nats-server")
    if binary is None:
        pytest.skip(f"no NATS server answers at {NATS_URL} and nats-server is not on PATH")
    port = _free_port()
    server = start_server(binary, port, tmp_path_factory.mktemp("nats"))
    try:
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def start_server(binary: str, port: int, store: Path) -> subprocess.Popen[bytes]:
    """``nats-server -js`` on ``port`` with its store in ``store``, answering (else skip)."""
    server = subprocess.Popen(
        [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        if _answers(f"nats://127.0.0.1:{port}"):
            return server
        time.sleep(0.05)
    server.terminate()
    server.wait(timeout=10)
    pytest.skip(f"nats-server -js did not start on port {port}")


def free_port() -> int:
    return _free_port()


def unique_config(url: str, **changes: object) -> JetStreamConfig:
    """A configuration with a prefix no other test uses."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    return JetStreamConfig(url=url, prefix=prefix, **changes)  # type: ignore[arg-type]


@pytest.fixture
def js_config(nats_url: str) -> Iterator[JetStreamConfig]:
    """A fresh prefix on the test server; its streams are deleted after the test."""
    config = unique_config(nats_url, ack_wait_s=2.0)
    yield config
    cleaner = JetStreamBus(config)
    cleaner.delete_streams()
    cleaner.close()
