"""Bus throughput: register reads per second through NATS JetStream and in process.

One half-hour's reads of every meter are published as one batch per slot (the HES's
shape), to a subscriber that sums a column (so the figure is the bus, not the MDMS). Both
adapters run in the same process and run, the in-process bus first as the baseline:

- in process: publish → handler, synchronous;
- JetStream publish: batches split by supply point partition into Arrow IPC messages of
  ≤ 256 KiB and stored (file storage) with every publish acknowledged by the server;
- JetStream consume: the pre-loaded stream drained by a durable pull consumer, the handler
  called per fetch and every message acknowledged after it;
- JetStream end to end: publish and consume at the same time (publish, then settle).

The server is ``--url`` or ``OPENAMI_BUS_URL`` (default nats://127.0.0.1:4222); its streams
get a prefix of their own and are deleted afterwards. Without a server the benchmark says
so and prints ``skipped`` (exit status 0). Usage::

    python benchmarks/bench_bus.py            # 1,000,000 meters × 4 slots
    python benchmarks/bench_bus.py --small    # 100,000 meters × 4 slots, a few seconds
    python benchmarks/bench_bus.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from typing import Any

import numpy as np
import pyarrow as pa

from openami.bus.inprocess import InProcessBus
from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import READ_SCHEMA, TOPIC_READINGS
from openami.bus.port import Bus, BusUnavailable
from openami.log import configure


def slot_batches(meters: int, slots: int) -> list[pa.Table]:
    ids = np.arange(1, meters + 1, dtype=np.int64)
    rng = np.random.default_rng(1)
    register = rng.integers(0, 10_000_000, meters)
    out = []
    for slot in range(slots):
        register = register + rng.integers(0, 2000, meters)
        out.append(
            pa.table(
                {
                    "meter_id": ids,
                    "boundary": np.full(meters, 1_000_000 + slot, np.int64),
                    "import_register_wh": register,
                    "export_register_wh": np.zeros(meters, np.int64),
                    "received_at": np.full(meters, 1.8e9 + slot * 1800.0),
                    "source": pa.array(np.zeros(meters, np.uint8), pa.uint8()),
                },
                schema=READ_SCHEMA,
            )
        )
    return out


class Counter:
    def __init__(self) -> None:
        self.rows = 0
        self.calls = 0
        self.checksum = 0

    def __call__(self, batch: pa.Table) -> None:
        self.rows += batch.num_rows
        self.calls += 1
        self.checksum += int(batch.column("import_register_wh").to_numpy().sum())


def publish_all(bus: Bus, batches: list[pa.Table]) -> float:
    start = time.perf_counter()
    for batch in batches:
        bus.publish(TOPIC_READINGS, batch)
    return time.perf_counter() - start


def run(url: str, meters: int, slots: int) -> dict[str, Any]:
    batches = slot_batches(meters, slots)
    rows = meters * slots
    baseline = InProcessBus()
    local = Counter()
    baseline.subscribe(TOPIC_READINGS, local)
    inprocess_s = publish_all(baseline, batches)

    config = JetStreamConfig(url=url, prefix=f"bench{uuid.uuid4().hex[:8]}")
    bus = JetStreamBus(config)
    try:
        publish_s = publish_all(bus, batches)  # pre-loads the stream: no consumer yet
        loaded = Counter()
        start = time.perf_counter()
        bus.subscribe(TOPIC_READINGS, loaded)
        bus.settle(600)
        consume_s = time.perf_counter() - start
        consumed, consumed_sum, calls = loaded.rows, loaded.checksum, loaded.calls
        both = Counter()
        second = JetStreamBus(JetStreamConfig(url=url, prefix=config.prefix, consumer="second"))
        try:
            # a second durable consumer first drains what is stored, then follows live
            second.subscribe(TOPIC_READINGS, both)
            second.settle(600)
            both.rows = both.checksum = 0
            start = time.perf_counter()
            publish_all(
                bus,
                [
                    b.set_column(1, "boundary", pa.array(b.column("boundary").to_numpy() + slots))
                    for b in batches
                ],
            )
            second.settle(600)
            bus.settle(600)
            end_to_end_s = time.perf_counter() - start
        finally:
            second.close()
        messages = _stream_messages(bus, config)
    finally:
        bus.delete_streams()
        bus.close()
    if consumed != rows or consumed_sum != local.checksum or both.rows != rows:
        raise SystemExit(f"lost or duplicated reads: {consumed}, {both.rows} of {rows}")
    return {
        "meters": meters,
        "slots": slots,
        "reads": rows,
        "messages_per_slot": round(messages / (2 * slots), 1),
        "inprocess_reads_per_s": round(rows / inprocess_s),
        "jetstream_publish_reads_per_s": round(rows / publish_s),
        "jetstream_consume_reads_per_s": round(rows / consume_s),
        "jetstream_end_to_end_reads_per_s": round(rows / end_to_end_s),
        "handler_calls_per_slot": round(calls / slots, 1),
        "ratio_end_to_end_to_inprocess": round(inprocess_s / end_to_end_s, 4),
    }


def _stream_messages(bus: JetStreamBus, config: JetStreamConfig) -> int:
    import asyncio

    import nats

    async def count() -> int:
        nc = await nats.connect(config.url)
        info = await nc.jetstream().stream_info(config.stream(TOPIC_READINGS))
        await nc.close()
        return int(info.state.messages)

    return asyncio.run(count())


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("OPENAMI_BUS_URL", "nats://127.0.0.1:4222"))
    ap.add_argument("--meters", type=int, default=None, help="meters (default 1,000,000)")
    ap.add_argument("--slots", type=int, default=4, help="half-hour batches")
    ap.add_argument("--small", action="store_true", help="100,000 meters")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    configure()  # logs to stderr: stdout carries the table or the JSON object
    meters = args.meters or (100_000 if args.small else 1_000_000)
    try:
        out = run(args.url, meters, args.slots)
    except BusUnavailable as exc:
        out = {"skipped": str(exc)}
    if args.json:
        print(json.dumps(out))
        return
    if "skipped" in out:
        print(f"bus benchmark skipped: {out['skipped']}")
        return
    print(f"bus throughput, {meters:,} meters × {args.slots} slots = {out['reads']:,} reads")
    print(f"{'path':<34}{'reads/s':>14}")
    for label, key in (
        ("in process (baseline)", "inprocess_reads_per_s"),
        ("JetStream publish (stored, acked)", "jetstream_publish_reads_per_s"),
        ("JetStream consume (pre-loaded)", "jetstream_consume_reads_per_s"),
        ("JetStream end to end", "jetstream_end_to_end_reads_per_s"),
    ):
        print(f"{label:<34}{out[key]:>14,}")
    print(
        f"messages per slot {out['messages_per_slot']}, handler calls per slot "
        f"{out['handler_calls_per_slot']}, end to end / in process "
        f"{out['ratio_end_to_end_to_inprocess']}"
    )


if __name__ == "__main__":
    main()
