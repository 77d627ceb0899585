"""HES alarms into VEE: last gasp / restore pairs are outages (valid zeros), tamper flags."""

from __future__ import annotations

import pyarrow as pa
from tests.mdms.vee_world import B0, METER, cumulative, current, make_mdms, reads

from openami.bus.inprocess import InProcessBus
from openami.bus.messages import TOPIC_EVENTS, MeterEvent
from openami.hes.journal import EVENT_SCHEMA


def alarms(rows: list[tuple[int, float]]) -> pa.Table:
    return pa.table(
        {
            "meter_id": [METER] * len(rows),
            "event": [e for e, _ in rows],
            "occurred_at": [t for _, t in rows],
            "received_at": [t + 5 for _, t in rows],
            "via_log": [False] * len(rows),
        },
        schema=EVENT_SCHEMA,
    )


def test_alarms_from_the_bus_mark_outage_and_tamper_slots() -> None:
    mdms = make_mdms()
    bus = InProcessBus()
    mdms.attach(bus)
    bus.publish(
        TOPIC_EVENTS,
        alarms(
            [
                (MeterEvent.LAST_GASP, (B0 + 1) * 1800.0 + 300),  # power lost in slot 1 …
                (MeterEvent.RESTORE, (B0 + 3) * 1800.0 + 600),  # … back in slot 3
                (MeterEvent.TAMPER, (B0 + 5) * 1800.0),  # at the start of slot 5
                (99, (B0 + 6) * 1800.0),  # unknown kind: ignored
            ]
        ),
    )
    mdms.ingest(reads(cumulative(1000, [40, 10, 0, 5, 30, 30, 30])))
    assert [r["flags"] for r in current(mdms, 0, 6)] == [
        [],
        ["V10O"],
        ["V10O"],
        ["V10O"],
        [],
        ["V10"],
        [],
    ]


def test_a_last_gasp_without_restore_lasts_at_most_a_day() -> None:
    mdms = make_mdms()
    mdms.ingest_hes_events(alarms([(MeterEvent.LAST_GASP, (B0 + 2) * 1800.0)]))
    mdms.ingest(reads(cumulative(1000, [0] * 60)))
    flags = [r["flags"] for r in current(mdms, 0, 59)]
    assert flags[:2] == [[], []] and flags[2:50] == [["V10O"]] * 48
    assert all("V10O" not in f for f in flags[50:])
