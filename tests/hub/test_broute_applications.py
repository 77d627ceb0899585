"""The B-route service lifecycle over HTTP: application → issue → provisioning by a real HES
command to the simulated meter (read-back) → momonga joins the meter's virtual Wi-SUN
module with the issued pair; rotation, revocation, access rules, gating, rate limits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from momonga import Momonga
from tests.hub.broute_rig import BrouteRig, broute_rig

from openami.hems.skstack import JoinFailed, ScanFailed, SkstackTransport
from openami.hub.broute_applications import BrouteService, broute_service
from openami.hub.ratelimit import RateLimiter
from openami.hub.webhooks import webhook_service
from openami.registry.opening import AreaOpening, load_openings
from openami.storage.repositories.broute_apps import BrouteApplicationStore
from openami.storage.repositories.webhooks import WebhookStore

CUSTOMER_HEADERS = {"X-Requested-With": "tests"}
APPS = "/v1/broute-applications"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrouteRig]:
    with broute_rig(tmp_path_factory.mktemp("broute")) as made:
        yield made


def _client(path: str, rbid: str, password: str) -> Momonga:
    mo = Momonga(rbid, password, path, scan_retries=1, join_retries=1)
    mo.internal_xmit_interval = 0.05
    mo.recv_timeout = 1.0
    return mo


def _joins(rig: BrouteRig, pos: int, link: Path, rbid: str, password: str) -> bool:
    """Does a HEMS (momonga) join the meter at ``pos`` with this pair and read it?"""
    with rig.module(pos, link) as module, _client(module.path, rbid, password) as mo:
        return mo.get_instantaneous_power() is not None


def _refused(rig: BrouteRig, pos: int, link: Path, rbid: str, password: str) -> bool:
    """Is the pair refused (no PAN found for the ID, or PANA fails)? The project's HEMS
    client, which gives up at once (momonga retries with pauses)."""
    with rig.module(pos, link) as module:
        hems = SkstackTransport(
            module.path, rbid, password, scan_durations=(3,), join_retries=1, drain_s=0.05
        )
        try:
            hems.open()
        except (ScanFailed, JoinFailed):
            return True
        hems.close()
        return False


def _apply_as_customer(rig: BrouteRig, pos: int) -> dict[str, object]:
    resp = rig.http.post(
        APPS,
        json={"supply_point_id": rig.city.supply_point_ids[pos]},
        auth=rig.customer(pos),
        headers=CUSTOMER_HEADERS,
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def _credentials(rig: BrouteRig, pos: int, app_id: str) -> dict[str, object]:
    resp = rig.http.post(
        f"{APPS}/{app_id}/credentials", auth=rig.customer(pos), headers=CUSTOMER_HEADERS
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    return dict(resp.json())


def test_retailer_application_is_provisioned_and_the_hems_joins(
    rig: BrouteRig, tmp_path: Path
) -> None:
    pos = 1
    owner = rig.owner(pos)
    client = rig.context.clients.get(rig.secrets[owner][0])
    assert client is not None
    sub = WebhookStore(rig.database)
    subscription = webhook_service(rig.context).subscribe(
        client,
        "http://127.0.0.1:9/hook",
        "a-webhook-secret-for-tests",  # never delivered
    )
    resp = rig.http.post(
        APPS, json={"supply_point_id": rig.city.supply_point_ids[pos]}, headers=rig.token(owner)
    )
    assert resp.status_code == 201, resp.text
    app = resp.json()
    assert app["status"] == "issued" and app["credential_version"] == 1
    assert app["broute_id"] is None  # the retailer never sees the pair
    assert rig.city.fleet.broute.of(pos) is None
    rig.run_for(1800)
    got = rig.http.get(f"{APPS}/{app['application_id']}", headers=rig.token(owner)).json()
    assert got["status"] == "notified" and got["provisioned_at"] and got["notified_at"]
    # the customer sees the pair once
    creds = _credentials(rig, pos, app["application_id"])
    rbid, password = str(creds["broute_id"]), str(creds["password"])
    assert re.fullmatch(r"[0-9A-F]{32}", rbid) and len(password) == 12
    again = rig.http.post(
        f"{APPS}/{app['application_id']}/credentials",
        auth=rig.customer(pos),
        headers=CUSTOMER_HEADERS,
    )
    assert again.status_code == 409 and again.json()["code"] == "E_ALREADY_SHOWN"
    # the meter holds exactly that pair, and so does the provisioning the emulators read
    held = rig.city.fleet.broute.of(pos)
    assert held is not None and (held.rbid, held.password) == (rbid, password)
    stored = BrouteApplicationStore(rig.database).meter_credentials(
        int(rig.city.fleet.meter_ids[pos])
    )
    assert stored == held
    # sealed at rest, absent from the audit log and from the retailer's webhook
    raw = (Path(str(rig.database.path))).read_bytes()
    assert password.encode() not in raw
    entries = [e for e in rig.context.audit.entries() if e.kind == "broute"]  # type: ignore[union-attr]
    assert {"broute applied", "broute issued", "broute provisioned", "broute notified"} <= {
        e.action for e in entries
    }
    assert all(password not in json.dumps(e.detail) for e in entries)
    bodies = [json.loads(d.body) for d in sub.deliveries(subscription.subscription_id)]
    bodies = [b for b in bodies if b.get("event", "").startswith("broute.")]
    assert [(b["event"], b["application_id"]) for b in bodies] == [
        ("broute.provisioned", app["application_id"])
    ]
    assert password not in json.dumps(bodies) and rbid not in json.dumps(bodies)
    # a HEMS joins with the issued pair and reads the meter; a wrong password is refused
    assert _joins(rig, pos, tmp_path / "wisun", rbid, password)
    assert _refused(rig, pos, tmp_path / "wisun", rbid, "WRONGPASS123")


def test_rotation_then_revocation(rig: BrouteRig, tmp_path: Path) -> None:
    pos = 2
    app = _apply_as_customer(rig, pos)
    assert app["broute_id"] and app["status"] == "issued"
    rig.run_for(1800)
    first = _credentials(rig, pos, str(app["application_id"]))
    path = f"{APPS}/{app['application_id']}"
    resp = rig.http.post(f"{path}/rotate", auth=rig.customer(pos), headers=CUSTOMER_HEADERS)
    assert resp.status_code == 200, resp.text
    assert resp.json()["credential_version"] == 2 and resp.json()["status"] == "issued"
    rig.run_for(1800)
    assert rig.http.get(path, auth=rig.customer(pos)).json()["status"] == "notified"
    second = _credentials(rig, pos, str(app["application_id"]))
    assert (second["broute_id"], second["password"]) != (first["broute_id"], first["password"])
    link = tmp_path / "wisun"
    assert _refused(rig, pos, link, str(first["broute_id"]), str(first["password"]))
    assert _joins(rig, pos, link, str(second["broute_id"]), str(second["password"]))
    # revocation: the meter forgets the pair, the old password fails
    resp = rig.http.post(f"{path}/revoke", auth=rig.customer(pos), headers=CUSTOMER_HEADERS)
    assert resp.status_code == 200 and resp.json()["status"] == "revoked"
    rig.run_for(1800)
    assert rig.city.fleet.broute.of(pos) is None
    meter_id = int(rig.city.fleet.meter_ids[pos])
    assert BrouteApplicationStore(rig.database).meter_credentials(meter_id) is None
    assert _refused(rig, pos, link, str(second["broute_id"]), str(second["password"]))
    twice = rig.http.post(f"{path}/revoke", auth=rig.customer(pos), headers=CUSTOMER_HEADERS)
    assert twice.status_code == 409 and twice.json()["code"] == "E_NOT_LIVE"
    # the point may be applied for again
    assert _apply_as_customer(rig, pos)["credential_version"] == 1


def test_access_rules(rig: BrouteRig) -> None:
    pos = 3
    sp = rig.city.supply_point_ids[pos]
    other = rig.other_retailer(pos)

    def code(resp: object) -> tuple[int, str]:
        r = resp  # httpx.Response
        return r.status_code, r.json()["code"]  # type: ignore[attr-defined]

    body = {"supply_point_id": sp}
    assert code(rig.http.post(APPS, json=body, headers=rig.token(other))) == (
        404,
        "E_UNKNOWN_SUPPLY_POINT",
    )
    assert code(rig.http.post(APPS, json=body, headers=rig.token("MO")))[0] == 403
    assert rig.http.post(APPS, json=body).status_code == 401
    bad = rig.http.post(APPS, json={"supply_point_id": "12"}, headers=rig.token(other))
    assert bad.status_code == 422
    area_00 = {"supply_point_id": "0" * 22}  # the shape of an ID, but no such area (fuzz)
    assert code(rig.http.post(APPS, json=area_00, headers=rig.token(other))) == (
        422,
        "E_INVALID_SUPPLY_POINT_ID",
    )
    # a customer applies only for a point they hold, and only with the CSRF header
    stranger = rig.customer(4)
    assert code(rig.http.post(APPS, json=body, auth=stranger, headers=CUSTOMER_HEADERS)) == (
        404,
        "E_UNKNOWN_SUPPLY_POINT",
    )
    assert code(rig.http.post(APPS, json=body, auth=rig.customer(pos)))[0] == 403
    made = rig.http.post(APPS, json=body, headers=rig.token(rig.owner(pos))).json()
    dup = rig.http.post(APPS, json=body, headers=rig.token(rig.owner(pos)))
    assert code(dup) == (409, "E_ALREADY_APPLIED")
    app_path = f"{APPS}/{made['application_id']}"
    assert code(rig.http.get(app_path, headers=rig.token(other))) == (
        404,
        "E_UNKNOWN_APPLICATION",
    )
    assert code(rig.http.get(app_path, auth=stranger))[0] == 404
    assert made["broute_id"] is None  # the retailer's view; the customer sees the ID
    seen = rig.http.get(app_path, auth=rig.customer(pos)).json()["broute_id"]
    assert re.fullmatch(r"[0-9A-F]{32}", seen)
    creds = rig.http.post(f"{app_path}/credentials", headers=rig.token(rig.owner(pos)))
    assert code(creds) == (403, "E_CUSTOMERS_ONLY")
    early = rig.http.post(
        f"{app_path}/credentials", auth=rig.customer(pos), headers=CUSTOMER_HEADERS
    )
    assert code(early) == (409, "E_NOT_PROVISIONED")
    assert rig.http.get(f"{APPS}/not-an-id!", headers=rig.token(other)).status_code == 422


def test_gating_by_the_areas_service_start(rig: BrouteRig) -> None:
    pos = 5
    sp = rig.city.supply_point_ids[pos]
    seeded = load_openings(route="broute")
    assert seeded["01"].full_area.isoformat() == "2016-03-01"  # the seed's Hokkaido
    later = dict(seeded)
    area = sp[:2]
    later[area] = AreaOpening(
        area, seeded[area].utility_en, None, seeded[area].full_area.replace(year=2030)
    )
    rig.context.services["broute"] = BrouteService(rig.context, later)
    try:
        resp = rig.http.post(APPS, json={"supply_point_id": sp}, headers=rig.token(rig.owner(pos)))
        assert resp.status_code == 409
        detail = resp.json()
        assert detail["code"] == "E_BROUTE_NOT_OPEN" and "2030" in detail["message"]
    finally:
        rig.context.services.pop("broute")
    resp = rig.http.post(APPS, json={"supply_point_id": sp}, headers=rig.token(rig.owner(pos)))
    assert resp.status_code == 201, resp.text
    assert broute_service(rig.context).store.get(resp.json()["application_id"]) is not None


def test_application_writes_are_rate_limited(rig: BrouteRig) -> None:
    pos = 6
    rig.context.rate_limits = RateLimiter(anonymous_burst=1000)
    try:
        headers = rig.token(rig.owner(pos))
        body = {"supply_point_id": rig.city.supply_point_ids[pos]}
        statuses = [rig.http.post(APPS, json=body, headers=headers).status_code for _ in range(7)]
    finally:
        rig.context.rate_limits = None
        rig.context.services.pop("broute-writes", None)
    assert statuses[0] == 201 and set(statuses[1:5]) == {409}
    assert statuses[5:] == [429, 429]
