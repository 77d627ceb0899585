"""Push, then pull: a real subscriber on loopback gets a signed notification (after one
failed try and a backoff), verifies the HMAC, then pulls the listed resources over ESPI."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.hub.test_requests import Rig, make_rig

from openami.hub.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidSubscription,
    check_callback_url,
    resolves_to_private,
    verify_signature,
)
from openami.protocols.espi import read_batch_list

SECRET = "subscriber-secret-for-tests"


class Subscriber:
    """A webhook receiver: answers 503 to the first POST (or to all), 200 afterwards."""

    def __init__(self, now: Callable[[], float], always_fail: bool = False) -> None:
        self.received: list[tuple[dict[str, str], bytes, int, float]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = 503 if always_fail or not outer.received else 200
                outer.received.append((dict(self.headers.items()), body, status, now()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(tmp_path)


@pytest.fixture
def subscriber(rig: Rig) -> Iterator[Subscriber]:
    sub = Subscriber(rig.context.clock.timestamp)  # receipt time on the one clock
    yield sub
    sub.close()


def test_signed_notification_then_pull(rig: Rig, subscriber: Subscriber) -> None:
    retailer = rig.registry.retailer_on(rig.city.supply_point_keys[0], rig.city.config.start_day)
    assert retailer is not None
    headers = rig.token(retailer)
    bad = rig.http.post(
        "/v1/subscriptions",
        json={"callback_url": "ftp://example.org/x", "secret": SECRET},
        headers=headers,
    )
    assert bad.status_code == 422 and bad.json()["code"] == "E_INVALID_CALLBACK_URL"
    weak = rig.http.post(
        "/v1/subscriptions", json={"callback_url": subscriber.url, "secret": "x"}, headers=headers
    )
    assert weak.status_code == 422 and weak.json()["code"] == "E_WEAK_SECRET"
    resp = rig.http.post(
        "/v1/subscriptions",
        json={"callback_url": subscriber.url, "secret": SECRET},
        headers=headers,
    )
    assert resp.status_code == 201, resp.text
    sub_id = resp.json()["subscription_id"]
    assert "secret" not in resp.json()

    # one slot lands (the 10:00-10:30 values arrive after 10:30), then the next tick retries
    start = rig.context.clock.timestamp()
    rig.sim.run_until(start + 3600)
    assert len(subscriber.received) >= 2
    (h1, body1, s1, _), (h2, body2, s2, now) = subscriber.received[:2]
    assert (s1, s2) == (503, 200)
    assert h1["X-OpenAMI-Delivery"] == h2["X-OpenAMI-Delivery"] and body1 == body2
    assert int(h2[TIMESTAMP_HEADER]) > int(h1[TIMESTAMP_HEADER])  # backoff on the one clock
    assert verify_signature(SECRET, body2, h2[TIMESTAMP_HEADER], h2[SIGNATURE_HEADER], now)
    assert not verify_signature(
        SECRET, body2 + b" ", h2[TIMESTAMP_HEADER], h2[SIGNATURE_HEADER], now
    )
    assert not verify_signature(
        "another-secret-entirely", body2, h2[TIMESTAMP_HEADER], h2[SIGNATURE_HEADER], now
    )
    assert not verify_signature(  # replayed a day later
        SECRET, body2, h2[TIMESTAMP_HEADER], h2[SIGNATURE_HEADER], now + 86400
    )
    text = body2.decode()
    for sp in rig.city.supply_point_ids:  # no personal data in the push
        assert sp not in text
    payload = json.loads(body2)
    assert payload["subscription_id"] == sub_id and payload["slots"]
    supplied = sum(
        rig.registry.retailer_on(k, rig.city.config.start_day) == retailer
        for k in rig.city.supply_point_keys
    )
    first = payload["slots"][0]
    assert first["values"] == supplied and len(first["usage_points"]) == supplied

    # ... then pull: the listed UsagePoint and the Batch URL serve the values
    up = rig.http.get(first["usage_points"][0], headers=rig.token(retailer))
    assert up.status_code == 200, up.text
    assert "IntervalReading" in up.text
    batch = rig.http.get(first["batch"], headers=rig.token(retailer))
    assert batch.status_code == 200 and batch.text.count("</UsagePoint>") == supplied
    other = next(r for r in rig.secrets if r != retailer)
    assert rig.http.get(first["batch"], headers=rig.token(other)).status_code == 403

    # the subscription shows its deliveries; another client cannot see it
    got = rig.http.get(f"/v1/subscriptions/{sub_id}", headers=rig.token(retailer)).json()
    first_delivery = got["deliveries"][-1]
    assert first_delivery["status"] == "delivered" and first_delivery["attempts"] == 2
    assert rig.http.get(f"/v1/subscriptions/{sub_id}", headers=rig.token(other)).status_code == 404
    gone = rig.http.delete(f"/v1/subscriptions/{sub_id}", headers=rig.token(retailer))
    assert gone.status_code == 204
    n = len(subscriber.received)
    rig.sim.run_until(rig.context.clock.timestamp() + 3600)
    assert len(subscriber.received) == n  # unsubscribed: nothing more


def test_callback_url_rules() -> None:
    assert check_callback_url("https://retailer.example/hooks?x=1")
    for url in ("file:///etc/passwd", "http://", "https://user:pw@host/x", "http://h:99999/"):
        with pytest.raises(InvalidSubscription) as err:
            check_callback_url(url, allow_private=True)
        assert err.value.code == "E_INVALID_CALLBACK_URL"
    # no callbacks into the hub's own network unless a lab allows it (SSRF)
    for url in (
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
    ):
        with pytest.raises(InvalidSubscription) as err:
            check_callback_url(url)
        assert err.value.code == "E_PRIVATE_CALLBACK_URL"
        assert check_callback_url(url, allow_private=True) == url
    assert resolves_to_private("http://127.0.0.1:9/x")
    assert resolves_to_private("http://name.invalid/x")  # unresolvable: refused too


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("http://2130706433/x", "http://127.0.0.1/x"),
        ("http://0x7f000001:8080/x", "http://127.0.0.1:8080/x"),
        ("http://0X7F000001/x", "http://127.0.0.1/x"),
        ("http://127.1/x", "http://127.0.0.1/x"),
        ("http://127.0.1/x", "http://127.0.0.1/x"),
        ("http://0177.0.0.1/x", "http://127.0.0.1/x"),
        ("http://167772161/x", "http://10.0.0.1/x"),
        ("http://0xa9fea9fe/latest", "http://169.254.169.254/latest"),
        ("http://127.0.0.1./x", "http://127.0.0.1/x"),
    ],
)
def test_numeric_host_forms_are_normalised_then_refused(url: str, stored: str) -> None:
    """Every notation a resolver reads as a loopback/private address is one (issue #15 §3)."""
    with pytest.raises(InvalidSubscription) as err:
        check_callback_url(url)
    assert err.value.code == "E_PRIVATE_CALLBACK_URL"
    assert check_callback_url(url, allow_private=True) == stored


def test_numeric_public_hosts_are_stored_dotted_and_bad_numbers_refused() -> None:
    assert check_callback_url("https://134744072/hook") == "https://8.8.8.8/hook"
    assert check_callback_url("https://8.8.8.8/hook") == "https://8.8.8.8/hook"
    assert check_callback_url("https://retailer.example/hook") == "https://retailer.example/hook"
    for url in ("http://4294967296/x", "http://1.2.3.4.5/x", "http://256.1.1.1/x", "http://a.0x/x"):
        with pytest.raises(InvalidSubscription) as err:
            check_callback_url(url)
        assert err.value.code == "E_INVALID_CALLBACK_URL", url


def test_espi_batch_list_notification(rig: Rig, subscriber: Subscriber) -> None:
    retailer = rig.registry.retailer_on(rig.city.supply_point_keys[0], rig.city.config.start_day)
    assert retailer is not None
    h = rig.token(retailer)
    odd = {"callback_url": subscriber.url, "secret": SECRET, "format": "csv"}
    resp = rig.http.post("/v1/subscriptions", json=odd, headers=h)
    assert resp.status_code == 422 and resp.json()["code"] == "E_UNKNOWN_FORMAT"
    resp = rig.http.post("/v1/subscriptions", json={**odd, "format": "espi"}, headers=h)
    assert resp.status_code == 201 and resp.json()["format"] == "espi"
    rig.sim.run_until(rig.context.clock.timestamp() + 1800)
    headers, body, status, at = subscriber.received[1]
    assert status == 200 and headers["Content-Type"] == "application/xml"
    assert verify_signature(SECRET, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], at)
    batch = read_batch_list(body)
    assert batch.resources and all("/Batch/Subscription/" in r for r in batch.resources)
    pulled = rig.http.get(batch.resources[0], headers=rig.token(retailer))
    assert pulled.status_code == 200 and "IntervalReading" in pulled.text


