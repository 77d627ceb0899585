"""Commands of the HES service: ``hes.command_requests`` in, outcomes on ``hes.commands``.

Each request row names a meter, a kind (disconnect, reconnect, ampere change, on-demand
read), an argument (the amperage [A]), a deadline, the submitter's reference and, for
remote switching, the hub's signed authorisation (JSON of
:class:`openami.storage.repositories.command_signing.SignedCommand`). The HES's
:class:`openami.hes.switch_guard.SwitchGuard` admits or refuses every remote operation
first (halt flag, signature, expiry, replay, fleet-wide cap), exactly as in the embedded
HES; a refused command ends at once as ``FAILED`` with its reason recorded and carried in
the outcome's ``refusal`` (as is ``unsupported`` for a kind this service does not run and
``unknown_meter`` for a meter it does not read).

An admitted command runs in one session with the meter, retried with the collection core's
backoff until its deadline, and is confirmed by reading back what it changed
(``control_state``, the limiter threshold; the registers for a read). A request delivered
again (JetStream redelivers until the outcome is published and acknowledged) is not run
twice: a correlation ID already answered is skipped, and the guard refuses a replayed
switching authorisation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from openami.bus import messages
from openami.bus.messages import (
    COMMAND_SCHEMA,
    REMOTE_OPERATIONS,
    TOPIC_COMMANDS,
    CommandKind,
    CommandState,
)
from openami.bus.port import Bus
from openami.clock import Clock
from openami.hes.core import CollectionConfig, retry_wait_s
from openami.hes.dlms import DlmsClient
from openami.hes.dlms_access import SESSION_ERRORS, DlmsAccess
from openami.hes.switch_guard import SwitchGuard
from openami.log import get_logger
from openami.meter.dlms.objects import THRESHOLD_UNITS_PER_AMPERE
from openami.protocols.dlms.cosem import EXPORT_ENERGY_LN, IMPORT_ENERGY_LN
from openami.storage.repositories.command_signing import SignedCommand

log = get_logger(__name__)
SUPPORTED = (
    CommandKind.DISCONNECT,
    CommandKind.RECONNECT,
    CommandKind.SET_AMPERAGE,
    CommandKind.READ,
)
#: an answered correlation ID is remembered this many answers long (redeliveries come soon)
REMEMBERED = 1_000_000


def decode_authorisation(text: str | None) -> SignedCommand | None:
    """The signed authorisation of a request row (None: none, or not one)."""
    fields = messages.decode_authorisation(text)
    return None if fields is None else SignedCommand(**fields)


#: the JSON a producer of ``hes.command_requests`` puts in ``authorisation`` (the contract
#: is :data:`openami.bus.messages.AUTHORISATION_FIELDS`)
encode_authorisation = messages.encode_authorisation


class ServiceCommands:
    def __init__(
        self,
        access: DlmsAccess,
        bus: Bus,
        clock: Clock,
        config: CollectionConfig,
        guard: SwitchGuard | None,
        *,
        seed: int = 1,
        speed: float = 1.0,
        others_meters: bool = False,
    ) -> None:
        #: other HES services (shards) read meters this one does not know: leave their
        #: requests to them (each shard has a consumer of its own) instead of failing them
        self.others_meters = others_meters
        self.access = access
        self.bus = bus
        self.clock = clock
        self.config = config
        self.guard = guard
        self.seed = seed
        self.speed = speed
        self._order = np.argsort(access.meter_ids)
        self._sorted = access.meter_ids[self._order]
        self._answered: dict[int, None] = {}

    def position(self, meter_ids: np.ndarray) -> np.ndarray:
        """Each meter's position in the access adapter (-1: not one of this HES's meters)."""
        at = np.searchsorted(self._sorted, meter_ids)
        at = np.minimum(at, max(len(self._sorted) - 1, 0))
        known = self._sorted[at] == meter_ids if len(self._sorted) else np.zeros(0, bool)
        return np.where(known, self._order[at], -1)

    async def handle(self, requests: pa.Table) -> pa.Table:
        """Run a batch of requests; publishes and returns their outcomes (COMMAND_SCHEMA)."""
        batch = [r for r in _requests(requests) if r.correlation_id not in self._answered]
        if not batch:
            return COMMAND_SCHEMA.empty_table()
        position = self.position(np.array([r.meter_id for r in batch], dtype=np.int64))
        if self.others_meters:
            batch = [r for r, p in zip(batch, position.tolist(), strict=True) if p >= 0]
            position = position[position >= 0]
            if not batch:
                return COMMAND_SCHEMA.empty_table()
        now_s = self.clock.timestamp()
        refused = self._check(batch, now_s)
        outcomes = await asyncio.gather(
            *(
                self._run(r, p, reason, now_s)
                for r, p, reason in zip(batch, position.tolist(), refused, strict=True)
            )
        )
        table = pa.Table.from_pylist(outcomes, schema=COMMAND_SCHEMA)
        await asyncio.to_thread(self.bus.publish, TOPIC_COMMANDS, table)
        for r in batch:
            self._answered[r.correlation_id] = None
        while len(self._answered) > REMEMBERED:
            del self._answered[next(iter(self._answered))]
        return table

    def _check(self, batch: list[_Request], now_s: float) -> list[str | None]:
        """The refusal reason per request (None: admitted); the guard records its own."""
        reasons: list[str | None] = [None] * len(batch)
        for kind in sorted({r.kind for r in batch}):
            at = [k for k, r in enumerate(batch) if r.kind == kind]
            if kind not in SUPPORTED:
                for k in at:
                    reasons[k] = "unsupported"
                continue
            if self.guard is None or CommandKind(kind) not in REMOTE_OPERATIONS:
                continue
            auths = [decode_authorisation(batch[k].authorisation) for k in at]
            meters = np.array([batch[k].meter_id for k in at], dtype=np.int64)
            args = np.array([batch[k].argument for k in at], dtype=np.int64)
            corr = np.array([batch[k].correlation_id for k in at], dtype=np.int64)
            found = self.guard.check(CommandKind(kind), meters, args, now_s, auths)
            self.guard.record(CommandKind(kind), corr, meters, found, now_s, auths)
            for k, reason in zip(at, found, strict=True):
                reasons[k] = reason
        return reasons

    async def _run(
        self, request: _Request, index: int, refusal: str | None, issued_s: float
    ) -> dict[str, object]:
        outcome: dict[str, object] = {
            "correlation_id": request.correlation_id,
            "meter_id": request.meter_id,
            "kind": request.kind,
            "priority": request.priority,
            "state": int(CommandState.FAILED),
            "attempts": 0,
            "issued_at": issued_s,
            "completed_at": issued_s,
            "import_register_wh": -1,
            "export_register_wh": -1,
            "clock_offset_s": None,
            "refusal": None,
        }
        if refusal is not None or index < 0:
            outcome["refusal"] = refusal or "unknown_meter"
            log.info(
                "hes.command_refused",
                correlation_id=request.correlation_id,
                reason=outcome["refusal"],
            )
            return outcome
        state, attempts, imp, exp = await self._with_retries(request, index)
        outcome.update(
            state=int(state),
            attempts=min(attempts, 255),
            completed_at=self.clock.timestamp(),
            import_register_wh=imp,
            export_register_wh=exp,
        )
        return outcome

    async def _with_retries(
        self, request: _Request, index: int
    ) -> tuple[CommandState, int, int, int]:
        cfg = self.config
        ids = self.access.meter_ids[index : index + 1]
        b = np.array([request.correlation_id], dtype=np.int64)
        attempts = 0
        for retry in range(cfg.max_retries + 1):
            if retry:
                wait_s = float(retry_wait_s(cfg, self.seed, 200, retry, ids, b)[0])
                if self.clock.timestamp() + wait_s > request.deadline_s:
                    break
                await asyncio.sleep(wait_s / self.speed)
            attempts += 1
            try:
                ok, imp, exp = await self.access.session(index, self._work(request))
            except SESSION_ERRORS:
                continue
            return (CommandState.CONFIRMED if ok else CommandState.FAILED), attempts, imp, exp
        return CommandState.TIMED_OUT, attempts, -1, -1

    @staticmethod
    def _work(request: _Request) -> Callable[[DlmsClient], Awaitable[tuple[bool, int, int]]]:
        kind, argument = request.kind, request.argument

        async def work(c: DlmsClient) -> tuple[bool, int, int]:
            if kind == CommandKind.SET_AMPERAGE:
                threshold = argument * THRESHOLD_UNITS_PER_AMPERE
                await c.set_limiter_threshold(threshold)
                return await c.read_limiter_threshold() == threshold, -1, -1
            if kind == CommandKind.DISCONNECT:
                await c.remote_disconnect()
                ok = await c.read_control_state() == 0
            elif kind == CommandKind.RECONNECT:
                await c.remote_reconnect()
                ok = await c.read_control_state() == 1
            else:
                ok = True
            imp = await c.read_register(IMPORT_ENERGY_LN)
            exp = await c.read_register(EXPORT_ENERGY_LN)
            return ok, imp.raw, exp.raw

        return work


@dataclass(frozen=True)
class _Request:
    correlation_id: int
    meter_id: int
    kind: int
    priority: int
    argument: int
    deadline_s: float
    authorisation: str | None


def _requests(table: pa.Table) -> list[_Request]:
    return [
        _Request(
            int(r["correlation_id"]),
            int(r["meter_id"]),
            int(r["kind"]),
            int(r["priority"] or 0),
            int(r["argument"] or 0),
            float(r["deadline_at"]) if r["deadline_at"] is not None else float("inf"),
            r["authorisation"],
        )
        for r in table.to_pylist()
    ]
