"""Slot files and value notifications of hub replicas, from the shared interval store.

Two replica contexts in one process (as ``openami serve hub`` wires them: the shared
store's values, one transactional store, one files directory) over a small simulated city
whose MDMS publishes to a Delta table. Their worker rounds alternate: each pass of each
slot is written once, its ``slot_file.ready`` and the ``half_hour_values.changed``
notifications are queued once, and both replicas list and serve the same bytes.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.httpserver import serve
from tests.hub.city_rig import DAY1, perfect_city

from openami.clock import JST, day_first_slot, slot_start
from openami.hub.context import HubContext
from openami.hub.shared_changes import SharedChangeRound
from openami.hub.webhooks import WebhookConfig, webhook_service
from openami.mdms.shared_values import SharedValuesMdms
from openami.settings import Settings
from openami.sim import Simulation
from openami.storage.interval_appends import append_values
from openami.storage.repositories.webhooks import Subscription, WebhookStore
from openami.storage.shared_values import SharedValueStore
from openami.web.app import create_app
from openami.wiring_hub import ReplicaOptions, attach_shared_slot_files

S0 = day_first_slot(DAY1)  # deadline 01:30 JST


@dataclass
class Replica:
    context: HubContext
    round: SharedChangeRound
    http: httpx.Client


@dataclass
class Rig:
    sim: Simulation
    shared: SharedValueStore
    replicas: list[Replica]
    webhooks: WebhookStore
    retailer: str
    subscription: str
    secrets: dict[str, tuple[str, str]]
    root: Path
    point_key: int  # a point the subscribed retailer supplies

    def run_to(self, hour: int, minute: int = 0) -> None:
        self.sim.run_until(datetime(2026, 11, 1, hour, minute, tzinfo=JST).timestamp())
        self.shared.publish_new(self.sim.mdms.store, "mdms")

    def rounds(self, times: int = 2) -> list[int]:
        now_s = self.sim.clock.timestamp()
        return [r.round.run(now_s) for _ in range(times) for r in self.replicas]

    def headers(self, replica: Replica) -> dict[str, str]:
        cid, secret = self.secrets[self.retailer]
        resp = replica.http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret)
        )
        assert resp.status_code == 200, resp.text
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}

    def events(self) -> Counter[tuple[str, str]]:
        """(event, kind or slot list) of every queued delivery of the subscription."""
        seen: Counter[tuple[str, str]] = Counter()
        for delivery in self.webhooks.deliveries(self.subscription, 500):
            body = json.loads(delivery.body)
            detail = body.get("kind", "") + str(body.get("sequence", ""))
            if body["event"] == "half_hour_values.changed":
                detail = ",".join(sorted(s["slot_start"] for s in body["slots"]))
            seen[(body["event"], body.get("slot_start", "") + detail)] += 1
        return seen


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = Path(tmp_path_factory.mktemp("shared-slot-files"))
    parts = perfect_city(tmp, meters=12, seed=5)
    uri = str(tmp / "shared-values")
    settings = Settings(data_dir=tmp / "data", shared_values_uri=uri)
    webhooks = WebhookStore(parts.database)
    retailer = str(parts.registry.retailer_on(parts.city.supply_point_keys[0], DAY1))
    sub = Subscription(
        "ws-shared-slot-files",
        parts.secrets[retailer][0],
        "http://127.0.0.1:9/hook",  # the queue is what is counted here
        "a-secret-of-sixteen-or-more",
        parts.clock.timestamp(),
    )
    webhooks.add_subscription(sub)
    with ExitStack() as stack:
        replicas = []
        for name in ("replica-a", "replica-b"):
            mdms = SharedValuesMdms(uri, parts.registry, parts.clock)
            context = HubContext(
                parts.registry,
                mdms,
                parts.clients,
                parts.clock,
                "operator",
                "",
                rate_limits=None,
                replica_id=name,
            )
            webhook_service(context, WebhookConfig(allow_private=True))
            found = attach_shared_slot_files(context, parts.database, settings, ReplicaOptions())
            base = stack.enter_context(serve(create_app(context)))
            http = stack.enter_context(httpx.Client(base_url=base, timeout=30))
            replicas.append(Replica(context, found, http))
        rig = Rig(
            parts.sim,
            SharedValueStore(uri),
            replicas,
            webhooks,
            retailer,
            sub.subscription_id,
            parts.secrets,
            Path(uri) / "_slot_files",
            int(parts.city.supply_point_keys[0]),
        )
        assert rig.rounds(1) == [0, 0]  # the first round only notes the table version
        yield rig


def test_each_pass_written_and_announced_once_by_two_replicas(rig: Rig) -> None:
    rig.run_to(0, 40)  # S0's first values
    first = rig.rounds()
    assert first[0] > 0 and first[1:] == [0, 0, 0]  # replica A holds the round
    rig.run_to(1, 35)  # S0's deadline passed, S1 and S2 stored
    assert rig.rounds()[1::2] == [0, 0]  # B never runs it while A is alive
    manifests = sorted((rig.root / "_slots" / str(S0)).glob("*.json"))
    assert [m.name for m in manifests] == ["deadline-000.json", "preliminary-000.json"]
    assert not list((rig.root / "_pending").iterdir())  # every pass announced
    events = rig.events()
    start = slot_start(S0).isoformat()
    assert events[("slot_file.ready", start + "preliminary0")] == 1
    assert events[("slot_file.ready", start + "deadline0")] == 1
    changed = [k for k in events if k[0] == "half_hour_values.changed"]
    assert changed and all(events[k] == 1 for k in changed)


def test_both_replicas_list_and_serve_the_same_bytes(rig: Rig) -> None:
    listings, contents = [], []
    for replica in rig.replicas:
        auth = rig.headers(replica)
        resp = replica.http.get(
            "/v1/slot-files", params={"slot_start": slot_start(S0).isoformat()}, headers=auth
        )
        assert resp.status_code == 200, resp.text
        items = resp.json()["items"]
        listings.append(sorted(i["file_id"] for i in items))
        contents.append(
            {
                i["file_id"]: replica.http.get(
                    f"/v1/slot-files/{i['file_id']}", headers=auth
                ).content
                for i in items
            }
        )
    assert listings[0] == listings[1] and len(listings[0]) == 4  # 2 passes x 2 formats
    assert contents[0] == contents[1] and all(contents[0].values())


def test_a_replica_that_leaves_hands_the_round_over(rig: Rig) -> None:
    holder, other = rig.replicas
    rig.run_to(2, 5)
    now_s = rig.sim.clock.timestamp()
    assert other.round.run(now_s) == 0  # held by the other one: nothing done here
    holder.round.leave()  # as a replica that stops does
    assert other.round.run(now_s) > 0  # the new values, by the one left
    deadline = (rig.root / "_slots" / str(S0 + 1) / "deadline-000.json").read_text()
    assert json.loads(deadline)["as_of_s"] == now_s
    assert rig.events()[("slot_file.ready", slot_start(S0 + 1).isoformat() + "deadline0")] == 1


def test_a_later_version_makes_a_correction_of_that_point_only(rig: Rig) -> None:
    store = rig.sim.mdms.store
    current = store.query(
        "SELECT max(version) AS v FROM half_hour_values WHERE supply_point_key = ? AND slot = ?",
        [rig.point_key, S0],
    )
    version = int(current.column("v")[0].as_py()) + 1
    edit = pa.table(
        {
            "supply_point_key": pa.array([rig.point_key], pa.int64()),
            "slot": pa.array([S0], pa.int64()),
            "import_wh": pa.array([4321], pa.int64()),
            "export_wh": pa.array([0], pa.int64()),
            "qcode": pa.array([0], pa.uint8()),
            "version": pa.array([version], pa.int32()),
            "vee_flags": pa.array([0], pa.int32()),
        }
    )
    with store.transaction() as cur:
        append_values(cur, edit, rig.sim.clock.timestamp(), "edit")
    rig.shared.publish_new(store, "mdms")
    results = [r.round.run(rig.sim.clock.timestamp() + 1) for r in rig.replicas]
    assert sum(results) == 1 and 0 in results  # one pair, by one replica
    manifest = json.loads((rig.root / "_slots" / str(S0) / "correction-001.json").read_text())
    assert manifest["rows"] == {rig.retailer: 1}  # only that point, only its retailer
    replica = rig.replicas[1]
    resp = replica.http.get(
        f"/v1/slot-files/{S0}-correction-001.parquet", headers=rig.headers(replica)
    )
    assert resp.status_code == 200, resp.text
    rows = pq.read_table(io.BytesIO(resp.content)).to_pylist()
    assert [(r["import_wh"], r["version"]) for r in rows] == [(4321, version)]
    start = slot_start(S0).isoformat()
    assert rig.events()[("slot_file.ready", start + "correction1")] == 1


def test_a_replica_whose_clock_lags_leaves_the_changes_to_the_next_round(rig: Rig) -> None:
    rig.run_to(2, 35)  # new values committed
    _, holder = rig.replicas
    before = rig.webhooks.watermark("shared_values_version")
    lagging_s = rig.webhooks.watermark("values") or 0.0  # not after the last notifications
    assert holder.round.run(lagging_s) == 0
    assert rig.webhooks.watermark("shared_values_version") == before  # nothing skipped
    assert holder.round.run(rig.sim.clock.timestamp()) > 0
    assert rig.webhooks.watermark("shared_values_version") > (before or 0.0)
