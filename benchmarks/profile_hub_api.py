"""Where the service time of one C-route request goes: a profile of the real app in-process.

Builds (or reuses, ``--dir``) the data set of ``bench_hub_api.py``, makes the app as a server
process does (audit log on, rate limits off), sends ``--requests`` point-day requests (JSON
or ESPI, cycling through points and days) through Starlette's test client, and prints the
time per request [ms] spent in each component, from the profile's cumulative times:
token check, access rule, audit writes, the interval-store query, building the answer and
serialising it. The test client's own overhead is part of the total, not of a component.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_hub_api import _paths
from hub_bench_data import ID_KEY, SECRET, build

#: component → (file suffix, function name) whose cumulative time is the component's
COMPONENTS: dict[str, list[tuple[str, str]]] = {
    "token check": [("hub/oauth.py", "current_party"), ("hub/api.py", "current_client")],
    "access rule": [("hub/consent_access.py", "access"), ("hub/espi_access.py", "one_point")],
    "audit writes": [("storage/repositories/audit.py", "append_many")],
    "store query": [("mdms/service.py", "current_values")],
    "service start (registry)": [("registry/opening.py", "start_slot")],
    "answer built": [("hub/data_api.py", "half_hour_values"), ("hub/espi_feed.py", "batch_feed")],
    "response validation + JSON": [("fastapi/routing.py", "serialize_response")],
}


def _app(data_dir: Path, now_s: float, cache_s: float, point_days: bool) -> Any:
    from datetime import datetime

    from openami.clock import JST, ManualClock
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
    store = DuckIntervalStore(data_dir / "interval.duckdb", read_only=True)
    mdms = Mdms(store, registry, clock, point_days=point_days)
    if mdms.point_days is not None:
        mdms.point_days.ready.wait(1800)
    context = HubContext(
        registry, mdms, ClientStore(database), clock, "operator", "",
        audit=AuditLog(database), rate_limits=None, espi_id_key=ID_KEY,
        **({"service_start_cache_s": cache_s} if cache_s else {}),
    )  # fmt: skip
    app = create_app(context)
    app.state.dashboard_warm_up = False  # an API-only process, as the benchmark's servers
    return app


def _component_ms(stats: Any, requests: int) -> dict[str, float]:
    out = {}
    for name, functions in COMPONENTS.items():
        total = 0.0
        for s in stats:
            if any(
                s.module.endswith(suffix) and (s.name == f or s.name.endswith("." + f))
                for suffix, f in functions
            ):
                total += s.ttot
        out[name] = 1000 * total / requests
    out["all (CPU, every thread)"] = 1000 * sum(s.tsub for s in stats) / requests
    return out


def main() -> None:
    import yappi
    from fastapi.testclient import TestClient

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--scenario", choices=["json", "espi"], default="json")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--service-start-cache-s", type=float, default=0.0)
    parser.add_argument("--no-point-days", action="store_true", help="DuckDB for every read")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--top", type=int, default=0, help="also print the top N functions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, info = build(args.dir or Path(tmp), args.meters, args.days)
        paths = _paths(info)[args.scenario]
        with TestClient(
            _app(data_dir, float(info["now_s"]), args.service_start_cache_s, not args.no_point_days)
        ) as client:
            token = client.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=("bench", SECRET)
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            for path in paths[:50]:  # warm-up
                client.get(path, headers=headers)
            yappi.set_clock_type("cpu")
            t0 = time.perf_counter()
            yappi.start()
            for i in range(args.requests):
                assert client.get(paths[i % len(paths)], headers=headers).status_code == 200
            yappi.stop()
            wall_ms = 1000 * (time.perf_counter() - t0) / args.requests
    stats = yappi.get_func_stats()
    parts = _component_ms(stats, args.requests)
    if args.json:
        parts = {k: round(v, 3) for k, v in parts.items()}
        print(json.dumps({"scenario": args.scenario, "wall_ms": round(wall_ms, 2), **parts}))
        return
    print(f"{args.scenario}: {args.requests} requests, {wall_ms:.2f} ms each (profiled)")
    for name, ms in parts.items():
        print(f"  {name:<28} {ms:6.2f} ms")
    if args.top:
        stats.sort("ttot")
        mine = [s for s in stats if "/openami/" in s.module or "duckdb" in s.module]
        for s in mine[: args.top]:
            per_ms = 1000 * s.ttot / args.requests
            print(f"  {per_ms:7.3f} ms {s.ncall / args.requests:6.1f}x  {s.module}:{s.name}")


if __name__ == "__main__":
    main()
