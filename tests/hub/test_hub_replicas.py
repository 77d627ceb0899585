"""Two hub replicas (`openami serve hub`) over one PostgreSQL, one shared interval store and
one Redis: the same answers as the embedded hub, each webhook delivered once, one rate
limit for both, a dashboard login at one replica holds at the other, and a replica killed
with SIGKILL mid-job loses nothing.

Real processes on real sockets. The city is made by the embedded shape (`open_system`, as
`openami serve` runs it) publishing its values to the shared interval store, then closed;
the replicas read only the shared stores.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url
from tests.cli.serve_process import EXE, free_port
from tests.httpserver import serve
from tests.storage.engines import postgres_url

from openami.clock import slot_at_s, slot_start
from openami.settings import Settings
from openami.storage.repositories import open_database
from openami.storage.repositories.webhooks import WebhookStore
from openami.storage.secrets import use_key_dir
from openami.wiring import open_system

__all__ = ["postgres_url"]

REDIS_URL = os.environ.get("OPENAMI_TEST_REDIS", "redis://127.0.0.1:6379/0")
SECRET = "replica-test-webhook-secret"


@dataclass
class City:
    data_dir: Path
    db_url: str
    shared: Path
    clients: list[dict[str, Any]]  # retailer clients, the one supplying most points first
    points: dict[str, list[str]]  # client id → the points its retailer supplies on ``day``
    answers: dict[str, list[dict[str, Any]]]  # supply point → the embedded hub's intervals
    day: date
    redis_prefix: str


def _wait_for(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _token(base: str, client: dict[str, Any]) -> dict[str, str]:
    response = httpx.post(
        base + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _values(base: str, auth: dict[str, str], sp: str, day: date) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base}/v1/supply-points/{sp}/intervals",
        params={"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()},
        headers=auth,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    # updated_at is the MDMS's recording time, which the shared store does not carry
    keep = ("slot_start", "import_wh", "export_wh", "quality")
    return [{k: item[k] for k in keep} for item in response.json()["items"]]


def _points(base: str, auth: dict[str, str], day: date) -> list[str]:
    response = httpx.get(
        base + "/v1/supply-points",
        params={"from": day.isoformat(), "to": day.isoformat(), "limit": 1000},
        headers=auth,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return [item["supply_point_id"] for item in response.json()["items"]]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[City]:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis server answers at {REDIS_URL}: {exc}")
    root = tmp_path_factory.mktemp("replicas")
    data_dir, shared = root / "data", root / "shared-values"
    name = f"openami_hubrep_{uuid.uuid4().hex[:10]}"
    admin = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    db_url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    start = date.today() - timedelta(days=3)  # its own clock: one day and an hour to run
    settings = Settings(
        data_dir=data_dir,
        db_url=db_url,
        meters=40,
        days=1,
        start=start,
        tick_s=1800.0,
        shared_values_uri=str(shared),
    )
    system = open_system(settings)  # the embedded shape, publishing to the shared store
    try:
        credentials = system.credentials
        day = date.fromisoformat(credentials["example"]["date"])
        clients = credentials["clients"][:8]  # (the token endpoint's budget is 10)
        with serve(system.app()) as base:
            auths = {c["client_id"]: _token(base, c) for c in clients}
            points = {cid: _points(base, auth, day) for cid, auth in auths.items()}
            clients.sort(key=lambda c: -len(points[c["client_id"]]))
            top = clients[0]["client_id"]
            answers = {sp: _values(base, auths[top], sp, day) for sp in points[top][:3]}
    finally:
        system.close()  # its last values are published on the way out
    prefix = f"openami-test-{uuid.uuid4().hex[:10]}"
    try:
        yield City(data_dir, db_url, shared, clients, points, answers, day, prefix)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        client_ = redis.Redis.from_url(REDIS_URL)
        for key in client_.scan_iter(f"{prefix}:*"):
            client_.delete(key)


class Replica:
    def __init__(self, city: City, log: Path, *options: str, **environ: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "OPENAMI_REDIS_PREFIX": city.redis_prefix, **environ}
        command = [
            str(EXE),
            "serve",
            "hub",
            "--port",
            str(self.port),
            "--db",
            city.db_url,
            "--data-dir",
            str(city.data_dir),
            "--shared-values",
            str(city.shared),
            "--redis",
            REDIS_URL,
            "--allow-private-callbacks",
            "--workers-every",
            "0.3",
            *options,
        ]
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=out, env=env)

    def wait_up(self, timeout_s: float = 120) -> None:
        def up() -> bool:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                return httpx.get(self.base + "/openapi.json", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(up, timeout_s, f"the replica on {self.port}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def replicas(
    city: City, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., list[Replica]]]:
    started: list[Replica] = []

    def start(*options: str) -> list[Replica]:
        pair = [Replica(city, tmp_path / f"replica-{i}.log", *options) for i in range(2)]
        started.extend(pair)
        for replica in pair:
            replica.wait_up()
        return pair

    yield start
    for replica in started:
        replica.stop()


def test_two_replicas_answer_as_the_embedded_hub(
    city: City, replicas: Callable[..., list[Replica]]
) -> None:
    one, two = replicas()
    client = city.clients[0]
    auth_one, auth_two = _token(one.base, client), _token(two.base, client)
    assert city.answers and sum(len(v) for v in city.answers.values()) >= 48
    for sp, embedded in city.answers.items():
        assert _values(one.base, auth_one, sp, city.day) == embedded
        assert _values(two.base, auth_two, sp, city.day) == embedded
    # a token issued by one replica is good at the other (tokens are shared state)
    assert _values(two.base, auth_one, next(iter(city.answers)), city.day)
    # and an id not supplied by this retailer is refused the same way by both
    theirs = next(sp for c in city.clients[1:] for sp in city.points[c["client_id"]])
    assert theirs not in city.points[client["client_id"]]
    for replica, auth in ((one, auth_one), (two, auth_two)):
        response = httpx.get(
            f"{replica.base}/v1/supply-points/{theirs}/intervals", headers=auth, timeout=30
        )
        assert response.status_code == 403, response.text
    _dashboard_login_holds_at_the_other(city, one, two)
    _same_slot_files_at_both(city, one, two)


def _dashboard_login_holds_at_the_other(city: City, one: Replica, two: Replica) -> None:
    """A dashboard login at one replica opens the dashboard at the other (with --redis the
    sessions are in Redis): no sticky sessions."""
    credentials = json.loads((city.data_dir / "hub-credentials.json").read_text())
    with httpx.Client(timeout=30) as http:
        form = http.get(one.base + "/login")
        token = re.search(r'id="login-form">\s*<input [^>]*value="([^"]+)"', form.text)
        assert token is not None, form.text[:300]
        done = http.post(
            one.base + "/login",
            data={
                "name": credentials["operator"]["user"],
                "password": credentials["operator"]["password"],
                "csrf_token": token.group(1),
            },
        )
        assert done.status_code == 303, done.text[:300]
        assert http.get(two.base + "/rollout").status_code == 200
        http.cookies.clear()
        assert http.get(two.base + "/rollout").status_code == 303  # (the cookie did it)


def _same_slot_files_at_both(city: City, one: Replica, two: Replica) -> None:
    """The replicas write the deadline files of the slots due since the city's clock stopped
    (one replica, into the directory they share): both list and serve the same files."""
    slot = slot_at_s(time.time()) - 4  # its deadline (end + 1 h) passed an hour ago
    params = {"slot_start": slot_start(slot).isoformat()}
    client = city.clients[0]
    auths = [_token(one.base, client), _token(two.base, client)]

    def listing(replica: Replica, auth: dict[str, str]) -> list[str]:
        response = httpx.get(replica.base + "/v1/slot-files", params=params, headers=auth)
        assert response.status_code == 200, response.text
        return sorted(item["file_id"] for item in response.json()["items"])

    files = _wait_for(lambda: listing(two, auths[1]), 180, "the deadline files")
    assert listing(one, auths[0]) == files and len(files) == 2  # Parquet and CSV
    for file_id in files:
        bodies = [
            httpx.get(f"{r.base}/v1/slot-files/{file_id}", headers=a, timeout=30)
            for r, a in zip((one, two), auths, strict=True)
        ]
        assert [b.status_code for b in bodies] == [200, 200]
        assert bodies[0].content == bodies[1].content and bodies[0].content


def test_a_rate_limit_holds_across_both_replicas(
    city: City, replicas: Callable[..., list[Replica]]
) -> None:
    per_minute, burst = 1.0, 12
    one, two = replicas("--rate-limit", str(per_minute / 60), "--burst", str(burst))
    client = city.clients[1]
    auths = [_token(one.base, client), _token(two.base, client)]
    sp = city.points[client["client_id"]][0]
    started = time.monotonic()
    answers = []
    for i in range(30):
        base = (one, two)[i % 2].base
        response = httpx.get(
            f"{base}/v1/supply-points/{sp}/intervals", headers=auths[i % 2], timeout=30
        )
        answers.append((i % 2, response.status_code))
    refilled = int((time.monotonic() - started) / 60 * per_minute) + 1
    granted = [code for _, code in answers if code == 200]
    assert burst <= len(granted) <= burst + refilled  # in memory it would be 2 x the burst
    assert {code for _, code in answers} == {200, 429}
    assert {who for who, code in answers if code == 429} == {0, 1}  # both replicas refuse


class _Receiver:
    """An HTTP server counting the webhook deliveries it receives (signatures checked)."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.bad_signatures = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ts = self.headers["X-OpenAMI-Timestamp"]
                mac = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256)
                time.sleep(0.02)  # a slow receiver: the replicas' rounds overlap
                with lock:
                    outer.seen[self.headers["X-OpenAMI-Delivery"]] += 1
                    if self.headers["X-OpenAMI-Signature"] != "sha256=" + mac.hexdigest():
                        outer.bad_signatures += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_each_webhook_is_delivered_once_by_two_replicas(
    city: City, replicas: Callable[..., list[Replica]]
) -> None:
    receiver = _Receiver()
    one, _two = replicas()
    client = city.clients[2]
    response = httpx.post(
        one.base + "/v1/subscriptions",
        json={"callback_url": receiver.url, "secret": SECRET},
        headers=_token(one.base, client),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    subscription = response.json()["subscription_id"]
    database = open_database(city.db_url)
    use_key_dir(database, city.data_dir)
    try:
        store = WebhookStore(database)
        bodies = [(subscription, json.dumps({"event": "test", "n": i}).encode()) for i in range(80)]
        store.enqueue(bodies, time.time())  # due now for both replicas
        _wait_for(
            lambda: (
                sum(receiver.seen.values()) >= 80
                and all(d.status == "delivered" for d in store.deliveries(subscription, 1000))
            ),
            120,
            "every delivery",
        )
        time.sleep(1.0)  # a few more rounds of both replicas: nothing is sent again
        deliveries = store.deliveries(subscription, 1000)
    finally:
        database.close()
        receiver.server.shutdown()
    # (the replicas may also announce deadline slot files of the days since the city's
    # clock stopped: those are delivered once each too)
    tests = [d for d in deliveries if json.loads(d.body)["event"] == "test"]
    assert len(tests) == 80 and {d.attempts for d in deliveries} == {1}
    assert set(receiver.seen) == {str(d.delivery_id) for d in deliveries}
    assert set(receiver.seen.values()) == {1} and receiver.bad_signatures == 0


def _job_row(db_url: str, job_id: str) -> tuple[str, int, int, str | None]:
    conninfo = make_url(db_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo) as connection:
        row = connection.execute(
            "SELECT status, chunks_done, chunks_total, claimed_by FROM data_jobs WHERE job_id = %s",
            (job_id,),
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3]


def test_a_replica_killed_mid_job_loses_nothing(
    city: City, replicas: Callable[..., list[Replica]]
) -> None:
    one, two = replicas("--claim-ttl", "3", "--job-chunks", "1")
    client = city.clients[0]
    auth = _token(one.base, client)
    points = city.points[client["client_id"]][:4]
    first = city.day.replace(day=1) - timedelta(days=330)  # 12 months: ≥ 4 × 12 chunks
    response = httpx.post(
        one.base + "/v1/jobs",
        json={
            "supply_point_ids": points,
            "first_day": first.isoformat(),
            "last_day": city.day.isoformat(),
        },
        headers=auth,
        timeout=30,
    )
    assert response.status_code == 202, response.text
    job_id, total = response.json()["job_id"], response.json()["chunks_total"]
    assert total >= 12 * len(points) and len(points) >= 2
    status, done, _, holder = _wait_for(
        lambda: (row := _job_row(city.db_url, job_id))[1] >= 3 and row[3] and row,
        120,
        "the job to be under way",
    )
    assert status == "running" and done < total
    pid = int(str(holder).split(":")[1])
    victim, survivor = (one, two) if pid == one.proc.pid else (two, one)
    assert victim.proc.pid == pid  # the holder is one of the two replicas
    auth = _token(survivor.base, client)
    before = {
        n: httpx.get(f"{survivor.base}/v1/jobs/{job_id}/chunks/{n}", headers=auth, timeout=30).text
        for n in range(done)
    }
    os.kill(pid, signal.SIGKILL)
    victim.proc.wait(timeout=30)
    _wait_for(lambda: _job_row(city.db_url, job_id)[0] == "completed", 240, "the survivor")
    status, done, total_now, holder = _job_row(city.db_url, job_id)
    assert (status, done, total_now, holder) == ("completed", total, total, None)
    job = httpx.get(f"{survivor.base}/v1/jobs/{job_id}", headers=auth, timeout=30).json()
    assert job["status"] == "completed" and len(job["chunk_urls"]) == total
    for n in range(total):
        chunk = httpx.get(f"{survivor.base}/v1/jobs/{job_id}/chunks/{n}", headers=auth, timeout=30)
        assert chunk.status_code == 200, chunk.text
        assert chunk.json()["chunk"] == n and chunk.json()["supply_point_id"] in points
        if n in before:
            assert chunk.text == before[n]  # stored once, never rewritten


def _thread_affinities(pid: int) -> set[frozenset[int]]:
    """The CPU sets of a process's threads (those still there when asked)."""
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out.add(frozenset(os.sched_getaffinity(int(task.name))))
        except ProcessLookupError:
            continue
    return out


def test_workers_2_runs_two_replicas_on_one_socket(city: City, tmp_path: Path) -> None:
    # (two processes starting at once on a busy machine: minutes, not the 60 s default)
    options = ("--workers", "2", "--healthcheck-timeout", "600", "--pin-cpus")
    locks = str(tmp_path / "cpus")  # this test's own CPU claims, apart from any other hub's
    replica = Replica(city, tmp_path / "workers.log", *options, OPENAMI_CPU_LOCK_DIR=locks)
    try:
        replica.wait_up(600)
        opened = _wait_for(
            lambda: (
                (ids := re.findall(r"hub\.replica_opened .*replica=(\S+)", replica.log.read_text()))
                and len(set(ids)) == 2
                and ids
            ),
            600,
            "both processes",
        )
        pids = {int(name.split(":")[1]) for name in opened}
        assert replica.proc.pid not in pids  # the supervisor serves nothing itself
        # --pin-cpus: each process (every thread of it) on a CPU of its own
        pinned = [os.sched_getaffinity(pid) for pid in sorted(pids)]
        if len(os.sched_getaffinity(0)) >= 2:
            assert all(len(cpus) == 1 for cpus in pinned) and pinned[0] != pinned[1], pinned
            for pid in pids:
                assert _thread_affinities(pid) == {frozenset(os.sched_getaffinity(pid))}
        client = city.clients[0]
        sp = next(iter(city.answers))
        auth = _token(replica.base, client)
        for _ in range(4):  # whichever process answers, the same values
            assert _values(replica.base, auth, sp, city.day) == city.answers[sp]
    finally:
        replica.stop()
