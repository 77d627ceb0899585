"""The customer portal at /my/ over real HTTP (issue #18 §5): login and its lockout, a
customer sees only their own supply points on every page and download (another customer's
point or an unknown id: 404, never data), Download My Data is valid ESPI (espi.xsd) and its
CSV carries the data API's values, consent revoke, CSRF, sessions kept apart from the
dashboard's, audit entries. The city is the dashboard tests' (tests/web/conftest.py).
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.httpserver import serve
from tests.protocols.espi.xsd import xsd_errors
from tests.web.conftest import DAY1, DAY2, DashboardWorld, operator_client

from openami.clock import ManualClock
from openami.hub.context import HubContext
from openami.hub.oauth import register_third_party
from openami.hub.ratelimit import RateLimiter
from openami.mdms.dr_baseline import BaselineStatus
from openami.protocols.espi import IntervalBlock, UsagePoint, jp, read_feed
from openami.storage.repositories import open_database
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.broute_apps import LIVE_STATUSES
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.consents import ConsentStore
from openami.storage.sql.dr_tables import EVENT_SIGNALS, OPTS
from openami.web import portal as portal_module
from openami.web.app import create_app
from openami.web.i18n import MESSAGES
from openami.web.portal_broute import DONE
from openami.web.portal_data import VIEWS

PASSWORD = "portal-test-password"


@dataclass
class Customer:
    customer_id: str
    points: list[str]


@dataclass
class PortalWorld:
    world: DashboardWorld  # the city
    base: str  # the portal's own app over the city, with an audit log
    context: HubContext
    alice: Customer  # holds two points, one in the outage (missing values)
    bob: Customer  # holds one other point
    retailer_client: tuple[str, str]  # (client_id, secret) of alice's first point's retailer
    consent_ids: list[str]  # alice's active consents


@contextmanager
def portal_world(world: DashboardWorld) -> Iterator[PortalWorld]:
    """The city's stores behind an app of its own (with an audit log and its own lockout),
    two customers with unique ids (the city is shared with other modules), a retailer
    client of alice's first point and two consents alice approved."""
    suffix = secrets.token_hex(4)
    city, shared = world.city, world.context
    context = HubContext(
        shared.registry,
        shared.mdms,
        shared.clients,
        shared.clock,
        "",
        "",
        rate_limits=None,
        audit=AuditLog(open_database(":memory:")),
    )
    ids, keys = list(city.supply_point_ids), [int(k) for k in city.supply_point_keys]
    store = ConsentStore(context.clients.database)
    alice = Customer(f"alice-{suffix}", [ids[20], ids[3]])
    bob = Customer(f"bob-{suffix}", [ids[22]])
    store.add_customer(alice.customer_id, PASSWORD, [keys[20], keys[3]])
    store.add_customer(bob.customer_id, PASSWORD, [keys[22]])
    retailer_id = context.registry.retailer_on(keys[20], DAY2)
    assert retailer_id is not None
    client = (f"portal-retailer-{suffix}", f"portal-retailer-secret-{suffix}")
    context.clients.register(ApiClient(client[0], "retailer", retailer_id), client[1])
    tp = f"portal-tp-{suffix}"
    register_third_party(
        context, tp, f"tp-secret-{suffix}-xx", "energy-app", ["https://a.example/cb"]
    )
    now = context.clock.timestamp()
    consent_ids = []
    for purpose in ("energy advice", "home battery sizing"):
        c = store.request(tp, purpose, ["half_hour"], DAY1, DAY2, now + 30 * 86400, [ids[20]], now)
        assert store.decide(c.consent_id, alice.customer_id, True, [keys[20]], now)
        consent_ids.append(c.consent_id)
    with serve(create_app(context)) as base:
        yield PortalWorld(world, base, context, alice, bob, client, consent_ids)


@pytest.fixture(scope="module")
def portal(world: DashboardWorld) -> Iterator[PortalWorld]:
    with portal_world(world) as found:
        yield found


