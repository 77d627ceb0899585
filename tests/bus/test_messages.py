"""The message contracts: every topic's schema is checked on publish."""

from __future__ import annotations

import pyarrow as pa
import pytest

from openami.bus.inprocess import InProcessBus
from openami.bus.messages import (
    READ_SCHEMA,
    TOPIC_READINGS,
    TOPIC_SCHEMAS,
    MessageSchemaError,
    Quality,
    ReadSource,
    check_batch,
    read_source_name,
)


def _reads() -> pa.Table:
    return pa.table(
        {
            "meter_id": [1],
            "boundary": [100],
            "import_register_wh": [5],
            "export_register_wh": [None],
            "received_at": [1.0],
            "source": [int(ReadSource.BULK)],
        },
        schema=READ_SCHEMA,
    )


def test_every_topic_accepts_an_empty_batch_of_its_schema() -> None:
    for topic, schema in TOPIC_SCHEMAS.items():
        check_batch(topic, schema.empty_table())


def test_publish_refuses_a_batch_that_is_not_the_contract() -> None:
    bus = InProcessBus()
    got: list[int] = []
    bus.subscribe(TOPIC_READINGS, lambda t: got.append(t.num_rows))
    bus.publish(TOPIC_READINGS, _reads())
    assert got == [1]
    renamed = _reads().rename_columns([*READ_SCHEMA.names[:-1], "src"])
    with pytest.raises(MessageSchemaError, match="differ from the contract"):
        bus.publish(TOPIC_READINGS, renamed)
    widened = _reads().cast(READ_SCHEMA.set(5, pa.field("source", pa.int64())))
    with pytest.raises(MessageSchemaError, match="column source is int64"):
        bus.publish(TOPIC_READINGS, widened)
    with pytest.raises(MessageSchemaError, match="unknown topic"):
        bus.publish("hes.reading", _reads())
    assert got == [1]  # nothing refused reached a subscriber


def test_codes_have_one_name_each() -> None:
    assert read_source_name(ReadSource.BULK) == "bulk"
    assert read_source_name(99) == "unknown"
    assert [q.label for q in Quality] == [
        "measured",
        "estimated",
        "edited",
        "missing",
        "invalid",
        "profiled",
    ]


def test_partitions_are_stable_across_processes_and_versions() -> None:
    import numpy as np

    from openami.bus.messages import PARTITIONS, partition_of, partition_subject

    # pinned: a change here would move stored subjects and leases to other partitions
    assert partition_of(np.array([1, 2, 3])).tolist() == [37, 10, 48]
    counts = np.bincount(partition_of(np.arange(1, 64_001)), minlength=PARTITIONS)
    assert counts.min() > 800 and counts.max() < 1200  # ~1000 each
    assert partition_subject("openami", "hes.readings", 7) == "openami.hes.readings.p7"


def test_partitions_must_be_positive() -> None:
    import numpy as np
    import pytest

    from openami.bus.messages import partition_of

    with pytest.raises(ValueError, match="at least 1"):
        partition_of(np.array([1]), 0)