def test_retries_back_off_then_give_up(rig: Rig) -> None:
    down = Subscriber(rig.context.clock.timestamp, always_fail=True)
    try:
        retailer = rig.registry.retailer_on(
            rig.city.supply_point_keys[0], rig.city.config.start_day
        )
        assert retailer is not None
        resp = rig.http.post(
            "/v1/subscriptions",
            json={"callback_url": down.url, "secret": SECRET},
            headers=rig.token(retailer),
        )
        sub_id = resp.json()["subscription_id"]
        rig.sim.run_until(rig.context.clock.timestamp() + 4 * 3600)
    finally:
        down.close()
    first_id = down.received[0][0]["X-OpenAMI-Delivery"]
    tries = [t for h, _, _, t in down.received if h["X-OpenAMI-Delivery"] == first_id]
    assert len(tries) == 8  # max_attempts, then no more
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    assert all(b >= a for a, b in itertools.pairwise(gaps))  # exponential backoff
    assert gaps[-1] >= 1920 - 300  # 30 s × 2^6, on 5-minute ticks
    got = rig.http.get(f"/v1/subscriptions/{sub_id}", headers=rig.token(retailer)).json()
    oldest = got["deliveries"][-1]
    assert (oldest["status"], oldest["attempts"], oldest["last_status"]) == ("failed", 8, 503)
