"""What hub replicas do with new values: slot files and ``half_hour_values.changed``.

In the embedded shape (``openami serve``) the loop that stores values writes the slot files
after each tick and the webhook poll finds the versions recorded since the last one in the
process's own interval store. Hub replicas (``openami serve hub``) store nothing: the MDMS
workers publish to the shared interval store, and a replica learns what is new from the
table's commits. One round of :class:`SharedChangeRound` (in every replica's worker round):

1. takes the round's lease (``PartitionLeases``, group ``hub-shared-changes``): one
   replica at a time does the rest; a replica that dies leaves the lease to expire after
   the claim TTL and another one goes on;
2. reads the (supply point, slot) pairs committed after the table version of the last
   round (the cursor, in the webhook store's watermarks) up to the version now;
3. writes the slot files due (preliminary, deadline, correction) into the files directory
   every replica shares, and queues their ``slot_file.ready`` webhooks;
4. queues the ``half_hour_values.changed`` notifications of those pairs (the watermark of
   the notifications moves with the queue, compare-and-set, as ``WebhookService.poll``);
5. moves the cursor.

A crash between 3 and 5 does the work again in the next round: the files written are left
as they are (complete or absent, by name), a pass's webhooks are queued once its marker is
gone; at most a notification is repeated, none lost.
"""

from __future__ import annotations

import threading
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import structlog

from openami.hub.context import HubContext
from openami.hub.slot_files import WATERMARK as SLOT_WATERMARK
from openami.hub.slot_files import SlotFileService
from openami.hub.webhooks import webhook_service
from openami.storage.repositories.leases import PartitionLeases
from openami.storage.repositories.webhooks import WebhookStore

log = structlog.get_logger(__name__)

CURSOR = "shared_values_version"  # the table version the last round read up to
VALUES_WATERMARK = "values"  # WebhookService.poll's: the instant of the last notifications
LEASE_GROUP = "hub-shared-changes"
_SERVICE = "shared_changes"
_NO_CHANGES = pa.table(
    {"supply_point_key": pa.array([], pa.int64()), "slot": pa.array([], pa.int64())}
)


class ChangePort(Protocol):
    """The shared interval store's commits (``storage.slot_files_shared.SharedSlotSource``)."""

    def version(self) -> int: ...
    def changes(self, after_version: int, until_version: int) -> pa.Table: ...


class SharedChangeRound:
    def __init__(
        self,
        context: HubContext,
        port: ChangePort,
        slot_files: SlotFileService | None,
        leases: PartitionLeases,
    ) -> None:
        self.context = context
        self.port = port
        self.slot_files = slot_files
        self.leases = leases
        self.store = WebhookStore(context.clients.database)
        self._lock = threading.Lock()

    def run(self, now_s: float) -> int:
        """One round (see the module); the number of changed (point, slot) pairs handled,
        0 when another replica holds the round."""
        version = self.port.version()
        if not self._due(version, now_s):  # idle: no write transaction
            return 0
        if self.leases.acquire(self.context.replica_id, 0) is None:
            return 0
        with self._lock:
            cursor = self.store.watermark(CURSOR)
            if cursor is None:  # what is committed from now on
                self.store.set_watermark(CURSOR, float(version))
                return 0
            if self._behind(now_s):  # nothing is skipped: the cursor stays for the next round
                return 0
            after = int(cursor)
            changes = self.port.changes(after, version) if version > after else None
            slots = [] if changes is None else sorted(pc.unique(changes.column("slot")).to_pylist())
            if self.slot_files is not None:
                self.slot_files.run(now_s, slots)
            webhook_service(self.context).poll(now_s, _NO_CHANGES if changes is None else changes)
            if version > after:
                self.store.set_watermark(CURSOR, float(version))
            count = 0 if changes is None else changes.num_rows
            if count:
                log.info("hub.shared_changes", version=version, values=count, slots=len(slots))
            return count

    def _behind(self, now_s: float) -> bool:
        """Whether ``now_s`` is not after the instant of the last notifications or slot-file
        round (a replica whose clock lags another's): both would skip it."""
        marks = (self.store.watermark(VALUES_WATERMARK), self.store.watermark(SLOT_WATERMARK))
        return any(mark is not None and now_s <= mark for mark in marks)

    def _due(self, version: int, now_s: float) -> bool:
        """New commits since the last round, or a slot deadline passed (or no round yet)."""
        cursor = self.store.watermark(CURSOR)
        if cursor is None or version > cursor:
            return True
        return self.slot_files is not None and self.slot_files.deadline_due(now_s)

    def tick(self, now_s: float) -> None:
        """:meth:`run`, a failure logged (the cursor did not move: the next round redoes)."""
        try:
            self.run(now_s)
        except Exception:  # keep the worker round going
            log.exception("shared changes failed", now_s=now_s)

    def leave(self) -> None:
        """Give the round up at once (a replica that stops)."""
        self.leases.leave(self.context.replica_id)


def shared_change_round(context: HubContext) -> SharedChangeRound | None:
    """The context's round over the shared store, if the composition root set one up."""
    found = context.services.get(_SERVICE)
    return found if isinstance(found, SharedChangeRound) else None


def attach_shared_changes(
    context: HubContext,
    port: ChangePort,
    slot_files: SlotFileService | None,
    leases: PartitionLeases,
) -> SharedChangeRound:
    """Make the replica's worker rounds follow the shared store (instead of the webhook
    poll over the process's own store, which a replica does not have)."""
    found = SharedChangeRound(context, port, slot_files, leases)
    context.services[_SERVICE] = found
    return found
