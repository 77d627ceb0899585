"""X-Forwarded-For is believed only from configured proxies (issue #15 §3): otherwise it
neither changes the address in the audit log nor escapes the per-address rate limit."""

from __future__ import annotations

import json

import pytest
from tests.hub.hubrig import hub_rig

from openami.hub.client_address import parse_proxies, resolve
from openami.hub.ratelimit import RateLimiter
from openami.storage.repositories.audit import AuditEntry

TOKEN = {"grant_type": "client_credentials"}


def _logged_ips(entries: list[AuditEntry]) -> list[str | None]:
    return [json.loads(e.detail).get("client_ip") for e in entries]


def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    limits = RateLimiter(token_rate_per_s=0.01, token_burst=3)
    with hub_rig(rate_limits=limits) as rig:
        codes = [
            rig.http.post(
                "/oauth/token",
                data=TOKEN,
                auth=("r1", "not-the-secret"),
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(6)
        ]
        ips = _logged_ips(rig.audit_entries())
    # one real address, one budget: rotating the header does not buy more attempts
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429, 429]
    assert ips and set(ips) == {"127.0.0.1"}  # the forged addresses are never logged


def test_forwarded_for_from_a_trusted_proxy_names_the_client() -> None:
    with hub_rig(trusted_proxies=("127.0.0.0/8",)) as rig:
        rig.http.post(
            "/oauth/token",
            data=TOKEN,
            auth=("r1", "not-the-secret"),
            headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"},
        )
        ips = _logged_ips(rig.audit_entries())
    assert "203.0.113.9" in ips  # the address the trusted proxy saw, not the one before it


@pytest.mark.parametrize(
    ("peer", "header", "proxies", "client"),
    [
        ("10.0.0.5", "203.0.113.9", (), "10.0.0.5"),
        ("10.0.0.5", "203.0.113.9", ("10.0.0.0/8",), "203.0.113.9"),
        ("192.0.2.1", "203.0.113.9", ("10.0.0.0/8",), "192.0.2.1"),  # peer not a proxy
        ("10.0.0.5", "1.2.3.4, 10.0.0.9, 203.0.113.9", ("10.0.0.0/8",), "203.0.113.9"),
        ("10.0.0.5", "203.0.113.9, 10.0.0.9", ("10.0.0.0/8",), "203.0.113.9"),
        ("10.0.0.5", "not-an-ip, 10.0.0.9", ("10.0.0.0/8",), "10.0.0.9"),
        ("10.0.0.5", "", ("10.0.0.0/8",), "10.0.0.5"),
        ("::1", "2001:db8::7", ("::1",), "2001:db8::7"),
    ],
)
def test_resolve(peer: str, header: str, proxies: tuple[str, ...], client: str) -> None:
    assert resolve(peer, header, proxies) == client


def test_a_bad_proxy_entry_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not-a-network"):
        parse_proxies(("10.0.0.0/8", "not-a-network"))
