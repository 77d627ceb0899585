"""Bus payloads: a batch split by partition and size into Arrow IPC messages, and back.

A message carries the rows of one partition of one topic as one Arrow IPC stream, at most
``max_bytes`` long (JetStream refuses a message over the server's ``max_payload``, 1 MiB by
default; :data:`MAX_MESSAGE_BYTES` keeps well under it). Its ID is a digest of its subject
and bytes, so a publisher that sends the same batch again (a retry after a lost
acknowledgement) is stored once by the stream's duplicate window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from openami.bus.messages import MessageSchemaError, check_batch, partition_of, upgrade_batch

#: the largest message the bus sends [bytes]: a quarter of the server's default max_payload
MAX_MESSAGE_BYTES = 256 * 1024
#: the column every topic's rows are routed by
ROUTE_COLUMN = "meter_id"

#: meter ids → the key each row is partitioned by (its supply point's key)
RouteKeys = Callable[[np.ndarray], np.ndarray]


class PayloadError(ValueError):
    """A message that is not an Arrow IPC stream of its topic's schema (``code`` says why)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


@dataclass(frozen=True)
class Message:
    partition: int
    payload: bytes
    rows: int

    def message_id(self, subject: str) -> str:
        """The stream's de-duplication ID of this message on ``subject``."""
        digest = hashlib.blake2b(subject.encode(), digest_size=16)
        digest.update(self.payload)
        return digest.hexdigest()


def encode(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def decode(topic: str, payload: bytes) -> pa.Table:
    """The batch in ``payload``; :class:`PayloadError` for bytes that are not a batch of
    ``topic``'s schema."""
    try:
        table = pa.ipc.open_stream(payload).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise PayloadError("E_NOT_ARROW", str(exc)) from None
    table = upgrade_batch(topic, table)  # a batch of an earlier contract, e.g. across an upgrade
    try:
        check_batch(topic, table)
    except MessageSchemaError as exc:
        raise PayloadError("E_SCHEMA", str(exc)) from None
    return table


def row_partitions(table: pa.Table, route: RouteKeys | None, partitions: int) -> np.ndarray:
    """Each row's partition: of its meter's supply point key (``route``), or of the meter
    id itself where no route is given."""
    meters = table.column(ROUTE_COLUMN).to_numpy(zero_copy_only=False).astype(np.int64)
    keys = meters if route is None else route(meters)
    return partition_of(keys, partitions)


def split(
    table: pa.Table,
    route: RouteKeys | None,
    partitions: int,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> Iterator[Message]:
    """The messages of ``table``: its rows grouped by partition (in their order within a
    partition), each group cut into IPC messages of at most ``max_bytes``."""
    if table.num_rows == 0:
        return
    part = row_partitions(table, route, partitions)
    order = np.argsort(part, kind="stable")
    ordered = table.take(pa.array(order))
    sorted_part = part[order]
    starts = np.flatnonzero(np.r_[True, sorted_part[1:] != sorted_part[:-1]])
    ends = np.r_[starts[1:], len(sorted_part)]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        group = ordered.slice(start, end - start)
        for payload, rows in _sized(group, max_bytes):
            yield Message(int(sorted_part[start]), payload, rows)


def _sized(group: pa.Table, max_bytes: int) -> Iterator[tuple[bytes, int]]:
    """``group`` as IPC payloads of at most ``max_bytes``: cut by an estimate of the bytes
    per row, halved again where a payload still comes out too large."""
    per_row = max(group.nbytes / max(group.num_rows, 1), 1.0)
    step = max(int((max_bytes - 4096) / per_row), 1)
    pending = [group.slice(i, step) for i in range(0, group.num_rows, step)]
    while pending:
        part = pending.pop(0)
        payload = encode(part)
        if len(payload) <= max_bytes:
            yield payload, part.num_rows
        elif part.num_rows > 1:
            half = part.num_rows // 2
            pending[:0] = [part.slice(0, half), part.slice(half)]
        else:
            raise PayloadError("E_ROW_TOO_LARGE", f"one row takes {len(payload)} bytes")
