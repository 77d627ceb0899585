"""Dashboard page timings with a large fleet loaded (100,000 meters; ``--small``: 10,000).

The data is loaded straight into the MDMS, not through the network simulation, so loading
takes a minute rather than an hour: the fleet model logs its registers at every boundary,
each read gets a seeded arrival delay (most within minutes, some after an hour via retry,
a few never) and is ingested like the HES would deliver it; then unread slots are marked
missing. Pages are fetched over HTTP from a uvicorn server in a thread (operator auth,
templates, SQL). The server starts warming its cache at start-up; "first" is the first
request right after start (competing with that warm-up): the overview may come without its
trend chart, which the browser then fetches ("first_with_trend" is the time until both
arrived); "all_cached_after_start" is when the overview comes whole from the cache. "warm"
is the median of repeats. The supply point figure is the median over random supply points.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import httpx
import numpy as np
import pyarrow as pa
import uvicorn
from fastapi import FastAPI

from openami.clock import JST, ManualClock, day_first_slot
from openami.hub.context import HubContext
from openami.mdms.service import Mdms
from openami.registry import Registry
from openami.sim import CityConfig, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ClientStore
from openami.web.app import create_app

START = date(2026, 11, 1)
OPERATOR = ("operator", "bench-only-password")


def load(meters: int, days: int, seed: int) -> tuple[HubContext, list[str], dict[str, float]]:
    t0 = time.perf_counter()
    database = open_database(":memory:")
    registry = Registry(database)
    city = build_city(
        CityConfig(
            meters=meters,
            seed=seed,
            start_day=START,
            areas=("03", "06", "09"),
            retention_days=days + 2,
        ),
        registry,
    )
    t_city = time.perf_counter() - t0
    store = DuckIntervalStore()
    first = day_first_slot(START)
    clock = ManualClock(datetime.combine(START, datetime.min.time(), JST))
    mdms = Mdms(store, registry, clock)
    rng = np.random.default_rng(seed)
    fleet = city.fleet
    index = np.arange(meters, dtype=np.int64)
    t1 = time.perf_counter()
    rows = 0
    last = first + days * 48 + 2
    for b in range(first, last + 1):
        fleet.advance_to(b)
        imp, exp = fleet.registers_at(index, np.full(meters, b))
        delay_s = rng.lognormal(np.log(90.0), 0.6, meters)
        late = rng.random(meters) < 0.02
        delay_s[late] += rng.uniform(1800, 5400, int(late.sum()))
        kept = rng.random(meters) >= 0.003
        source = np.where(late, 1, 0).astype(np.uint8)
        batch = pa.table(
            {
                "meter_id": fleet.meter_ids[kept],
                "boundary": np.full(int(kept.sum()), b, dtype=np.int64),
                "import_register_wh": imp[kept],
                "export_register_wh": exp[kept],
                "received_at": b * 1800.0 + delay_s[kept],
                "source": source[kept],
            }
        )
        clock.set_timestamp(b * 1800.0 + 300)
        mdms.ingest(batch)
        rows += batch.num_rows
    clock.set_timestamp(last * 1800.0 + 3600)
    mdms.mark_missing(first, last - 3)
    t_load = time.perf_counter() - t1
    context = HubContext(registry, mdms, ClientStore(database), clock, *OPERATOR)
    return (
        context,
        city.supply_point_ids,
        {"build_city_s": t_city, "load_reads_s": t_load, "reads": float(rows)},
    )


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """uvicorn on a free loopback port in a thread, as in production (background tasks
    run after the response is sent, not inside the request as with a test client)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def log_in(client: httpx.Client) -> None:
    """Through the login form, as an operator's browser does (session cookie)."""
    form = client.get("/login")
    found = re.search(r'id="login-form">\s*<input [^>]*value="([^"]+)"', form.text)
    if found is None:
        raise RuntimeError("no login form")
    data = {"name": OPERATOR[0], "password": OPERATOR[1], "csrf_token": found.group(1)}
    if client.post("/login", data=data).status_code != 303:
        raise RuntimeError("login failed")


def run(meters: int, days: int, repeats: int, seed: int) -> dict[str, float]:
    context, sp_ids, figures = load(meters, days, seed)
    figures["meters"] = float(meters)
    figures["days"] = float(days)
    with (
        serving(create_app(context)) as base,
        httpx.Client(base_url=base, timeout=600) as client,
    ):
        log_in(client)

        def get(path: str) -> str:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {response.status_code}")
            return response.text

        t0 = time.perf_counter()  # the server has just started: its warm-up runs now
        first = get("/")
        figures["overview_first_s"] = time.perf_counter() - t0
        figures["overview_first_trend_inline"] = float('id="trend-chart"' in first)
        if 'id="trend-chart"' not in first:
            get("/overview/trend")  # what the browser fetches next
        figures["overview_first_with_trend_s"] = time.perf_counter() - t0
        while 'id="trend-chart"' not in get("/"):
            time.sleep(0.2)
        figures["overview_all_cached_after_start_s"] = time.perf_counter() - t0
        figures["network_first_s"] = timed(lambda: get("/network"))
        figures["overview_warm_s"] = statistics.median(
            timed(lambda: get("/")) for _ in range(repeats)
        )
        figures["network_warm_s"] = statistics.median(
            timed(lambda: get("/network")) for _ in range(repeats)
        )
        rng = np.random.default_rng(seed)
        picks = [sp_ids[int(i)] for i in rng.integers(0, len(sp_ids), 20)]
        day = (START + timedelta(days=days - 1)).isoformat()
        sp_times = [timed(lambda sp=sp: get(f"/supply-points/{sp}?date={day}")) for sp in picks]
        figures["supply_point_median_s"] = statistics.median(sp_times)
        figures["supply_point_max_s"] = max(sp_times)
        figures["search_prefix_s"] = timed(lambda: get(f"/supply-points?q={sp_ids[0][:12]}"))
        figures["rollout_s"] = statistics.median(timed(lambda: get("/rollout")) for _ in range(3))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="10,000 meters, 2 days")
    parser.add_argument("--meters", type=int, default=None, help="fleet size (default 100,000)")
    parser.add_argument("--days", type=int, default=None, help="days of data (default 3)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of warm requests")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    meters = args.meters or (10_000 if args.small else 100_000)
    days = args.days or (2 if args.small else 3)
    figures = run(meters, days, args.repeats, args.seed)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"dashboard with {meters:,} meters × {days} day(s) loaded")
    print(f"{'figure':<36} {'value':>12}")
    for name, value in figures.items():
        plain = name in ("reads", "meters", "days", "overview_first_trend_inline")
        shown = f"{value:,.0f}" if plain else f"{value:.3f}"
        print(f"{name:<36} {shown:>12}")


if __name__ == "__main__":
    main()
