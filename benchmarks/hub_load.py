"""Load generator and server processes of the hub API benchmark (not a benchmark itself).

- :func:`serve` runs in a server process: the real app (``create_app``) over a data
  directory, audit log on, rate limits off, under uvicorn on its own port. The interval store
  is opened read-only, so several server processes serve the same files (DuckDB lets one
  writer or many readers open a database file).
- :func:`run_load` keeps ``connections`` HTTP/1.1 keep-alive connections busy, spread over
  the servers' ports, each sending the next request as soon as the answer is in. It is a
  minimal client on asyncio streams (request line, headers, a ``Content-Length`` body), so
  that the load generator's own CPU — it shares the 2 cores with the servers — stays small;
  its CPU time is measured and reported.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import statistics
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    data_dir: Path, port: int, now_s: float, id_key: bytes, audit: bool, baseline: bool = False
) -> None:
    """Server process: the real app over the data directory (audit on, no rate limits).
    ``baseline``: as before the point-day files, the token cache and uvicorn's C parser and
    libuv loop (DuckDB for every point read, the clients' store for every token, h11 and
    asyncio), for a ratio in the same run."""
    import uvicorn

    from openami.clock import JST, ManualClock
    from openami.hub.context import HubContext
    from openami.mdms import Mdms
    from openami.registry import Registry
    from openami.storage.duckdb_interval import DuckIntervalStore
    from openami.storage.repositories import open_database
    from openami.storage.repositories.audit import AuditLog
    from openami.storage.repositories.clients import ClientStore
    from openami.web.app import ThreadPoolCap, create_app

    if os.environ.get("HUB_BENCH_PIN"):  # as serve hub --pin-cpus: one CPU per server
        from openami.cli.cpu_pin import pin_to_free_cpu

        pin_to_free_cpu()
    database = open_database(data_dir / "registry.sqlite")
    registry = Registry(database)
    clock = ManualClock(datetime.fromtimestamp(now_s, JST))
    store = DuckIntervalStore(data_dir / "interval.duckdb", read_only=True)
    mdms = Mdms(store, registry, clock, point_days=not baseline)
    if mdms.point_days is not None:  # written once per data set, then found: not timed
        mdms.point_days.ready.wait(1800)
    context = HubContext(
        registry,
        mdms,
        ClientStore(database),
        clock,
        "operator",
        "",
        audit=AuditLog(database) if audit else None,
        rate_limits=None,
        espi_id_key=id_key,
        token_cache_s=0.0 if baseline else 5.0,
    )
    app = create_app(context)
    # the dashboard's warm-up (KPIs of recent days, computed once from the start in a
    # thread) would compete with the timed requests for the first minutes: API only here
    app.state.dashboard_warm_up = False
    # HUB_BENCH_THREADS=N: each server's endpoint threads capped at N (serve hub --api-threads)
    threads = int(os.environ.get("HUB_BENCH_THREADS", "0"))
    if threads > 0:
        app.add_middleware(ThreadPoolCap, threads=threads)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        **({"http": "h11", "loop": "asyncio"} if baseline else {}),
    )


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class LoadResult:
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    bytes: int
    client_cpu_pct: float  # load generator CPU over the run, % of one core
    server_cpu_ms: float = 0.0  # the servers' CPU per request answered [ms]

    def row(self) -> dict[str, float | int]:
        return {k: round(v, 1) if isinstance(v, float) else v for k, v in self.__dict__.items()}


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(
    port: int, paths: list[str], token: str, stop_at: float, start: int, out: list[float]
) -> tuple[int, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors, size, i = 0, 0, start
    try:
        while time.perf_counter() < stop_at:
            path = paths[i % len(paths)]
            i += 1
            request = (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: */*\r\n\r\n"
            )
            t0 = time.perf_counter()
            writer.write(request.encode())
            status, body = await _read_response(reader)
            out.append(time.perf_counter() - t0)
            if status != 200:
                errors += 1
            size = len(body)
    finally:
        writer.close()
    return errors, size


async def _run(
    ports: list[int], paths: list[str], token: str, seconds: float, connections: int
) -> tuple[list[float], int, int, float]:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    t0 = time.perf_counter()
    results = await asyncio.gather(
        *(
            _connection(ports[c % len(ports)], paths, token, stop_at, c * 7, latencies)
            for c in range(connections)
        )
    )
    elapsed = time.perf_counter() - t0
    return latencies, sum(e for e, _ in results), max(s for _, s in results), elapsed


def run_load(
    ports: list[int], paths: list[str], token: str, seconds: float, connections: int
) -> LoadResult:
    """``connections`` keep-alive connections (round robin over ``ports``) cycling through
    ``paths`` for ``seconds``."""
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    latencies, errors, size, elapsed = asyncio.run(_run(ports, paths, token, seconds, connections))
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if not latencies:
        raise RuntimeError(f"no request answered in {seconds:g} s")
    latencies.sort()
    return LoadResult(
        requests=len(latencies),
        errors=errors,
        rps=len(latencies) / elapsed,
        p50_ms=1000 * statistics.median(latencies),
        p99_ms=1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        bytes=size,
        client_cpu_pct=100 * cpu_s / elapsed,
    )


def cores() -> int:
    return len(os.sched_getaffinity(0))
