"""`openami serve hes`: shards of the fleet and the checks made before anything starts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from click.testing import CliRunner

from openami.bus.inprocess import InProcessBus
from openami.bus.messages import COMMAND_REQUEST_SCHEMA, CommandKind
from openami.cli.main import cli
from openami.cli.serve_hes import _shard
from openami.clock import AnchoredClock
from openami.hes.core import CollectionConfig
from openami.hes.dlms_access import DlmsAccess
from openami.hes.service_commands import ServiceCommands
from openami.storage.repositories.meter_endpoints import EndpointTable


def test_shards_split_the_fleet_without_overlap() -> None:
    ids = np.arange(1, 1001, dtype=np.int64)
    table = EndpointTable(ids, ["h"] * 1000, np.full(1000, 4059), ids)
    shards = [_shard(table, k, 3) for k in range(3)]
    together = np.sort(np.concatenate([s.meter_id for s in shards]))
    assert np.array_equal(together, ids)  # every meter in exactly one shard
    assert min(len(s) for s in shards) > 250  # and the shards are about even
    assert all(np.array_equal(s.logical_device, s.meter_id) for s in shards)


def test_a_shard_leaves_other_shards_requests_alone() -> None:
    clock = AnchoredClock(time.time(), time.time(), 1.0)
    access = DlmsAccess(
        np.array([5]), ["127.0.0.1"], np.array([1]), np.array([1]), lambda _: None, clock
    )
    bus = InProcessBus()
    request = {
        "correlation_id": 1,
        "meter_id": 6,  # another shard's meter
        "kind": int(CommandKind.READ),
        "priority": 0,
        "argument": 0,
        "issued_at": 0.0,
        "deadline_at": 1.0,
        "reference": None,
        "authorisation": None,
    }
    batch = pa.Table.from_pylist([request], schema=COMMAND_REQUEST_SCHEMA)
    shard = ServiceCommands(access, bus, clock, CollectionConfig(), None, others_meters=True)
    assert asyncio.run(shard.handle(batch)).num_rows == 0
    alone = ServiceCommands(access, bus, clock, CollectionConfig(), None)
    assert asyncio.run(alone.handle(batch)).column("state").to_pylist() == [3]  # FAILED


def test_serve_hes_explains_what_is_missing(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["serve", "hes", "--data-dir", str(tmp_path), "--bus", "nats://127.0.0.1:1"]
    bad_shard = runner.invoke(cli, [*args, "--shard", "2/2"])
    assert bad_shard.exit_code != 0 and "0 ≤ K < N" in bad_shard.output
    empty = runner.invoke(cli, args)
    assert empty.exit_code != 0 and "register-field" in empty.output