def login_token(page_html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert found is not None, page_html[:400]
    return found.group(1)


def login_form_token(page_html: str) -> str:
    """The login form's own token (a logged-in page also has the logout form's)."""
    found = re.search(r'id="login-form">\s*<input [^>]*value="([^"]+)"', page_html)
    assert found is not None, page_html[:400]
    return found.group(1)


def log_in(client: httpx.Client, customer_id: str, password: str = PASSWORD) -> httpx.Response:
    form = client.get("/my/login")
    assert form.status_code == 200
    return client.post(
        "/my/login",
        data={
            "customer_id": customer_id,
            "password": password,
            "csrf_token": login_form_token(form.text),
        },
    )


@contextmanager
def customer_client(base: str, customer: Customer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=30) as client:
        done = log_in(client, customer.customer_id)
        assert done.status_code == 303 and done.headers["location"] == "/my/", done.text[:300]
        yield client


@pytest.fixture(scope="module")
def alice_http(portal: PortalWorld) -> Iterator[httpx.Client]:
    with customer_client(portal.base, portal.alice) as client:
        yield client


def _audit_actions(portal: PortalWorld, actor: str) -> list[str]:
    audit = portal.context.audit
    if audit is None:
        return []
    return [e.action for e in audit.entries() if e.actor == actor]


def test_login_sets_a_strict_session_cookie_and_logout_ends_it(portal: PortalWorld) -> None:
    with httpx.Client(base_url=portal.base, timeout=30) as client:
        assert client.get("/my/").status_code == 303  # not logged in: to the login page
        assert client.get("/my/").headers["location"] == "/my/login?next=%2Fmy%2F"
        done = log_in(client, portal.bob.customer_id)
        assert done.status_code == 303
        cookie = done.headers["set-cookie"]
        assert "openami_my_session=" in cookie and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie and "Path=/my" in cookie
        home = client.get("/my/")
        assert home.status_code == 200 and portal.bob.points[0] in home.text
        assert portal.alice.points[0] not in home.text
        # a customer session opens no dashboard page
        assert client.get("/supply-points").status_code == 303
        bye = client.post("/my/logout", data={"csrf_token": login_token(home.text)})
        assert bye.status_code == 303
        assert client.get("/my/").status_code == 303


def test_wrong_password_and_open_redirect_are_refused(portal: PortalWorld) -> None:
    with httpx.Client(base_url=portal.base, timeout=30) as client:
        bad = log_in(client, portal.bob.customer_id, "not-the-password")
        assert bad.status_code == 401 and 'id="login-error"' in bad.text
        form = client.get("/my/login")
        done = client.post(
            "/my/login",
            data={
                "customer_id": portal.bob.customer_id,
                "password": PASSWORD,
                "csrf_token": login_form_token(form.text),
                "next": "https://evil.example/",
            },
        )
        assert done.status_code == 303 and done.headers["location"] == "/my/"
        # without the login CSRF cookie's token: refused before any password check
        fresh = httpx.post(
            f"{portal.base}/my/login",
            data={"customer_id": portal.bob.customer_id, "password": PASSWORD, "csrf_token": "x"},
        )
        assert fresh.status_code == 403


def test_lockout_after_repeated_failures_refuses_even_the_right_password(
    portal: PortalWorld,
) -> None:
    victim = f"locked-{secrets.token_hex(4)}"
    ConsentStore(portal.context.clients.database).add_customer(victim, PASSWORD, [])
    lockout = portal.context.lockout
    assert lockout is not None
    with httpx.Client(base_url=portal.base, timeout=30) as client:
        for _ in range(lockout.max_failures):
            assert log_in(client, victim, "wrong-password-guess").status_code == 401
        locked = log_in(client, victim)
        assert locked.status_code == 429
        assert "Too many failed logins" in locked.text
        assert client.get("/my/").status_code == 303  # no session was opened
    assert "portal login" not in _audit_actions(portal, f"customer:{victim}")
    assert "POST /my/login" in _audit_actions(portal, "anonymous")  # bounded, sampled


def _own_paths(sp: str) -> list[str]:
    return [
        f"/my/points/{sp}",
        f"/my/points/{sp}?view=month&date={DAY2}",
        f"/my/points/{sp}?view=year&date={DAY2}",
        f"/my/points/{sp}/download.xml?from={DAY1}&to={DAY2}",
        f"/my/points/{sp}/download.csv?from={DAY1}&to={DAY2}",
    ]


def test_every_page_and_download_of_another_customers_point_is_404(
    portal: PortalWorld, alice_http: httpx.Client
) -> None:
    others = [
        portal.bob.points[0],
        "0" * 22,
        "not-a-point",
        str(portal.world.city.supply_point_ids[40]),
    ]
    for sp in others:
        for path in _own_paths(sp):
            resp = alice_http.get(path)
            assert resp.status_code == 404, (path, resp.status_code)
            if "/download." in path:
                assert resp.json()["code"] == "unknown_supply_point"
            else:  # a page for people, in their language: the same answer for any id
                assert 'id="not-found"' in resp.text and "my-load-curve" not in resp.text
            assert "data-wh" not in resp.text and "<feed" not in resp.text
    for path in _own_paths(portal.alice.points[0]):
        assert alice_http.get(path).status_code == 200, path
    # not logged in: every page and download sends to the login page, no data
    with httpx.Client(base_url=portal.base, timeout=30) as anonymous:
        for path in _own_paths(portal.alice.points[0]):
            assert anonymous.get(path).status_code == 303
    # an operator's dashboard session opens no portal page
    with operator_client(portal.base) as operator:
        assert operator.get(_own_paths(portal.alice.points[0])[0]).status_code == 303


def test_bad_parameters_get_clear_errors(portal: PortalWorld, alice_http: httpx.Client) -> None:
    sp = portal.alice.points[0]
    assert alice_http.get(f"/my/points/{sp}?view=week").status_code == 422
    assert alice_http.get(f"/my/points/{sp}?date=2026-13-01").status_code == 422
    for query in ("from=2026-11-02&to=2026-11-01", "from=2024-01-01&to=2026-11-01", "from=x"):
        resp = alice_http.get(f"/my/points/{sp}/download.csv?{query}")
        assert resp.status_code == 422, query
        assert resp.json()["code"] in (
            "invalid_period",
            "period_too_long",
            "invalid_date",
        )


def _data_api_day(portal: PortalWorld, sp: str) -> list[dict[str, Any]]:
    cid, secret = portal.retailer_client
    with httpx.Client(base_url=portal.base, timeout=30) as api:
        token = api.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret)
        )
        assert token.status_code == 200, token.text
        resp = api.get(
            f"/v1/supply-points/{sp}/intervals",
            params={"from": DAY2.isoformat(), "to": DAY2.isoformat(), "limit": 100},
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def test_downloads_carry_the_data_apis_values(
    portal: PortalWorld, alice_http: httpx.Client
) -> None:
    sp = portal.alice.points[0]
    api = _data_api_day(portal, sp)
    assert len(api) == 48
    day = f"from={DAY2}&to={DAY2}"
    got = alice_http.get(f"/my/points/{sp}/download.csv?{day}")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert [
        (r["slot_start"], int(r["import_wh"]), int(r["export_wh"] or 0), r["quality"]) for r in rows
    ] == [(str(a["slot_start"]), a["import_wh"], a["export_wh"] or 0, a["quality"]) for a in api]
    assert {r["supply_point_id"] for r in rows} == {sp}

    xml = alice_http.get(f"/my/points/{sp}/download.xml?{day}")
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/atom+xml")
    assert xsd_errors(xml.content) == []
    feed = read_feed(xml.content)
    points = [e.resource for e in feed.entries if isinstance(e.resource, UsagePoint)]
    assert [p.service_delivery_point_name for p in points] == [sp]
    blocks = [b for b in (e.resource for e in feed.entries) if isinstance(b, IntervalBlock)]
    assert len(blocks) == 2  # one per direction (import, then export) for the day
    for block, direction in zip(blocks, jp.DIRECTIONS, strict=True):
        want = [
            (int(datetime.fromisoformat(str(a["slot_start"])).timestamp()), a[f"{direction}_wh"])
            for a in api
            if a["quality"] not in jp.GAP_QUALITIES
        ]
        assert [(v.start_s, v.value_wh) for v in jp.block_values(block)] == want
    reads = _audit_actions(portal, f"customer:{portal.alice.customer_id}")
    assert "read portal download csv" in reads and "read portal download espi" in reads
    assert "portal login" in reads


def test_point_page_shows_totals_comparison_and_estimate(
    portal: PortalWorld, alice_http: httpx.Client
) -> None:
    sp = portal.alice.points[0]
    api = _data_api_day(portal, sp)
    page = alice_http.get(f"/my/points/{sp}?view=day&date={DAY2}&lang=en")
    assert page.status_code == 200
    total = sum(int(a["import_wh"] or 0) for a in api)
    assert f'data-wh="{total}"' in page.text
    assert 'data-comparison="previous"' in page.text and 'data-comparison="last_year"' in page.text
    found = re.search(r'id="charges-total" data-yen="([0-9.]+)"', page.text)
    assert found is not None and float(found.group(1)) > 0
    month = alice_http.get(f"/my/points/{sp}?view=month&date={DAY2}")
    assert 'data-points="30"' in month.text  # November: one bar per day
    ja = alice_http.get(f"/my/points/{sp}?view=year&date={DAY2}&lang=ja")
    assert "料金の試算" in ja.text and 'lang="ja"' in ja.text
    for html in (page.text, month.text, ja.text, alice_http.get("/my/consents").text):
        links = re.findall(r'(?:src|href|action)="([^"]*)"', html)
        outside = [u for u in links if "//" in u and not u.startswith(portal.base + "/")]
        assert len(links) > 5 and outside == []  # offline: nothing from another origin
        assert "<script" not in html and "style=" not in html  # nothing inline for the CSP


def test_revoke_needs_the_csrf_token_and_only_the_owner_may(
    portal: PortalWorld, alice_http: httpx.Client
) -> None:
    target = portal.consent_ids[1]
    page = alice_http.get("/my/consents")
    assert page.status_code == 200 and target in page.text
    path = f"/my/consents/{target}/revoke"
    assert alice_http.post(path, data={"csrf_token": "wrong"}).status_code == 403
    cross = alice_http.post(
        path, data={"csrf_token": login_token(page.text)}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403
    with customer_client(portal.base, portal.bob) as bob:
        bob_page = bob.get("/my/consents")
        assert target not in bob_page.text
        assert bob.post(path, data={"csrf_token": login_token(bob_page.text)}).status_code == 404
    done = alice_http.post(path, data={"csrf_token": login_token(page.text)})
    assert done.status_code == 303 and done.headers["location"] == "/my/consents?done=revoked"
    store = ConsentStore(portal.context.clients.database)
    consent = store.get(target)
    assert consent is not None and consent.status == "revoked"
    again = alice_http.post(path, data={"csrf_token": login_token(page.text)})
    assert again.status_code == 409


def test_every_portal_label_exists_in_both_languages() -> None:
    web = Path(portal_module.__file__).parent
    used: set[str] = set()
    for path in [*web.glob("templates/my/*.html"), *web.glob("portal*.py")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.0-9]+)["']\s*\)""", path.read_text()))
    used |= {f"my.view.{v}" for v in VIEWS} | {"my.cmp.previous", "my.cmp.last_year"}
    used |= {f"consent.status.{s}" for s in ("active", "denied", "revoked", "expired")}
    used |= {f"my.broute.done.{d}" for d in DONE}
    used |= {f"my.broute.status.{s}" for s in ("none", *LIVE_STATUSES, "failed", "revoked")}
    used |= {f"my.dr.signal.{s}" for s in EVENT_SIGNALS} | {f"my.dr.opt.{o}" for o in OPTS}
    used |= {f"my.dr.status.{s}" for s in (*(b.label for b in BaselineStatus), "missing_actual")}
    assert len(used) > 40
    assert sorted(k for k in used if k not in MESSAGES) == []
    assert all(MESSAGES[k][0].strip() and MESSAGES[k][1].strip() for k in used)


