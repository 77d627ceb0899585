"""Bulk slot files: when to write them, for whom, and the ``slot_file.ready`` webhook.

After every tick of the loop that stores values (:func:`attach_slot_files`), one round of
:meth:`SlotFileService.run` looks at what was recorded since the previous round and, per
half-hour slot:

- **preliminary**: the slot has values and no file yet, before its delivery deadline;
- **deadline**: the slot's deadline (``DELIVERY_DEADLINE_S`` after its end, when the MDMS
  marks what is still missing) passed since the previous round and it has no deadline file;
- **correction**: values of a slot that has a file arrived or changed since the last pass
  over it (late reads before the deadline, estimates, edits, backfills after it); the file
  holds only the points whose current value is newer than in the files before. A retailer's
  view of a slot is its latest full file (preliminary or deadline) plus the corrections
  written after it (``as_of`` later than the full file's).

Every pass writes one Parquet and one CSV file per retailer supplying any of the slot's
points that JST day (``Registry.members_on``: the one rule of who supplies a point), through
the storage port :class:`SlotFilePort` (only storage opens files). Each completed pass is
announced by a signed webhook ``slot_file.ready`` to each subscription of the retailers
concerned (the webhook machinery of :mod:`openami.hub.webhooks` signs and delivers it).

State lives in the files and their manifests, plus one watermark (the instant of the last
round) in the webhook store: a restarted hub neither writes a completed file again nor
misses a pass, and queues the webhooks of a pass that completed just before a crash (at
least once). Hub replicas run :meth:`SlotFileService.run` from the round of
:mod:`openami.hub.shared_changes` (one replica at a time), which passes the slots the
shared interval store committed since its last round.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import structlog

from openami.bus.messages import DELIVERY_DEADLINE_S
from openami.clock import JST, day_of_slot, slot_at_s, slot_end_s, slot_start_s
from openami.hub.context import HubContext
from openami.storage.repositories.webhooks import WebhookStore

log = structlog.get_logger(__name__)

EVENT = "slot_file.ready"
WATERMARK = "slot_files"
PRELIMINARY, DEADLINE, CORRECTION = "preliminary", "deadline", "correction"
_SERVICE = "slot_files"
MAX_DUE_SLOTS = 96  # deadline passes caught up in one round after a long stop (two days)


class SlotFileInfo(Protocol):
    """What the catalogue says about one file (``storage.slot_files.SlotFile``)."""

    @property
    def file_id(self) -> str: ...
    @property
    def slot(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def fmt(self) -> str: ...
    @property
    def rows(self) -> int: ...
    @property
    def size_bytes(self) -> int | None: ...  # a CSV file not derived yet: None
    @property
    def etag(self) -> str: ...
    @property
    def as_of_s(self) -> float: ...
    @property
    def written_at_s(self) -> float: ...
    @property
    def media_type(self) -> str: ...


class FileNameInfo(Protocol):
    """The parts of a file ID (``storage.slot_files_layout.FileName``)."""

    @property
    def slot(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def fmt(self) -> str: ...
    @property
    def file_id(self) -> str: ...


class PassInfo(Protocol):
    """One completed pass over a slot (``storage.slot_files_layout.Manifest``)."""

    slot: int
    kind: str
    seq: int
    as_of_s: float
    changed_after_s: float | None
    written_at_s: float
    rows: dict[str, int]


class SlotFilePort(Protocol):
    """The slot-file store (``storage.slot_files.SlotFileStore``), wired by the composition
    root: the hub never opens a file itself."""

    def changed_slots(self, after_s: float, until_s: float) -> list[int]: ...
    def publish(
        self,
        slot: int,
        kind: str,
        seq: int,
        audience: pa.Table,
        recipients: list[str],
        as_of_s: float,
        changed_after_s: float | None = None,
    ) -> PassInfo | None: ...
    def manifests(self, slot: int) -> Sequence[PassInfo]: ...
    def pending(self) -> Sequence[PassInfo]: ...
    def announced(self, manifest: Any) -> None: ...
    def files_of(self, recipient: str, slot: int) -> Sequence[SlotFileInfo]: ...
    def file(self, recipient: str, file_id: str) -> SlotFileInfo | None: ...
    def parse_file_id(self, file_id: str) -> FileNameInfo | None: ...
    def file_names(self, manifest: Any) -> Sequence[FileNameInfo]: ...
    def media_type(self, fmt: str) -> str: ...
    def chunks(self, recipient: str, file: Any) -> Iterator[bytes]: ...
    def render(self, manifest: Any, audience: pa.Table, fmt: str) -> bytes: ...


def deadline_s(slot: int) -> float:
    """When a slot's values are due at the retailers (the C-route delivery deadline)."""
    return float(slot_end_s(slot)) + DELIVERY_DEADLINE_S


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).isoformat()


