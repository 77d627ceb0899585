"""``GET /v1/wheeling-charges``: a retailer sees its own lines only, others are refused,
bad periods and unknown tariffs have their error codes, reads are audit-logged."""

from __future__ import annotations

from datetime import date

from tests.hub.hubrig import SECRET, Rig, hub_rig
from tests.mdms.wheeling_world import flat, ingest_days

from openami.registry import BalancingGroup, Meter, Retailer, make_supply_point_id
from openami.storage.repositories.clients import ApiClient

SP = [make_supply_point_id("03", i) for i in (1, 2, 3)]


def _bearer(rig: Rig, client_id: str) -> dict[str, str]:
    resp = rig.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, SECRET)
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _world(rig: Rig, area: str = "03") -> None:
    """Points 1, 2 supplied by R001, point 3 by R002; a month of 100 Wh slots each."""
    registry = rig.context.registry
    ids = [make_supply_point_id(area, i) for i in (1, 2, 3)]
    keys = registry.add_supply_points(ids)
    registry.set_reading_days([(k, 1) for k in keys])
    registry.add_meters(
        [Meter(100 + k, "Toshiba", f"S{k}", 30, "mesh", None, date(2035, 1, 1)) for k in keys]
    )
    registry.install_meters([(k, 100 + k) for k in keys], 0.0)
    registry.add_balancing_groups([BalancingGroup("BG1", "g")])
    registry.add_retailers([Retailer("R001", "one", "BG1"), Retailer("R002", "two", "BG1")])
    owners = ["R001", "R001", "R002"]
    registry.add_supply_contracts(
        [(k, r, date(2026, 1, 1), None) for k, r in zip(keys, owners, strict=True)]
    )
    for k in keys:
        ingest_days(rig.context.mdms, 100 + k, date(2026, 9, 1), flat(30))


def test_a_retailer_sees_only_its_own_charges_and_reads_are_logged() -> None:
    with hub_rig() as rig:
        _world(rig)
        resp = rig.http.get(
            "/v1/wheeling-charges", params={"period": "2026-10"}, headers=_bearer(rig, "r1")
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["retailer_id"] == "R001" and body["lines"] == 2
        assert [i["supply_point_id"] for i in body["items"]] == SP[:2]
        assert body["total_yen"] == sum(i["total_yen"] for i in body["items"]) > 0
        assert body["items"][0]["kwh"] == 30 * 4.8
        other = rig.http.get(
            "/v1/wheeling-charges", params={"period": "2026-10"}, headers=_bearer(rig, "r2")
        ).json()
        assert [i["supply_point_id"] for i in other["items"]] == SP[2:]
        reads = [e for e in rig.audit_entries() if e.action == "read wheeling-charges"]
        assert sorted((e.actor, e.subject) for e in reads) == [
            ("r1", SP[0]),
            ("r1", SP[1]),
            ("r2", SP[2]),
        ]
        paged = rig.http.get(
            "/v1/wheeling-charges",
            params={"period": "2026-10", "limit": 1},
            headers=_bearer(rig, "r1"),
        ).json()
        assert len(paged["items"]) == 1 and paged["next"] and paged["lines"] == 2


def test_others_bad_periods_and_unknown_tariffs_are_refused() -> None:
    with hub_rig() as rig:
        _world(rig, area="02")  # Tohoku: no tariff
        rig.context.clients.register(ApiClient("tp", "third_party", "TP1"), SECRET)
        get = rig.http.get
        assert get("/v1/wheeling-charges", params={"period": "2026-10"}).status_code == 401
        resp = get("/v1/wheeling-charges", params={"period": "2026-10"}, headers=_bearer(rig, "tp"))
        assert resp.status_code == 403 and resp.json()["code"] == "E_RETAILER_ONLY"
        headers = _bearer(rig, "r1")
        for bad in ("2026-13", "10-2026", "2026-1"):
            resp = get("/v1/wheeling-charges", params={"period": bad}, headers=headers)
            assert resp.status_code == 422, bad
        resp = get("/v1/wheeling-charges", params={"period": "2026-10"}, headers=headers)
        assert resp.status_code == 404 and resp.json()["code"] == "E_UNKNOWN_TARIFF"
