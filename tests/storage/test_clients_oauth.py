"""Clients, access tokens and OAuth grants on both engines: hashes only, single-use codes,
refresh rotation with reuse detection (also when two threads race)."""

from __future__ import annotations

import threading

import pytest
from tests.storage.seed import SECRET, seed

from openami.storage.repositories import AlreadyExists, Database, MissingReference
from openami.storage.repositories.clients import ApiClient, token_hash
from openami.storage.repositories.oauth import AuthorizationCode, TokenGrant


@pytest.fixture
def seeded(database: Database) -> Database:
    seed(database)
    return database


def test_client_credentials_and_access_tokens(seeded: Database) -> None:
    clients = seeded.clients
    assert clients.authenticate("retailer-1", SECRET) == ApiClient("retailer-1", "retailer", "R1")
    assert clients.authenticate("retailer-1", SECRET + "x") is None
    assert clients.authenticate("nobody", SECRET) is None
    assert clients.get("tp-1") == ApiClient("tp-1", "third_party", "TP")
    assert clients.get("nobody") is None
    assert all(h.startswith("scrypt$") and SECRET not in h for h in clients.secret_hashes())
    with pytest.raises(ValueError, match="16 characters"):
        clients.register(ApiClient("short", "retailer", "R1"), "short")
    with pytest.raises(AlreadyExists, match="client retailer-1"):
        clients.register(ApiClient("retailer-1", "retailer", "R1"), SECRET)
    client = ApiClient("retailer-1", "retailer", "R1")
    old = clients.issue_token(client, 1000.0, 60.0)
    assert clients.client_for_token(old, 1059.0) == client
    assert clients.client_for_token(old, 1060.0) is None  # expired
    token = clients.issue_token(client, 100_000.0, 60.0)  # deletes tokens expired a day ago
    assert clients.client_for_token(token, 100_001.0) == client
    assert clients.revoke_token(token, "tp-1") is False  # not its token
    assert clients.revoke_token(token, "retailer-1") is True
    assert clients.client_for_token(token, 100_001.0) is None
    assert clients.revoke_token(old, "retailer-1") is False  # deleted with the expired ones
    with pytest.raises(MissingReference):
        clients.issue_token(ApiClient("ghost", "retailer", "R1"), 0.0, 60.0)


def test_codes_are_single_use_and_hashed(seeded: Database) -> None:
    oauth = seeded.oauth
    oauth.add_redirect_uris("tp-1", ["https://b.example/cb", "https://a.example/cb"])
    assert oauth.redirect_uris("tp-1") == ["https://a.example/cb", "https://b.example/cb"]
    with pytest.raises(MissingReference):
        oauth.add_redirect_uris("ghost", ["https://x.example/cb"])
    grant = AuthorizationCode("tp-1", "https://a.example/cb", "c" * 43, "con-1", "cus-1", 500.0)
    oauth.save_code("the-code", grant, 100.0)
    assert oauth.take_code("the-code") == grant
    assert oauth.take_code("the-code") is None
    oauth.save_code("old-code", grant, 100.0)
    oauth.save_code("new-code", grant, 600.0)  # deletes codes expired by then
    assert oauth.take_code("old-code") is None
    with seeded.read() as connection:
        stored = [r[0] for r in connection.exec_driver_sql("SELECT code_hash FROM oauth_codes")]
    assert stored == [token_hash("new-code")]


def test_refresh_rotation_and_reuse_revokes_the_family(seeded: Database) -> None:
    oauth = seeded.oauth
    grant = TokenGrant("tp-1", "con-1", "cus-1", "fam-1")
    oauth.save_tokens("acc-0", "ref-0", grant, 200.0, 10_000.0, 100.0)
    assert oauth.grant_for_access_token("acc-0", 150.0) == grant
    assert oauth.grant_for_access_token("acc-0", 200.0) is None
    assert oauth.rotate_refresh_token("ref-0", "someone-else", 150.0) is None
    assert oauth.rotate_refresh_token("ref-0", "tp-1", 150.0) == grant
    oauth.save_tokens("acc-1", "ref-1", grant, 900.0, 10_000.0, 150.0)
    assert oauth.grant_for_access_token("acc-0", 150.0) is None  # rotated out
    assert oauth.grant_for_access_token("acc-1", 160.0) == grant
    # the old refresh token again: refused, and the live pair of the family is revoked too
    assert oauth.rotate_refresh_token("ref-0", "tp-1", 170.0) is None
    assert oauth.grant_for_access_token("acc-1", 170.0) is None
    assert oauth.rotate_refresh_token("ref-1", "tp-1", 170.0) is None
    other = TokenGrant("tp-1", "con-2", "cus-1", "fam-2")
    oauth.save_tokens("acc-2", "ref-2", other, 900.0, 10_000.0, 200.0)
    assert oauth.revoke("ref-2", "retailer-1", 210.0) is False
    assert oauth.revoke("ref-2", "tp-1", 210.0) is True
    assert oauth.revoke("acc-2", "tp-1", 210.0) is False  # already revoked
    oauth.save_tokens("acc-3", "ref-3", other, 900.0, 10_000.0, 200.0)
    oauth.revoke_family("fam-2", 220.0)
    assert oauth.grant_for_access_token("acc-3", 230.0) is None


def test_a_refresh_token_rotates_once_when_two_threads_race(seeded: Database) -> None:
    oauth = seeded.oauth
    grant = TokenGrant("tp-1", "con-1", "cus-1", "fam-race")
    oauth.save_tokens("acc", "ref", grant, 900.0, 10_000.0, 100.0)
    results: list[TokenGrant | None] = []
    start = threading.Barrier(4)

    def rotate() -> None:
        start.wait()
        results.append(oauth.rotate_refresh_token("ref", "tp-1", 150.0))

    threads = [threading.Thread(target=rotate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(grant) == 1 and results.count(None) == 3
