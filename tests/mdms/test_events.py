"""HES alarms into VEE: last gasp / restore pairs are outages (valid zeros), tamper flags;
the one event → slot rule behind them."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
from tests.mdms.vee_world import B0, METER, cumulative, current, make_mdms, reads

from openami.bus.inprocess import InProcessBus
from openami.bus.messages import EVENT_SCHEMA, OUTAGE_KINDS, TOPIC_EVENTS, MeterEvent
from openami.clock import SLOT_SECONDS, slot_start_s
from openami.mdms.events import event_slot_masks


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


def _reference_masks(events: pa.Table, meter: np.ndarray, slot: np.ndarray) -> tuple[list, list]:
    """(outage, tamper) pair by pair, period by period: the slow, obvious way."""
    outage, tamper = [], []
    rows = events.to_pylist()
    for m, s in zip(meter.tolist(), slot.tolist(), strict=True):
        hits = [
            e["kind"]
            for e in rows
            if e["meter_id"] == m
            and math.floor(e["start_s"] / SLOT_SECONDS)
            <= s
            <= math.ceil(e["end_s"] / SLOT_SECONDS) - 1
        ]
        outage.append(any(k in OUTAGE_KINDS for k in hits))
        tamper.append(any(k not in OUTAGE_KINDS for k in hits))
    return outage, tamper


def test_event_slot_masks_agree_with_a_pair_by_pair_reference() -> None:
    rng = np.random.default_rng(3)
    n_events = 60
    start = (B0 + rng.integers(-5, 40, n_events)) * float(SLOT_SECONDS)
    start += rng.choice([0.0, 1.0, 900.0], n_events)
    end = start + rng.choice([0.0, 1.0, 899.0, 1800.0, 1801.0, 5400.0], n_events)
    events = pa.table(
        {
            "meter_id": rng.integers(0, 6, n_events),
            "kind": rng.choice(["outage", "disconnected", "tamper", "reset", "test"], n_events),
            "start_s": start,
            "end_s": end,
        }
    )
    meter = rng.integers(0, 7, 500)
    slot = B0 + rng.integers(-3, 45, 500)  # in no order, with repeated pairs
    outage, tamper = event_slot_masks(events, meter, slot)
    want_outage, want_tamper = _reference_masks(events, meter, slot)
    assert outage.tolist() == want_outage
    assert tamper.tolist() == want_tamper
    assert 0 < outage.sum() < len(slot) and 0 < tamper.sum() < len(slot)


def test_a_period_ending_on_a_boundary_does_not_touch_the_next_slot() -> None:
    events = pa.table(
        {
            "meter_id": [1, 2],
            "kind": ["outage", "tamper"],
            "start_s": [slot_start_s(B0 + 1), slot_start_s(B0 + 4) - 1.0],
            "end_s": [slot_start_s(B0 + 3), slot_start_s(B0 + 4)],
        }
    )
    meter = np.array([1, 1, 1, 1, 2, 2, 3])
    slot = np.array([B0, B0 + 1, B0 + 2, B0 + 3, B0 + 3, B0 + 4, B0 + 1])
    outage, tamper = event_slot_masks(events, meter, slot)
    assert outage.tolist() == [False, True, True, False, False, False, False]
    assert tamper.tolist() == [False, False, False, False, True, False, False]


def test_alarms_sent_again_add_nothing() -> None:
    """A redelivered events batch (at-least-once bus) stores no second copy of an event."""
    mdms = make_mdms()
    batch = alarms(
        [
            (MeterEvent.LAST_GASP, (B0 + 1) * 1800.0 + 300),
            (MeterEvent.RESTORE, (B0 + 3) * 1800.0 + 600),
        ]
    )
    assert mdms.ingest_hes_events(batch) == 2
    assert mdms.ingest_hes_events(batch) == 0
    stored = mdms.store.query("SELECT COUNT(*) AS n FROM meter_events").column("n")[0].as_py()
    assert stored == 2
    mdms.ingest(reads(cumulative(1000, [40, 10, 0, 5, 30])))
    assert [r["flags"] for r in current(mdms, 0, 4)] == [[], ["V10O"], ["V10O"], ["V10O"], []]
