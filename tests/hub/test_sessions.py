"""Login sessions shared by hub replicas (hub/sessions.py): in the database (both engines)
or in Redis, only the token's hash stored, the idle and absolute limits kept; a login at
one replica's dashboard or portal holds at the other's."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import redis
import sqlalchemy as sa
from tests.httpserver import serve
from tests.storage.engines import database, database_url_for, postgres_url

from openami.clock import JST, ManualClock
from openami.hub.context import HubContext
from openami.hub.oauth_grants import consent_store
from openami.hub.operators import SESSION_IDLE_S, SESSION_MAX_S, Operator
from openami.hub.sessions import TOUCH_EVERY_S, SessionBackend, SharedSessions
from openami.hub.sessions_redis import RedisSessionBackend
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import Database, open_database
from openami.storage.repositories.clients import ClientStore
from openami.storage.repositories.web_sessions import WebSessionStore
from openami.storage.sql.web_session_tables import web_sessions
from openami.web.app import create_app

__all__ = ["database", "postgres_url"]
REDIS_URL = os.environ.get("OPENAMI_TEST_REDIS", "redis://127.0.0.1:6379/0")
T0 = 1_800_000_000.0
ADMIN = ("admin", "admin-password-for-session-tests")


@pytest.fixture
def redis_client() -> Iterator[tuple[redis.Redis, str]]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"no Redis server answers at {REDIS_URL}: {exc}")
    prefix = f"openami-test-{uuid.uuid4().hex[:10]}"
    yield client, prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[SessionBackend, SessionBackend]]:
    """Two replicas' backends over one store of each kind."""
    if request.param == "redis":
        client, prefix = request.getfixturevalue("redis_client")
        yield (
            RedisSessionBackend(client, prefix, "operator"),
            RedisSessionBackend(client, prefix, "operator"),
        )
        return
    db = open_database(database_url_for(request.param, request, tmp_path))
    try:
        yield WebSessionStore(db, "operator"), WebSessionStore(db, "operator")
    finally:
        db.close()


def test_a_session_opened_at_one_replica_is_known_at_the_other(
    pair: tuple[SessionBackend, SessionBackend],
) -> None:
    one, two = (SharedSessions(b) for b in pair)
    token, opened = one.open(Operator("otto", "operator"), T0)
    seen = two.get(token, T0 + 5)
    assert seen is not None and seen.operator == Operator("otto", "operator")
    assert seen.csrf_token == opened.csrf_token and seen.created_s == T0
    assert two.get(token + "x", T0 + 5) is None
    assert two.close(token) is not None  # logged out at the other replica
    assert one.get(token, T0 + 6) is None and one.close(token) is None


def test_idle_and_absolute_limits_hold(pair: tuple[SessionBackend, SessionBackend]) -> None:
    one, two = (SharedSessions(b) for b in pair)
    idle, _ = one.open(Operator("vera", "viewer"), T0)
    assert two.get(idle, T0 + SESSION_IDLE_S - 1) is not None
    assert two.get(idle, T0 + 2 * SESSION_IDLE_S - 2) is not None  # the use above counted
    assert one.get(idle, T0 + 3 * SESSION_IDLE_S) is None  # idle too long
    busy, _ = one.open(Operator("vera", "viewer"), T0)
    now_s = T0
    while now_s + SESSION_IDLE_S / 2 < T0 + SESSION_MAX_S:
        now_s += SESSION_IDLE_S / 2
        assert (one, two)[int(now_s) % 2].get(busy, now_s) is not None
    assert two.get(busy, T0 + SESSION_MAX_S) is None  # never past the absolute limit
    assert TOUCH_EVERY_S < SESSION_IDLE_S / 2


def test_only_the_tokens_hash_is_stored_and_realms_stay_apart(database: Database) -> None:
    operators = SharedSessions(WebSessionStore(database, "operator"))
    customers = SharedSessions(WebSessionStore(database, "customer"))
    token, _ = operators.open(Operator("admin", "admin"), T0)
    with database.read() as connection:
        rows = connection.execute(sa.select(web_sessions)).mappings().all()
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(v) for v in rows[0].values()}
    assert customers.get(token, T0 + 1) is None  # an operator's cookie opens no portal page
    # expired rows are deleted as sessions are opened
    WebSessionStore(database, "customer").prune(T0 + SESSION_MAX_S + 1)
    with database.read() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(web_sessions)).scalar() == 0
        )


def _replica(database: Database, sim: Simulation, name: str, password: str) -> HubContext:
    """A replica's context: its own objects over the one database (values: one MDMS)."""
    return HubContext(
        Registry(database),
        sim.mdms,
        ClientStore(database),
        sim.clock,
        ADMIN[0],
        password,  # "": the account the other replica made
        rate_limits=None,
        replica_id=name,
        operator_sessions=SharedSessions(WebSessionStore(database, "operator")),
        portal_sessions=SharedSessions(WebSessionStore(database, "customer")),
    )


def _form_token(page: str) -> str:
    found = re.search(r'id="login-form">\s*<input [^>]*value="([^"]+)"', page)
    assert found is not None, page[:300]
    return found.group(1)


def test_a_login_at_one_replica_works_at_the_other(tmp_path: Path) -> None:
    database = open_database(tmp_path / "registry.sqlite")
    city = build_city(CityConfig(meters=6, seed=2), Registry(database))
    clock = ManualClock(datetime(2026, 11, 1, 9, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(), clock)
    one, two = _replica(database, sim, "r1", ADMIN[1]), _replica(database, sim, "r2", "")
    key = city.supply_point_keys[0]
    consent_store(one).add_customer("cust-1", "customer-password-for-tests", [key])
    with serve(create_app(one)) as a, serve(create_app(two)) as b, httpx.Client() as http:
        form = http.get(a + "/login")
        done = http.post(
            a + "/login",
            data={"name": ADMIN[0], "password": ADMIN[1], "csrf_token": _form_token(form.text)},
        )
        assert done.status_code == 303, done.text[:300]
        assert http.get(b + "/rollout").status_code == 200  # the cookie, at the other one
        form = http.get(b + "/my/login")
        done = http.post(
            b + "/my/login",
            data={
                "customer_id": "cust-1",
                "password": "customer-password-for-tests",
                "csrf_token": _form_token(form.text),
            },
        )
        assert done.status_code == 303 and done.headers["location"] == "/my/", done.text[:300]
        assert http.get(a + "/my/").status_code == 200
        http.cookies.delete("openami_session")
        assert http.get(a + "/rollout").status_code == 303  # no operator session: the login
