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
    assert [q.label for q in Quality] == ["measured", "estimated", "edited", "missing", "invalid"]
