"""``/v1/slo/delivery`` is fleet-wide, so it is the operator's (issue #15 §3): retailers and
third parties are refused, operator clients see every point."""

from __future__ import annotations

from tests.hub.hubrig import SECRET, hub_rig

from openami.storage.repositories.clients import ApiClient

PARAMS = {"first_day": "2026-11-01"}


def _bearer(http, client_id: str, secret: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    resp = http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_retailers_and_third_parties_do_not_see_fleet_figures() -> None:
    with hub_rig() as rig:
        rig.context.clients.register(ApiClient("tp", "third_party", "TP1"), SECRET)
        for client_id in ("r1", "tp"):
            resp = rig.http.get(
                "/v1/slo/delivery", params=PARAMS, headers=_bearer(rig.http, client_id, SECRET)
            )
            assert resp.status_code == 403 and resp.json()["code"] == "E_SLO_FLEET_ONLY"


def test_operator_clients_see_the_fleet() -> None:
    with hub_rig() as rig:
        rig.context.clients.register(ApiClient("ops", "operator", "OPS"), SECRET)
        resp = rig.http.get(
            "/v1/slo/delivery", params=PARAMS, headers=_bearer(rig.http, "ops", SECRET)
        )
    assert resp.status_code == 200 and len(resp.json()["slots"]) == 48
