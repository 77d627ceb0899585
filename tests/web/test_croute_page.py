"""The dashboard's C-route page over real HTTP against a small simulated city with hub workers:
a disconnect that completes, a rejected request, consents (approved and still requested),
webhook deliveries to a subscriber that answers once 503 then 200 and to one that always
fails. The figures shown must equal what ``slot_slo`` and the stores return."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest
from tests.hub.test_requests import DAY1, Rig, make_rig, post
from tests.hub.test_webhooks import Subscriber
from tests.web.conftest import built_world, operator_client

from openami.clock import SLOTS_PER_DAY, day_first_slot
from openami.hub.oauth import register_third_party
from openami.hub.slo import slot_slo
from openami.hub.switching import SwitchingConfig, switching_control
from openami.storage.repositories.consents import ConsentStore
from openami.storage.repositories.requests import RequestStore
from openami.storage.repositories.webhooks import WebhookStore
from openami.web.croute_page import DELIVERY_STATES, REQUEST_KINDS, REQUEST_STATUSES
from openami.web.i18n import MESSAGES

SECRET = "croute-page-subscriber-secret"
FAIL_SECRET = "croute-page-failing-secret-xyz"


@dataclass
class World:
    rig: Rig
    request_ids: list[str]
    subscriptions: list[str]
    consents: list[str]
    callback_urls: list[str]


@pytest.fixture(scope="module")
def croute_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    gen = make_rig(tmp_path_factory.mktemp("croute"))
    rig = next(gen)
    ok, failing = Subscriber(rig.context.clock.timestamp), None
    try:
        failing = Subscriber(rig.context.clock.timestamp, always_fail=True)
        pos = 3
        sp, key = rig.city.supply_point_ids[pos], rig.city.supply_point_keys[pos]
        owner = rig.registry.retailer_on(key, DAY1)
        assert owner is not None
        subs = []
        for url, secret in ((ok.url, SECRET), (failing.url, FAIL_SECRET)):
            resp = rig.http.post(
                "/v1/subscriptions",
                json={"callback_url": url, "secret": secret},
                headers=rig.token(owner),
            )
            assert resp.status_code == 201, resp.text
            subs.append(resp.json()["subscription_id"])
        # this world is about the page: disconnects here need no notice (a setting; the rule
        # itself is tested in tests/hub/test_switching.py)
        switching_control(rig.context).config = SwitchingConfig(disconnect_notice_s=0.0)
        effective = DAY1 + timedelta(days=1)  # never today
        done = post(
            rig, owner, kind="disconnect", supply_point_id=sp, effective_date=effective.isoformat()
        )
        assert done.status_code == 201, done.text
        rig.sim.run_until(day_first_slot(effective) * 1800.0 + 900)
        later = (effective + timedelta(days=1)).isoformat()
        again = post(rig, owner, kind="disconnect", supply_point_id=sp, effective_date=later)
        assert again.status_code == 409
        # consents: one approved by its customer, one still waiting for a decision
        register_third_party(
            rig.context,
            "tp-app",
            "third-party-secret-123",
            "energy-app",
            ["https://app.example/cb"],
        )
        consents = ConsentStore(rig.context.clients.database)
        consents.add_customer("customer-7", "customer-password-1", [key])
        now = rig.context.clock.timestamp()
        ids = []
        for approve in (True, None):
            c = consents.request(
                "tp-app", "energy advice", ["half_hour"], DAY1, DAY1, now + 86400 * 30, [sp], now
            )
            if approve:
                assert consents.decide(c.consent_id, "customer-7", True, [key], now)
            ids.append(c.consent_id)
        rig.sim.run_until(rig.context.clock.timestamp() + 3600)
        yield World(
            rig,
            [done.json()["request_id"], again.json()["request_id"]],
            subs,
            ids,
            [ok.url, failing.url],
        )
    finally:
        ok.close()
        if failing is not None:
            failing.close()
        gen.close()


@pytest.fixture(scope="module")
def client(croute_world: World) -> Iterator[httpx.Client]:
    ctx = croute_world.rig.context
    base = str(croute_world.rig.http.base_url).rstrip("/")
    with operator_client(base, ctx.operator_user, ctx.operator_password) as c:
        yield c


def cells(text: str, attr: str, value: str) -> list[str]:
    """Text of the <td>s of the row with ``attr="value"``."""
    m = re.search(rf'<tr [^>]*{attr}="{re.escape(value)}"[^>]*>(.*?)</tr>', text, re.S)
    assert m, (attr, value)
    return [
        html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", m.group(1), re.S)
    ]


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.2f} %"


def mins(v: float | None) -> str:
    return "—" if v is None else f"{v / 60:.1f}"


def test_needs_operator_credentials(croute_world: World) -> None:
    base = str(croute_world.rig.http.base_url).rstrip("/")
    assert httpx.get(base + "/croute").status_code == 303  # to the login page
    assert httpx.get(base + "/croute", auth=("operator", "wrong")).status_code == 303


def test_slo_per_slot_equals_slot_slo(croute_world: World, client: httpx.Client) -> None:
    text = client.get("/croute", params={"date": DAY1.isoformat()}).text
    assert 'href="/croute" class="active"' in text
    first = day_first_slot(DAY1)
    rows = slot_slo(croute_world.rig.context.mdms, first, first + SLOTS_PER_DAY - 1)
    assert sum(r.latency_p95_s is not None for r in rows) >= 10  # the morning has data
    for r in rows:
        got = cells(text, "data-slot", str(r.slot))
        assert got[1] == str(r.expected)
        assert got[2:5] == [mins(r.latency_p50_s), mins(r.latency_p95_s), mins(r.latency_max_s)]
        assert got[5:8] == [pct(r.complete_60min), pct(r.complete_24h), pct(r.complete_now)]
    chart = re.search(r'<svg class="chart" id="slo-chart"[^>]*data-points="(\d+)"', text)
    assert chart and int(chart.group(1)) == sum(
        (r.latency_p50_s is not None) + (r.latency_p95_s is not None) for r in rows
    )
    assert 'class="target s1"' in text and "60 min" in text  # the target line


def test_requests_by_status_and_kind(croute_world: World, client: httpx.Client) -> None:
    text = client.get("/croute").text
    store = RequestStore(croute_world.rig.context.clients.database)
    done, rejected = (store.request(i) for i in croute_world.request_ids)
    assert done is not None and done.status == "completed"
    assert rejected is not None and rejected.status == "rejected"
    row = cells(text, "data-kind", "disconnect")
    header = re.search(r'<table id="request-counts".*?</thead>', text, re.S)
    assert header
    shown = [html.unescape(h) for h in re.findall(r"<th[^>]*>([^<]*)</th>", header.group(0))]
    for status in REQUEST_STATUSES:
        n = len(store.with_status(status))
        if n:
            assert row[shown.index(status)] == str(n), status
    assert row[-1] == "2"
    latest = cells(text, "data-request", done.request_id)
    assert latest[2:4] == ["disconnect", "completed"] and latest[4] == done.supply_point_id
    assert cells(text, "data-request", rejected.request_id)[-1] == "E_ALREADY_DISCONNECTED"
    # server-side sort: oldest first puts the completed request on top
    asc = client.get("/croute", params={"sort": "received_at", "dir": "asc"}).text
    assert asc.index(done.request_id) < asc.index(rejected.request_id)
    desc = client.get("/croute", params={"sort": "received_at", "dir": "desc"}).text
    assert desc.index(rejected.request_id) < desc.index(done.request_id)


def test_consents_by_status_without_personal_data(
    croute_world: World, client: httpx.Client
) -> None:
    text = client.get("/croute").text
    consents = ConsentStore(croute_world.rig.context.clients.database)
    now = croute_world.rig.context.clock.timestamp()
    want: dict[str, int] = {}
    for cid in croute_world.consents:
        c = consents.get(cid)
        assert c is not None
        want[c.effective_status(now)] = want.get(c.effective_status(now), 0) + 1
        row = cells(text, "data-consent", cid)
        assert row[1] == "tp-app" and row[2] == c.effective_status(now)
    assert want == {"active": 1, "requested": 1}
    for status, n in want.items():
        assert re.search(rf'<td class="num" data-status="{status}">{n}</td>', text)
    assert "customer-7" not in text and "third-party-secret-123" not in text


def test_webhook_deliveries_with_attempts_and_errors(
    croute_world: World, client: httpx.Client
) -> None:
    text = client.get("/croute").text
    store = WebhookStore(croute_world.rig.context.clients.database)
    deliveries = [d for s in croute_world.subscriptions for d in store.deliveries(s)]
    assert deliveries
    counts: dict[str, int] = {}
    for d in deliveries:
        counts[d.status] = counts.get(d.status, 0) + 1
    assert {"delivered", "pending"} <= set(counts)
    for state, n in counts.items():
        assert re.search(rf'<td class="num" data-state="{state}">{n}</td>', text), state
    shown = sorted(deliveries, key=lambda d: -d.delivery_id)[:20]
    for d in shown:
        row = cells(text, "data-delivery", str(d.delivery_id))
        assert row[3] == d.status and row[4] == str(d.attempts)
        assert row[7] == (str(d.last_status) if d.last_status is not None else "—")
        assert row[8] == (d.last_error or "")[:200]
    assert any(d.attempts >= 2 and d.last_status == 503 for d in shown)
    assert re.search(r'id="subscription-count">2<', text)
    for secret in (SECRET, FAIL_SECRET, *croute_world.callback_urls):
        assert secret not in text  # never a secret or a callback URL


def test_japanese_and_bad_parameters(croute_world: World, client: httpx.Client) -> None:
    ja = client.get("/croute", params={"lang": "ja"})
    assert ja.status_code == 200
    assert "Cルート" in ja.text and "完了" in ja.text and "廃止" in ja.text and "有効" in ja.text
    assert client.get("/croute", params={"lang": "en"}).text.count("completed") >= 1
    for params in (
        {"date": "2026-13-01"},
        {"date": "9999-12-31"},
        {"sort": "secret"},
        {"dir": "up"},
        {"page": "x"},
        {"wpage": "2.5"},
    ):
        bad = client.get("/croute", params=params)
        assert bad.status_code == 422, params
        assert bad.json()["code"] in ("invalid_date", "invalid_sort", "invalid_parameter")
    # another day without data says so
    other = client.get("/croute", params={"date": (DAY1 - timedelta(days=30)).isoformat()})
    assert other.status_code == 200 and 'id="slo-none"' in other.text


def test_empty_stores_say_so() -> None:
    # a city of its own: other modules add requests and consents to the shared one
    with built_world() as fresh, operator_client(fresh.base) as c:
        resp = c.get("/croute")
    assert resp.status_code == 200
    for marker in ("requests-none", "consents-none", "deliveries-none"):
        assert f'id="{marker}"' in resp.text
    assert 'id="slo-table"' in resp.text  # the city has values: the SLO is shown
    assert date(2026, 11, 2).isoformat() in resp.text


def test_status_labels_exist_in_both_languages() -> None:
    keys = [f"rq.kind.{k}" for k in REQUEST_KINDS]
    keys += [f"rq.status.{s}" for s in REQUEST_STATUSES]
    keys += [f"wh.state.{s}" for s in DELIVERY_STATES]
    keys += [f"consent.status.{s}" for s in ("requested", "active", "denied", "revoked", "expired")]
    assert [k for k in keys if k not in MESSAGES] == []
