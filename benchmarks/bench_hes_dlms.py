"""Meters read per second by the HES service's collection over loopback DLMS/TCP.

A field of N emulated meters (`openami dlms serve --meters N --no-fsync`, its own process;
2,000 by default, ``--small`` 200) is read once per meter (clock + one load-profile row,
one association each) by:

- ``service``: the HES service's core (:class:`openami.hes.service.HesService` over
  :class:`openami.hes.dlms_access.DlmsAccess`: per-meter endpoints, per-endpoint permits,
  reserved invocation counters), in this process;
- ``baseline``: the older single-endpoint DLMS path (:class:`openami.hes.over_dlms.
  DlmsHeadEnd`, counters written on every APDU), in this process, same field, same run;
- ``service ×2``: two processes, each reading half of the meters at the same time.

With suite 0 (HLS-GMAC, per-meter keys from the key store) and with the password (lowest
level). Reads go to an in-process bus. Prints a table, or one JSON object with ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from openami.bus.inprocess import InProcessBus
from openami.cli.dlms_keys import HES_KEYS_FILE, open_key_store
from openami.clock import SLOT_SECONDS, RealClock
from openami.hes.core import CollectionConfig
from openami.hes.dlms_access import DlmsAccess, MeterSecrets
from openami.hes.over_dlms import DlmsCollectConfig, DlmsEndpoint, DlmsHeadEnd
from openami.hes.service import HesService
from openami.storage.dlms_counters import ClientCounterFiles

OPENAMI = [sys.executable, "-m", "openami.cli.main"]
PASSWORD = "bench-password"  # benchmark fixture secret
CONCURRENCY = 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_field(
    data: Path, meters: int, password: bool
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """The field on a RAM disk when there is one: it writes a counter file per APDU, and a
    rename costs ~2 ms on a busy disk (real meters keep counters in their own memory)."""
    port = free_port()
    if Path("/dev/shm").is_dir():
        ram = Path(tempfile.mkdtemp(prefix="bench-field-", dir="/dev/shm"))
        for name in ("master.key", "dlms-meter-keys.json"):
            shutil.copy2(data / name, ram / name)
        data = ram
    args = ["dlms", "serve", "--meters", str(meters), "--port", str(port)]
    args += ["--data-dir", str(data), "--history-days", "1", "--no-fsync"]
    if password:
        args += ["--password", PASSWORD]
    field = subprocess.Popen(
        [*OPENAMI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return field, port, data
        except OSError:
            time.sleep(0.2)
    field.kill()
    raise RuntimeError("the field did not start")


def secrets(data: Path, password: bool, ids: np.ndarray) -> dict[int, MeterSecrets]:
    if password:
        return {int(m): MeterSecrets(PASSWORD.encode(), None) for m in ids}
    store = open_key_store(data, HES_KEYS_FILE)
    assert store is not None
    out = {}
    for m in ids:
        stored = store.get(int(m))
        assert stored is not None
        out[int(m)] = MeterSecrets(None, stored.keys)
    return out


def service_rate(
    data: Path, port: int, password: bool, ids: np.ndarray, positions: np.ndarray
) -> float:
    """Meters/s of one HES service core reading meters ``ids`` (logical devices ``positions+1``)."""
    clock = RealClock()
    known = secrets(data, password, ids)
    access = DlmsAccess(
        ids,
        ["127.0.0.1"] * len(ids),
        np.full(len(ids), port),
        positions + 1,
        known.get,
        clock,
        endpoint_permits=CONCURRENCY,
        counters=ClientCounterFiles(data / "bench-counters"),
    )
    access.prime_counters()
    service = HesService(access, InProcessBus(), clock, CollectionConfig(push_jitter_s=0.0))
    boundary = int(clock.timestamp() // SLOT_SECONDS)
    t0 = time.perf_counter()
    asyncio.run(service.collect_boundary(boundary))
    wall = time.perf_counter() - t0
    asyncio.run(service.flush())
    assert service.stats.meters_missed == 0, service.stats
    return len(ids) / wall


def baseline_rate(data: Path, port: int, password: bool, ids: np.ndarray) -> float:
    clock = RealClock()
    known = secrets(data, password, ids[:1])[int(ids[0])]  # one endpoint, shared secrets
    if not password:  # per-meter keys: the old path takes one key set per endpoint
        return float("nan")
    endpoint = DlmsEndpoint("127.0.0.1", port, password=known.password)
    hes = DlmsHeadEnd(endpoint, ids, InProcessBus(), clock, DlmsCollectConfig(CONCURRENCY))
    boundary = int(clock.timestamp() // SLOT_SECONDS)
    t0 = time.perf_counter()
    cycle = asyncio.run(hes.collect_boundary(np.arange(len(ids)), boundary))
    wall = time.perf_counter() - t0
    assert len(cycle.failed_index) == 0
    return len(ids) / wall


def _half(args: tuple[str, int, bool, int, int, object]) -> float:
    data, port, password, first, count, barrier = args
    positions = np.arange(first, first + count)
    barrier.wait()  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    service_rate(Path(data), port, password, positions + 1, positions)
    return time.perf_counter() - t0


def two_processes(data: Path, port: int, password: bool, meters: int) -> float:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(2)
    half = meters // 2
    jobs = [
        (str(data), port, password, 0, half, barrier),
        (str(data), port, password, half, meters - half, barrier),
    ]
    with ctx.Pool(2) as pool:
        walls = pool.map(_half, jobs)
    return meters / max(walls)


def run(meters: int) -> dict[str, object]:
    results: dict[str, object] = {"meters": meters, "load_average_1min": os.getloadavg()[0]}
    ids = np.arange(1, meters + 1, dtype=np.int64)
    for password in (False, True):
        label = "password" if password else "suite0"
        with tempfile.TemporaryDirectory(prefix="bench-hes-dlms-") as tmp:
            data = Path(tmp)
            subprocess.run(
                [*OPENAMI, "dlms", "keys-init", "--meters", str(meters), "--data-dir", tmp],
                check=True,
                capture_output=True,
            )
            field, port, field_data = start_field(data, meters, password)
            try:
                service_rate(data, port, password, ids, ids - 1)  # warm: meters created
                results[f"{label}_service_meters_per_s"] = service_rate(
                    data, port, password, ids, ids - 1
                )
                results[f"{label}_baseline_meters_per_s"] = baseline_rate(data, port, password, ids)
                results[f"{label}_two_processes_meters_per_s"] = two_processes(
                    data, port, password, meters
                )
            finally:
                field.terminate()
                field.wait(timeout=30)
                if field_data != data:
                    shutil.rmtree(field_data, ignore_errors=True)
    base = results["password_baseline_meters_per_s"]
    results["password_service_vs_baseline"] = results["password_service_meters_per_s"] / base  # type: ignore[operator]
    results["load_average_1min_after"] = os.getloadavg()[0]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="200 meters instead of 2,000")
    parser.add_argument("--meters", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()
    meters = args.meters or (200 if args.small else 2000)
    result = run(meters)
    if args.json:
        print(json.dumps(result))
        return
    load = result["load_average_1min"]
    print(f"HES service over loopback DLMS, {meters:,} meters (load average {load:.1f})")
    print(
        f"{'security':<10}{'service 1 proc':>16}{'service 2 procs':>17}{'baseline':>10}  meters/s"
    )
    for label in ("suite0", "password"):
        base = result[f"{label}_baseline_meters_per_s"]
        print(
            f"{label:<10}{result[f'{label}_service_meters_per_s']:>16,.0f}"
            f"{result[f'{label}_two_processes_meters_per_s']:>17,.0f}"
            f"{base:>10,.0f}"
        )
    print(f"service ÷ baseline (password): {result['password_service_vs_baseline']:.2f}×")


if __name__ == "__main__":
    main()
