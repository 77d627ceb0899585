"""The dashboard's C-route counts and pages on both engines (no secret is ever selected)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from tests.storage.seed import SP1, seed

from openami.storage.repositories import Database
from openami.storage.repositories import croute as q
from openami.storage.repositories.requests import RequestRow
from openami.storage.repositories.webhooks import Subscription


def test_empty_store_answers_nothing(database: Database) -> None:
    assert (
        q.request_counts(database) == [] and q.latest_requests(database, "kind", True, 0, 5)[0] == 0
    )
    assert q.consent_counts(database, 0.0) == {} and q.latest_consents(database, 0.0, 0, 5) == (
        0,
        [],
    )
    assert q.delivery_counts(database) == {} and q.subscription_count(database) == 0
    assert q.latest_deliveries(database, 0, 5) == (0, [])


def test_counts_and_pages(database: Database) -> None:
    seed(database)
    row = RequestRow(
        "a",
        "retailer-1",
        "R1",
        "disconnect",
        1,
        SP1,
        "2026-04-02",
        None,
        "received",
        None,
        None,
        None,
        10.0,
        10.0,
    )
    database.requests.add_request(row)
    database.requests.add_request(replace(row, request_id="b", kind="reconnect", received_at=20.0))
    database.requests.add_request(replace(row, request_id="c", received_at=30.0))
    database.requests.set_status("c", "rejected", 31.0, "E_X", "no")
    assert q.request_counts(database) == [
        ("disconnect", "received", 1),
        ("disconnect", "rejected", 1),
        ("reconnect", "received", 1),
    ]
    total, page = q.latest_requests(database, "received_at", True, 0, 2)
    assert total == 3 and [r.request_id for r in page] == ["c", "b"]
    _, page = q.latest_requests(database, "received_at", False, 2, 2)
    assert [r.request_id for r in page] == ["c"] and page[0].error_code == "E_X"
    with pytest.raises(ValueError, match="sort"):
        q.latest_requests(database, "secret; DROP TABLE x", True, 0, 1)

    consents = database.consents
    consents.add_customer("cus-1", "a-long-password", [1])
    live = consents.request(
        "tp-1", "p", ["daily"], date(2026, 1, 1), date(2026, 1, 2), 1000.0, [SP1], 100.0
    )
    consents.decide(live.consent_id, "cus-1", True, [1], 110.0)
    consents.request(
        "tp-1", "p", ["daily"], date(2026, 1, 1), date(2026, 1, 2), 150.0, [SP1], 120.0
    )
    assert q.consent_counts(database, 200.0) == {"active": 1, "expired": 1}
    assert q.consent_counts(database, 130.0) == {"active": 1, "requested": 1}
    total, rows = q.latest_consents(database, 200.0, 0, 10)
    assert total == 2 and [r.status for r in rows] == ["expired", "active"]
    assert rows[1].supply_points == 1 and rows[0].supply_points == 0 and rows[1].recipient == "tp-1"

    hooks = database.webhooks
    hooks.add_subscription(Subscription("s1", "retailer-1", "https://x/h", "sign-secret", 1.0))
    hooks.add_subscription(Subscription("s2", "retailer-1", "https://x/h", "sign-secret", 2.0))
    hooks.deactivate("s2")
    hooks.enqueue([("s1", b"one"), ("s1", b"two"), ("gone", b"three")], 5.0)
    first = hooks.due(5.0, 1)[0]
    hooks.record_attempt(first.delivery_id, "delivered", 1, 5.0, 6.0, 200, None)
    assert q.subscription_count(database) == 1
    assert q.delivery_counts(database) == {"delivered": 1, "pending": 2}
    total, deliveries = q.latest_deliveries(database, 0, 2)
    assert total == 3 and [d.client_id for d in deliveries] == [None, "retailer-1"]
    assert "sign-secret" not in repr(deliveries) and "https://x/h" not in repr(deliveries)
