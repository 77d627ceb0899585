"""The DR store on SQLite and PostgreSQL: enrolment, events for an aggregator's own VENs,
opt answers, cancellation, load reports kept once per instant, and refusals that change
nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openami.storage.repositories import AlreadyExists, Database, InvalidValue, MissingReference
from openami.storage.repositories.dr import MAX_REPORT_ROWS, DrEvent, DrStore

A = "0300000000000000000011"
B = "0300000000000000000022"


def _event(event_id: str, aggregator: str = "AGG1", start_s: float = 1_800_000_000.0) -> DrEvent:
    return DrEvent(event_id, aggregator, "target_w", 1500.0, start_s, 3600.0, "pending", 0.0, "t")


def test_events_opts_cancel_and_reports(database: Database) -> None:
    store = DrStore(database)
    a = store.enrol("home-a", "AGG1", A, "FP:A", 1.0)
    store.enrol("home-b", "AGG1", B, "FP:B", 1.0)
    store.enrol("home-x", "AGG2", A, "FP:X", 1.0)
    with pytest.raises(AlreadyExists):
        store.enrol("home-a", "AGG1", B, "FP:other", 2.0)
    assert store.ven("home-a").supply_point_id == A  # the first enrolment stands
    assert store.ven_by_id(a.ven_id) == a
    # an event for all of AGG1's VENs; naming another aggregator's VEN is refused
    participants = store.create_event(_event("dr-1"))
    assert [p.ven_name for p in participants] == ["home-a", "home-b"]
    with pytest.raises(MissingReference):
        store.create_event(_event("dr-2"), ["home-x"])
    with pytest.raises(MissingReference):
        store.create_event(_event("dr-3", "AGG3"))  # an aggregator without VENs
    with pytest.raises(InvalidValue):
        store.create_event(replace(_event("dr-4"), signal="x"))
    assert [e.event_id for e in store.events()] == ["dr-1"]
    # opt answers: only a participant's count
    assert store.record_opt("dr-1", a.ven_id, "optIn", 5.0)
    assert not store.record_opt("dr-1", store.ven("home-x").ven_id, "optIn", 5.0)
    with pytest.raises(InvalidValue):
        store.record_opt("dr-1", a.ven_id, "maybe", 5.0)
    assert {p.ven_name: p.opt for p in store.participants("dr-1")} == {
        "home-a": "optIn",
        "home-b": "none",
    }
    assert [e.event_id for e in store.events_of_point(B)] == ["dr-1"]
    assert store.events_of_point("0300000000000000000099") == []
    # the DR days of a supply point, then cancellation by the owner only
    spans = store.event_spans_of_points([A], 1_799_999_000.0, 1_800_000_100.0)
    assert spans == [(A, 1_800_000_000.0, 1_800_003_600.0)]
    assert not store.cancel_event("dr-1", "AGG2")
    assert store.cancel_event("dr-1", "AGG1")
    assert not store.cancel_event("dr-1", "AGG1")  # already cancelled
    assert store.event_spans_of_points([A], 1_799_999_000.0, 1_800_000_100.0) == []
    # reports: a repeated instant is kept once; an oversized report is refused whole
    store.add_reports("home-a", [(10.0, 900.0), (20.0, 950.0)], 21.0)
    store.add_reports("home-a", [(20.0, 1.0), (30.0, 990.0)], 31.0)
    assert store.reports("home-a") == [(10.0, 900.0), (20.0, 950.0), (30.0, 990.0)]
    with pytest.raises(InvalidValue):
        store.add_reports("home-a", [(float(t), 1.0) for t in range(MAX_REPORT_ROWS + 1)], 40.0)
    assert len(store.reports("home-a")) == 3
    # revocation
    assert store.revoke("home-a", 50.0) and not store.revoke("home-a", 51.0)
    assert not store.ven("home-a").active