def test_downloads_and_login_attempts_are_rate_limited(portal: PortalWorld) -> None:
    """The city's clock stands still, so a spent budget stays spent: the 429s are certain."""
    shared = portal.context
    limits = RateLimiter(rate_per_s=0.001, burst=3, token_rate_per_s=0.001, token_burst=3)
    context = HubContext(
        shared.registry, shared.mdms, shared.clients, shared.clock, "", "", rate_limits=limits
    )
    sp = portal.alice.points[0]
    with serve(create_app(context)) as base, httpx.Client(base_url=base, timeout=30) as client:
        assert log_in(client, portal.alice.customer_id).status_code == 303  # 1 of 3 logins
        path = f"/my/points/{sp}/download.csv?from={DAY2}&to={DAY2}"
        assert [client.get(path).status_code for _ in range(3)] == [200, 200, 200]
        over = client.get(path)
        assert over.status_code == 429 and int(over.headers["retry-after"]) > 0
        assert client.get(f"/my/points/{sp}").status_code == 429  # the same budget
        assert log_in(client, portal.bob.customer_id, "wrong-guess-1").status_code == 401
        assert log_in(client, portal.bob.customer_id, "wrong-guess-2").status_code == 401
        assert log_in(client, portal.bob.customer_id).status_code == 429  # address budget


def test_sessions_expire_when_idle(portal: PortalWorld) -> None:
    shared = portal.context
    clock = ManualClock(shared.clock.now())  # the portal's own clock: the city's stands still
    context = HubContext(
        shared.registry, shared.mdms, shared.clients, clock, "", "", rate_limits=None
    )
    with serve(create_app(context)) as base, httpx.Client(base_url=base, timeout=30) as client:
        assert log_in(client, portal.bob.customer_id).status_code == 303
        clock.advance(29 * 60)
        assert client.get("/my/").status_code == 200  # in use: the idle time starts again
        clock.advance(29 * 60)
        assert client.get("/my/").status_code == 200
        clock.advance(31 * 60)
        expired = client.get("/my/")
        assert expired.status_code == 303 and expired.headers["location"].startswith("/my/login")
