"""Sub-meters (type (i)-2) over real HTTP: the owner stores and reads its register reads,
the customer of the supply point reads them, nobody else does, and none of them ever
reaches billing or settlement, which count the utility's meter only."""

from __future__ import annotations

from datetime import date, datetime

import httpx
import pyarrow as pa
import pyarrow.compute as pc
from tests.hub.hubrig import SECRET, Rig, hub_rig
from tests.hub.test_meter_operator_api import bearer

from openami.bus.messages import READ_SCHEMA
from openami.clock import JST, day_first_slot
from openami.hub.oauth_grants import consent_store
from openami.hub.third_party_services import third_party_meters
from openami.registry import BalancingGroup, Meter, Retailer, make_supply_point_id
from openami.storage.repositories.clients import ApiClient

DAY = date(2026, 11, 1)
URL = "/v1/meter-operator/sub-meters/20/reads"
CUSTOMER_URL = "/v1/customer/sub-meters/20/reads"
PASSWORD = "a-customer-password"


def setup(rig: Rig) -> list[int]:
    """SP1: the utility's meter 10 and the HEMS company's sub-meter 20 beside it."""
    registry = rig.context.registry
    registry.add_balancing_groups([BalancingGroup("BG1", "one")])
    registry.add_retailers([Retailer("R001", "r1", "BG1")])
    keys = registry.add_supply_points([make_supply_point_id("03", i) for i in (1, 2)])
    registry.add_meters(
        [Meter(m, "M", f"S{m}", 30, "mesh", None, date(2036, 1, 1)) for m in (10, 11, 20)]
    )
    registry.install_meters([(keys[0], 10), (keys[1], 11)], 0.0)
    registry.add_supply_contracts([(k, "R001", date(2026, 1, 1), None) for k in keys])
    rig.context.mdms.refresh_registry()
    third_party_meters(rig.context).register_operator_meter(
        20, "HEMS-CO", date(2026, 1, 1), sub_meter=True, supply_point_key=keys[0]
    )
    for cid, party in (("hems", "HEMS-CO"), ("mo1", "MO1")):
        rig.context.clients.register(ApiClient(cid, "meter_operator", party), SECRET)
    consent_store(rig.context).add_customer("c1", PASSWORD, [keys[0]])
    consent_store(rig.context).add_customer("c2", PASSWORD, [keys[1]])
    return keys


def utility_reads(rig: Rig) -> None:
    """The utility's meters: 100 Wh in every slot of DAY (49 boundaries)."""
    b = day_first_slot(DAY)
    rows = [(m, b + i, 1000 + 100 * i) for m in (10, 11) for i in range(49)]
    rig.context.mdms.ingest(
        pa.table(
            {
                "meter_id": [r[0] for r in rows],
                "boundary": [r[1] for r in rows],
                "import_register_wh": [r[2] for r in rows],
                "export_register_wh": [0] * len(rows),
                "received_at": [0.0] * len(rows),
                "source": [0] * len(rows),
            },
            schema=READ_SCHEMA,
        )
    )


def at(hh: int) -> str:
    return datetime(2026, 11, 1, hh, 0, tzinfo=JST).isoformat()


def get(http: httpx.Client, url: str, **kw: object) -> httpx.Response:
    return http.get(url, params={"date": DAY.isoformat()}, **kw)  # type: ignore[arg-type]


def test_owner_and_customer_see_sub_meter_reads_others_do_not() -> None:
    with hub_rig() as rig:
        setup(rig)
        rig.clock.set(datetime(2026, 11, 2, 1, 0, tzinfo=JST))
        reads = {
            "reads": [
                {"read_at": at(h), "import_register_wh": 50_000 * (h + 1)} for h in (0, 6, 12)
            ]
        }
        stored = rig.http.post(URL, json=reads, headers=bearer(rig.http, "hems"))
        assert stored.status_code == 200 and stored.json() == {"stored": 3}
        again = rig.http.post(URL, json=reads, headers=bearer(rig.http, "hems"))
        assert again.status_code == 409 and again.json()["code"] == "E_CONFLICT"
        other = rig.http.post(URL, json=reads, headers=bearer(rig.http, "mo1"))
        assert other.status_code == 404 and other.json()["code"] == "E_NOT_SUB_METER"
        future = {"reads": [{"read_at": "2026-11-03T00:00:00+09:00", "import_register_wh": 1}]}
        assert rig.http.post(URL, json=future, headers=bearer(rig.http, "hems")).status_code == 422
        owner = get(rig.http, URL, headers=bearer(rig.http, "hems"))
        assert owner.status_code == 200, owner.text
        assert [r["import_register_wh"] for r in owner.json()["reads"]] == [
            50_000,
            350_000,
            650_000,
        ]
        mine = get(rig.http, CUSTOMER_URL, auth=("c1", PASSWORD))
        assert mine.status_code == 200 and len(mine.json()["reads"]) == 3
        assert get(rig.http, CUSTOMER_URL, auth=("c2", PASSWORD)).status_code == 404
        assert get(rig.http, URL, headers=bearer(rig.http, "mo1")).status_code == 404
        assert get(rig.http, URL, headers=bearer(rig.http, "r1")).status_code == 403
        assert get(rig.http, CUSTOMER_URL).status_code == 401


def test_sub_meter_values_never_enter_billing_or_settlement() -> None:
    with hub_rig() as rig:
        keys = setup(rig)
        rig.clock.set(datetime(2026, 11, 2, 1, 0, tzinfo=JST))
        utility_reads(rig)
        reads = {
            "reads": [
                {"read_at": at(h), "import_register_wh": 1_000_000 * (h + 1)} for h in range(24)
            ]
        }
        assert rig.http.post(URL, json=reads, headers=bearer(rig.http, "hems")).status_code == 200
        assert third_party_meters(rig.context).outside_settlement(DAY) == [20]
        run = rig.context.mdms.settle(DAY, estimate=False)
        area = run.rows.filter(pc.equal(run.rows.column("level"), "area"))
        assert pc.sum(area.column("import_wh")).as_py() == 2 * 48 * 100  # meters 10 and 11 only
        bill = rig.context.mdms.bill(DAY, DAY)
        assert sorted(bill.column("supply_point_key").to_pylist()) == sorted(keys)
        assert set(bill.column("import_wh").to_pylist()) == {48 * 100}
        first = day_first_slot(DAY)
        assert rig.context.mdms.current_reads(20, first - 1, None).num_rows == 0
