"""Webhook subscriptions, deliveries and the watermark; named settings (both engines)."""

from __future__ import annotations

import threading

import pytest
from tests.storage.seed import seed

from openami.storage.repositories import AlreadyExists, Database
from openami.storage.repositories.webhooks import Subscription


def test_subscriptions_deliveries_and_watermark(database: Database) -> None:
    seed(database)
    hooks = database.webhooks
    sub = Subscription("sub-1", "retailer-1", "https://r.example/h", "sign-secret", 10.0)
    hooks.add_subscription(sub)
    hooks.add_subscription(replace_id(sub, "sub-2", client="tp-1", fmt="espi"))
    with pytest.raises(AlreadyExists):
        hooks.add_subscription(sub)
    assert [s.subscription_id for s in hooks.subscriptions()] == ["sub-1", "sub-2"]
    assert hooks.subscriptions("retailer-1") == [sub]
    assert hooks.subscription("sub-2") is not None and hooks.subscription("nope") is None
    assert hooks.subscribed_retailers() == {"R1": [sub]}  # third parties are not retailers
    hooks.deactivate("sub-2")
    assert hooks.subscription("sub-2") is None and len(hooks.subscriptions()) == 1
    assert hooks.watermark("values") is None
    hooks.set_watermark("values", 5.0)
    hooks.set_watermark("values", 6.5)
    assert hooks.watermark("values") == 6.5
    hooks.enqueue([("sub-1", b'{"a": 1}'), ("sub-1", b"\x00\xffbinary")], 100.0)
    hooks.enqueue([], 100.0)
    due = hooks.due(100.0, 10)
    assert [d.body for d in due] == [b'{"a": 1}', b"\x00\xffbinary"]
    assert all(isinstance(d.body, bytes) and d.status == "pending" for d in due)
    assert hooks.due(99.0, 10) == []
    first, second = due
    hooks.record_attempt(first.delivery_id, "delivered", 1, 100.0, 101.0, 204, None)
    hooks.record_attempt(second.delivery_id, "pending", 1, 160.0, 101.0, 503, "unavailable")
    assert [d.delivery_id for d in hooks.due(150.0, 10)] == []
    retry = hooks.due(160.0, 10)
    assert [(d.attempts, d.last_status, d.last_error) for d in retry] == [(1, 503, "unavailable")]
    newest_first = hooks.deliveries("sub-1")
    assert [d.delivery_id for d in newest_first] == [second.delivery_id, first.delivery_id]
    assert newest_first[1].delivered_at == 101.0 and newest_first[0].delivered_at is None


def replace_id(sub: Subscription, new_id: str, client: str, fmt: str) -> Subscription:
    return Subscription(new_id, client, sub.callback_url, sub.secret, sub.created_at + 1, fmt)


def test_settings_first_writer_wins(database: Database) -> None:
    settings = database.settings
    assert settings.get("espi_id_key") is None
    values: list[str] = []
    start = threading.Barrier(4)

    def set_key(value: str) -> None:
        start.wait()
        values.append(settings.get_or_set("espi_id_key", value))

    threads = [threading.Thread(target=set_key, args=(f"k{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(values)) == 1 and settings.get("espi_id_key") == values[0]
