"""C-route API under load on loopback: requests per second and latency, JSON vs ESPI.

A city is built into a temporary data directory, either by running the network simulation
(``--simulate``, default below 10,000 meters) or directly (``--direct``, default from 10,000
meters): the registry comes from ``build_city`` and the half-hour values from the load model
(``interval_energy_wh``), written into the DuckDB store day by day as Arrow tables in the
order the MDMS writes them (slot by slot, all supply points per slot), one version each,
quality ``measured``. The direct load writes no register reads (the two scenarios read only
``half_hour_values``); ``--load-budget-s`` stops it after the day that exceeds the budget and
the table says how many days were stored. A separate server process (uvicorn,
one worker, the real app with the audit log on and rate limits off) serves it; a load
generator in this process keeps ``--concurrency`` keep-alive connections busy for
``--seconds`` per scenario. Scenarios, each for one supply point and one JST day:

- ``json``: ``GET /v1/supply-points/{id}/half-hour-values?date=…`` (48 values)
- ``espi``: ``GET /espi/1_1/resource/Batch/Subscription/{client}/UsagePoint/{up}`` for that
  day (UsagePoint, 2 MeterReadings, 2 ReadingTypes, LocalTimeParameters, 2 IntervalBlocks)

plus ``espi_bulk``: ``Batch/Bulk/{client}`` for one day, one page of (up to) 100 points of
one retailer.
Each scenario is warmed up first (≤ 1 s, not measured). Figures: requests/s, p50 and p99
latency [ms], response size [bytes]. The load generator
shares the machine (2 cores in CI) with the server, so these are lower bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa

from openami.clock import JST, ManualClock, day_first_slot
from openami.protocols.espi import jp

DAY1 = date(2026, 11, 1)
SECRET = "bench-secret-not-for-production"
ID_KEY = b"bench-id-key-not-for-production!"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(data_dir: Path, meters: int, days: int) -> dict[str, object]:
    from openami.registry import Registry
    from openami.sim import CityConfig, Simulation, build_city
    from openami.storage.duckdb_interval import DuckIntervalStore
    from openami.storage.repositories import open_database
    from openami.storage.repositories.clients import ApiClient, ClientStore

    database = open_database(data_dir / "registry.sqlite")
    registry = Registry(database)
    city = build_city(CityConfig(meters=meters, seed=3, start_day=DAY1), registry)
    clock = ManualClock(datetime.combine(DAY1, datetime.min.time(), JST))
    store = DuckIntervalStore(data_dir / "interval.duckdb")
    sim = Simulation.create(city, store, clock, tick_s=1800.0)
    end = datetime.combine(DAY1 + timedelta(days=days), datetime.min.time(), JST)
    sim.run_until(end.timestamp() + 3600)
    key, sp = city.supply_point_keys[0], city.supply_point_ids[0]
    retailer = registry.retailer_on(key, DAY1)
    assert retailer is not None
    ClientStore(database).register(ApiClient("bench", "retailer", retailer), SECRET)
    supplied = sum(registry.retailer_on(k, DAY1) == retailer for k in city.supply_point_keys)
    store.close()
    registry.close()
    return {"sp": sp, "now_s": clock.timestamp(), "supplied": supplied}


def build_direct(data_dir: Path, meters: int, days: int, budget_s: float) -> dict[str, object]:
    """Registry from ``build_city``; ``days`` JST days of half-hour values straight into the
    store (stops after the day that exceeds ``budget_s``; ``days`` in the answer is what was
    stored)."""
    from openami.meter.load import interval_energy_wh
    from openami.registry import Registry
    from openami.sim import CityConfig, build_city
    from openami.storage.duckdb_interval import DuckIntervalStore
    from openami.storage.repositories import open_database
    from openami.storage.repositories.clients import ApiClient, ClientStore

    t0 = time.perf_counter()
    database = open_database(data_dir / "registry.sqlite")
    registry = Registry(database)
    city = build_city(CityConfig(meters=meters, seed=3, start_day=DAY1), registry)
    keys = np.asarray(city.supply_point_keys, dtype=np.int64)
    index = np.arange(meters, dtype=np.int64)
    store = DuckIntervalStore(data_dir / "interval.duckdb")
    city_s = time.perf_counter() - t0
    loaded = 0
    for d in range(days):
        # one JST day, slot-major (48 × meters) as the MDMS stores a boundary at a time
        slots = day_first_slot(DAY1 + timedelta(days=d)) + np.arange(48, dtype=np.int64)
        import_wh, export_wh = interval_energy_wh(
            city.fleet.params, index[None, :], slots[:, None], city.fleet.seed
        )
        slot_col = np.repeat(slots, meters)
        batch = pa.table(
            {
                "supply_point_key": np.tile(keys, 48),
                "slot": slot_col,
                "import_wh": import_wh.ravel(),
                "export_wh": export_wh.ravel(),
                "recorded_at": (slot_col + 1) * 1800.0 + 120.0,
            }
        )
        del import_wh, export_wh, slot_col
        with store.transaction() as cur:
            cur.register("batch", batch)
            cur.execute(
                "INSERT INTO hh_values (supply_point_key, slot, import_wh, export_wh, "
                "quality, version, recorded_at, reason) SELECT supply_point_key, slot, "
                "import_wh, export_wh, 'measured', 1, recorded_at, 'register difference' "
                "FROM batch"
            )
            cur.unregister("batch")
        del batch
        loaded += 1
        if time.perf_counter() - t0 > budget_s:
            break
    with store.transaction() as cur:
        row = cur.execute("SELECT COUNT(*) FROM half_hour_values").fetchone()
    values = int(row[0]) if row else 0
    store.close()  # checkpoints: the server opens a database without a WAL to replay
    key, sp = city.supply_point_keys[0], city.supply_point_ids[0]
    retailer = registry.retailer_on(key, DAY1)
    assert retailer is not None
    ClientStore(database).register(ApiClient("bench", "retailer", retailer), SECRET)
    supplied = sum(registry.retailer_on(k, DAY1) == retailer for k in city.supply_point_keys)
    registry.close()
    end = datetime.combine(DAY1 + timedelta(days=loaded), datetime.min.time(), JST)
    return {
        "sp": sp,
        "now_s": end.timestamp() + 3600,
        "supplied": supplied,
        "days": loaded,
        "values": values,
        "city_s": city_s,
    }


def serve(data_dir: Path, port: int, now_s: float, audit: bool = True) -> None:
    """Server process: the real app over the data directory (audit on, no rate limits)."""
    import uvicorn

    from openami.hub.context import HubContext
    from openami.mdms import Mdms
    from openami.registry import Registry
    from openami.storage.duckdb_interval import DuckIntervalStore
    from openami.storage.repositories import open_database
    from openami.storage.repositories.audit import AuditLog
    from openami.storage.repositories.clients import ClientStore
    from openami.web.app import create_app

    database = open_database(data_dir / "registry.sqlite")
    registry = Registry(database)
    clock = ManualClock(datetime.fromtimestamp(now_s, JST))
    mdms = Mdms(DuckIntervalStore(data_dir / "interval.duckdb"), registry, clock)
    context = HubContext(
        registry,
        mdms,
        ClientStore(database),
        clock,
        "operator",
        "bench-operator-pw",
        audit=AuditLog(database) if audit else None,
        rate_limits=None,
        espi_id_key=ID_KEY,
    )
    uvicorn.run(create_app(context), host="127.0.0.1", port=port, log_level="warning")


def load(base: str, path: str, token: str, seconds: float, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    sizes: list[int] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker() -> None:
        mine: list[float] = []
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                try:
                    resp = c.get(path)
                except httpx.HTTPError:
                    with lock:
                        errors[0] += 1
                    continue
                mine.append(time.perf_counter() - t0)
                if resp.status_code != 200:
                    with lock:
                        errors[0] += 1
                elif not sizes:
                    sizes.append(len(resp.content))
        with lock:
            latencies.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    latencies.sort()
    if not latencies:
        raise RuntimeError(f"no successful request to {path} in {seconds:g} s")
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "bytes": sizes[0] if sizes else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="small city, short runs (< 30 s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--meters", type=int, default=None)
    parser.add_argument("--days", type=int, default=None, help="simulated JST days")
    parser.add_argument("--seconds", type=float, default=None, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-audit", action="store_true", help="serve without the audit log")
    how = parser.add_mutually_exclusive_group()
    how.add_argument(
        "--direct",
        action="store_true",
        help="write half-hour values straight into the store (default from 10,000 meters)",
    )
    how.add_argument(
        "--simulate", action="store_true", help="run the network simulation to fill the store"
    )
    parser.add_argument(
        "--load-budget-s",
        type=float,
        default=900.0,
        help="direct load: stop after the day that exceeds this many seconds",
    )
    parser.add_argument(
        "--serve", nargs=3, metavar=("DATA_DIR", "PORT", "NOW_S"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), float(args.serve[2]), not args.no_audit)
        return
    meters = args.meters or (60 if args.small else 1000)
    days = args.days or (1 if args.small else 2)
    seconds = args.seconds or (3.0 if args.small else 10.0)

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        t0 = time.perf_counter()
        direct = args.direct or (not args.simulate and meters >= 10_000)
        if direct:
            info = build_direct(data_dir, meters, days, args.load_budget_s)
        else:
            info = build(data_dir, meters, days)
        build_s = time.perf_counter() - t0
        days_stored = int(str(info.get("days", days)))
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(data_dir), str(port), str(info["now_s"])]
            + (["--no-audit"] if args.no_audit else []),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    httpx.get(base + "/openapi.json", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.1)
            token = httpx.post(
                base + "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("bench", SECRET),
            ).json()["access_token"]
            sp = str(info["sp"])
            up = jp.opaque_uuid(ID_KEY, "UsagePoint", sp)
            period = (
                "published-min=2026-11-01T00:00:00%2B09:00"
                "&published-max=2026-11-02T00:00:00%2B09:00"
            )
            scenarios = {
                "json": f"/v1/supply-points/{sp}/half-hour-values?date={DAY1.isoformat()}",
                "espi": f"/espi/1_1/resource/Batch/Subscription/bench/UsagePoint/{up}?{period}",
                "espi_bulk": f"/espi/1_1/resource/Batch/Bulk/bench?{period}&max-results=100",
            }
            for path in scenarios.values():  # warm up: caches, DuckDB pages, the id index
                load(base, path, token, min(1.0, seconds / 3), args.concurrency)
            results = {
                name: load(base, path, token, seconds, args.concurrency)
                for name, path in scenarios.items()
            }
        finally:
            server.terminate()
            server.wait(timeout=10)

    figures = {
        "meters": meters,
        "days_stored": days_stored,
        "load": "direct" if direct else "simulate",
        "half_hour_values": info.get("values"),
        "bulk_supply_points": info["supplied"],
        "concurrency": args.concurrency,
        "audit": not args.no_audit,
        "seconds_per_scenario": seconds,
        "build_s": round(build_s, 2),
        "build_city_s": round(float(str(info["city_s"])), 2) if direct else None,
        **{
            f"{name}_{k}": round(v, 2) if isinstance(v, float) else v
            for name, r in results.items()
            for k, v in r.items()
        },
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"city: {meters:,} meters × {days_stored} day(s) "
        f"({'direct load' if direct else 'simulated'}"
        + (f", {int(str(info['values'])):,} half-hour values" if direct else "")
        + f"), built in {build_s:.1f} s; "
        f"{args.concurrency} connections, {seconds:g} s per scenario"
    )
    print(f"{'scenario':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'bytes':>9} {'errors':>7}")
    for name, r in results.items():
        print(
            f"{name:<10} {r['rps']:>8.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{int(r['bytes']):>9,} {int(r['errors']):>7}"
        )
    print(
        f"espi_bulk = one day, first page (≤ 100) of the {info['supplied']} points of one retailer"
    )


if __name__ == "__main__":
    main()
