"""The C route is no oracle of valid supply point IDs (issue #15 §3): a well-formed ID of no
supply point is answered exactly as a point supplied by someone else, on the data API and
for bulk jobs; SLO figures are scoped to the caller."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.httpserver import serve
from tests.hub.cityworld import DAY1, World, build_world

from openami.web.app import create_app

UNKNOWN = "0399999999999999999990"  # well formed, no such point


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, httpx.Client]]:
    world = build_world(Path(tmp_path_factory.mktemp("enum")), meters=12, rate_limits=None)
    with serve(create_app(world.context)) as base, httpx.Client(base_url=base) as http:
        yield world, http


def _others_point(world: World) -> str:
    """A point the switch_to retailer never supplied on DAY1."""
    for key, sp in zip(world.city.supply_point_keys, world.city.supply_point_ids, strict=True):
        supplier = world.registry.retailer_on(key, DAY1)
        if supplier not in (None, world.switch_to) and sp != world.switched_sp:
            return sp
    raise AssertionError("no point of another retailer")


def _same(a: httpx.Response, b: httpx.Response, a_id: str, b_id: str) -> None:
    assert a.status_code == b.status_code == 403
    assert a.json()["code"] == b.json()["code"]
    assert a.json()["message"].replace(a_id, "ID") == b.json()["message"].replace(b_id, "ID")


@pytest.mark.parametrize("resource", ["half-hour-values", "register-reads", "daily"])
def test_unknown_and_foreign_points_get_the_same_answer(
    served: tuple[World, httpx.Client], resource: str
) -> None:
    world, http = served
    auth = {"Authorization": f"Bearer {world.token(http, world.switch_to)}"}
    other = _others_point(world)
    params = (
        {"date": DAY1.isoformat()}
        if resource == "half-hour-values"
        else {"from": DAY1.isoformat(), "to": DAY1.isoformat()}
    )
    unknown = http.get(f"/v1/supply-points/{UNKNOWN}/{resource}", params=params, headers=auth)
    foreign = http.get(f"/v1/supply-points/{other}/{resource}", params=params, headers=auth)
    _same(unknown, foreign, UNKNOWN, other)


def test_bulk_jobs_answer_unknown_and_foreign_alike(served: tuple[World, httpx.Client]) -> None:
    world, http = served
    auth = {"Authorization": f"Bearer {world.token(http, world.switch_to)}"}
    other = _others_point(world)
    answers = [
        http.post(
            "/v1/jobs",
            json={"supply_point_ids": [sp], "first_day": "2026-10-01", "last_day": "2026-11-01"},
            headers=auth,
        )
        for sp in (UNKNOWN, other)
    ]
    _same(*answers, UNKNOWN, other)
