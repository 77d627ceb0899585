"""Consent as data: request and status through the API, customer revocation, 403 without a
live consent, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from tests.hub.cityworld import DAY1, DAY2
from tests.hub.test_oauth_flow import (
    Setup,
    approve,
    auth_params,
    bearer,
    cc_token,
    consented,
    exchange,
    intervals,
    pkce,
    redirect_params,
    refresh,
    request_consent,
    served,
)

from openami.clock import JST

CUSTOMER_ACTION = {"X-Requested-With": "test"}  # the CSRF guard of customer actions


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with served(Path(tmp_path_factory.mktemp("consent"))) as s:
        yield s


def _status(s: Setup, consent_id: str, client: tuple[str, str] | None = None) -> httpx.Response:
    return s.http.get(
        f"/v1/consents/{consent_id}", headers=bearer(cc_token(s.http, client or s.tp))
    )


def test_request_names_everything_and_status_is_private(setup: Setup) -> None:
    s = setup
    expires = datetime(2026, 12, 31, tzinfo=JST)
    consent = request_consent(
        s.http,
        s.tp,
        supply_point_ids=[s.customer_points[0]],
        data_kinds=["daily"],
        purpose="tariff comparison",
        expires_at=expires.isoformat(),
    )
    assert consent["status"] == "requested" and consent["customer_id"] is None
    assert consent["supply_point_ids"] == [s.customer_points[0]]
    assert consent["data_kinds"] == ["daily"] and consent["purpose"] == "tariff comparison"
    assert (consent["period_from"], consent["period_to"]) == (DAY1.isoformat(), DAY2.isoformat())
    assert datetime.fromisoformat(consent["expires_at"]) == expires
    assert consent["authorize_path"].startswith("/oauth/authorize?")
    assert _status(s, consent["consent_id"]).json() == consent
    assert _status(s, consent["consent_id"], s.other_tp).status_code == 404
    listed = s.http.get("/v1/consents", headers=bearer(cc_token(s.http, s.tp))).json()
    assert consent["consent_id"] in [c["consent_id"] for c in listed["items"]]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"period_from": "2026-11-05", "period_to": "2026-11-01"}, "invalid_period"),
        ({"period_from": "2025-01-01", "period_to": "2026-11-01"}, "period_too_long"),
        ({"supply_point_ids": ["12345"]}, "invalid_supply_point_id"),
        ({"expires_at": "2020-01-01T00:00:00+09:00"}, "invalid_expiry"),
        ({"data_kinds": ["everything"]}, "invalid_request"),
    ],
)
def test_bad_consent_requests(setup: Setup, fields: dict[str, object], code: str) -> None:
    s = setup
    body = {
        "data_kinds": ["daily"],
        "period_from": DAY1.isoformat(),
        "period_to": DAY2.isoformat(),
        "purpose": "x",
        **fields,
    }
    resp = s.http.post("/v1/consents", json=body, headers=bearer(cc_token(s.http, s.tp)))
    assert resp.status_code == 422 and resp.json()["code"] == code


def test_retailers_do_not_request_consents(setup: Setup) -> None:
    s = setup
    tok = cc_token(s.http, s.world.secrets[s.world.switch_from])
    resp = s.http.get("/v1/consents", headers=bearer(tok))
    assert resp.status_code == 403 and resp.json()["code"] == "third_parties_only"


def test_third_party_without_live_consent_gets_403(setup: Setup) -> None:
    s = setup
    sp = s.customer_points[0]
    # a client-credentials token carries no consent
    resp = intervals(s.http, cc_token(s.http, s.tp), sp)
    assert resp.status_code == 403 and resp.json()["code"] == "no_consent"
    # a consent for other data kinds, points or days does not open these
    _, daily_only = consented(s, data_kinds=["daily"])
    resp = intervals(s.http, daily_only["access_token"], sp)
    assert resp.status_code == 403 and resp.json()["code"] == "kind_not_consented"
    assert (
        s.http.get(
            f"/v1/supply-points/{sp}/daily",
            params={"from": DAY1.isoformat(), "to": DAY2.isoformat()},
            headers=bearer(daily_only["access_token"]),
        ).status_code
        == 200
    )
    _, one_point = consented(s, supply_point_ids=[s.customer_points[1]])
    resp = intervals(s.http, one_point["access_token"], sp)
    assert resp.status_code == 403 and resp.json()["code"] == "not_in_consent"
    resp = intervals(s.http, one_point["access_token"], s.foreign_point)
    assert resp.status_code == 403
    _, day1 = consented(s, period_to=DAY1.isoformat())
    resp = s.http.get(
        f"/v1/supply-points/{sp}/intervals",
        params={"from": DAY2.isoformat(), "to": DAY2.isoformat()},
        headers=bearer(day1["access_token"]),
    )
    assert resp.status_code == 403 and resp.json()["code"] == "outside_consent_period"
    cut = intervals(s.http, day1["access_token"], sp).json()  # DAY1..DAY2 asked: DAY1 given
    assert len(cut["items"]) == 48
    assert {i["slot_start"][:10] for i in cut["items"]} == {DAY1.isoformat()}


def test_customer_revocation_applies_to_the_next_request(setup: Setup) -> None:
    s = setup
    consent, tok = consented(s)
    sp = s.customer_points[0]
    assert intervals(s.http, tok["access_token"], sp).status_code == 200
    mine = s.http.get("/v1/customer/consents", auth=s.customer)
    assert mine.status_code == 200
    assert consent["consent_id"] in [c["consent_id"] for c in mine.json()]
    # another customer cannot revoke it, a wrong password cannot list anything
    assert s.http.get("/v1/customer/consents", auth=(s.customer[0], "nope")).status_code == 401
    path = f"/v1/customer/consents/{consent['consent_id']}/revoke"
    revoked = s.http.post(path, auth=s.customer, headers=CUSTOMER_ACTION)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    resp = intervals(s.http, tok["access_token"], sp)
    assert resp.status_code == 403 and resp.json()["code"] == "consent_not_live"
    assert "revoked" in resp.json()["message"]
    assert refresh(s.http, s.tp, tok["refresh_token"]).json()["error"] == "invalid_grant"
    assert _status(s, consent["consent_id"]).json()["status"] == "revoked"
    assert s.http.post(path, auth=s.customer, headers=CUSTOMER_ACTION).status_code == 409


def test_consent_expiry_ends_access(setup: Setup) -> None:
    s = setup
    now = datetime.fromtimestamp(s.world.clock.timestamp(), JST)
    consent, tok = consented(s, expires_at=(now + timedelta(seconds=300)).isoformat())
    assert tok["expires_in"] <= 300  # no token outlives its consent
    sp = s.customer_points[0]
    assert intervals(s.http, tok["access_token"], sp).status_code == 200
    s.world.clock.advance(301)
    assert intervals(s.http, tok["access_token"], sp).status_code == 401
    assert _status(s, consent["consent_id"]).json()["status"] == "expired"
    assert refresh(s.http, s.tp, tok["refresh_token"]).status_code == 400


def test_an_expired_request_cannot_be_approved(setup: Setup) -> None:
    s = setup
    now = datetime.fromtimestamp(s.world.clock.timestamp(), JST)
    consent = request_consent(s.http, s.tp, expires_at=(now + timedelta(seconds=60)).isoformat())
    verifier, challenge = pkce()
    params = auth_params(consent["consent_id"], s.tp[0], challenge)
    s.world.clock.advance(61)
    assert redirect_params(approve(s.http, params, s.customer))["error"] == "invalid_request"
    assert exchange(s.http, s.tp, "no-code", verifier).status_code == 400


def test_consent_events_are_audit_logged(setup: Setup) -> None:
    s = setup
    consent, _ = consented(s, purpose="audit me")
    s.http.post(
        f"/v1/customer/consents/{consent['consent_id']}/revoke",
        auth=s.customer,
        headers=CUSTOMER_ACTION,
    )
    audit = s.world.context.audit
    assert audit is not None
    events = [e for e in audit.entries() if e.subject == consent["consent_id"]]
    assert [(e.kind, e.action, e.actor) for e in events] == [
        ("consent", "consent requested", s.tp[0]),
        ("consent", "consent approved", f"customer:{s.customer[0]}"),
        ("consent", "consent revoked", f"customer:{s.customer[0]}"),
    ]
    assert all(e.purpose == "audit me" for e in events)
    assert '"supply_points":2' in events[1].detail.replace(" ", "")
    assert audit.verify().ok
    # no password, secret or token ever reaches the log
    text = " ".join(f"{e.action} {e.detail}" for e in audit.entries())
    assert s.customer[1] not in text and s.tp[1] not in text
