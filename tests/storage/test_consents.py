"""Customers and consents on both engines: one-transaction registration and decisions, a
decision taken once even when two arrive together, nothing deleted."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from tests.storage.seed import SP1, SP2, seed

from openami.storage.repositories import AlreadyExists, Database, MissingReference


@pytest.fixture
def seeded(database: Database) -> Database:
    seed(database)
    return database


def test_customers(seeded: Database) -> None:
    consents = seeded.consents
    consents.add_customer("cus-1", "a-long-password", [1, 2])
    assert consents.authenticate_customer("cus-1", "a-long-password")
    assert not consents.authenticate_customer("cus-1", "a-wrong-password")
    assert not consents.authenticate_customer("nobody", "a-long-password")
    assert consents.customer_points("cus-1") == {1: SP1, 2: SP2}
    with pytest.raises(ValueError, match="12 characters"):
        consents.add_customer("cus-2", "short", [])
    # a point that does not exist: the customer is not stored either (one transaction)
    with pytest.raises(MissingReference):
        consents.add_customer("cus-3", "a-long-password", [1, 99])
    assert not consents.authenticate_customer("cus-3", "a-long-password")
    with pytest.raises(AlreadyExists):
        consents.add_customer("cus-1", "a-long-password", [])


def test_request_decide_revoke(seeded: Database) -> None:
    consents = seeded.consents
    consents.add_customer("cus-1", "a-long-password", [1, 2])
    asked = consents.request(
        "tp-1",
        "advice",
        ["daily", "half_hour"],
        date(2026, 1, 1),
        date(2026, 1, 31),
        500.0,
        [SP1, SP1, "not-a-point"],
        100.0,
    )
    assert asked.status == "requested" and asked.data_kinds == ("half_hour", "daily")
    assert asked.supply_point_ids == (SP1, "not-a-point")  # as requested, unchecked
    assert asked.period_to == date(2026, 1, 31) and asked.customer_id is None
    assert asked.effective_status(499.0) == "requested"
    assert asked.effective_status(500.0) == "expired"
    with pytest.raises(ValueError, match="data kinds"):
        consents.request(
            "tp-1", "x", ["everything"], date(2026, 1, 1), date(2026, 1, 2), 1.0, [], 0
        )
    with pytest.raises(ValueError, match="before"):
        consents.request("tp-1", "x", ["daily"], date(2026, 1, 2), date(2026, 1, 1), 1.0, [], 0)
    with pytest.raises(MissingReference):
        consents.request("ghost", "x", ["daily"], date(2026, 1, 1), date(2026, 1, 2), 1.0, [], 0)
    assert consents.decide(asked.consent_id, "cus-1", True, [1, 1], 200.0)
    assert not consents.decide(asked.consent_id, "cus-1", False, [], 210.0)  # decided already
    active = consents.get(asked.consent_id)
    assert active is not None and active.status == "active" and active.decided_at == 200.0
    assert active.supply_point_ids == (SP1,) and active.is_live(300.0)
    assert consents.supply_point_keys(asked.consent_id) == {1: SP1}
    assert [c.consent_id for c in consents.of_customer("cus-1")] == [asked.consent_id]
    assert consents.revoke(asked.consent_id, "cus-2", 300.0) is False  # not theirs
    assert consents.revoke(asked.consent_id, "cus-1", 300.0) is True
    revoked = consents.get(asked.consent_id)
    assert revoked is not None and revoked.status == "revoked" and revoked.revoked_at == 300.0
    late = consents.request(
        "tp-1", "late", ["monthly"], date(2026, 1, 1), date(2026, 1, 2), 150.0, [SP2], 120.0
    )
    assert not consents.decide(late.consent_id, "cus-1", True, [2], 150.0)  # expired
    denied = consents.request(
        "tp-1", "no", ["monthly"], date(2026, 1, 1), date(2026, 1, 2), 900.0, [SP2], 130.0
    )
    assert consents.decide(denied.consent_id, "cus-1", False, [2], 140.0)
    got = consents.get(denied.consent_id)
    assert got is not None and got.status == "denied" and got.supply_point_ids == (SP2,)
    page = consents.of_client("tp-1", limit=2, offset=1)
    assert [c.consent_id for c in page] == [late.consent_id, denied.consent_id]
    assert consents.get("nope") is None


def test_two_decisions_at_once_record_one(seeded: Database) -> None:
    consents = seeded.consents
    consents.add_customer("cus-1", "a-long-password", [1, 2])
    asked = consents.request(
        "tp-1", "advice", ["daily"], date(2026, 1, 1), date(2026, 1, 2), 900.0, [SP1], 100.0
    )
    results: list[bool] = []
    start = threading.Barrier(2)

    def decide(approve: bool) -> None:
        start.wait()
        results.append(consents.decide(asked.consent_id, "cus-1", approve, [1, 2], 200.0))

    threads = [threading.Thread(target=decide, args=(a,)) for a in (True, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    decided = consents.get(asked.consent_id)
    assert decided is not None
    granted = consents.supply_point_keys(asked.consent_id)
    assert (decided.status, bool(granted)) in (("active", True), ("denied", False))
