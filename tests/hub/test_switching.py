"""Issue #15 §1 at the hub: no switch without the customer (authorisation, objection window,
effective date after the window, no reading before the supply began); no mass disconnect
(notice, caps that hold, four-eyes approval, emergency stop, alerts); commands signed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from tests.hub.test_requests import DAY1, DAY4, Rig, authorise, make_rig, post

from openami.clock import jst_day_start_s
from openami.hes.switch_guard import SwitchGuard
from openami.hub.requests import request_service
from openami.hub.switching import Rejected, switching_control
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.command_signing import CommandSigner
from openami.storage.repositories.hes_guard import HesGuardStore


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """The request rig with a signing hub and a guarded HES, as ``openami serve`` wires it."""
    for r in make_rig(tmp_path):
        signer = CommandSigner(bytes(range(1, 33)))
        r.context.command_signer = signer
        database = r.context.clients.database
        r.sim.hes.guard = SwitchGuard(HesGuardStore(database), signer.verifier(), 12)
        r.context.services.pop("switching", None)
        yield r


def owned(rig: Rig, pos: int) -> tuple[str, str, str]:
    sp, key = rig.city.supply_point_ids[pos], rig.city.supply_point_keys[pos]
    owner = rig.registry.retailer_on(key, DAY1)
    assert owner is not None
    other = next(r for r in rig.secrets if r != owner)
    return sp, owner, other


def test_switch_without_customer_authorisation_is_refused(rig: Rig) -> None:
    sp, owner, other = owned(rig, 1)
    for extra in ({}, {"authorisation_id": "sa-made-up"}):
        resp = post(
            rig,
            other,
            kind="switch_start",
            supply_point_id=sp,
            effective_date="2026-11-05",
            **extra,
        )
        assert (resp.status_code, resp.json()["code"]) == (403, "E_NO_AUTHORISATION")
    # an authorisation for another retailer, point or day does not fit either
    third = next((r for r in rig.secrets if r not in (owner, other)), owner)
    wrong = authorise(rig, 1, third, date(2026, 11, 5))
    resp = post(
        rig,
        other,
        kind="switch_start",
        supply_point_id=sp,
        effective_date="2026-11-05",
        authorisation_id=wrong,
    )
    assert resp.json()["code"] == "E_NO_AUTHORISATION"
    # a customer cannot authorise a point that is not theirs
    store_resp = rig.http.post(
        "/v1/customer/switch-authorisations",
        json={
            "retailer_id": other,
            "supply_point_id": rig.city.supply_point_ids[2],
            "effective_date": "2026-11-05",
        },
        auth=("cust-1", "customer-password-1"),
        headers={"X-Requested-With": "tests"},
    )
    assert store_resp.status_code == 403 and store_resp.json()["code"] == "E_NOT_CUSTOMERS_POINT"
    assert rig.registry.retailer_on(rig.city.supply_point_keys[1], date(2026, 11, 9)) == owner


def test_switch_effective_today_or_inside_objection_window_is_refused(rig: Rig) -> None:
    sp, _, other = owned(rig, 1)
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):  # filed 11-01 10:00, window 2 days
        resp = post(
            rig,
            other,
            kind="switch_start",
            supply_point_id=sp,
            effective_date=day,
            authorisation_id="sa-x",
        )
        assert (resp.status_code, resp.json()["code"]) == (422, "E_EFFECTIVE_TOO_SOON"), day


def test_losing_retailer_is_notified_and_objects(rig: Rig) -> None:
    import json

    from openami.hub.webhooks import webhook_service

    sp, owner, other = owned(rig, 1)
    hooks = webhook_service(rig.context)
    hooks.subscribe(
        ApiClient(f"c-{owner}", "retailer", owner),
        "http://127.0.0.1:9/hook",
        "a-long-enough-secret",
    )
    auth = authorise(rig, 1, other, DAY4)
    sw = post(
        rig,
        other,
        kind="switch_start",
        supply_point_id=sp,
        effective_date="2026-11-04",
        authorisation_id=auth,
    )
    assert sw.status_code == 201, sw.text
    rid = sw.json()["request_id"]
    bodies = [json.loads(d.body) for d in hooks.store.due(1e12, 100)]
    notice = [b for b in bodies if b.get("event") == "switch.pending"]
    assert len(notice) == 1 and notice[0]["request_id"] == rid
    assert sp not in json.dumps(notice[0])  # no supply point id in the body
    # the authorisation is used up
    again = post(
        rig,
        other,
        kind="switch_start",
        supply_point_id=sp,
        effective_date="2026-11-04",
        authorisation_id=auth,
    )
    assert again.json()["code"] in ("E_NO_AUTHORISATION", "E_CONFLICTING_REQUEST")
    # the losing retailer sees the request and objects; a bystander cannot
    seen = rig.http.get(f"/v1/retailer-requests/{rid}", headers=rig.token(owner))
    assert seen.status_code == 200
    nosy = rig.http.post(
        f"/v1/retailer-requests/{rid}/object", json={"reason": "x"}, headers=rig.token(other)
    )
    assert nosy.status_code == 404
    obj = rig.http.post(
        f"/v1/retailer-requests/{rid}/object",
        json={"reason": "the customer has a fixed-term contract"},
        headers=rig.token(owner),
    )
    assert obj.status_code == 200, obj.text
    assert (obj.json()["status"], obj.json()["error_code"]) == ("rejected", "E_OBJECTED")
    assert rig.registry.retailer_on(rig.city.supply_point_keys[1], DAY4) == owner


def test_objection_window_closes(rig: Rig) -> None:
    sp, owner, other = owned(rig, 1)
    auth = authorise(rig, 1, other, DAY4)
    rid = post(
        rig,
        other,
        kind="switch_start",
        supply_point_id=sp,
        effective_date="2026-11-04",
        authorisation_id=auth,
    ).json()["request_id"]
    rig.context.clock.advance(timedelta(days=2, seconds=1))  # type: ignore[attr-defined]
    late = rig.http.post(
        f"/v1/retailer-requests/{rid}/object", json={"reason": "late"}, headers=rig.token(owner)
    )
    assert late.status_code == 409 and late.json()["code"] == "E_OBJECTION_CLOSED"


def test_gaining_retailer_reads_nothing_before_its_supply_began(rig: Rig) -> None:
    sp, _, other = owned(rig, 1)
    auth = authorise(rig, 1, other, DAY4)
    assert (
        post(
            rig,
            other,
            kind="switch_start",
            supply_point_id=sp,
            effective_date="2026-11-04",
            authorisation_id=auth,
        ).status_code
        == 201
    )
    rig.sim.run_until(jst_day_start_s(DAY4) + 3 * 3600)
    before = rig.http.get(
        f"/v1/supply-points/{sp}/intervals",
        params={"from": "2026-11-01", "to": "2026-11-03"},
        headers=rig.token(other),
    )
    assert before.status_code == 403
    cut = rig.http.get(
        f"/v1/supply-points/{sp}/intervals",
        params={"from": "2026-11-01", "to": "2026-11-05"},
        headers=rig.token(other),
    )
    assert cut.status_code == 200
    assert all(i["slot_start"] >= "2026-11-04" for i in cut.json()["items"])


def test_disconnect_needs_notice(rig: Rig) -> None:
    sp, owner, _ = owned(rig, 3)
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        resp = post(rig, owner, kind="disconnect", supply_point_id=sp, effective_date=day)
        assert (resp.status_code, resp.json()["code"]) == (422, "E_NOTICE_TOO_SHORT"), day
    # an ampere change still takes effect today
    amps = 60 if rig.city.fleet.contract_amperage_a[3] != 60 else 40
    ok = post(
        rig,
        owner,
        kind="ampere_change",
        supply_point_id=sp,
        effective_date="2026-11-01",
        amperage_a=amps,
    )
    assert ok.status_code == 201


def _mass_disconnect(rig: Rig) -> tuple[str, list[str]]:
    counts: dict[str, list[int]] = {}
    for pos, key in enumerate(rig.city.supply_point_keys):
        owner = rig.registry.retailer_on(key, DAY1)
        if owner:
            counts.setdefault(owner, []).append(pos)
    retailer, mine = max(counts.items(), key=lambda kv: len(kv[1]))
    assert len(mine) >= 4, counts
    ids = []
    for pos in mine:
        resp = post(
            rig,
            retailer,
            kind="disconnect",
            supply_point_id=rig.city.supply_point_ids[pos],
            effective_date="2026-11-04",
        )
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["request_id"])
    return retailer, ids


def test_mass_disconnect_is_held_over_the_cap_with_an_alert(rig: Rig) -> None:
    _, ids = _mass_disconnect(rig)
    service = request_service(rig.context)
    now = jst_day_start_s(DAY4) + 60
    service.tick(now)
    status = [service.store.request(r).status for r in ids]  # type: ignore[union-attr]
    assert status.count("scheduled") == 3  # the per-retailer floor of the default cap
    assert status.count("held") == len(ids) - 3
    control = switching_control(rig.context)
    assert control.alerts_total() >= len(ids) - 3
    held = [r for r, _ in control.held()]
    assert {r.request_id for r in held} == {
        r for r, s in zip(ids, status, strict=True) if s == "held"
    }
    # held requests are not sent by later rounds either
    service.tick(now + 60)
    assert [service.store.request(r).status for r in ids].count("scheduled") == 3  # type: ignore[union-attr]


def test_held_request_runs_after_two_different_approvers(rig: Rig) -> None:
    _, ids = _mass_disconnect(rig)
    service = request_service(rig.context)
    now = jst_day_start_s(DAY4) + 60
    rig.sim.run_until(now)
    service.tick(now)
    held = next(r for r in ids if service.store.request(r).status == "held")  # type: ignore[union-attr]
    control = switching_control(rig.context)
    with pytest.raises(Rejected) as exc:
        control.approve(held, "vic", "viewer")
    assert exc.value.code == "E_NOT_APPROVER"
    with pytest.raises(Rejected) as exc:
        control.approve(held, "ops", "operator")
    assert exc.value.code == "E_NOT_APPROVER"
    assert control.approve(held, "ann", "approver").status == "held"
    with pytest.raises(Rejected) as exc:
        control.approve(held, "ann", "approver")  # the same person twice is not four eyes
    assert exc.value.code == "E_ALREADY_APPROVED"
    assert control.approve(held, "bob", "approver").status == "accepted"
    service.tick(now + 120)
    done = service.store.request(held)
    assert done is not None and done.status == "scheduled"
    # the HES admitted it over its caps because the approvals are signed into it
    assert rig.context.command_port.refusal(int(done.correlation_id or 0)) is None  # type: ignore[union-attr]


def test_operator_command_above_threshold_needs_another_approver(rig: Rig) -> None:
    control = switching_control(rig.context)
    service = request_service(rig.context)
    points = [rig.city.supply_point_ids[p] for p in (4, 5)]
    with pytest.raises(Rejected) as exc:
        control.operator_command("disconnect", points, "vic", "viewer", "test")
    assert exc.value.code == "E_NOT_OPERATOR"
    rows = control.operator_command("disconnect", points, "ann", "approver", "gas leak")
    assert {r.status for r in rows} == {"held"}
    now = rig.context.clock.timestamp()
    assert service.tick(now) == 0  # held: nothing is sent
    with pytest.raises(Rejected) as exc:
        control.approve(rows[0].request_id, "ann", "approver")  # not their own
    assert exc.value.code == "E_OWN_REQUEST"
    assert control.approve(rows[0].request_id, "bob", "approver").status == "accepted"
    assert service.tick(now + 60) == 1
    single = control.operator_command(
        "reconnect", [rig.city.supply_point_ids[6]], "ann", "operator", "one meter"
    )
    assert single[0].status == "accepted"  # at the threshold: no second person needed


def test_halt_stops_all_remote_switching_until_resume(rig: Rig) -> None:
    sp, owner, _ = owned(rig, 3)
    rid = post(
        rig, owner, kind="disconnect", supply_point_id=sp, effective_date="2026-11-04"
    ).json()["request_id"]
    control = switching_control(rig.context)
    with pytest.raises(Rejected):
        control.halt("vic", "viewer")
    control.halt("ops", "operator", "suspected attack")
    service = request_service(rig.context)
    now = jst_day_start_s(DAY4) + 60
    assert service.tick(now) == 0
    assert service.store.request(rid).status == "accepted"  # type: ignore[union-attr]
    assert len(rig.sim.hes.commands) == 0
    with pytest.raises(Rejected):
        control.resume("ops", "operator")  # resuming needs an approver
    control.resume("ann", "approver")
    assert service.tick(now + 60) == 1
    assert service.store.request(rid).status == "scheduled"  # type: ignore[union-attr]


def test_hub_signs_every_remote_switching_command(rig: Rig) -> None:
    sp, owner, _ = owned(rig, 3)
    rid = post(
        rig, owner, kind="disconnect", supply_point_id=sp, effective_date="2026-11-04"
    ).json()["request_id"]
    rig.context.command_signer = None  # a hub that does not sign: the HES refuses
    rig.context.services.pop("switching", None)
    service = request_service(rig.context)
    service.tick(jst_day_start_s(DAY4) + 60)
    row = service.store.request(rid)
    assert row is not None and (row.status, row.error_code) == ("failed", "E_COMMAND_REFUSED")
    assert "unsigned" in (row.error_message or "")


def test_customer_lists_and_revokes_an_authorisation(rig: Rig) -> None:
    sp, _, other = owned(rig, 1)
    auth = authorise(rig, 1, other, date(2026, 11, 5))
    login = ("cust-1", "customer-password-1")
    listed = rig.http.get("/v1/customer/switch-authorisations", auth=login).json()
    assert [(a["authorisation_id"], a["supply_point_id"]) for a in listed] == [(auth, sp)]
    url = f"/v1/customer/switch-authorisations/{auth}/revoke"
    xrw = {"X-Requested-With": "tests"}
    assert rig.http.post(url, auth=login).status_code == 403  # CSRF: no X-Requested-With
    assert rig.http.post(url, auth=login, headers=xrw).status_code == 204
    assert rig.http.post(url, auth=login, headers=xrw).status_code == 404  # once
    resp = post(
        rig,
        other,
        kind="switch_start",
        supply_point_id=sp,
        effective_date="2026-11-05",
        authorisation_id=auth,
    )
    assert (resp.status_code, resp.json()["code"]) == (403, "E_NO_AUTHORISATION")
    assert "revoked" in resp.json()["message"]
    # another customer cannot see or revoke it
    other_login = ("cust-9", "customer-password-9")
    from openami.hub.oauth_grants import consent_store

    consent_store(rig.context).add_customer(*other_login, [rig.city.supply_point_keys[9]])
    assert rig.http.get("/v1/customer/switch-authorisations", auth=other_login).json() == []


def test_another_site_cannot_authorise_a_switch_for_the_customer(rig: Rig) -> None:
    """CSRF: the customer's browser, logged in, sent by another site's page."""
    from openami.hub.oauth_grants import consent_store

    _, _, other = owned(rig, 1)
    consent_store(rig.context).add_customer(
        "cust-x", "customer-password-x", [rig.city.supply_point_keys[1]]
    )
    body = {
        "retailer_id": other,
        "supply_point_id": rig.city.supply_point_ids[1],
        "effective_date": "2026-11-05",
    }
    for headers in (
        {},
        {"Sec-Fetch-Site": "cross-site", "X-Requested-With": "x"},
        {"Origin": "https://evil.example", "X-Requested-With": "x"},
    ):
        resp = rig.http.post(
            "/v1/customer/switch-authorisations",
            json=body,
            auth=("cust-x", "customer-password-x"),
            headers=headers,
        )
        assert (resp.status_code, resp.json()["code"]) == (403, "csrf_refused"), headers
