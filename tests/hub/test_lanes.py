"""The quick lane (``hub/lanes.py``) over real HTTP: one-point reads run in its own
thread with their audit entries, and a request holding every thread of the shared pool does
not hold them up."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.httpserver import serve
from tests.hub.cityworld import DAY1, World, build_world
from tests.hub.test_oauth_flow import bearer, cc_token

from openami.hub import data_api
from openami.web.app import ThreadPoolCap, create_app


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(Path(tmp_path_factory.mktemp("lanes")), meters=12, rate_limits=None)


def _point_and_token(world: World, http: httpx.Client) -> tuple[str, str]:
    key, sp = world.city.supply_point_keys[0], world.city.supply_point_ids[0]
    retailer = world.registry.retailer_on(key, DAY1)
    assert retailer is not None
    return sp, cc_token(http, world.secrets[retailer])


@pytest.fixture()
def http_with_slow_route(world: World) -> Iterator[tuple[httpx.Client, threading.Event]]:
    """The hub app with one extra plain endpoint that waits for an event, and the shared
    pool capped at one thread (so that endpoint, while it waits, holds all of it)."""
    release = threading.Event()

    def slow() -> dict[str, bool]:
        return {"released": release.wait(30)}

    app = create_app(world.context)
    app.add_api_route("/test-slow", slow, methods=["GET"])
    app.add_middleware(ThreadPoolCap, threads=1)
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield http, release
        release.set()


def test_a_point_day_runs_in_the_lane_and_logs_its_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = data_api._half_hour_day

    def watched(*args: object) -> object:
        threads.append(threading.current_thread().name)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(data_api, "_half_hour_day", watched)
    audit = world.context.audit
    assert audit is not None
    before = audit.head[0]
    with serve(create_app(world.context)) as base, httpx.Client(base_url=base) as http:
        sp, token = _point_and_token(world, http)
        resp = http.get(
            f"/v1/supply-points/{sp}/half-hour-values",
            params={"date": DAY1.isoformat()},
            headers=bearer(token),
        )
    assert resp.status_code == 200, resp.text
    assert len(resp.json()["slots"]) == 48
    assert len(threads) == 1 and threads[0].startswith("quick-lane")
    reads = [e for e in audit.entries(after_seq=before) if e.kind == "read"]
    assert [(e.subject, e.action) for e in reads] == [(sp, "read half-hour-values")]


def test_a_busy_shared_pool_does_not_hold_up_point_reads(
    world: World, http_with_slow_route: tuple[httpx.Client, threading.Event]
) -> None:
    http, release = http_with_slow_route
    sp, token = _point_and_token(world, http)
    answers: list[httpx.Response] = []
    holder = threading.Thread(target=lambda: answers.append(http.get("/test-slow")))
    holder.start()
    try:
        # the shared pool's one thread is (or is about to be) held; the point read must
        # not need it: were it queued behind the slow request, this would time out
        with httpx.Client(base_url=str(http.base_url), timeout=10) as other:
            for _ in range(3):
                resp = other.get(
                    f"/v1/supply-points/{sp}/half-hour-values",
                    params={"date": DAY1.isoformat()},
                    headers=bearer(token),
                )
                assert resp.status_code == 200, resp.text
        assert not answers  # the slow request was still waiting all along
    finally:
        release.set()
        holder.join(30)
    assert answers[0].status_code == 200 and answers[0].json() == {"released": True}
