"""`openami serve --tls-cert --tls-key` serves HTTPS only, with the given certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.cli.serve_process import Server, free_port, server

__all__ = ["server"]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_serve_with_tls_answers_https_and_refuses_plain_http(
    tmp_path: Path, server: Server
) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    server.config.write_text(
        "\n".join(
            [
                f'data_dir = "{tmp_path / "data"}"',
                f"port = {port}",
                "meters = 40",
                "tick_s = 1800.0",
                'start = "2026-11-01"',
                f'tls_cert = "{cert}"',
                f'tls_key = "{key}"',
            ]
        )
        + "\n"
    )
    base = f"https://127.0.0.1:{port}"
    trusted = ssl.create_default_context(cafile=str(cert))
    server.start(base, verify=trusted)
    response = httpx.get(base + "/openapi.json", verify=trusted)
    assert response.status_code == 200 and response.json()["info"]["title"] == "openami"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5)
    with pytest.raises(httpx.ConnectError):  # a client that does not trust it stops
        httpx.get(base + "/openapi.json")
    assert server.stop() == 0
