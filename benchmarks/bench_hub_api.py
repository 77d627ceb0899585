"""C-route API under load on loopback: requests per second and latency, 1 and 2 processes.

The data set (``hub_bench_data``): a city from ``build_city`` and ``--days`` JST days of
half-hour values of every supply point, bulk-loaded as the ingest stores them (day rows) and
cached under ``--dir`` (default: a temporary directory, gone after the run). The servers are
real processes (``hub_load.serve``: uvicorn, the real app, the audit log on, rate limits off,
the interval store opened read-only by each); the load generator (``hub_load.run_load``)
keeps ``--connections`` keep-alive connections busy, spread over the servers, for
``--seconds`` per scenario, after a warm-up of each (not measured). Scenarios, each asking
for one supply point and one JST day, cycling through up to 200 points of the bench
retailer and every stored day:

- ``json``: ``GET /v1/supply-points/{id}/half-hour-values?date=…`` (48 values)
- ``espi``: ``GET /espi/1_1/resource/Batch/Subscription/{client}/UsagePoint/{up}`` for that
  day (UsagePoint, 2 MeterReadings, 2 ReadingTypes, LocalTimeParameters, 2 IntervalBlocks)

Each is run against 1 server process and then against ``--processes`` (default 2) in the
same run. Figures: requests/s, p50 and p99 latency [ms], response size [bytes], and the load
generator's own CPU (% of one core): it shares the machine (2 cores) with the servers, so
the figures are lower bounds. ``--small``: 300 points × 2 days, 2 s per scenario.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from hub_bench_data import DAY1, ID_KEY, SECRET, build
from hub_load import cores, cpu_s, free_port, run_load, serve
from openami.protocols.espi import jp

PERIOD = "published-min={0}T00:00:00%2B09:00&published-max={1}T00:00:00%2B09:00"


def _start(
    data_dir: Path, now_s: float, count: int, audit: bool, baseline: bool = False,
    pin: bool = False,
) -> tuple[list[Any], list[int]]:  # fmt: skip
    ports = [free_port() for _ in range(count)]
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--serve", str(data_dir), str(p), str(now_s)]
            + ([] if audit else ["--no-audit"])
            + (["--baseline"] if baseline else []),
            env={**os.environ, "PYTHONUNBUFFERED": "1", **({"HUB_BENCH_PIN": "1"} if pin else {})},
            stdout=subprocess.DEVNULL,  # --json prints one object: the servers' logs go
        )
        for p in ports
    ]
    deadline = time.monotonic() + 300
    for proc, port in zip(procs, ports, strict=True):
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    _stop(procs)
                    raise RuntimeError("a server did not start") from None
                time.sleep(0.2)
    return procs, ports


def _stop(procs: list[Any]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a loaded machine: do not lose the figures
            proc.kill()
            proc.wait()


def _paths(info: dict[str, Any]) -> dict[str, list[str]]:
    days = [DAY1 + timedelta(days=d) for d in range(int(info["days"]))]
    points = list(info["points"])
    json_paths, espi_paths = [], []
    for i, sp in enumerate(points):
        for j in range(len(days)):
            day = days[(i + j) % len(days)]
            json_paths.append(f"/v1/supply-points/{sp}/half-hour-values?date={day.isoformat()}")
            up = jp.opaque_uuid(ID_KEY, "UsagePoint", sp)
            period = PERIOD.format(day.isoformat(), (day + timedelta(days=1)).isoformat())
            espi_paths.append(
                f"/espi/1_1/resource/Batch/Subscription/bench/UsagePoint/{up}?{period}"
            )
    return {"json": json_paths, "espi": espi_paths}


def measure(
    data_dir: Path, info: dict[str, Any], processes: int, seconds: float, connections: int,
    audit: bool, baseline: bool = False, pin: bool = False,
) -> dict[str, Any]:  # fmt: skip
    procs, ports = _start(data_dir, float(info["now_s"]), processes, audit, baseline, pin)
    try:
        token = httpx.post(
            f"http://127.0.0.1:{ports[0]}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("bench", SECRET),
        ).json()["access_token"]
        out = {}
        for name, paths in _paths(info).items():
            run_load(ports, paths, token, min(2.0, seconds / 2), connections)  # warm-up
            cpu0 = sum(cpu_s(p.pid) for p in procs)
            result = run_load(ports, paths, token, seconds, connections)
            result.server_cpu_ms = 1000 * (sum(cpu_s(p.pid) for p in procs) - cpu0)
            result.server_cpu_ms /= result.requests
            out[name] = result.row()
        return out
    finally:
        _stop(procs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="300 points × 2 days, 2 s runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--meters", type=int, default=None, help="default 100,000")
    parser.add_argument("--days", type=int, default=None, help="default 45")
    parser.add_argument("--seconds", type=float, default=None, help="per scenario")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2, help="the second configuration")
    parser.add_argument("--no-audit", action="store_true", help="serve without the audit log")
    parser.add_argument(
        "--no-baseline", action="store_true", help="leave out the 1-process baseline run"
    )
    parser.add_argument(
        "--pin-cpus",
        action="store_true",
        help="pin each server of the measured configurations to a CPU (serve hub --pin-cpus)",
    )
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, default=None, help="keep (reuse) the data set here")
    parser.add_argument(
        "--serve", nargs=3, metavar=("DATA_DIR", "PORT", "NOW_S"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        data_dir, port, now_s = Path(args.serve[0]), int(args.serve[1]), float(args.serve[2])
        serve(data_dir, port, now_s, ID_KEY, not args.no_audit, args.baseline)
        return
    meters = args.meters or (300 if args.small else 100_000)
    days = args.days or (2 if args.small else 45)
    seconds = args.seconds or (2.0 if args.small else 10.0)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.dir or Path(tmp)
        t0 = time.perf_counter()
        data_dir, info = build(root, meters, days)
        build_s = time.perf_counter() - t0
        results: dict[str, dict[str, Any]] = {}
        if not args.no_baseline:
            results["base1"] = measure(
                data_dir, info, 1, seconds, args.connections, not args.no_audit, baseline=True
            )
        for n in sorted({1, args.processes}):
            results[f"p{n}"] = measure(
                data_dir, info, n, seconds, args.connections, not args.no_audit, pin=args.pin_cpus
            )
    figures = {
        "meters": meters,
        "days": days,
        "half_hour_values": info["values"],
        "connections": args.connections,
        "audit": not args.no_audit,
        "pinned": args.pin_cpus,
        "seconds_per_scenario": seconds,
        "cores": cores(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "build_s": round(build_s, 1),
        "cached": build_s < 1 and "city_s" in info,
        "city_s": info["city_s"],
        "load_s": info["load_s"],
        **{
            f"{n}_{name}_{k}": v
            for n, scenarios in results.items()
            for name, row in scenarios.items()
            for k, v in row.items()
        },
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"data: {meters:,} points × {days} days ({int(info['values']):,} half-hour values), "
        f"{'cached' if figures['cached'] else f'built in {build_s:.1f} s'}; "
        f"{args.connections} keep-alive connections, {seconds:g} s per scenario, audit "
        f"{'on' if not args.no_audit else 'off'}, {cores()} cores, "
        f"{'servers pinned to a CPU each, ' if args.pin_cpus else ''}"
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'config':>6} {'scenario':<9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'bytes':>7} "
        f"{'errors':>6} {'client CPU %':>12} {'server CPU ms/req':>17} {'vs base1':>8}"
    )
    for n, scenarios in results.items():
        for name, r in scenarios.items():
            base = results.get("base1", {}).get(name)
            ratio = f"{base['server_cpu_ms'] / r['server_cpu_ms']:.2f}x" if base else "-"
            print(
                f"{n:>6} {name:<9} {r['rps']:>8.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
                f"{int(r['bytes']):>7,} {int(r['errors']):>6} {r['client_cpu_pct']:>12.1f} "
                f"{r['server_cpu_ms']:>17.2f} {ratio:>8}"
            )


if __name__ == "__main__":
    main()
