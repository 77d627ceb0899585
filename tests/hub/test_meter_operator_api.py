"""``POST /v1/meter-operator/readings`` over real HTTP: a type (i) meter operator submits
half-hour register reads (JSON or CSV) that enter the MDMS as A-route reads do; rows of
another operator's meter, late, future, malformed or falling reads are refused one by one
with their codes, and nothing of a refused row is stored."""

from __future__ import annotations

import json
from datetime import date, datetime

import httpx
from tests.hub.hubrig import SECRET, Rig, hub_rig

from openami.bus.messages import ReadSource
from openami.clock import JST, day_first_slot
from openami.hub.third_party_services import third_party_meters
from openami.registry import Meter, make_supply_point_id
from openami.storage.repositories.clients import ApiClient

DAY = date(2026, 11, 1)  # the rig's clock starts on 2026-11-01 00:00 JST
URL = "/v1/meter-operator/readings"
SP = [make_supply_point_id("03", i) for i in (1, 2, 3)]


def bearer(http: httpx.Client, client_id: str) -> dict[str, str]:
    resp = http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, SECRET)
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def setup(rig: Rig) -> list[int]:
    """SP1: operator MO1's meter 10; SP2: MO2's meter 11; SP3: the utility's meter 12."""
    registry = rig.context.registry
    keys = registry.add_supply_points(SP)
    registry.add_meters(
        [Meter(10 + i, "M", f"S{i}", 30, "cellular", None, date(2036, 1, 1)) for i in range(3)]
    )
    registry.install_meters([(k, 10 + i) for i, k in enumerate(keys)], 0.0)
    rig.context.mdms.refresh_registry()
    service = third_party_meters(rig.context)
    service.register_operator_meter(10, "MO1", date(2026, 1, 1))
    service.register_operator_meter(11, "MO2", date(2026, 1, 1))
    for cid, party in (("mo1", "MO1"), ("mo2", "MO2")):
        rig.context.clients.register(ApiClient(cid, "meter_operator", party), SECRET)
    return keys


def at(hh: int, mm: int) -> str:
    return datetime(2026, 11, 1, hh, mm, tzinfo=JST).isoformat()


def read(sp: str, when: str, wh: object) -> dict[str, object]:
    return {
        "supply_point_id": sp,
        "read_at": when,
        "import_register_wh": wh,
        "export_register_wh": 0,
    }


def post_json(rig: Rig, client: str, reads: list[dict[str, object]]) -> httpx.Response:
    headers = {**bearer(rig.http, client), "Content-Type": "application/json"}
    return rig.http.post(URL, content=json.dumps({"reads": reads}), headers=headers)


def test_reads_enter_the_mdms_and_bad_rows_are_named() -> None:
    with hub_rig() as rig:
        keys = setup(rig)
        rig.clock.set(datetime(2026, 11, 1, 2, 10, tzinfo=JST))
        reads = [
            read(SP[0], at(h, m), 1000 + 100 * k)
            for k, (h, m) in enumerate([(0, 0), (0, 30), (1, 0), (1, 30), (2, 0)])
        ]
        bad = [
            read(SP[1], at(2, 0), 5),  # MO2's meter
            read(SP[2], at(2, 0), 5),  # the utility's own meter
            read("0399999999999999999999", at(2, 0), 5),  # nobody's
            read(SP[0], at(1, 15), 5),  # not a half-hour instant
            read(SP[0], at(2, 30), 5),  # the future
            read(SP[0], "yesterday", 5),
            read(SP[0], at(1, 0), -3),
            read(SP[0], at(0, 30), 1100),  # the same instant again
        ]
        resp = post_json(rig, "mo1", reads + bad)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["accepted"] == 5
        assert body["late"] == 4  # all but 02:00 arrived over 30 min after their instant
        codes = [(r["row"], r["code"]) for r in body["rejected"]]
        assert codes == [
            (6, "E_NOT_YOUR_METER"),
            (7, "E_NOT_YOUR_METER"),
            (8, "E_NOT_YOUR_METER"),
            (9, "E_BAD_INSTANT"),
            (10, "E_FUTURE"),
            (11, "E_BAD_INSTANT"),
            (12, "E_BAD_VALUE"),
            (13, "E_DUPLICATE"),
        ]
        first = day_first_slot(DAY)
        values = rig.context.mdms.current_values(keys[0], first, first + 47)
        assert values.column("import_wh").to_pylist() == [100, 100, 100, 100]
        for key in keys[1:]:  # nothing stored for the refused rows
            assert rig.context.mdms.current_values(key, first, first + 47).num_rows == 0
        audit = [e for e in rig.audit_entries() if URL in e.action]
        assert audit and audit[-1].actor == "mo1"


def test_csv_deadlines_falling_registers_and_wrong_clients() -> None:
    with hub_rig() as rig:
        setup(rig)
        rig.clock.set(datetime(2026, 11, 3, 1, 0, tzinfo=JST))  # 49 h after 11-01 00:00
        csv = "supply_point_id,read_at,import_register_wh,export_register_wh\n" + "".join(
            f"{SP[1]},{when},{wh},0\n"
            for when, wh in (
                (at(0, 0), 10),  # over 48 h ago
                ((datetime(2026, 11, 3, 0, 0, tzinfo=JST)).isoformat(), 500),
                ((datetime(2026, 11, 3, 0, 30, tzinfo=JST)).isoformat(), 400),  # fell
                ((datetime(2026, 11, 3, 1, 0, tzinfo=JST)).isoformat(), 600),
            )
        )
        headers = {**bearer(rig.http, "mo2"), "Content-Type": "text/csv"}
        resp = rig.http.post(URL, content=csv, headers=headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["accepted"] == 2 and body["late"] == 1
        assert [(r["row"], r["code"]) for r in body["rejected"]] == [
            (1, "E_TOO_LATE"),
            (3, "E_REGISTER_DECREASE"),
        ]
        first = day_first_slot(date(2026, 11, 3))
        stored = rig.context.mdms.current_reads(11, first - 96, None)
        assert stored.column("boundary").to_pylist() == [first, first + 2]
        assert stored.column("import_register_wh").to_pylist() == [500, 600]
        assert set(stored.column("source").to_pylist()) == {int(ReadSource.OPERATOR)}
        # every row refused: 422 with the reasons, nothing stored
        none = post_json(rig, "mo1", [read(SP[1], at(0, 0), 1)])
        assert none.status_code == 422 and none.json()["code"] == "E_NO_READ_ACCEPTED"
        assert none.json()["rejected"][0]["code"] == "E_TOO_LATE"
        # a retailer is no meter operator
        retailer = rig.http.post(
            URL,
            content="{}",
            headers={**bearer(rig.http, "r1"), "Content-Type": "application/json"},
        )
        assert retailer.status_code == 403 and retailer.json()["code"] == "E_NOT_METER_OPERATOR"
        assert rig.http.post(URL, content="{}").status_code == 401
        wrong = rig.http.post(URL, content="x", headers={**headers, "Content-Type": "text/plain"})
        assert wrong.status_code == 415
        broken = rig.http.post(URL, content="a,b\n1,2\n", headers=headers)
        assert broken.status_code == 422 and broken.json()["code"] == "E_BAD_BODY"
