"""OAuth 2.0 client credentials on the C-route API, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from tests.httpserver import serve

from openami.clock import JST, ManualClock
from openami.hub.context import HubContext
from openami.mdms import Mdms
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ApiClient, ClientStore
from openami.web.app import create_app

SECRET = "correct-horse-battery-staple"


@pytest.fixture
def setup() -> Iterator[tuple[httpx.Client, ManualClock, ClientStore]]:
    database = open_database(":memory:")
    registry = Registry(database)
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    clients = ClientStore(database)
    clients.register(ApiClient("r1", "retailer", "R001"), SECRET)
    context = HubContext(
        registry, Mdms(DuckIntervalStore(), registry, clock), clients, clock, "op", "op-pw-long-12"
    )
    with serve(create_app(context)) as base, httpx.Client(base_url=base) as client:
        yield client, clock, clients


def test_token_by_basic_and_by_form(setup: tuple[httpx.Client, ManualClock, ClientStore]) -> None:
    client, _, _ = setup
    by_basic = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("r1", SECRET)
    )
    by_form = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "r1", "client_secret": SECRET},
    )
    for resp in (by_basic, by_form):
        assert resp.status_code == 200
        body = resp.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
        assert len(body["access_token"]) >= 40
        assert resp.headers["cache-control"] == "no-store"
    assert by_basic.json()["access_token"] != by_form.json()["access_token"]


@pytest.mark.parametrize(
    ("data", "auth", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, ("r1", "wrong-secret-value"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, ("nobody", SECRET), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "password"}, ("r1", SECRET), 400, "unsupported_grant_type"),
    ],
)
def test_token_errors_follow_rfc6749(
    setup: tuple[httpx.Client, ManualClock, ClientStore],
    data: dict[str, str],
    auth: tuple[str, str] | None,
    status: int,
    error: str,
) -> None:
    client, _, _ = setup
    resp = client.post("/oauth/token", data=data, auth=auth)
    assert resp.status_code == status
    assert resp.json()["error"] == error


def test_tokens_expire_on_the_system_clock(
    setup: tuple[httpx.Client, ManualClock, ClientStore],
) -> None:
    client, clock, clients = setup
    tok = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("r1", SECRET)
    ).json()["access_token"]
    assert clients.client_for_token(tok, clock.timestamp()) is not None
    url = "/v1/supply-points/0300000000000000000110/half-hour-values?date=2026-11-01"
    assert (
        client.get(url, headers={"Authorization": f"Bearer {tok}"}).status_code == 403
    )  # accepted; no such point
    clock.advance(3601)
    resp = client.get(url, headers={"Authorization": f"Bearer {tok}"})
    assert resp.status_code == 401 and resp.json()["code"] == "invalid_token"


def test_secrets_are_not_stored_in_clear(
    setup: tuple[httpx.Client, ManualClock, ClientStore],
) -> None:
    _, _, clients = setup
    hashes = clients.secret_hashes()
    assert len(hashes) == 1 and SECRET not in hashes[0] and hashes[0].startswith("scrypt$")
    with pytest.raises(ValueError, match="16 characters"):
        clients.register(ApiClient("r2", "retailer", "R002"), "short")
