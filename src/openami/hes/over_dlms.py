"""The HES over DLMS/TCP: collection and commands for emulated (or real) DLMS meters.

Same outputs as the statistical path (:mod:`openami.hes.engine`): register reads as
``READ_SCHEMA`` Arrow batches on ``hes.readings``, command outcomes as ``COMMAND_SCHEMA``
tables with correlation IDs on ``hes.commands`` (and in the :class:`HesJournal`).

- One association per meter and session (never two sessions to one meter at once); the
  meter is the logical device ``wPort = position + 1`` behind one endpoint (the emulator's
  addressing, see :mod:`openami.meter.dlms.server`).
- A semaphore caps concurrent sessions (``concurrency``), the endpoint's permit pool.
- Failed sessions (refused association, timeout, broken connection, DLMS error) are retried
  with the collection core's exponential backoff (:func:`openami.hes.core.retry_wait_s`);
  a meter still failing is reported, never raised, so one bad meter cannot stop a cycle.
- Reads are range reads of the load profile (selective access by clock), so a scheduled
  read and a backfill of days are the same request; each session also reads the meter
  clock and records its offset from the HES clock.
- Disconnect and reconnect are confirmed by reading back ``control_state``.
- With suite-0 keys the invocation counter is kept per meter and never reused; with
  ``DlmsEndpoint.counters`` it is also persisted (a restarted HES goes on from there).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from openami.bus.inprocess import Bus
from openami.bus.messages import (
    COMMAND_SCHEMA,
    READ_SCHEMA,
    SUPPLY_PLANS,
    TOPIC_COMMANDS,
    TOPIC_READINGS,
    CommandKind,
    CommandState,
    ReadSource,
)
from openami.clock import JST, SLOT_SECONDS, Clock
from openami.hes.core import CollectionConfig, retry_wait_s
from openami.hes.dlms import ClientCounterStore, DlmsClient, DlmsError
from openami.hes.journal import HesJournal
from openami.protocols.dlms.calendar import PLANS
from openami.protocols.dlms.cosem import EXPORT_ENERGY_LN, IMPORT_ENERGY_LN, LOAD_PROFILE_LN
from openami.protocols.dlms.security import Keys

I64 = npt.NDArray[np.int64]
T = TypeVar("T")
SESSION_ERRORS = (DlmsError, ConnectionError, OSError, asyncio.TimeoutError, EOFError)
COUNTER_SKIP_AFTER_FAILURE = 64  # a broken session may have used counters we did not see


@dataclass(frozen=True)
class DlmsEndpoint:
    host: str
    port: int
    password: bytes | None = field(default=None, repr=False)
    keys: Keys | None = field(default=None, repr=False)
    counters: ClientCounterStore | None = field(default=None, repr=False)  # persisted ICs


@dataclass(frozen=True)
class DlmsCollectConfig:
    concurrency: int = 32
    retries: int = 2
    retry_base_s: float = 0.2  # doubles per retry
    timeout_s: float = 5.0  # per request


@dataclass
class DlmsCycle:
    """What one collection produced: the published batch and the meters that failed."""

    readings: pa.Table
    failed_index: I64
    clock_offset_s: npt.NDArray[np.float64]  # per requested meter, NaN when not read


class DlmsHeadEnd:
    def __init__(
        self,
        endpoint: DlmsEndpoint,
        meter_ids: npt.ArrayLike,
        bus: Bus,
        clock: Clock,
        config: DlmsCollectConfig | None = None,
        journal: HesJournal | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.meter_ids = np.asarray(meter_ids, dtype=np.int64)
        self.bus = bus
        self.clock = clock
        self.config = config or DlmsCollectConfig()
        self.journal = journal or HesJournal()
        self._counters = np.ones(len(self.meter_ids), dtype=np.int64)
        self._next_corr = 1
        self._backoff = CollectionConfig(
            retry_base_s=self.config.retry_base_s, retry_multiplier=2.0, retry_jitter=0.0
        )
        self.sessions = 0
        self.session_failures = 0

    # -- sessions ---------------------------------------------------------------------------
    async def _with_session(
        self, sem: asyncio.Semaphore, index: int, work: Callable[[DlmsClient], Awaitable[T]]
    ) -> tuple[T | None, int]:
        """Run ``work`` in an association with meter ``index``: (result or None, attempts)."""
        cfg = self.config
        for attempt in range(cfg.retries + 1):
            async with sem:
                self.sessions += 1
                try:
                    client = await DlmsClient.connect(
                        self.endpoint.host,
                        self.endpoint.port,
                        server_wport=index + 1,
                        password=self.endpoint.password,
                        keys=self.endpoint.keys,
                        invocation_counter=int(self._counters[index]),
                        timeout_s=cfg.timeout_s,
                        counters=self.endpoint.counters,
                        counter_key=f"meter-{int(self.meter_ids[index])}",
                    )
                    async with client:
                        result = await work(client)
                        self._counters[index] = client.next_invocation_counter
                    return result, attempt + 1
                except SESSION_ERRORS:
                    self.session_failures += 1
                    self._counters[index] += COUNTER_SKIP_AFTER_FAILURE
            if attempt < cfg.retries:
                await asyncio.sleep(self._retry_wait_s(index, attempt + 1))
        return None, cfg.retries + 1

    def _retry_wait_s(self, index: int, retry_no: int) -> float:
        """The collection core's backoff (``retry_base_s``, doubling; no jitter here)."""
        ids = self.meter_ids[index : index + 1]
        return float(retry_wait_s(self._backoff, 0, 0, retry_no, ids, np.zeros(1, np.int64))[0])

    # -- collection -------------------------------------------------------------------------
    async def read_range(
        self, index: npt.ArrayLike, first_boundary: int, last_boundary: int, source: int
    ) -> DlmsCycle:
        """Logged registers at boundaries ``first..last`` of each meter; published on the bus."""
        idx = np.asarray(index, dtype=np.int64).ravel()
        start = datetime.fromtimestamp(first_boundary * SLOT_SECONDS, JST)
        end = datetime.fromtimestamp(last_boundary * SLOT_SECONDS, JST)
        sem = asyncio.Semaphore(self.config.concurrency)

        async def one(i: int) -> tuple[list[tuple[Any, ...]], float, float]:
            async def work(c: DlmsClient) -> tuple[list[tuple[Any, ...]], float, float]:
                meter_time = await c.read_clock()
                offset = meter_time.timestamp() - self.clock.timestamp()
                rows = await c.read_profile_range(LOAD_PROFILE_LN, start, end)
                return rows, offset, self.clock.timestamp()

            result, _ = await self._with_session(sem, i, work)
            return result if result is not None else ([], float("nan"), float("nan"))

        results = await asyncio.gather(*(one(int(i)) for i in idx))
        meters, boundaries, imports, exports, received = [], [], [], [], []
        failed = []
        offsets = np.full(len(idx), np.nan)
        for k, (i, (rows, offset, at_s)) in enumerate(zip(idx.tolist(), results, strict=True)):
            if np.isnan(offset):
                failed.append(i)
                continue
            offsets[k] = offset
            for row in rows:
                moment, imp, exp = row[0], row[1], row[2]
                meters.append(int(self.meter_ids[i]))
                boundaries.append(int(moment.timestamp()) // SLOT_SECONDS)
                imports.append(int(imp))
                exports.append(int(exp))
                received.append(at_s)
        batch = pa.table(
            {
                "meter_id": pa.array(meters, pa.int64()),
                "boundary": pa.array(boundaries, pa.int64()),
                "import_register_wh": pa.array(imports, pa.int64()),
                "export_register_wh": pa.array(exports, pa.int64()),
                "received_at": pa.array(received, pa.float64()),
                "source": pa.array(np.full(len(meters), source, dtype=np.uint8)),
            },
            schema=READ_SCHEMA,
        )
        if batch.num_rows:
            self.bus.publish(TOPIC_READINGS, batch)
        return DlmsCycle(batch, np.array(failed, dtype=np.int64), offsets)

    async def collect_boundary(self, index: npt.ArrayLike, boundary: int) -> DlmsCycle:
        """The scheduled read of ``boundary`` (one profile row per meter)."""
        return await self.read_range(index, boundary, boundary, ReadSource.SCHEDULED)

    async def backfill(
        self, index: npt.ArrayLike, first_boundary: int, last_boundary: int
    ) -> DlmsCycle:
        """Gaps of any age within the meters' logs, in one range read per meter."""
        return await self.read_range(index, first_boundary, last_boundary, ReadSource.BACKFILL)

    # -- commands ---------------------------------------------------------------------------
    async def run_commands(
        self, kind: CommandKind, index: npt.ArrayLike, argument: int = 0
    ) -> pa.Table:
        """Disconnect, reconnect, on-demand read or a supply plan's time-of-use bands
        (SET_TARIFF, ``argument`` the plan code: the activity calendar written, activated
        and read back) per meter; outcomes with correlation IDs.

        ``CONFIRMED``: done and read back; ``FAILED``: the read-back showed another state;
        ``TIMED_OUT``: no session within the retries.
        """
        supported = (CommandKind.DISCONNECT, CommandKind.RECONNECT, CommandKind.READ)
        if kind not in (*supported, CommandKind.SET_TARIFF):
            raise ValueError(f"{kind.name} is not supported over DLMS yet")
        if kind == CommandKind.SET_TARIFF and not 1 <= argument <= len(SUPPLY_PLANS):
            raise ValueError(f"supply plan code must be 1-{len(SUPPLY_PLANS)}")
        idx = np.asarray(index, dtype=np.int64).ravel()
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self.meter_ids)):
            raise ValueError("command for a meter position outside the fleet")
        corr = np.arange(self._next_corr, self._next_corr + len(idx), dtype=np.int64)
        self._next_corr += len(idx)
        issued = self.clock.timestamp()
        t0 = time.monotonic()
        sem = asyncio.Semaphore(self.config.concurrency)

        async def work(c: DlmsClient) -> tuple[bool, int, int]:
            if kind == CommandKind.READ:
                imp = await c.read_register(IMPORT_ENERGY_LN)
                exp = await c.read_register(EXPORT_ENERGY_LN)
                return True, imp.raw, exp.raw
            if kind == CommandKind.SET_TARIFF:
                bands = PLANS[SUPPLY_PLANS[argument - 1]]
                await c.write_tou_calendar(bands)
                return await c.read_tou_calendar() == bands, -1, -1
            if kind == CommandKind.DISCONNECT:
                await c.remote_disconnect()
                return await c.read_control_state() == 0, -1, -1
            await c.remote_reconnect()
            return await c.read_control_state() == 1, -1, -1

        outcomes = await asyncio.gather(*(self._with_session(sem, int(i), work) for i in idx))
        elapsed = time.monotonic() - t0
        state = np.empty(len(idx), dtype=np.uint8)
        imp = np.full(len(idx), -1, dtype=np.int64)
        exp = np.full(len(idx), -1, dtype=np.int64)
        attempts = np.empty(len(idx), dtype=np.uint8)
        for k, (result, tries) in enumerate(outcomes):
            attempts[k] = min(tries, 255)
            if result is None:
                state[k] = CommandState.TIMED_OUT
            else:
                ok, imp[k], exp[k] = result
                state[k] = CommandState.CONFIRMED if ok else CommandState.FAILED
        table = pa.table(
            {
                "correlation_id": corr,
                "meter_id": self.meter_ids[idx],
                "kind": np.full(len(idx), kind, dtype=np.uint8),
                "priority": np.zeros(len(idx), dtype=np.uint8),
                "state": state,
                "attempts": attempts,
                "issued_at": np.full(len(idx), issued),
                "completed_at": np.full(len(idx), issued + elapsed),
                "import_register_wh": imp,
                "export_register_wh": exp,
                "clock_offset_s": np.full(len(idx), np.nan),
                "refusal": pa.nulls(len(idx), pa.string()),
            },
            schema=COMMAND_SCHEMA,
        )
        self.journal.add_commands(table)
        self.bus.publish(TOPIC_COMMANDS, table)
        return table
