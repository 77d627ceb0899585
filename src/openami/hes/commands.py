"""The HES command queue: correlation IDs, priority lanes, read-back confirmation, timeouts.

Every accepted command gets a correlation ID and ends in exactly one terminal state:
``CONFIRMED`` (the meter did it and a read-back shows it within the timeout),
``TIMED_OUT`` (no confirmation by the deadline, or only after it) or ``FAILED`` (the
read-back showed another state, e.g. a later command superseded it). Nothing is dropped:
until then it stays ``QUEUED`` and :meth:`CommandQueue.pending` lists it.

A READ answers the meter's import and export registers [Wh] and its clock offset (meter
time − true time) at the moment it answered; so does the read-back of a DISCONNECT or
RECONNECT (the registers at the switching moment, e.g. a move-out reading).

Priorities (lower first): disconnect and reconnect 0, on-demand reads and settings 1, bulk
work (clock synchronisation, backfill beyond the window) 2. Commands run on their own
permits per segment (``CommandConfig.permits_per_segment``), ordered by priority, so bulk
collection never delays a disconnect. Failed attempts are retried with exponential backoff
and jitter. The queue is columnar: one array per field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from openami.bus.messages import (
    COMMAND_QUEUE_SCHEMA,
    COMMAND_SCHEMA,
    CONTRACT_AMPERAGES_A,
    SUPPLY_PLANS,
    CommandKind,
    CommandState,
)
from openami.hes import broute_provisioning
from openami.hes.broute_provisioning import CredentialSource
from openami.hes.throttle import lane_schedule
from openami.meter.fleet import MeterFleet
from openami.meter.load import hash_uniform
from openami.network.meter_clock import MeterClocks
from openami.network.model import NetworkModel

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

CLOCK_SET_TOLERANCE_S = 1.0


DEFAULT_PRIORITY = {
    CommandKind.DISCONNECT: 0,
    CommandKind.RECONNECT: 0,
    CommandKind.READ: 1,
    CommandKind.SET_AMPERAGE: 1,
    CommandKind.SET_TARIFF: 1,
    CommandKind.SET_BROUTE_CREDENTIALS: 1,
    CommandKind.CLOCK_SYNC: 2,
    CommandKind.BACKFILL: 2,
}
_READ_BACK = np.zeros(16, dtype=np.bool_)
_READ_BACK[[CommandKind.DISCONNECT, CommandKind.RECONNECT, CommandKind.SET_AMPERAGE]] = True
_READ_BACK[CommandKind.CLOCK_SYNC] = True
_READ_BACK[CommandKind.SET_TARIFF] = True
_READ_BACK[CommandKind.SET_BROUTE_CREDENTIALS] = True


@dataclass(frozen=True)
class CommandConfig:
    timeout_s: float = 3600.0  # the SLA: confirmed within an hour
    retry_base_s: float = 60.0
    retry_multiplier: float = 2.0
    retry_jitter: float = 0.2  # ± share of the wait
    retry_max_s: float = 300.0  # backoff cap, so an hour's SLA still sees a dozen tries
    permits_per_segment: int = 4


@dataclass
class BackfillRequest:
    index: I64
    first_boundary: I64
    last_boundary: I64
    arrival_s: F64


_FIELDS = ("corr", "index", "kind", "priority", "arg", "arg2", "issued", "deadline", "next_try")


class CommandQueue:
    """Columnar queue of commands not yet in a terminal state."""

    def __init__(self, n_meters: int, config: CommandConfig | None = None, seed: int = 0) -> None:
        self.n_meters = n_meters
        self.config = config or CommandConfig()
        self.seed = seed
        self._next_id = 1
        self.corr = np.zeros(0, dtype=np.int64)
        self.index = np.zeros(0, dtype=np.int64)
        self.kind = np.zeros(0, dtype=np.uint8)
        self.priority = np.zeros(0, dtype=np.uint8)
        self.arg = np.zeros(0, dtype=np.int64)
        self.arg2 = np.zeros(0, dtype=np.int64)
        self.issued = np.zeros(0, dtype=np.float64)
        self.deadline = np.zeros(0, dtype=np.float64)
        self.next_try = np.zeros(0, dtype=np.float64)
        self.attempts = np.zeros(0, dtype=np.uint8)
        #: where SET_BROUTE_CREDENTIALS finds the pair to write (None: those commands fail)
        self.credential_source: CredentialSource | None = None

    def __len__(self) -> int:
        return len(self.corr)

    def submit(
        self,
        index: npt.ArrayLike,
        kind: CommandKind,
        now_s: float,
        arg: int | npt.ArrayLike = 0,
        arg2: int | npt.ArrayLike = 0,
        priority: int | None = None,
        timeout_s: float | None = None,
    ) -> I64:
        """Queue one command per meter position; returns their correlation IDs."""
        idx = np.asarray(index, dtype=np.int64).ravel()
        kind = CommandKind(kind)
        if len(idx) and (idx.min() < 0 or idx.max() >= self.n_meters):
            raise ValueError("command for a meter position outside the fleet")
        a = np.broadcast_to(np.asarray(arg, dtype=np.int64), idx.shape)
        a2 = np.broadcast_to(np.asarray(arg2, dtype=np.int64), idx.shape)
        if kind == CommandKind.SET_AMPERAGE and not np.isin(a, CONTRACT_AMPERAGES_A).all():
            raise ValueError(f"contract amperage must be one of {CONTRACT_AMPERAGES_A} A")
        if kind == CommandKind.SET_TARIFF and ((a < 1) | (a > len(SUPPLY_PLANS))).any():
            raise ValueError(f"supply plan code must be 1-{len(SUPPLY_PLANS)}")
        if kind == CommandKind.SET_BROUTE_CREDENTIALS and (a < 0).any():
            raise ValueError("a B-route credential version is 0 (clear) or positive")
        if kind == CommandKind.BACKFILL and (a > a2).any():
            raise ValueError("backfill range must have first_boundary <= last_boundary")
        prio = DEFAULT_PRIORITY[kind] if priority is None else int(priority)
        timeout = self.config.timeout_s if timeout_s is None else float(timeout_s)
        if timeout <= 0:
            raise ValueError("timeout_s must be positive")
        n = len(idx)
        corr = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        new = {
            "corr": corr,
            "index": idx,
            "kind": np.full(n, kind, dtype=np.uint8),
            "priority": np.full(n, prio, dtype=np.uint8),
            "arg": a,
            "arg2": a2,
            "issued": np.full(n, now_s),
            "deadline": np.full(n, now_s + timeout),
            "next_try": np.full(n, now_s),
        }
        for name in _FIELDS:
            setattr(self, name, np.concatenate([getattr(self, name), new[name]]))
        self.attempts = np.concatenate([self.attempts, np.zeros(n, dtype=np.uint8)])
        return corr

    def withdraw(self, corr: I64) -> None:
        """Take commands out of the queue before they ever run (the HES refused them)."""
        self._keep(~np.isin(self.corr, corr))

    def queued_rows(self, corr: I64) -> pa.Table:
        """The queued commands ``corr`` as stored (:data:`COMMAND_QUEUE_SCHEMA`)."""
        pos = np.flatnonzero(np.isin(self.corr, corr))
        return pa.table(
            {
                "correlation_id": self.corr[pos],
                "meter_index": self.index[pos],
                "kind": self.kind[pos],
                "priority": self.priority[pos],
                "argument": self.arg[pos],
                "argument2": self.arg2[pos],
                "issued_at": self.issued[pos],
                "deadline_at": self.deadline[pos],
            },
            schema=COMMAND_QUEUE_SCHEMA,
        )

    def restore(self, queued: pa.Table, last_correlation_id: int, now_s: float) -> None:
        """Take back stored commands (after a restart): each is tried again from ``now_s``
        (or its issue time, if later), keeping its deadline; new correlation IDs continue
        after ``last_correlation_id``."""
        n = queued.num_rows

        def column(name: str, dtype: type) -> npt.NDArray[np.generic]:
            return np.asarray(queued.column(name).to_numpy(), dtype=dtype)

        index = column("meter_index", np.int64)
        if n and (index.min() < 0 or index.max() >= self.n_meters):
            raise ValueError("a stored command is for a meter position outside the fleet")
        issued = column("issued_at", np.float64)
        self.corr = np.concatenate([self.corr, column("correlation_id", np.int64)])
        self.index = np.concatenate([self.index, index])
        self.kind = np.concatenate([self.kind, column("kind", np.uint8)])
        self.priority = np.concatenate([self.priority, column("priority", np.uint8)])
        self.arg = np.concatenate([self.arg, column("argument", np.int64)])
        self.arg2 = np.concatenate([self.arg2, column("argument2", np.int64)])
        self.issued = np.concatenate([self.issued, issued])
        self.deadline = np.concatenate([self.deadline, column("deadline_at", np.float64)])
        self.next_try = np.concatenate([self.next_try, np.maximum(issued, now_s)])
        self.attempts = np.concatenate([self.attempts, np.zeros(n, dtype=np.uint8)])
        self._next_id = max(self._next_id, int(last_correlation_id) + 1)

    def pending(self) -> pa.Table:
        """Commands still queued (correlation ID, meter position, kind, next try)."""
        return pa.table(
            {
                "correlation_id": self.corr,
                "meter_index": self.index,
                "kind": self.kind,
                "attempts": self.attempts,
                "next_try_s": self.next_try,
            }
        )

    def _keep(self, keep: npt.NDArray[np.bool_]) -> None:
        for name in (*_FIELDS, "attempts"):
            setattr(self, name, getattr(self, name)[keep])

    def run(
        self,
        now_s: float,
        network: NetworkModel,
        fleet: MeterFleet,
        clocks: MeterClocks,
    ) -> tuple[pa.Table, list[BackfillRequest]]:
        """Run every command due by ``now_s``; returns terminal outcomes and backfill work."""
        due = np.flatnonzero(self.next_try <= now_s)
        if len(due) == 0:
            return COMMAND_SCHEMA.empty_table(), []
        cfg = self.config
        idx, kind, corr = self.index[due], self.kind[due], self.corr[due]
        tries = self.attempts[due].astype(np.int64)
        two = _READ_BACK[kind]
        session = network.session_s(idx)
        permits = np.full(network.n_segments, cfg.permits_per_segment, dtype=np.int64)
        start = lane_schedule(
            network.segment_of[idx],
            self.next_try[due],
            session * (1 + two),
            permits,
            self.priority[due],
        )
        key = corr * 256 + tries  # a fresh draw for every try of every command
        ok1, d1 = network.attempt(idx, key, 20, start)
        t1 = start + d1
        offset_before = np.full(len(due), np.nan)
        imp = np.full(len(due), -1, dtype=np.int64)
        exp = np.full(len(due), -1, dtype=np.int64)
        backfills: list[BackfillRequest] = []
        # the meters act on what reached them, in priority then issue order
        for k in (
            CommandKind.READ,
            CommandKind.SET_AMPERAGE,
            CommandKind.SET_TARIFF,
            CommandKind.CLOCK_SYNC,
        ):
            sel = ok1 & (kind == k)
            if not sel.any():
                continue
            if k == CommandKind.READ:
                imp[sel], exp[sel] = fleet.live_registers_wh(idx[sel], now_s)
                offset_before[sel] = clocks.offset_s(idx[sel], t1[sel])  # the meter's time
            elif k == CommandKind.SET_AMPERAGE:
                for amps in np.unique(self.arg[due][sel]):
                    pick = sel & (self.arg[due] == amps)
                    fleet.set_contract_amperage(idx[pick], int(amps))
            elif k == CommandKind.SET_TARIFF:
                for code in np.unique(self.arg[due][sel]):
                    fleet.set_supply_plan(idx[sel & (self.arg[due] == code)], int(code))
            else:
                offset_before[sel] = clocks.offset_s(idx[sel], t1[sel])
                clocks.adjust(idx[sel], t1[sel])
        switch = ok1 & np.isin(kind, (CommandKind.DISCONNECT, CommandKind.RECONNECT))
        if switch.any():
            order = np.flatnonzero(switch)[np.argsort(self.issued[due][switch], kind="stable")]
            for pos in order:  # switching is rare and order matters: one meter at a time
                if kind[pos] == CommandKind.DISCONNECT:
                    fleet.disconnect(idx[pos : pos + 1])
                else:
                    fleet.reconnect(idx[pos : pos + 1])
            # the read-back of a switching operation carries the registers at that moment
            imp[switch], exp[switch] = fleet.live_registers_wh(idx[switch], now_s)
            offset_before[switch] = clocks.offset_s(idx[switch], t1[switch])
        broute = kind == CommandKind.SET_BROUTE_CREDENTIALS
        if broute.any():
            ids, versions = network.meter_ids[idx[broute]], self.arg[due][broute]
            expected = broute_provisioning.expected_credentials(
                self.credential_source, ids, versions
            )
            reached = ok1[broute]
            broute_provisioning.write(
                fleet,
                idx[broute][reached],
                versions[reached],
                [p for p, r in zip(expected, reached.tolist(), strict=True) if r],
            )
        sel = ok1 & (kind == CommandKind.BACKFILL)
        if sel.any():
            backfills.append(
                BackfillRequest(idx[sel], self.arg[due][sel], self.arg2[due][sel], t1[sel])
            )
        ok2, d2 = network.attempt(idx, key, 21, t1)
        ok2 = np.where(two, ok2, True)
        done_s = t1 + np.where(two, d2, 0.0)
        verified = np.ones(len(due), dtype=np.bool_)
        verified[kind == CommandKind.DISCONNECT] = ~fleet.switch_connected[
            idx[kind == CommandKind.DISCONNECT]
        ]
        verified[kind == CommandKind.RECONNECT] = fleet.switch_connected[
            idx[kind == CommandKind.RECONNECT]
        ]
        amp = kind == CommandKind.SET_AMPERAGE
        verified[amp] = fleet.contract_amperage_a[idx[amp]] == self.arg[due][amp]
        plan = kind == CommandKind.SET_TARIFF
        verified[plan] = fleet.supply_plan_code[idx[plan]] == self.arg[due][plan]
        if broute.any():
            verified[broute] = broute_provisioning.confirmed(fleet, idx[broute], versions, expected)
        sync = kind == CommandKind.CLOCK_SYNC
        verified[sync] = np.abs(clocks.offset_s(idx[sync], done_s[sync])) <= CLOCK_SET_TOLERANCE_S
        answered = ok1 & ok2
        deadline = self.deadline[due]
        state = np.full(len(due), CommandState.QUEUED, dtype=np.uint8)
        state[answered & verified & (done_s <= deadline)] = CommandState.CONFIRMED
        state[answered & verified & (done_s > deadline)] = CommandState.TIMED_OUT
        state[answered & ~verified] = CommandState.FAILED
        retry = ~answered
        u = hash_uniform(self.seed, 901, corr, tries)
        wait = np.minimum(cfg.retry_base_s * cfg.retry_multiplier**tries, cfg.retry_max_s)
        wait = wait * (1.0 + cfg.retry_jitter * (u - 0.5))
        next_try = start + session * (1 + two) + wait
        expired = retry & (next_try >= deadline)
        state[expired] = CommandState.TIMED_OUT
        done_s = np.where(expired, deadline, done_s)
        tries = tries + 1
        # update the queue
        again = retry & ~expired
        self.next_try[due[again]] = next_try[again]
        self.attempts[due] = np.minimum(tries, 255).astype(np.uint8)
        final = state != CommandState.QUEUED
        result = pa.table(
            {
                "correlation_id": corr[final],
                "meter_id": network.meter_ids[idx[final]],
                "kind": kind[final],
                "priority": self.priority[due][final],
                "state": state[final],
                "attempts": np.minimum(tries[final], 255).astype(np.uint8),
                "issued_at": self.issued[due][final],
                "completed_at": done_s[final],
                "import_register_wh": imp[final],
                "export_register_wh": exp[final],
                "clock_offset_s": offset_before[final],
                "refusal": pa.nulls(int(final.sum()), pa.string()),
            },
            schema=COMMAND_SCHEMA,
        )
        keep = np.ones(len(self), dtype=np.bool_)
        keep[due[final]] = False
        self._keep(keep)
        return result, backfills
