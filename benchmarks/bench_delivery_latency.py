"""Delivery latency of one simulated slot: slot end → every collected value queryable.

A city of N meters (100,000 by default; ``--small`` uses 10,000) with the default method
mix and network parameters runs through the slot 00:00-00:30 JST on one manual clock, in
``--tick`` steps (60 s by default, so latencies have one-minute resolution), up to 60 min
after the slot end: the HES reads every meter at 00:00 and 00:30 (jitter, permits,
retries), the MDMS ingests what has arrived each tick, and the hub workers run (a webhook
subscriber on loopback receives the "values changed" notifications). Figures:

- simulated latency per value of the slot (first measured version ``recorded_at`` − slot
  end, from :func:`openami.hub.slo.slot_slo`): p50, p95, max, completeness at +60 min;
- when the push for the slot reached the subscriber (simulated seconds after slot end);
- wall-clock cost: set-up, the whole run, the slowest tick (≤ the tick length means the
  pipeline keeps up in real time) and the SLO query itself.

Run::

    python benchmarks/bench_delivery_latency.py --small
    python benchmarks/bench_delivery_latency.py --json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import threading
import time
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from openami.clock import JST, SLOT_SECONDS, ManualClock, day_first_slot
from openami.hub.context import HubContext
from openami.hub.requests_workers import attach_workers
from openami.hub.slo import slot_slo
from openami.hub.webhooks import WebhookConfig, webhook_service
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ApiClient, ClientStore

DAY = date(2026, 11, 1)


class _Receiver:
    """A loopback webhook subscriber recording (hub clock, body) of each POST."""

    def __init__(self, clock: ManualClock) -> None:
        self.hits: list[tuple[float, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.hits.append((clock.timestamp(), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def run(meters: int, tick_s: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        database = open_database(Path(tmp) / "registry.sqlite")
        registry = Registry(database)
        city = build_city(CityConfig(meters=meters, seed=2, start_day=DAY), registry)
        clock = ManualClock(datetime.combine(DAY, datetime.min.time(), JST))
        store = DuckIntervalStore(Path(tmp) / "interval.duckdb")
        sim = Simulation.create(city, store, clock, tick_s=tick_s)
        slot = day_first_slot(DAY)  # 00:00-00:30, the city's first slot
        clients = ClientStore(database)
        retailer = registry.retailers()[0]
        client = ApiClient("bench", "retailer", retailer.retailer_id)
        clients.register(client, "bench-secret-not-for-production")
        context = HubContext(
            registry, sim.mdms, clients, clock, "operator", "bench-operator-pw", rate_limits=None
        )
        receiver = _Receiver(clock)
        hooks = webhook_service(context, WebhookConfig(allow_private=True))  # loopback
        hooks.subscribe(client, receiver.url, "bench-webhook-secret-0123456789")
        attach_workers(context, sim.after_tick)
        setup_s = time.perf_counter() - t0

        slot_end_s = (slot + 1) * SLOT_SECONDS
        ticks: list[float] = []
        now = clock.timestamp()
        t_run = time.perf_counter()
        while now < slot_end_s + 3600:
            t1 = time.perf_counter()
            sim.run_until(now + tick_s)
            ticks.append(time.perf_counter() - t1)
            now = clock.timestamp()
        run_s = time.perf_counter() - t_run
        t2 = time.perf_counter()
        row = slot_slo(sim.mdms, slot, slot, now)[0]
        query_s = time.perf_counter() - t2
        pushed = [
            at - slot_end_s
            for at, body in receiver.hits
            if b'"slot_start":"2026-11-01T00:00:00+09:00"' in body
        ]
        receiver.close()
        store.close()
        registry.close()
    return {
        "meters": meters,
        "tick_s": tick_s,
        "expected_values": row.expected,
        "measured_values_60min": row.measured_now,
        "complete_60min": row.complete_60min,
        "latency_p50_s": row.latency_p50_s,
        "latency_p95_s": row.latency_p95_s,
        "latency_max_s": row.latency_max_s,
        "first_push_after_slot_end_s": min(pushed) if pushed else None,
        "pushes_for_slot": len(pushed),
        "setup_wall_s": round(setup_s, 2),
        "run_wall_s": round(run_s, 2),
        "simulated_s": len(ticks) * tick_s,
        "slowest_tick_wall_s": round(max(ticks), 3),
        "slo_query_wall_s": round(query_s, 3),
        "python": platform.python_version(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meters", type=int, default=100_000)
    ap.add_argument("--small", action="store_true", help="10,000 meters")
    ap.add_argument("--tick", type=float, default=60.0, help="simulation tick [s]")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    meters = 10_000 if args.small else args.meters
    figures = run(meters, args.tick)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"delivery latency, slot 00:00-00:30 JST, {meters:,} meters, tick {args.tick:g} s")
    for key, value in figures.items():
        print(f"  {key:<28} {value}")


if __name__ == "__main__":
    main()
