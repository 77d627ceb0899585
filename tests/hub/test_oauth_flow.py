"""Authorization code + PKCE (S256) for third parties, over real HTTP.

The third party requests a consent through the API, sends the customer to the consent
screen, the customer logs in and approves, the third party swaps the code (with its
verifier) for short-lived access + rotating refresh tokens. Helpers here are shared by
the consent and data API tests.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.httpserver import serve
from tests.hub.cityworld import DAY1, DAY2, World, build_world

from openami.hub.oauth import register_third_party
from openami.hub.oauth_grants import consent_store
from openami.web.app import create_app

REDIRECT = "http://127.0.0.1:9/callback"  # never contacted: redirects are not followed


@dataclass
class Setup:
    world: World
    tp: tuple[str, str]  # third party client id, secret
    other_tp: tuple[str, str]
    customer: tuple[str, str]  # customer id, password
    customer_points: list[str]  # supply points the customer holds
    foreign_point: str  # a point the customer does not hold
    http: httpx.Client = None  # type: ignore[assignment]  # set once served


def make_setup(tmp: Path) -> Setup:
    world = build_world(tmp, meters=12, rate_limits=None)
    ctx = world.context
    tp = ("tp-energy-app", secrets.token_urlsafe(24))
    other = ("tp-other-app", secrets.token_urlsafe(24))
    register_third_party(ctx, *tp, "ENERGY-APP", [REDIRECT])
    register_third_party(ctx, *other, "OTHER-APP", [REDIRECT])
    customer = ("customer-0001", secrets.token_urlsafe(16))  # generated, never hard-coded
    keys = world.city.supply_point_keys
    consent_store(ctx).add_customer(customer[0], customer[1], [keys[1], keys[2]])
    consent_store(ctx).add_customer("customer-0002", secrets.token_urlsafe(16), [keys[3]])
    ids = world.city.supply_point_ids
    return Setup(world, tp, other, customer, [ids[1], ids[2]], ids[3])


@contextmanager
def served(tmp: Path) -> Iterator[Setup]:
    s = make_setup(tmp)
    with serve(create_app(s.world.context)) as base, httpx.Client(base_url=base) as http:
        s.http = http
        yield s


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with served(Path(tmp_path_factory.mktemp("oauth"))) as s:
        yield s


# -- helpers ---------------------------------------------------------------------------------
def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge), computed here independently of the server's library."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def cc_token(http: httpx.Client, client: tuple[str, str]) -> str:
    resp = http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=client)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def request_consent(http: httpx.Client, client: tuple[str, str], **fields: object) -> dict:
    body = {
        "data_kinds": ["half_hour", "daily", "monthly", "register_reads"],
        "period_from": DAY1.isoformat(),
        "period_to": DAY2.isoformat(),
        "purpose": "home energy advice",
        **fields,
    }
    resp = http.post("/v1/consents", json=body, headers=bearer(cc_token(http, client)))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def auth_params(consent_id: str, client_id: str, challenge: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "consent_id": consent_id,
        **extra,
    }


def approve(
    http: httpx.Client, params: dict[str, str], customer: tuple[str, str], decision: str = "approve"
) -> httpx.Response:
    form = {**params, "customer_id": customer[0], "password": customer[1], "decision": decision}
    return http.post("/oauth/authorize", data=form)


def redirect_params(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 303, resp.text
    location = resp.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(
    http: httpx.Client, client: tuple[str, str], code: str, verifier: str, redirect: str = REDIRECT
) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect,
        "code_verifier": verifier,
    }
    return http.post("/oauth/token", data=data, auth=client)


def refresh(http: httpx.Client, client: tuple[str, str], token: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return http.post("/oauth/token", data=data, auth=client)


def consented(s: Setup, **fields: object) -> tuple[dict, dict]:
    """Run the whole flow; returns (consent as requested, token response)."""
    consent = request_consent(s.http, s.tp, **fields)
    verifier, challenge = pkce()
    params = auth_params(consent["consent_id"], s.tp[0], challenge)
    code = redirect_params(approve(s.http, params, s.customer))["code"]
    resp = exchange(s.http, s.tp, code, verifier)
    assert resp.status_code == 200, resp.text
    return consent, dict(resp.json())


def intervals(http: httpx.Client, token: str, sp: str) -> httpx.Response:
    return http.get(
        f"/v1/supply-points/{sp}/intervals",
        params={"from": DAY1.isoformat(), "to": DAY2.isoformat()},
        headers=bearer(token),
    )


# -- tests -----------------------------------------------------------------------------------
def test_full_flow_pkce_s256(setup: Setup) -> None:
    s, http = setup, setup.http
    consent = request_consent(http, s.tp, purpose="見える化 (visualisation)")
    assert consent["status"] == "requested"
    verifier, challenge = pkce()
    params = auth_params(consent["consent_id"], s.tp[0], challenge)
    screen = http.get("/oauth/authorize", params=params)
    assert screen.status_code == 200 and "text/html" in screen.headers["content-type"]
    assert "見える化 (visualisation)" in screen.text and "ENERGY-APP" in screen.text
    assert screen.headers["x-frame-options"] == "DENY"
    assert s.customer[1] not in screen.text

    back = redirect_params(approve(http, params, s.customer))
    assert back["state"] == "st-123" and len(back["code"]) >= 40
    resp = exchange(http, s.tp, back["code"], verifier)
    assert resp.status_code == 200, resp.text
    tok = resp.json()
    assert tok["token_type"] == "Bearer" and 0 < tok["expires_in"] <= 600
    assert tok["consent_id"] == consent["consent_id"]
    assert set(tok["scope"].split()) == {"half_hour", "daily", "monthly", "register_reads"}
    assert resp.headers["cache-control"] == "no-store"

    status = http.get(
        f"/v1/consents/{consent['consent_id']}", headers=bearer(cc_token(http, s.tp))
    ).json()
    assert status["status"] == "active" and status["customer_id"] == s.customer[0]
    assert sorted(status["supply_point_ids"]) == sorted(s.customer_points)

    data = intervals(http, tok["access_token"], s.customer_points[0])
    assert data.status_code == 200, data.text
    assert len(data.json()["items"]) == 96


def test_wrong_verifier_refused_and_code_is_burnt(setup: Setup) -> None:
    s, http = setup, setup.http
    consent = request_consent(http, s.tp)
    verifier, challenge = pkce()
    params = auth_params(consent["consent_id"], s.tp[0], challenge)
    code = redirect_params(approve(http, params, s.customer))["code"]
    wrong = exchange(http, s.tp, code, pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # the code was taken by the failed attempt: the right verifier no longer helps
    late = exchange(http, s.tp, code, verifier)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


def test_code_is_single_use_and_bound(setup: Setup) -> None:
    s, http = setup, setup.http
    consent = request_consent(http, s.tp)
    verifier, challenge = pkce()
    params = auth_params(consent["consent_id"], s.tp[0], challenge)
    code = redirect_params(approve(http, params, s.customer))["code"]
    assert exchange(http, s.other_tp, code, verifier).json()["error"] == "invalid_grant"
    # another client's attempt burnt it too; a fresh code works exactly once
    consent = request_consent(http, s.tp)
    params = auth_params(consent["consent_id"], s.tp[0], challenge)
    code = redirect_params(approve(http, params, s.customer))["code"]
    assert exchange(http, s.tp, code, verifier, redirect=REDIRECT + "x").status_code == 400
    consent = request_consent(http, s.tp)
    params = auth_params(consent["consent_id"], s.tp[0], challenge)
    code = redirect_params(approve(http, params, s.customer))["code"]
    assert exchange(http, s.tp, code, verifier).status_code == 200
    again = exchange(http, s.tp, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_refresh_rotates_and_reuse_revokes_the_family(setup: Setup) -> None:
    s, http = setup, setup.http
    _, first = consented(s)
    second = refresh(http, s.tp, first["refresh_token"])
    assert second.status_code == 200, second.text
    new = second.json()
    assert new["refresh_token"] != first["refresh_token"]
    assert new["access_token"] != first["access_token"]
    # the old pair is retired by the rotation
    assert intervals(http, first["access_token"], s.customer_points[0]).status_code == 401
    assert intervals(http, new["access_token"], s.customer_points[0]).status_code == 200
    # replaying the rotated-out refresh token fails and revokes its successors
    replay = refresh(http, s.tp, first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert intervals(http, new["access_token"], s.customer_points[0]).status_code == 401
    assert refresh(http, s.tp, new["refresh_token"]).status_code == 400


def test_revoked_tokens_are_refused(setup: Setup) -> None:
    s, http = setup, setup.http
    _, tok = consented(s)
    sp = s.customer_points[0]
    assert intervals(http, tok["access_token"], sp).status_code == 200
    # another client cannot revoke it (RFC 7009 still answers 200)
    assert (
        http.post("/oauth/revoke", data={"token": tok["access_token"]}, auth=s.other_tp).status_code
        == 200
    )
    assert intervals(http, tok["access_token"], sp).status_code == 200
    assert (
        http.post("/oauth/revoke", data={"token": tok["access_token"]}, auth=s.tp).status_code
        == 200
    )
    gone = intervals(http, tok["access_token"], sp)
    assert gone.status_code == 401 and gone.json()["code"] == "invalid_token"
    # the pair is revoked: its refresh token is dead too
    assert refresh(http, s.tp, tok["refresh_token"]).json()["error"] == "invalid_grant"
    assert (
        http.post("/oauth/revoke", data={"token": "x"}, auth=("nobody", "nothing")).status_code
        == 401
    )


def test_retailer_client_credentials_token_can_be_revoked(setup: Setup) -> None:
    s, http = setup, setup.http
    retailer = s.world.secrets[s.world.switch_from]
    tok = cc_token(http, retailer)
    url = f"/v1/supply-points/{s.world.switched_sp}/half-hour-values?date={DAY1}"
    assert http.get(url, headers=bearer(tok)).status_code == 200
    assert http.post("/oauth/revoke", data={"token": tok}, auth=retailer).status_code == 200
    assert http.get(url, headers=bearer(tok)).status_code == 401


def test_access_tokens_are_short_lived(setup: Setup) -> None:
    s, http = setup, setup.http
    _, tok = consented(s)
    s.world.clock.advance(601)
    assert intervals(http, tok["access_token"], s.customer_points[0]).status_code == 401
    fresh = refresh(http, s.tp, tok["refresh_token"]).json()
    assert intervals(http, fresh["access_token"], s.customer_points[0]).status_code == 200


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"consent_id": "no-such-consent"}, "invalid_request"),
    ],
)
def test_bad_authorization_requests_redirect_with_error(
    setup: Setup, change: dict[str, str], error: str
) -> None:
    s, http = setup, setup.http
    consent = request_consent(http, s.tp)
    params = {**auth_params(consent["consent_id"], s.tp[0], pkce()[1]), **change}
    resp = http.get("/oauth/authorize", params=params)
    back = redirect_params(resp)
    assert back["error"] == error and back["state"] == "st-123"


def test_unknown_client_or_redirect_is_not_redirected_to(setup: Setup) -> None:
    s, http = setup, setup.http
    consent = request_consent(http, s.tp)
    params = auth_params(consent["consent_id"], s.tp[0], pkce()[1])
    for change in ({"redirect_uri": "https://evil.example/cb"}, {"client_id": "nobody"}):
        resp = http.get("/oauth/authorize", params={**params, **change})
        assert resp.status_code == 400 and "location" not in resp.headers
        assert "redirect URI" in resp.text
    # another third party cannot take this consent to its own screen
    other = auth_params(consent["consent_id"], s.other_tp[0], pkce()[1])
    assert redirect_params(http.get("/oauth/authorize", params=other))["error"] == "invalid_request"


def test_wrong_password_and_denial(setup: Setup) -> None:
    s, http = setup, setup.http
    consent = request_consent(http, s.tp)
    params = auth_params(consent["consent_id"], s.tp[0], pkce()[1])
    bad = approve(http, params, (s.customer[0], "wrong-password-123"))
    assert bad.status_code == 401 and "Wrong customer id or password" in bad.text
    assert approve(http, params, s.customer, decision="maybe").status_code == 400
    denied = redirect_params(approve(http, params, s.customer, decision="deny"))
    assert denied["error"] == "access_denied" and "code" not in denied
    status = http.get(
        f"/v1/consents/{consent['consent_id']}", headers=bearer(cc_token(http, s.tp))
    ).json()
    assert status["status"] == "denied"
    # decided: the screen no longer accepts it
    assert redirect_params(approve(http, params, s.customer))["error"] == "invalid_request"


@pytest.mark.parametrize("which", ["held by another customer", "unknown"])
def test_customer_must_hold_the_requested_points(setup: Setup, which: str) -> None:
    s, http = setup, setup.http
    sp = s.foreign_point if which != "unknown" else "0300000000000000009999"
    # the request itself does not tell the third party whether the ID exists
    consent = request_consent(http, s.tp, supply_point_ids=[s.customer_points[0], sp])
    assert consent["supply_point_ids"] == [s.customer_points[0], sp]
    params = auth_params(consent["consent_id"], s.tp[0], pkce()[1])
    resp = approve(http, params, s.customer)
    assert resp.status_code == 403 and "location" not in resp.headers
    assert "do not hold" in resp.text
    status = http.get(
        f"/v1/consents/{consent['consent_id']}", headers=bearer(cc_token(http, s.tp))
    ).json()
    assert status["status"] == "requested"


def test_approval_grants_exactly_the_requested_points(setup: Setup) -> None:
    s = setup
    consent, tok = consented(s, supply_point_ids=[s.customer_points[1]])
    status = s.http.get(
        f"/v1/consents/{consent['consent_id']}", headers=bearer(cc_token(s.http, s.tp))
    ).json()
    assert status["status"] == "active" and status["supply_point_ids"] == [s.customer_points[1]]
    assert intervals(s.http, tok["access_token"], s.customer_points[1]).status_code == 200
    assert intervals(s.http, tok["access_token"], s.customer_points[0]).status_code == 403


def test_retailers_cannot_use_the_code_grant(setup: Setup) -> None:
    s, http = setup, setup.http
    retailer = s.world.secrets[s.world.switch_from]
    resp = exchange(http, retailer, "whatever-code", pkce()[0])
    assert resp.status_code == 400 and resp.json()["error"] == "unauthorized_client"
    resp = exchange(http, (s.tp[0], "wrong-secret-xxxxxxxx"), "whatever-code", pkce()[0])
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


def test_consent_screen_escapes_what_the_third_party_sends(setup: Setup) -> None:
    s, http = setup, setup.http
    evil = '"><script>alert(1)</script>'
    consent = request_consent(http, s.tp, purpose=evil)
    params = auth_params(consent["consent_id"], s.tp[0], pkce()[1], state=evil)
    screen = http.get("/oauth/authorize", params=params)
    assert screen.status_code == 200
    assert evil not in screen.text and "&lt;script&gt;" in screen.text
    assert "frame-ancestors 'none'" in screen.headers["content-security-policy"]
    # the state comes back unchanged (URL-encoded) after approval
    assert redirect_params(approve(http, params, s.customer))["state"] == evil
