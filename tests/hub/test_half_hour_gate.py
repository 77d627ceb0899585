"""The C route serves half-hour values only from the point's A-route service start (its
area's opening and its smart meter): a point whose meter is conventional gets none, over
real HTTP with a retailer's token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.hub.cityworld import DAY1, DAY2
from tests.hub.test_oauth_flow import Setup, bearer, cc_token, served

RANGE = {"from": DAY1.isoformat(), "to": DAY2.isoformat()}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with served(Path(tmp_path_factory.mktemp("gate"))) as s:
        yield s


def test_a_conventional_point_gets_no_half_hour_data(setup: Setup) -> None:
    w = setup.world
    key, sp = w.city.supply_point_keys[5], w.city.supply_point_ids[5]
    retailer = w.registry.retailer_on(key, DAY1)
    assert retailer is not None
    token = cc_token(setup.http, w.secrets[retailer])
    url = f"/v1/supply-points/{sp}"

    def items() -> list[dict[str, object]]:
        resp = setup.http.get(f"{url}/intervals", params=RANGE, headers=bearer(token))
        assert resp.status_code == 200, resp.text
        return list(resp.json()["items"])

    assert len(items()) == 2 * 48  # a smart meter in Tokyo, open since 2015
    meter = w.registry.current_meter(key)
    assert meter is not None
    w.registry.kinds.set_meter_kinds([(meter, "conventional", 1)])
    assert items() == []
    day = setup.http.get(
        f"{url}/half-hour-values", params={"date": DAY1.isoformat()}, headers=bearer(token)
    ).json()
    assert {s["quality"] for s in day["slots"]} == {"not_yet_available"}
    daily = setup.http.get(f"{url}/daily", params=RANGE, headers=bearer(token)).json()
    assert daily["items"] == []
    w.registry.kinds.set_meter_kinds([(meter, "smart", 1)])  # the smart meter again
    assert len(items()) == 2 * 48
