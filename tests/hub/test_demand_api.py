"""`GET /v1/supply-points/{id}/demand`: a high-voltage point's monthly maximum demand and
contract kW (実量制) for its retailer, over real HTTP; others and low-voltage points refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.hub.cityworld import DAY1
from tests.hub.test_oauth_flow import Setup, bearer, cc_token, served

from openami.clock import day_first_slot


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with served(Path(tmp_path_factory.mktemp("demand"))) as s:
        yield s


def test_the_retailer_gets_the_contract_kw(setup: Setup) -> None:
    w = setup.world
    key, sp = w.city.supply_point_keys[4], w.city.supply_point_ids[4]
    retailer = w.registry.retailer_on(key, DAY1)
    assert retailer is not None
    w.registry.kinds.set_point_classes([(key, "high", "industrial")])
    token = cc_token(setup.http, w.secrets[retailer])
    resp = setup.http.get(
        f"/v1/supply-points/{sp}/demand", params={"month": "2026-11"}, headers=bearer(token)
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    first = day_first_slot(DAY1)
    values = w.context.mdms.current_values(key, first, first + 30 * 48 - 1)
    imports = np.array([v for v in values.column("import_wh").to_pylist() if v is not None])
    max_kw = float(imports.max()) * 2 / 1000
    assert body["max_demand_kw"] == pytest.approx(max_kw)
    assert body["contract_kw"] == int(np.floor(max_kw + 0.5))  # no earlier month has values
    november = body["months"][-1]
    assert november["month"] == "2026-11" and november["visible"]
    assert november["energy_wh"] == int(imports.sum())
    assert len(body["months"]) == 12 and body["months"][0]["month"] == "2025-12"


def test_refusals(setup: Setup) -> None:
    w = setup.world
    key, sp = w.city.supply_point_keys[4], w.city.supply_point_ids[4]
    w.registry.kinds.set_point_classes([(key, "high", "industrial")])
    retailer = w.registry.retailer_on(key, DAY1)
    other = next(r for r in w.secrets if r != retailer and r not in (w.switch_from, w.switch_to))
    url = f"/v1/supply-points/{sp}/demand"
    month = {"month": "2026-11"}
    resp = setup.http.get(url, params=month, headers=bearer(cc_token(setup.http, w.secrets[other])))
    assert resp.status_code == 403 and resp.json()["code"] == "not_supplied_by_client"
    assert setup.http.get(url, params=month).status_code == 401
    assert retailer is not None
    token = cc_token(setup.http, w.secrets[retailer])
    bad = setup.http.get(url, params={"month": "2026-13"}, headers=bearer(token))
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_month"
    low_key, low_sp = w.city.supply_point_keys[6], w.city.supply_point_ids[6]
    low_retailer = w.registry.retailer_on(low_key, DAY1)
    assert low_retailer is not None
    low = setup.http.get(
        f"/v1/supply-points/{low_sp}/demand",
        params=month,
        headers=bearer(cc_token(setup.http, w.secrets[low_retailer])),
    )
    assert low.status_code == 422 and low.json()["code"] == "not_high_voltage"
