"""DLMS/COSEM meters over TCP behind the meter-access port (:mod:`openami.hes.access`).

Each meter has its own endpoint (host, port, logical device = destination wPort) from the
registry (``meter_endpoints``) and its own secrets from the HES key store; one association
per session, never two sessions with one meter at once. Sessions per endpoint are capped by
a semaphore (``endpoint_permits``): many meters behind one gateway or emulator share it.

With suite-0 keys the invocation counter is kept per meter and never reused (persisted in
``counters`` when given); a failed session skips :data:`COUNTER_SKIP_AFTER_FAILURE` counters,
as it may have used some the HES did not see answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from openami.clock import JST, SLOT_SECONDS, Clock
from openami.hes.access import MeterRead
from openami.hes.dlms import ClientCounterStore, DlmsClient, DlmsError
from openami.hes.dlms_alarms import Alarm, EventLogCursor, Fetched, Mark
from openami.protocols.dlms import axdr
from openami.protocols.dlms.cosem import CLOCK_LN, LOAD_PROFILE_LN, AttributeRef, ClassId
from openami.protocols.dlms.security import Keys

T = TypeVar("T")
#: client invocation counters reserved on disk at a time per meter (see ReservedCounters)
COUNTER_RESERVE = 4096
I64 = npt.NDArray[np.int64]
#: what a failed session raises (refused association, timeout, broken connection, DLMS error)
SESSION_ERRORS = (DlmsError, ConnectionError, OSError, asyncio.TimeoutError, EOFError)
COUNTER_SKIP_AFTER_FAILURE = 64
#: the HES's own system title (suite 0)
SYSTEM_TITLE = b"OPENAMI\x01"


@dataclass(frozen=True)
class MeterSecrets:
    password: bytes | None = field(default=None, repr=False)
    keys: Keys | None = field(default=None, repr=False)


#: meter id → its secrets (None: the public client only)
SecretsOf = Callable[[int], MeterSecrets | None]


class ReservedCounters:
    """A :class:`ClientCounterStore` that writes to disk once per ``reserve`` counters.

    Before a counter above the reservation is used, ``next + reserve`` is saved (durably, by
    the inner store); until then counters are handed out from memory. A restarted HES starts
    from the saved value, above every counter it may have used: none is ever reused, and at
    most ``reserve`` are skipped per restart (the 32-bit counter lasts ~10⁶ restarts). This
    takes the inner store's write (an fsync) off nearly every ciphered APDU.
    """

    def __init__(self, inner: ClientCounterStore, reserve: int = COUNTER_RESERVE) -> None:
        self.inner = inner
        self.reserve = reserve
        self._reserved: dict[tuple[bytes, str], int] = {}
        self._next: dict[tuple[bytes, str], int] = {}

    def prime(self, system_title: bytes, meter_keys: Sequence[str], threads: int = 16) -> None:
        """Reserve every meter's block at once, many writes in parallel (at start, so that
        the first session with each meter does not wait for its own write)."""

        def one(meter_key: str) -> None:
            key = (system_title, meter_key)
            if key in self._reserved:
                return
            stored = self.inner.next_counter(system_title, meter_key) or 1
            self.inner.save_next(system_title, meter_key, stored + self.reserve)
            self._next.setdefault(key, stored)
            self._reserved.setdefault(key, stored + self.reserve)

        with ThreadPoolExecutor(threads, thread_name_prefix="counters") as pool:
            list(pool.map(one, meter_keys))

    def next_counter(self, system_title: bytes, meter_key: str) -> int | None:
        """The next counter of this process, else (first contact) the saved reservation."""
        known = self._next.get((system_title, meter_key))
        return known if known is not None else self.inner.next_counter(system_title, meter_key)

    def save_next(self, system_title: bytes, meter_key: str, next_counter: int) -> None:
        key = (system_title, meter_key)
        self._next[key] = max(next_counter, self._next.get(key, 0))
        if next_counter > self._reserved.get(key, -1):
            reserved = next_counter + self.reserve
            self.inner.save_next(system_title, meter_key, reserved)
            self._reserved[key] = reserved


class DlmsAccess:
    """Sessions with ``meter_ids[i]`` at ``hosts[i]:ports[i]``, logical device ``wports[i]``."""

    def __init__(
        self,
        meter_ids: I64,
        hosts: Sequence[str],
        ports: I64,
        wports: I64,
        secrets_of: SecretsOf,
        clock: Clock,
        *,
        endpoint_permits: int = 32,
        timeout_s: float = 5.0,
        counters: ClientCounterStore | None = None,
    ) -> None:
        self.meter_ids = np.asarray(meter_ids, dtype=np.int64)
        self.hosts = list(hosts)
        self.ports = np.asarray(ports, dtype=np.int64)
        self.wports = np.asarray(wports, dtype=np.int64)
        self.clock = clock
        self.timeout_s = timeout_s
        self.counters = None if counters is None else ReservedCounters(counters)
        self.system_title = SYSTEM_TITLE
        self._secrets_of = secrets_of
        endpoints = sorted(set(zip(self.hosts, self.ports.tolist(), strict=True)))
        self.endpoint_names = [f"{h}:{p}" for h, p in endpoints]
        position = {e: k for k, e in enumerate(endpoints)}
        #: the segment of each meter for the caps: its endpoint's position
        self.segment_of = np.array(
            [position[(h, p)] for h, p in zip(self.hosts, self.ports.tolist(), strict=True)],
            dtype=np.int64,
        )
        self._permits = [asyncio.Semaphore(endpoint_permits) for _ in endpoints]
        self._busy = np.zeros(len(self.meter_ids), dtype=np.bool_)
        self._counters = np.ones(len(self.meter_ids), dtype=np.int64)
        self.sessions = 0
        #: where each meter's next event-log read starts (alarms, hes/dlms_alarms.py)
        self.event_log = EventLogCursor(len(self.meter_ids), clock.timestamp())
        self.failures = 0

    def __len__(self) -> int:
        return len(self.meter_ids)

    def prime_counters(self) -> None:
        """Reserve each meter's invocation counters on disk now (blocking; run in a thread)."""
        if self.counters is not None:
            keys = [f"meter-{int(m)}" for m in self.meter_ids]
            self.counters.prime(self.system_title, keys)

    async def session(self, index: int, work: Callable[[DlmsClient], Awaitable[T]]) -> T:
        """Run ``work`` in one association with meter ``index``; raises SESSION_ERRORS."""
        while self._busy[index]:  # never two sessions with one meter
            await asyncio.sleep(0.05)
        self._busy[index] = True
        try:
            async with self._permits[int(self.segment_of[index])]:
                return await self._associate(index, work)
        finally:
            self._busy[index] = False

    async def _associate(self, index: int, work: Callable[[DlmsClient], Awaitable[T]]) -> T:
        meter_id = int(self.meter_ids[index])
        secrets = self._secrets_of(meter_id) or MeterSecrets()
        self.sessions += 1
        try:
            client = await DlmsClient.connect(
                self.hosts[index],
                int(self.ports[index]),
                server_wport=int(self.wports[index]),
                password=secrets.password,
                keys=secrets.keys,
                invocation_counter=int(self._counters[index]),
                timeout_s=self.timeout_s,
                counters=self.counters,
                counter_key=f"meter-{meter_id}",
                system_title=self.system_title,
            )
            async with client:
                result = await work(client)
                self._counters[index] = client.next_invocation_counter
            return result
        except SESSION_ERRORS:
            self.failures += 1
            self._counters[index] += COUNTER_SKIP_AFTER_FAILURE
            raise

    async def read_range(self, index: int, first_boundary: int, last_boundary: int) -> MeterRead:
        start = datetime.fromtimestamp(first_boundary * SLOT_SECONDS, JST)
        end = datetime.fromtimestamp(last_boundary * SLOT_SECONDS, JST)

        async def work(c: DlmsClient) -> tuple[MeterRead, Mark | None]:
            asked_s = self.clock.timestamp()
            meter_time = await c.read_clock()
            # against the middle of the exchange: the meter read its clock in between
            offset = meter_time.timestamp() - (asked_s + self.clock.timestamp()) / 2
            rows = await c.read_profile_range(LOAD_PROFILE_LN, start, end)
            now_s = self.clock.timestamp()
            alarms, mark = await self.event_log.read(c, index, now_s, now_s + offset)
            read = MeterRead(
                np.array([int(r[0].timestamp()) // SLOT_SECONDS for r in rows], dtype=np.int64),
                np.array([int(r[1]) for r in rows], dtype=np.int64),
                np.array([int(r[2]) for r in rows], dtype=np.int64),
                offset,
                self.clock.timestamp(),
                alarms,
            )
            return read, mark

        read, mark = await self.session(index, work)
        self.event_log.commit(index, mark)  # only a session that ended well moves it
        return read

    async def read_alarms(self, index: int) -> tuple[Alarm, ...]:
        """One session reading only meter ``index``'s alarms (register and event log, then
        the reset): what a pushed alarm asks for."""

        async def work(c: DlmsClient) -> Fetched:
            asked_s = self.clock.timestamp()
            meter_time = await c.read_clock()
            now_s = self.clock.timestamp()
            offset = meter_time.timestamp() - (asked_s + now_s) / 2
            return await self.event_log.read(c, index, now_s, now_s + offset)

        alarms, mark = await self.session(index, work)
        self.event_log.commit(index, mark)
        return alarms

    async def set_clock(self, index: int) -> float:
        async def work(c: DlmsClient) -> float:
            now = datetime.fromtimestamp(self.clock.timestamp(), JST)
            await c.set(
                AttributeRef(ClassId.CLOCK, CLOCK_LN, 2),
                axdr.octet_string(axdr.encode_datetime(now)),
            )
            meter_time = await c.read_clock()
            return meter_time.timestamp() - self.clock.timestamp()

        return await self.session(index, work)
