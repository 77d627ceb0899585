"""Read sources have one name everywhere: the C-route API and the dashboard both name a
read's source with ``bus.messages.read_source_name`` (a bulk-imported read is ``bulk`` in
both; the dashboard shows its translation and carries the name in ``data-source``)."""

from __future__ import annotations

import re
from datetime import date, datetime

import httpx
import numpy as np
import pyarrow as pa
from tests.httpserver import serve
from tests.web.conftest import operator_client

from openami.bus.messages import READ_SCHEMA, ReadSource, read_source_name
from openami.clock import JST, ManualClock, day_first_slot, slot_start_s
from openami.hub.context import HubContext
from openami.mdms import Mdms
from openami.registry import Registry
from openami.sim import CityConfig, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ApiClient, ClientStore
from openami.web.app import create_app

DAY = date(2026, 11, 1)
OPERATOR = ("operator", "source-names-pw")
SECRET = "secret-for-source-name-tests"


def test_a_bulk_imported_read_is_bulk_in_the_api_and_on_the_dashboard() -> None:
    database = open_database(":memory:")
    registry = Registry(database)
    city = build_city(CityConfig(meters=3, seed=3, start_day=DAY), registry)
    clock = ManualClock(datetime(2026, 11, 2, 12, tzinfo=JST))
    mdms = Mdms(DuckIntervalStore(), registry, clock)
    first = day_first_slot(DAY)
    boundary = np.arange(first, first + 49, dtype=np.int64)
    source = np.where(np.arange(49) < 20, ReadSource.SCHEDULED, ReadSource.BULK).astype(np.uint8)
    source[30:33] = ReadSource.BACKFILL
    mdms.ingest(
        pa.table(
            {
                "meter_id": np.full(49, int(city.fleet.meter_ids[0]), dtype=np.int64),
                "boundary": boundary,
                "import_register_wh": 1000 + 100 * np.arange(49, dtype=np.int64),
                "export_register_wh": np.zeros(49, dtype=np.int64),
                "received_at": slot_start_s(boundary) + 60.0,
                "source": source,
            },
            schema=READ_SCHEMA,
        )
    )
    expected = [read_source_name(int(s)) for s in source]
    assert "bulk" in expected and "scheduled" in expected and "backfill" in expected
    key, sp = city.supply_point_keys[0], city.supply_point_ids[0]
    retailer = registry.retailer_on(key, DAY)
    assert retailer is not None
    clients = ClientStore(database)
    clients.register(ApiClient("c-src", "retailer", retailer), SECRET)
    context = HubContext(registry, mdms, clients, clock, *OPERATOR)
    with serve(create_app(context)) as base, httpx.Client(base_url=base, timeout=10) as http:
        token = http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("c-src", SECRET)
        ).json()["access_token"]
        api = http.get(
            f"/v1/supply-points/{sp}/register-reads",
            params={"from": DAY.isoformat(), "to": DAY.isoformat()},
            headers={"Authorization": f"Bearer {token}"},
        )
        with operator_client(base, *OPERATOR) as dashboard:
            page = dashboard.get(f"/supply-points/{sp}", params={"date": DAY.isoformat()})
    assert api.status_code == 200 and page.status_code == 200
    api_sources = [item["source"] for item in api.json()["items"]]
    assert api_sources == expected[:48]  # the reads at the day's 48 instants
    reads_table = re.search(r'<table id="reads-table".*?</table>', page.text, re.S)
    assert reads_table is not None
    page_sources = re.findall(r'data-source="([a-z_]+)"', reads_table.group(0))
    assert page_sources == expected  # the page also shows the read closing the day
    assert page_sources[: len(api_sources)] == api_sources
    assert "bulk import" in reads_table.group(0)  # the English label of "bulk"
