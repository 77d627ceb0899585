"""What the operator dashboard's C-route page reads of the hub's own records: retailer
requests, consents and webhook deliveries, as counts and pages (never a secret, callback
URL, notification body or customer ID).

The page asks these functions, never the stores; they call the read queries of
:mod:`openami.storage.repositories.croute` on the databases the hub's stores live in.
"""

from __future__ import annotations

from openami.hub.context import HubContext
from openami.storage.repositories import Database
from openami.storage.repositories import croute as croute_queries
from openami.storage.repositories.consents import STATUSES as CONSENT_STATUSES
from openami.storage.repositories.croute import (
    REQUEST_SORT_KEYS,
    ConsentListRow,
    DeliveryListRow,
    RequestListRow,
)

__all__ = [
    "CONSENT_STATUSES",
    "REQUEST_SORT_KEYS",
    "ConsentListRow",
    "DeliveryListRow",
    "RequestListRow",
    "consent_counts",
    "delivery_counts",
    "latest_consents",
    "latest_deliveries",
    "latest_requests",
    "request_counts",
    "subscription_count",
]


def _hub_db(context: HubContext) -> Database:
    """The database of requests and webhooks (the hub's transactional database)."""
    return context.clients.database


def _consent_db(context: HubContext) -> Database:
    """The database holding consents (the consent store's, else the clients')."""
    return context.consents.database if context.consents is not None else context.clients.database


def request_counts(context: HubContext) -> list[tuple[str, str, int]]:
    """(kind, status, number of retailer requests), every pair that occurs, sorted."""
    return croute_queries.request_counts(_hub_db(context))


def latest_requests(
    context: HubContext, sort: str, descending: bool, offset: int, limit: int
) -> tuple[int, list[RequestListRow]]:
    """(total, one page of retailer requests) ordered by ``sort`` (``REQUEST_SORT_KEYS``)."""
    return croute_queries.latest_requests(_hub_db(context), sort, descending, offset, limit)


def consent_counts(context: HubContext, now_s: float) -> dict[str, int]:
    """Consents per effective status at ``now_s``."""
    return croute_queries.consent_counts(_consent_db(context), now_s)


def latest_consents(
    context: HubContext, now_s: float, offset: int, limit: int
) -> tuple[int, list[ConsentListRow]]:
    """(total, one page of consents, newest first)."""
    return croute_queries.latest_consents(_consent_db(context), now_s, offset, limit)


def delivery_counts(context: HubContext) -> dict[str, int]:
    """Webhook deliveries per state (pending, delivered, failed)."""
    return croute_queries.delivery_counts(_hub_db(context))


def subscription_count(context: HubContext) -> int:
    """Active webhook subscriptions."""
    return croute_queries.subscription_count(_hub_db(context))


def latest_deliveries(
    context: HubContext, offset: int, limit: int
) -> tuple[int, list[DeliveryListRow]]:
    """(total, one page of webhook deliveries, newest first) with the subscribing client."""
    return croute_queries.latest_deliveries(_hub_db(context), offset, limit)
