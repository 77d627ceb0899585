"""The NATS JetStream adapter of the bus port (``--bus nats://host:4222``).

Each topic has a stream (``<PREFIX>_HES_READINGS`` …) capturing ``<prefix>.<topic>.>``; a
batch is published as Arrow IPC messages on ``<prefix>.<topic>.p<partition>``, one partition
per message (the partition of each row's supply point, :func:`openami.bus.messages.
partition_of`), each message at most ``max_message_bytes`` and carrying a de-duplication ID.

A subscriber gets a durable pull consumer (all partitions, or one consumer per partition
it is given). Delivery is at least once: a message is acknowledged only after the handler
returned, i.e. after the MDMS
transaction that stored it committed; a handler that raises, a process that dies or a
connection that drops before the acknowledgement gets the message again after
``ack_wait_s``. Handlers must therefore be idempotent, as the MDMS's ingest is (an identical
re-send adds nothing). Handlers run one at a time, in one thread of their own; the messages
of one fetch (up to ``fetch_batch``), and those other consumers fetched for the same handler
while it was busy, reach it as one batch (:mod:`openami.bus.coalesce`).

nats-py is asynchronous; this adapter keeps one event loop in a background thread and offers
the bus port's blocking methods on top of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
import pyarrow as pa
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from openami.bus.coalesce import Coalescer
from openami.bus.messages import PARTITIONS, TOPIC_SCHEMAS, check_batch, partition_subject
from openami.bus.payload import MAX_MESSAGE_BYTES, PayloadError, RouteKeys, decode, split
from openami.bus.port import BusTimeout, BusUnavailable, Handler
from openami.log import get_logger
from openami.settings import url_without_password

log = get_logger(__name__)
T = TypeVar("T")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
#: room left in a server message for the headers (message ID) [bytes]
HEADER_ROOM_BYTES = 1024
#: how long a consumer that just got messages waits for a batch to fill [s]
BUSY_WAIT_S = 0.02
#: pause before fetching again after the connection failed [s]
RETRY_S = 0.5


@dataclass(frozen=True)
class JetStreamConfig:
    url: str = "nats://127.0.0.1:4222"
    #: first token of every subject and of stream names; one deployment, one prefix
    prefix: str = "openami"
    #: name of this process's durable consumers (workers sharing a name share the work)
    consumer: str = "openami"
    partitions: int = PARTITIONS
    max_message_bytes: int = MAX_MESSAGE_BYTES
    #: a message not acknowledged this long after delivery is delivered again [s]
    ack_wait_s: float = 30.0
    #: messages fetched (and at most unacknowledged) per consumer at a time; the messages of
    #: one fetch reach the handler as one batch
    fetch_batch: int = 64
    #: a message with the ID of one stored this recently is not stored again [s]
    duplicate_window_s: float = 120.0
    #: messages older than this are dropped from the streams [days]
    retention_days: float = 7.0
    connect_timeout_s: float = 5.0
    #: create missing streams at start (False: an observer such as `openami bus status`)
    create_streams: bool = True

    def __post_init__(self) -> None:
        for name in ("prefix", "consumer"):
            if not _TOKEN.match(getattr(self, name)):
                raise ValueError(f"{name} must be letters, digits, '-' or '_'")
        if self.partitions < 1 or self.fetch_batch < 1 or self.max_message_bytes < 8192:
            raise ValueError("partitions, fetch_batch ≥ 1 and max_message_bytes ≥ 8192")

    def stream(self, topic: str) -> str:
        """The stream of ``topic``: e.g. ``OPENAMI_HES_READINGS``."""
        return f"{self.prefix}_{topic}".replace(".", "_").replace("-", "_").upper()

    def durable(self, topic: str, partition: int | None) -> str:
        name = f"{self.consumer}_{topic.replace('.', '_')}"
        return name if partition is None else f"{name}_p{partition}"


@dataclass(frozen=True)
class ConsumerStatus:
    name: str
    pending: int  # messages not delivered yet
    ack_pending: int  # delivered, not acknowledged
    redelivered: int
    last_ack_s: float | None = None  # when the server recorded the last acknowledgement


@dataclass(frozen=True)
class StreamStatus:
    topic: str
    stream: str
    messages: int | None  # None: the stream does not exist
    bytes: int | None
    consumers: list[ConsumerStatus]


@dataclass
class _Consumer:
    topic: str
    partition: int | None
    stream: str
    durable: str
    handler: Handler
    task: asyncio.Task[None] | None = None
    sub: Any = None
    stop: bool = False  # set by unsubscribe: finish the batch in hand, then stop fetching
    handling: bool = False  # a batch is in the handler (not to be cancelled)


class JetStreamBus:
    def __init__(self, config: JetStreamConfig, route: RouteKeys | None = None) -> None:
        self.config = config
        self.route = route
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats", daemon=True)
        self._thread.start()
        self._handlers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bus-handler")
        self._consumers: list[_Consumer] = []
        self._coalescer = Coalescer(self._handlers)
        self._stopping = asyncio.Event()
        self.published: dict[str, int] = dict.fromkeys(TOPIC_SCHEMAS, 0)
        try:
            self._nc: Client = self._run(self._connect(), config.connect_timeout_s + 10)
            self._js = self._nc.jetstream()
            if config.create_streams:
                self._run(self._ensure_streams())
        except BaseException:
            self._stop_loop()
            raise

    # -- plumbing ---------------------------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = 60.0) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("the bus's blocking methods cannot run on its own event loop")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    async def _connect(self) -> Client:
        async def on_error(exc: Exception) -> None:
            log.warning("bus.nats_error", error=type(exc).__name__)

        try:
            # once connected, reconnect for ever; the first connection gets a deadline
            nc = await asyncio.wait_for(
                nats.connect(
                    self.config.url,
                    name=f"openami-{self.config.consumer}",
                    connect_timeout=self.config.connect_timeout_s,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    error_cb=on_error,
                    allow_reconnect=True,
                ),
                self.config.connect_timeout_s,
            )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            reason = str(exc) or type(exc).__name__
            shown = url_without_password(self.config.url)
            raise BusUnavailable(f"no NATS server answers at {shown}: {reason}") from None
        try:
            await nc.jetstream().account_info()
        except nats.js.errors.Error as exc:
            await nc.close()
            shown = url_without_password(self.config.url)
            raise BusUnavailable(f"{shown} has no JetStream (nats-server -js)") from exc
        return nc

    async def _ensure_streams(self) -> None:
        for topic in TOPIC_SCHEMAS:
            name = self.config.stream(topic)
            try:
                await self._js.stream_info(name)
                continue
            except nats.js.errors.NotFoundError:
                pass
            await self._js.add_stream(
                StreamConfig(
                    name=name,
                    subjects=[f"{self.config.prefix}.{topic}.>"],
                    storage=StorageType.FILE,
                    duplicate_window=self.config.duplicate_window_s,
                    max_age=self.config.retention_days * 86400.0,
                )
            )
            log.info("bus.stream_created", stream=name)

    @property
    def max_message_bytes(self) -> int:
        """The largest payload sent: the configured size, or less if the server wants."""
        return min(self.config.max_message_bytes, self._nc.max_payload - HEADER_ROOM_BYTES)

    # -- the port ---------------------------------------------------------------------------
    def publish(self, topic: str, batch: pa.Table) -> None:
        """Store ``batch`` in the topic's stream (returns once the server has stored every
        message of it)."""
        check_batch(topic, batch)
        self._run(self._publish(topic, batch))
        self.published[topic] += batch.num_rows

    async def _publish(self, topic: str, batch: pa.Table) -> None:
        cfg = self.config
        pending = []
        for message in split(batch, self.route, cfg.partitions, self.max_message_bytes):
            subject = partition_subject(cfg.prefix, topic, message.partition)
            headers = {"Nats-Msg-Id": message.message_id(subject)}
            pending.append(await self._js.publish_async(subject, message.payload, headers=headers))
        await asyncio.gather(*pending)

    def subscribe(
        self, topic: str, handler: Handler, partitions: Iterable[int] | None = None
    ) -> None:
        """Deliver ``topic``'s batches to ``handler``: of every partition through one durable
        consumer, or of each of ``partitions`` through a consumer of its own."""
        if topic not in TOPIC_SCHEMAS:
            raise ValueError(f"unknown topic {topic!r}")
        chosen: list[int | None] = [None] if partitions is None else [int(p) for p in partitions]
        for partition in chosen:
            if partition is not None and not 0 <= partition < self.config.partitions:
                raise ValueError(f"partition {partition} not in 0…{self.config.partitions - 1}")
            consumer = _Consumer(
                topic,
                partition,
                self.config.stream(topic),
                self.config.durable(topic, partition),
                handler,
            )
            self._run(self._start(consumer))
            self._consumers.append(consumer)

    async def _start(self, consumer: _Consumer) -> None:
        cfg, partition = self.config, consumer.partition
        subject = (
            f"{cfg.prefix}.{consumer.topic}.>"
            if partition is None
            else partition_subject(cfg.prefix, consumer.topic, partition)
        )
        sub = await self._js.pull_subscribe(
            subject,
            durable=consumer.durable,
            stream=consumer.stream,
            config=ConsumerConfig(
                ack_wait=cfg.ack_wait_s,
                max_ack_pending=cfg.fetch_batch,
                deliver_policy=DeliverPolicy.ALL,
            ),
        )
        consumer.sub = sub
        consumer.task = asyncio.get_running_loop().create_task(self._consume(consumer, sub))

    def unsubscribe(self, topic: str, partition: int | None = None) -> None:
        """Stop this process's consumer of ``topic`` (of one partition): the batch in hand is
        handled and acknowledged, the rest stays in the durable consumer for the next holder
        (e.g. the worker that takes the partition's lease)."""
        chosen = [c for c in self._consumers if (c.topic, c.partition) == (topic, partition)]
        for consumer in chosen:
            self._run(self._stop(consumer))
            self._consumers.remove(consumer)

    async def _stop(self, consumer: _Consumer) -> None:
        consumer.stop = True
        if consumer.task is not None:
            if not consumer.handling:  # waiting for messages: no need to wait on
                consumer.task.cancel()
            await asyncio.gather(consumer.task, return_exceptions=True)
        if consumer.sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await consumer.sub.unsubscribe()

    async def _consume(self, consumer: _Consumer, sub: Any) -> None:
        # wait for a first message (returned as soon as it arrives), then take what else is
        # there up to a batch, waiting at most BUSY_WAIT_S for a batch that is not full
        while not self._stopping.is_set() and not consumer.stop:
            try:
                messages: list[Msg] = await sub.fetch(1, timeout=1.0)
                if self.config.fetch_batch > 1:
                    messages += await self._more(sub, self.config.fetch_batch - 1)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except nats.errors.Error as exc:  # server restarting, connection lost: try again
                log.warning("bus.fetch_failed", consumer=consumer.durable, error=type(exc).__name__)
                await asyncio.sleep(RETRY_S)
                continue
            consumer.handling = True
            try:
                await self._handle(consumer, messages)
            except nats.errors.Error as exc:  # an ack not sent: the messages come back
                log.warning("bus.ack_failed", consumer=consumer.durable, error=type(exc).__name__)
                await asyncio.sleep(RETRY_S)
            finally:
                consumer.handling = False

    @staticmethod
    async def _more(sub: Any, batch: int) -> list[Msg]:
        try:
            more: list[Msg] = await sub.fetch(batch, BUSY_WAIT_S)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        return more

    async def _handle(self, consumer: _Consumer, messages: list[Msg]) -> None:
        """Hand the fetched messages to the handler as one batch (one MDMS transaction), then
        acknowledge them; on failure ask for all of them again."""
        tables, good = [], []
        for message in messages:
            try:
                tables.append(decode(consumer.topic, message.data))
                good.append(message)
            except PayloadError as exc:  # kept in the stream for inspection, not redelivered
                log.error("bus.bad_message", code=exc.code, subject=message.subject)
                await message.term()
        if not tables:
            return
        batch = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        try:
            await self._coalescer.submit(consumer.handler, batch)
        except Exception as exc:
            log.warning(
                "bus.handler_failed",
                consumer=consumer.durable,
                deliveries=good[0].metadata.num_delivered,
                error=type(exc).__name__,
            )
            for message in good:
                await message.nak(delay=1.0)
            return
        for message in good:
            await message.ack()
        await self._nc.flush()

    def settle(self, timeout_s: float = 60.0) -> None:
        """Wait until each of this process's consumers has nothing pending or unacknowledged."""
        self._run(self._settle(timeout_s), timeout_s + 5)

    async def _settle(self, timeout_s: float) -> None:
        deadline = self._loop.time() + timeout_s
        while True:
            busy = 0
            for consumer in self._consumers:
                info = await self._js.consumer_info(consumer.stream, consumer.durable)
                busy += int(info.num_pending or 0) + int(info.num_ack_pending or 0)
            if busy == 0:
                return
            if self._loop.time() > deadline:
                raise BusTimeout(f"{busy} message(s) still unhandled after {timeout_s:.0f} s")
            await asyncio.sleep(0.01)

    def close(self) -> None:
        """Stop fetching (a batch being handled finishes and is acknowledged), then close."""
        if not self._thread.is_alive():
            return
        try:
            self._run(self._close(), 30)
        finally:
            self._handlers.shutdown(wait=True)
            self._stop_loop()

    async def _close(self) -> None:
        self._stopping.set()
        tasks = [c.task for c in self._consumers if c.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._nc.close()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    # -- operations -------------------------------------------------------------------------
    def status(self) -> list[StreamStatus]:
        """Each topic's stream (None where it does not exist) and its consumers."""
        return self._run(self._status())

    async def _status(self) -> list[StreamStatus]:
        out = []
        for topic in TOPIC_SCHEMAS:
            name = self.config.stream(topic)
            try:
                info = await self._js.stream_info(name)
            except nats.js.errors.NotFoundError:
                out.append(StreamStatus(topic, name, None, None, []))
                continue
            consumers = [
                ConsumerStatus(
                    str(c.name),
                    int(c.num_pending or 0),
                    int(c.num_ack_pending or 0),
                    int(c.num_redelivered or 0),
                    _epoch_s(c.ack_floor.last_active if c.ack_floor else None),
                )
                for c in await self._js.consumers_info(name)
            ]
            state = info.state
            out.append(StreamStatus(topic, name, state.messages, state.bytes, consumers))
        return out

    def delete_streams(self) -> None:
        """Delete this prefix's streams and their consumers (tests; a deployment's reset)."""
        self._run(self._delete_streams())

    async def _delete_streams(self) -> None:
        for topic in TOPIC_SCHEMAS:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await self._js.delete_stream(self.config.stream(topic))


def _epoch_s(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()
