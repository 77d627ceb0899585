"""The rollout page's forecast of replacements at certification expiry per fiscal year and
area, beside the deployment plan, computed from the registry's expiry (simulated fleet:
certified in October of the installation year, 10 years for household meters)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from tests.web.conftest import METERS, DashboardWorld, operator_client

from openami.registry.certification import fiscal_year


@pytest.fixture
def client(world: DashboardWorld) -> Iterator[httpx.Client]:
    with operator_client(world.base) as c:
        yield c


def test_forecast_per_fiscal_year_and_area(world: DashboardWorld, client: httpx.Client) -> None:
    registry = world.context.registry
    installed = [registry.installed_meter(k) for k in world.city.supply_point_keys]
    expected: dict[tuple[int, str], int] = {}
    for key, meter in zip(world.city.supply_point_keys, installed, strict=True):
        assert meter is not None
        serial_year = int(str(meter["serial"])[:4])  # the simulated installation year
        assert meter["certification_expiry"] == f"{serial_year + 10}-10-31"
        area = world.city.supply_point_ids[world.city.supply_point_keys.index(key)][:2]
        fy = fiscal_year(date(serial_year + 10, 10, 31))
        expected[(fy, area)] = expected.get((fy, area), 0) + 1
    rows = registry.expiry_forecast()
    assert {(r.fiscal_year, r.area_code): r.meters for r in rows} == expected
    assert sum(r.meters for r in rows) == METERS
    html = client.get("/rollout").text
    table = re.search(r'<table id="forecast-table">.*?</table>', html, re.S)
    assert table is not None
    tokyo = re.search(r'<tr data-forecast-area="03">(.*?)</tr>', table.group(0), re.S)
    assert tokyo is not None
    years = sorted({fy for fy, _ in expected})
    cells = re.findall(r'<td class="num">([\d,]+)</td>', tokyo.group(1))
    assert [int(c.replace(",", "")) for c in cells] == [expected.get((y, "03"), 0) for y in years]
    ja = client.get("/rollout", params={"lang": "ja"}).text
    assert "検満取替の年度別見込み" in ja