class SupplyPointIds:
    """Supply point IDs by key as sorted columns, refreshed when points are added."""

    def __init__(self) -> None:
        self.count = -1
        self.keys = np.zeros(0, np.int64)
        self.ids = pa.array([], pa.string())

    def of(self, context: HubContext, keys: pa.Array) -> pa.Array:
        count = context.registry.supply_point_count()
        if count != self.count:
            found = context.registry.all_supply_point_ids()
            keys_sorted = np.fromiter(found, np.int64, len(found))
            order = np.argsort(keys_sorted)
            self.keys = keys_sorted[order]
            self.ids = pa.array(list(found.values()), pa.string()).take(pa.array(order))
            self.count = count
        wanted = np.asarray(keys.to_numpy(zero_copy_only=False), np.int64)
        position = np.searchsorted(self.keys, wanted)
        return self.ids.take(pa.array(position))


class SlotFileService:
    def __init__(self, context: HubContext, port: SlotFilePort) -> None:
        self.context = context
        self.port = port
        self.webhooks = WebhookStore(context.clients.database)
        self.ids = SupplyPointIds()
        self._audiences: dict[date, tuple[pa.Table, list[str]]] = {}  # within one round
        self._lock = threading.Lock()
        if self.webhooks.watermark(WATERMARK) is None:  # files of what lands from now on
            self.webhooks.set_watermark(WATERMARK, context.clock.timestamp())

    # -- who gets which point --------------------------------------------------------------------
    def audience(self, day: date) -> tuple[pa.Table, list[str]]:
        """The points supplied on ``day`` with their ID and a retailer code, and the
        retailer IDs the codes index (asked once per day and round: a contract may change
        between rounds, and the registry's watermark does not follow contracts)."""
        if day not in self._audiences:
            self._audiences[day] = self._audience(day)
        return self._audiences[day]

    def _audience(self, day: date) -> tuple[pa.Table, list[str]]:
        members = self.context.registry.members_on(day)
        encoded = pc.dictionary_encode(members.column("retailer_id")).combine_chunks()
        keys = members.column("supply_point_key").combine_chunks()
        table = pa.table(
            {
                "supply_point_key": keys,
                "supply_point_id": self.ids.of(self.context, keys),
                "recipient": encoded.indices.cast(pa.int32()),
            }
        )
        return table, [str(r) for r in encoded.dictionary.to_pylist()]

    # -- the round ---------------------------------------------------------------------------
    def run(self, now_s: float, changed: Iterable[int] | None = None) -> int:
        """Write the passes due by ``now_s`` and queue their webhooks; returns how many
        passes were written. ``changed``: the slots with new versions since the last round
        when the caller knows them (hub replicas: from the shared store's commits), else
        the port is asked for the slots with versions recorded since then."""
        with self._lock:
            last = self.webhooks.watermark(WATERMARK)
            if last is None or now_s <= last:
                return 0
            written = 0
            self._audiences.clear()
            for slot in self._slots(last, now_s, changed):
                written += self._pass(slot, now_s)
            self.announce(now_s)
            self.webhooks.set_watermark(WATERMARK, now_s)  # after the files: redo, never skip
            return written

    def deadline_due(self, now_s: float) -> bool:
        """Whether a slot's deadline passed since the last round (a pass is due even
        without new values)."""
        last = self.webhooks.watermark(WATERMARK)
        return last is not None and last < now_s and bool(self._slots(last, now_s, ()))

    def tick(self, now_s: float) -> None:
        """:meth:`run` as an after-tick hook: a failure (a full disk …) is logged and the
        loop goes on; the watermark did not move, so the next round does the work again."""
        try:
            self.run(now_s)
        except Exception:  # keep the loop that stores values running
            log.exception("slot files failed", now_s=now_s)

    def _slots(self, last_s: float, now_s: float, given: Iterable[int] | None) -> list[int]:
        changed = set(self.port.changed_slots(last_s, now_s) if given is None else given)
        # slots whose deadline fell in (last_s, now_s]: deadline_s(s) = (s + 1) * 1800 + D
        first = int(slot_at_s(last_s - DELIVERY_DEADLINE_S)) - 1
        last = int(slot_at_s(now_s - DELIVERY_DEADLINE_S)) - 1
        due = {
            s
            for s in range(max(first, last - MAX_DUE_SLOTS + 1), last + 1)
            if last_s < deadline_s(s) <= now_s
        }
        return sorted(changed | due)

    def _pass(self, slot: int, now_s: float) -> int:
        passes = self.port.manifests(slot)
        kinds = {p.kind for p in passes}
        past_deadline = deadline_s(slot) <= now_s
        if past_deadline and DEADLINE not in kinds:  # due now, or late values of an old slot
            return self._write(slot, DEADLINE, 0, now_s, None)
        if not passes:
            return self._write(slot, PRELIMINARY, 0, now_s, None)
        # values arrived or changed since the last pass, before or after the deadline
        seq = 1 + max((p.seq for p in passes if p.kind == CORRECTION), default=0)
        return self._write(slot, CORRECTION, seq, now_s, max(p.as_of_s for p in passes))

    def _write(
        self, slot: int, kind: str, seq: int, now_s: float, changed_after_s: float | None
    ) -> int:
        audience, recipients = self.audience(day_of_slot(slot))
        if audience.num_rows == 0:
            return 0
        manifest = self.port.publish(slot, kind, seq, audience, recipients, now_s, changed_after_s)
        if manifest is None:
            return 0
        log.info(
            "slot files written",
            slot=slot,
            kind=kind,
            seq=seq,
            retailers=len(manifest.rows),
            rows=sum(manifest.rows.values()),
        )
        return 1

    # -- announcing -------------------------------------------------------------------------------
    def announce(self, now_s: float) -> int:
        """Queue ``slot_file.ready`` for every completed pass not yet announced."""
        queued = 0
        subscribers = None
        for manifest in self.port.pending():
            if subscribers is None:
                subscribers = self.webhooks.subscribed_retailers()
            rows = [
                (sub.subscription_id, self._body(manifest, retailer, sub.subscription_id))
                for retailer in sorted(manifest.rows)
                for sub in subscribers.get(retailer, [])
            ]
            if rows:
                self.webhooks.enqueue(rows, now_s)
            self.port.announced(manifest)  # after the queue holds them: at least once
            queued += len(rows)
        return queued

    def _body(self, manifest: PassInfo, retailer: str, subscription_id: str) -> bytes:
        files = self.port.files_of(retailer, manifest.slot)
        mine = [f for f in files if (f.kind, f.seq) == (manifest.kind, manifest.seq)]
        body = {
            "event": EVENT,
            "notification_id": str(uuid.uuid4()),
            "subscription_id": subscription_id,
            "slot_start": iso(slot_start_s(manifest.slot)),
            "kind": manifest.kind,
            "sequence": manifest.seq,
            "as_of": iso(manifest.as_of_s),
            "rows": manifest.rows[retailer],
            "files": [
                {
                    "file_id": f.file_id,
                    "format": f.fmt,
                    "size_bytes": f.size_bytes,
                    "url": f"/v1/slot-files/{f.file_id}",
                }
                for f in mine
            ],
        }
        return json.dumps(body, separators=(",", ":")).encode()


def slot_file_service(context: HubContext) -> SlotFileService | None:
    """The context's slot-file service, if the composition root set one up."""
    service = context.services.get(_SERVICE)
    return service if isinstance(service, SlotFileService) else None


def attach_slot_files(context: HubContext, port: SlotFilePort) -> SlotFileService:
    """The context's slot-file service over ``port`` (the API finds it there). Whoever
    drives time runs :meth:`SlotFileService.run` after every tick that stored values (e.g.
    first among ``Simulation.after_tick``: after the MDMS closed due slots and before the
    hub workers deliver webhooks)."""
    service = SlotFileService(context, port)
    context.services[_SERVICE] = service
    return service
