"""Bulk slot files end to end: a simulated city stores its ticks, the hub writes each
retailer's preliminary, deadline and correction files, announces them with signed webhooks,
and serves them over HTTP to their retailer only (and to a third party for its consent)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from tests.httpserver import serve
from tests.hub.city_rig import perfect_city
from tests.hub.test_oauth_flow import (
    REDIRECT,
    approve,
    auth_params,
    exchange,
    pkce,
    redirect_params,
    request_consent,
)
from tests.hub.test_webhooks import Subscriber

from openami.clock import JST, day_first_slot, slot_start
from openami.hub.context import HubContext
from openami.hub.oauth import register_third_party
from openami.hub.oauth_grants import consent_store
from openami.hub.requests_workers import attach_workers
from openami.hub.slot_files import SlotFileService, attach_slot_files
from openami.hub.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookConfig,
    verify_signature,
    webhook_service,
)
from openami.registry import Registry
from openami.sim import City, Simulation
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.clients import ApiClient
from openami.storage.slot_files import SlotFileStore
from openami.web.app import create_app

DAY1 = date(2026, 11, 1)
S0 = day_first_slot(DAY1)  # 00:00-00:30 JST: deadline 01:30
S1 = S0 + 1  # deadline 02:00
HOOK_SECRET = "slot-file-subscriber-secret"
TP = ("tp-slot-files", "tp-secret-for-slot-file-tests-0001")
CUSTOMER = ("customer-slot-files", "customer-password-slot-files")


@dataclass
class Rig:
    city: City
    sim: Simulation
    registry: Registry
    context: HubContext
    service: SlotFileService
    http: httpx.Client
    secrets: dict[str, tuple[str, str]]
    subscriber: Subscriber
    subscribed: str  # the retailer whose client subscribed
    root: Path

    def headers(self, retailer: str) -> dict[str, str]:
        cid, secret = self.secrets[retailer]
        resp = self.http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret)
        )
        assert resp.status_code == 200, resp.text
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}

    def run_to(self, hour: int, minute: int = 0) -> None:
        self.sim.run_until(datetime(2026, 11, 1, hour, minute, tzinfo=JST).timestamp())

    def listing(self, retailer: str, slot: int) -> list[dict[str, object]]:
        resp = self.http.get(
            "/v1/slot-files",
            params={"slot_start": slot_start(slot).isoformat()},
            headers=self.headers(retailer),
        )
        assert resp.status_code == 200, resp.text
        return list(resp.json()["items"])

    def parquet(self, retailer: str, file_id: str) -> pa.Table:
        resp = self.http.get(f"/v1/slot-files/{file_id}", headers=self.headers(retailer))
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-length"] == str(len(resp.content))
        return pq.read_table(io.BytesIO(resp.content))


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = Path(tmp_path_factory.mktemp("slot-files"))
    parts = perfect_city(tmp, meters=24, seed=11)
    database, registry, city = parts.database, parts.registry, parts.city
    clock, sim = parts.clock, parts.sim
    clients, secrets = parts.clients, parts.secrets
    clients.register(ApiClient("mo-1", "meter_operator", "MO-1"), "secret-for-tests-mo-1")
    context = HubContext(
        registry,
        sim.mdms,
        clients,
        clock,
        "operator",
        "operator-test-pw",
        audit=AuditLog(database),
        rate_limits=None,
    )
    register_third_party(context, *TP, "SLOT-APP", [REDIRECT])
    consent_store(context).add_customer(*CUSTOMER, [city.supply_point_keys[2]])
    webhook_service(context, WebhookConfig(allow_private=True))
    root = tmp / "slot-files"
    service = attach_slot_files(context, SlotFileStore(root, sim.mdms.store))
    sim.after_tick.insert(0, service.tick)
    attach_workers(context, sim.after_tick)
    subscriber = Subscriber(clock.timestamp)
    subscribed = str(registry.retailer_on(city.supply_point_keys[0], DAY1))
    with serve(create_app(context)) as base, httpx.Client(base_url=base, timeout=30) as http:
        rig = Rig(
            city, sim, registry, context, service, http, secrets, subscriber, subscribed, root
        )
        resp = http.post(
            "/v1/subscriptions",
            json={"callback_url": subscriber.url, "secret": HOOK_SECRET},
            headers=rig.headers(subscribed),
        )
        assert resp.status_code == 201, resp.text
        rig.run_to(2, 5)  # S0: preliminary and deadline; S1: deadline
        yield rig
    subscriber.close()


def _members(rig: Rig) -> dict[str, set[str]]:
    """Supply point IDs by retailer on DAY1, from the registry (the rule, asked directly)."""
    members = rig.registry.members_on(DAY1)
    ids = rig.registry.supply_point_id_map(members.column("supply_point_key").to_pylist())
    out: dict[str, set[str]] = {}
    for key, retailer in zip(
        members.column("supply_point_key").to_pylist(),
        members.column("retailer_id").to_pylist(),
        strict=True,
    ):
        out.setdefault(str(retailer), set()).add(ids[key])
    return out


def test_preliminary_then_deadline_for_every_retailer(rig: Rig) -> None:
    members = _members(rig)
    assert len(members) >= 2
    for retailer, points in members.items():
        items = rig.listing(retailer, S0)
        kinds = sorted({(str(i["kind"]), str(i["format"])) for i in items})
        assert kinds == [
            ("deadline", "csv"),
            ("deadline", "parquet"),
            ("preliminary", "csv"),
            ("preliminary", "parquet"),
        ]
        deadline = next(i for i in items if i["kind"] == "deadline" and i["format"] == "parquet")
        table = rig.parquet(retailer, str(deadline["file_id"]))
        assert set(table.column("supply_point_id").to_pylist()) == points  # every point, once
        assert table.num_rows == len(points) == deadline["rows"]
        assert set(table.column("slot_start").to_pylist()) == {slot_start(S0)}
        prelim = next(i for i in items if i["kind"] == "preliminary")
        assert str(prelim["as_of"]) < str(deadline["as_of"])


def test_files_hold_the_json_apis_values(rig: Rig) -> None:
    rng = np.random.default_rng(3)
    retailer = rig.subscribed
    items = rig.listing(retailer, S1)
    file_id = next(i["file_id"] for i in items if i["format"] == "parquet")
    table = rig.parquet(retailer, str(file_id))
    rows = table.to_pylist()
    for pos in rng.choice(len(rows), size=min(3, len(rows)), replace=False):
        row = rows[int(pos)]
        resp = rig.http.get(
            f"/v1/supply-points/{row['supply_point_id']}/intervals",
            params={"from": DAY1.isoformat(), "to": DAY1.isoformat()},
            headers=rig.headers(retailer),
        )
        assert resp.status_code == 200, resp.text
        api = next(i for i in resp.json()["items"] if i["slot_start"] == slot_start(S1).isoformat())
        assert (row["import_wh"], row["export_wh"], row["quality"], row["version"]) == (
            api["import_wh"],
            api["export_wh"],
            api["quality"],
            api["version"],
        )
        assert row["recorded_at"] == datetime.fromisoformat(api["updated_at"])
    # the CSV twin holds the same rows
    csv_id = str(file_id).replace(".parquet", ".csv")
    resp = rig.http.get(f"/v1/slot-files/{csv_id}", headers=rig.headers(retailer))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    # made on the first download, then listed with its size
    assert int(resp.headers["content-length"]) == len(resp.content)
    listed = next(i for i in rig.listing(retailer, S1) if i["file_id"] == csv_id)
    assert listed["size_bytes"] == len(resp.content)
    again = rig.http.get(f"/v1/slot-files/{csv_id}", headers=rig.headers(retailer))
    assert again.content == resp.content and again.headers["etag"] == resp.headers["etag"]
    csv = pcsv.read_csv(
        io.BytesIO(resp.content),
        convert_options=pcsv.ConvertOptions(column_types={"supply_point_id": pa.string()}),
    )
    assert csv.column("supply_point_id").to_pylist() == table.column("supply_point_id").to_pylist()
    assert csv.column("import_wh").to_pylist() == table.column("import_wh").to_pylist()
    assert csv.column("slot_start").to_pylist()[0] == slot_start(S1)


def test_a_retailer_never_sees_anothers_files(rig: Rig) -> None:
    members = _members(rig)
    mine, other = rig.subscribed, next(r for r in members if r != rig.subscribed)
    my_ids = {str(i["file_id"]) for i in rig.listing(mine, S0)}
    other_ids = {str(i["file_id"]) for i in rig.listing(other, S0)}
    assert my_ids and other_ids
    # file IDs name a pass, not a retailer: the same ID is looked up under the caller only
    for file_id in my_ids:
        theirs = rig.http.get(f"/v1/slot-files/{file_id}", headers=rig.headers(other))
        if file_id in other_ids:
            table = (
                pq.read_table(io.BytesIO(theirs.content)) if file_id.endswith("parquet") else None
            )
            if table is not None:
                assert set(table.column("supply_point_id").to_pylist()) == members[other]
        else:
            assert theirs.status_code == 404 and theirs.json()["code"] == "unknown_slot_file"
    # the files on disk: one directory per retailer, no point in two retailers' files
    seen: dict[str, str] = {}
    for path in (rig.root / "retailer").rglob("*.parquet"):
        retailer = path.relative_to(rig.root / "retailer").parts[0]
        for sp in pq.read_table(path).column("supply_point_id").to_pylist():
            assert seen.setdefault(sp, retailer) == retailer
            assert sp in members[retailer]


def test_refusals(rig: Rig) -> None:
    headers = rig.headers(rig.subscribed)
    bad_slot = rig.http.get(
        "/v1/slot-files", params={"slot_start": "2026-11-01T00:10:00+09:00"}, headers=headers
    )
    assert bad_slot.status_code == 422 and bad_slot.json()["code"] == "invalid_slot_start"
    naive = rig.http.get(
        "/v1/slot-files", params={"slot_start": "2026-11-01T00:00:00"}, headers=headers
    )
    assert naive.status_code == 422
    assert rig.http.get("/v1/slot-files/../../etc/passwd", headers=headers).status_code == 404
    bad_id = rig.http.get("/v1/slot-files/x..parquet", headers=headers)
    assert bad_id.status_code == 422 and bad_id.json()["code"] == "invalid_file_id"
    unknown = rig.http.get(f"/v1/slot-files/{S0 - 100}-deadline-000.csv", headers=headers)
    assert unknown.status_code == 404
    assert rig.http.get("/v1/slot-files", params={"slot_start": "x"}).status_code in (401, 422)
    anonymous = rig.http.get(f"/v1/slot-files/{S0}-deadline-000.csv")
    assert anonymous.status_code == 401
    resp = rig.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("mo-1", "secret-for-tests-mo-1"),
    )
    mo = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    listed = rig.http.get(
        "/v1/slot-files", params={"slot_start": slot_start(S0).isoformat()}, headers=mo
    )
    assert listed.status_code == 403 and listed.json()["code"] == "forbidden"
    # an ETag answers 304
    items = rig.listing(rig.subscribed, S0)
    first = rig.http.get(f"/v1/slot-files/{items[0]['file_id']}", headers=headers)
    again = rig.http.get(
        f"/v1/slot-files/{items[0]['file_id']}",
        headers={**headers, "If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 304 and not again.content


def test_correction_holds_only_changed_points_and_is_announced(rig: Rig) -> None:
    members = _members(rig)
    key = rig.city.supply_point_keys[1]
    sp = rig.city.supply_point_ids[1]
    owner = next(r for r, pts in members.items() if sp in pts)
    before = {str(i["file_id"]) for i in rig.listing(owner, S0)}
    rig.sim.mdms.edit(key, [S0], [4321], [0], "tester", "slot file correction test")
    rig.run_to(2, 15)
    items = rig.listing(owner, S0)
    corrections = [
        i
        for i in items
        if i["kind"] == "correction" and i["format"] == "parquet" and i["file_id"] not in before
    ]
    assert len(corrections) == 1
    deadline = next(i for i in items if i["kind"] == "deadline")
    assert str(corrections[0]["as_of"]) > str(deadline["as_of"])
    table = rig.parquet(owner, str(corrections[0]["file_id"]))
    assert table.column("supply_point_id").to_pylist() == [sp]
    assert table.column("import_wh").to_pylist() == [4321]
    assert table.column("quality").to_pylist() == ["edited"]
    for other in members:  # nobody else got this correction, nor can fetch the owner's
        if other != owner:
            assert corrections[0]["file_id"] not in {i["file_id"] for i in rig.listing(other, S0)}
            theirs = rig.http.get(
                f"/v1/slot-files/{corrections[0]['file_id']}", headers=rig.headers(other)
            )
            assert theirs.status_code == 404 and theirs.json()["code"] == "unknown_slot_file"
    # nothing changed since: the next rounds write nothing more
    rig.run_to(2, 30)
    assert {str(i["file_id"]) for i in rig.listing(owner, S0)} == {str(i["file_id"]) for i in items}


def test_webhook_is_signed_and_lists_the_files(rig: Rig) -> None:
    rig.run_to(2, 45)  # deliver what is due (the first try got a 503)
    ready = [
        (headers, body)
        for headers, body, status, at in rig.subscriber.received
        if json.loads(body).get("event") == "slot_file.ready" and status == 200
    ]
    assert ready
    for headers, body in ready:
        assert verify_signature(
            HOOK_SECRET,
            body,
            headers.get(TIMESTAMP_HEADER),
            headers.get(SIGNATURE_HEADER),
            rig.context.clock.timestamp(),
            tolerance_s=3 * 3600,
        )
        assert not verify_signature(
            "another-secret-entirely",
            body,
            headers.get(TIMESTAMP_HEADER),
            headers.get(SIGNATURE_HEADER),
            rig.context.clock.timestamp(),
            tolerance_s=3 * 3600,
        )
    bodies = [json.loads(body) for _, body in ready]
    assert {b["kind"] for b in bodies} >= {"preliminary", "deadline"}
    announced = {f["file_id"] for b in bodies for f in b["files"]}
    listed = {str(i["file_id"]) for i in rig.listing(rig.subscribed, S0)}
    assert {i for i in listed if "correction" not in i} <= announced


def test_a_restart_writes_nothing_twice(rig: Rig) -> None:
    files = sorted(p for p in rig.root.rglob("*") if p.is_file())
    before = {p: p.stat().st_mtime_ns for p in files}
    # a new service over the same files, as after a crash that wrote the round's files but
    # not its watermark: the round is done again and writes nothing
    again = SlotFileService(rig.context, SlotFileStore(rig.root, rig.sim.mdms.store))
    now = rig.context.clock.timestamp()
    again.webhooks.set_watermark("slot_files", now - 600.0)
    assert again.run(now) == 0
    assert again.webhooks.watermark("slot_files") == now
    after = {p: p.stat().st_mtime_ns for p in rig.root.rglob("*") if p.is_file()}
    assert after == before


def test_third_party_gets_its_consented_points(rig: Rig) -> None:
    consent = request_consent(rig.http, TP, data_kinds=["half_hour"])
    verifier, challenge = pkce()
    params = auth_params(consent["consent_id"], TP[0], challenge)
    code = redirect_params(approve(rig.http, params, CUSTOMER))["code"]
    resp = exchange(rig.http, TP, code, verifier)
    assert resp.status_code == 200, resp.text
    headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    listed = rig.http.get(
        "/v1/slot-files", params={"slot_start": slot_start(S1).isoformat()}, headers=headers
    )
    assert listed.status_code == 200, listed.text
    file_id = next(i["file_id"] for i in listed.json()["items"] if i["format"] == "parquet")
    got = rig.http.get(f"/v1/slot-files/{file_id}", headers=headers)
    assert got.status_code == 200, got.text
    table = pq.read_table(io.BytesIO(got.content))
    sp = rig.city.supply_point_ids[2]
    assert table.column("supply_point_id").to_pylist() == [sp]
    # the same row as the supplying retailer's file
    owner = str(rig.registry.retailer_on(rig.city.supply_point_keys[2], DAY1))
    theirs = rig.parquet(owner, str(file_id))
    row = theirs.filter(pa.compute.equal(theirs.column("supply_point_id"), sp))
    assert row.to_pylist() == table.to_pylist()
    # a day outside the consent period: refused with the consent rule's code
    late = slot_start(S1) + timedelta(days=30)
    refused = rig.http.get(
        "/v1/slot-files", params={"slot_start": late.isoformat()}, headers=headers
    )
    assert refused.status_code == 403 and refused.json()["code"] == "outside_consent_period"


def test_a_failing_round_is_retried_and_never_stops_the_loop(rig: Rig, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the root should be")
    broken = SlotFileService(rig.context, SlotFileStore(blocked, rig.sim.mdms.store))
    before = broken.webhooks.watermark("slot_files")
    rig.sim.mdms.edit(
        rig.city.supply_point_keys[4], [S1], [777], [0], "tester", "a change to write"
    )
    broken.tick(rig.context.clock.timestamp() + 60.0)  # raises inside, logged, no exception
    assert broken.webhooks.watermark("slot_files") == before  # the work is still to do
    rig.run_to(2, 50)  # the real service writes it
    owner = str(rig.registry.retailer_on(rig.city.supply_point_keys[4], DAY1))
    last = [i for i in rig.listing(owner, S1) if i["format"] == "parquet"][-1]
    table = rig.parquet(owner, str(last["file_id"]))
    assert rig.city.supply_point_ids[4] in table.column("supply_point_id").to_pylist()
