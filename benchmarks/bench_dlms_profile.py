"""One-day load-profile reads per second from the DLMS emulator over TCP.

openami's own client (``openami.hes.dlms``, asyncio) against gurux-dlms's client (blocking
socket loop, test-only dependency) in the same run, each on one association, reading
``1.0.99.1.0.255`` by range (selector 1, 48 rows of clock + two registers), plain
(lowest-level security) and with suite 0 (HLS-GMAC, AES-GCM-128 ciphering). The emulator
runs in its own process, so the two sides share the machine's cores the same way for both
clients.

    python benchmarks/bench_dlms_profile.py [--small] [--json] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import socket
import time
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from openami.clock import JST, ManualClock
from openami.clock.slots import SLOT_SECONDS
from openami.hes.dlms import DlmsClient
from openami.meter import MeterFleet
from openami.meter.dlms import DlmsEmulator, EmulatorSecrets
from openami.protocols.dlms import Keys
from openami.protocols.dlms.cosem import LOAD_PROFILE_LN

# benchmark-only secrets (public; the emulator runs on 127.0.0.1 for the benchmark's lifetime)
BENCH_PASSWORD = b"bench-password"
BENCH_KEYS = Keys(bytes(range(16)), bytes(range(0xD0, 0xE0)))
START = datetime(2026, 11, 1, tzinfo=JST)
NOW = START + timedelta(days=7, hours=3)
DAY = START + timedelta(days=2)
DAY_END = DAY + timedelta(hours=23, minutes=30)


def _serve(pipe: Connection, meters: int) -> None:
    clock = ManualClock(START)
    fleet = MeterFleet(list(range(1, meters + 1)), int(START.timestamp()) // SLOT_SECONDS, seed=3)
    clock.set(NOW)
    emulator = DlmsEmulator(fleet, clock, EmulatorSecrets(BENCH_PASSWORD, BENCH_KEYS))

    async def main() -> None:
        server = await emulator.start("127.0.0.1", 0)
        pipe.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, pipe.recv)  # any message stops the server
        server.close()

    asyncio.run(main())


# -- openami ---------------------------------------------------------------------------------
async def _openami(port: int, suite0: bool, seconds: float) -> tuple[int, float, list[Any]]:
    kw: dict[str, Any] = {"keys": BENCH_KEYS} if suite0 else {"password": BENCH_PASSWORD}
    async with await DlmsClient.connect(
        "127.0.0.1", port, 2, system_title=b"OPENAMIB", **kw
    ) as client:
        rows = await client.read_profile_range(LOAD_PROFILE_LN, DAY, DAY_END)
        n = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            rows = await client.read_profile_range(LOAD_PROFILE_LN, DAY, DAY_END)
            n += 1
        elapsed = time.perf_counter() - t0
    return n, elapsed, rows


# -- gurux (test-only dependency) --------------------------------------------------------------
def _gurux(port: int, suite0: bool, seconds: float) -> tuple[int, float, list[Any]]:
    from gurux_dlms import GXByteBuffer, GXDLMSClient, GXReplyData
    from gurux_dlms.enums import Authentication, InterfaceType, Security
    from gurux_dlms.objects import GXDLMSProfileGeneric
    from gurux_dlms.secure import GXDLMSSecureClient

    if suite0:
        client = GXDLMSSecureClient(
            True, 1, 2, Authentication.HIGH_GMAC, None, InterfaceType.WRAPPER
        )
        client.ciphering.security = Security.AUTHENTICATION_ENCRYPTION
        client.ciphering.systemTitle = b"GURUXBEN"
        client.ciphering.blockCipherKey = BENCH_KEYS.encryption_key
        client.ciphering.authenticationKey = BENCH_KEYS.authentication_key
    else:
        client = GXDLMSClient(
            True, 17, 2, Authentication.LOW, BENCH_PASSWORD.decode(), InterfaceType.WRAPPER
        )
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def exchange(frames: Any) -> Any:
        reply = GXReplyData()
        for frame in frames if isinstance(frames, list) else [frames]:
            sock.sendall(frame)
            buffer = GXByteBuffer()
            while True:
                buffer.set(sock.recv(65536))
                if client.getData(buffer, reply, None):
                    break
        return reply

    client.parseAareResponse(exchange(client.aarqRequest()).data)
    if client.getIsAuthenticationRequired():
        client.parseApplicationAssociationResponse(
            exchange(client.getApplicationAssociationRequest()).data
        )
    pg = GXDLMSProfileGeneric("1.0.99.1.0.255")
    client.updateValue(pg, 3, exchange(client.read(pg, 3)).value)

    def read_day() -> None:
        reply = exchange(client.readRowsByRange(pg, DAY, DAY_END))
        client.updateValue(pg, 2, reply.value)

    read_day()
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        read_day()
        n += 1
    elapsed = time.perf_counter() - t0
    rows = [(r[0].value.astimezone(JST), r[1], r[2]) for r in pg.buffer]
    exchange(client.releaseRequest())
    sock.close()
    return n, elapsed, rows


def _quiet_gurux(port: int, suite0: bool, seconds: float) -> tuple[int, float, list[Any]]:
    """gurux prints a line per ciphered frame; keep the benchmark's output readable."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return _gurux(port, suite0, seconds)


def run(seconds: float, meters: int) -> dict[str, Any]:
    parent, child = mp.Pipe()
    server = mp.Process(target=_serve, args=(child, meters), daemon=True)
    server.start()
    try:
        port = parent.recv()
        figures: dict[str, Any] = {"seconds_per_client": seconds, "rows_per_read": 48}
        for mode, suite0 in (("plain", False), ("suite0", True)):
            n_own, t_own, rows_own = asyncio.run(_openami(port, suite0, seconds))
            n_gx, t_gx, rows_gx = _quiet_gurux(port, suite0, seconds)
            if rows_own != rows_gx or len(rows_own) != 48:
                raise SystemExit(f"{mode}: the two clients read different rows")
            own_rate, gx_rate = n_own / t_own, n_gx / t_gx
            figures[mode] = {
                "openami_reads_per_s": round(own_rate, 1),
                "gurux_reads_per_s": round(gx_rate, 1),
                "ratio": round(own_rate / gx_rate, 2),
            }
        return figures
    finally:
        parent.send("stop")
        server.join(10)
        if server.is_alive():
            server.terminate()
            server.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="2 s per client (~10 s total)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per client")
    args = parser.parse_args()
    seconds = args.seconds or (2.0 if args.small else 5.0)
    figures = run(seconds, meters=10)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"one-day load profile by range (48 rows), one association, {seconds:g} s per client")
    print(f"{'security':<10}{'openami reads/s':>18}{'gurux reads/s':>16}{'ratio':>8}")
    for mode in ("plain", "suite0"):
        f = figures[mode]
        print(
            f"{mode:<10}{f['openami_reads_per_s']:>18,.0f}{f['gurux_reads_per_s']:>16,.0f}"
            f"{f['ratio']:>7.2f}x"
        )


if __name__ == "__main__":
    main()
