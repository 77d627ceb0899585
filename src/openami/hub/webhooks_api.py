"""HTTP API of webhook subscriptions: ``/v1/subscriptions`` (see :mod:`openami.hub.webhooks`).

The secret is given once, at creation, and never returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic import BaseModel, Field

from openami.clock import JST
from openami.hub.api import ApiError, ctx, current_client
from openami.hub.audit import AuditedRoute
from openami.hub.context import HubContext
from openami.hub.webhooks import InvalidSubscription, webhook_service
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.webhooks import Subscription

router = APIRouter(route_class=AuditedRoute, tags=["webhooks"])

Ctx = Annotated[HubContext, Depends(ctx)]
Client = Annotated[ApiClient, Depends(current_client)]
_ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ApiError} for s in (401, 403, 404, 409, 422, 429)
}


class SubscriptionIn(BaseModel):
    callback_url: str = Field(max_length=2048, description="http(s) URL that receives POSTs")
    secret: str = Field(
        max_length=256, description="16-256 characters; signs each notification (HMAC-SHA256)"
    )
    format: str = Field(
        default="json",
        max_length=10,
        description="json (slots, counts, URLs) or espi (an ESPI BatchList of Batch URLs)",
    )


class DeliveryOut(BaseModel):
    delivery_id: int
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    created_at: str
    delivered_at: str | None
    next_try_at: str | None
    last_status: int | None
    last_error: str | None


class SubscriptionOut(BaseModel):
    subscription_id: str
    callback_url: str
    format: str
    created_at: str
    deliveries: list[DeliveryOut] = Field(default_factory=list, description="latest first")


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionOut]


def _iso(epoch_s: float | None) -> str | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, JST).isoformat()


def _out(sub: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        subscription_id=sub.subscription_id,
        callback_url=sub.callback_url,
        format=sub.format,
        created_at=str(_iso(sub.created_at)),
    )


def _own(context: HubContext, client: ApiClient, subscription_id: str) -> Subscription:
    sub = webhook_service(context).store.subscription(subscription_id)
    if sub is None or sub.client_id != client.client_id:
        raise HTTPException(
            status_code=404,
            detail={"code": "E_UNKNOWN_SUBSCRIPTION", "message": f"no {subscription_id}"},
        )
    return sub


@router.post(
    "/v1/subscriptions", status_code=201, response_model=SubscriptionOut, responses=_ERRORS
)
def create_subscription(context: Ctx, client: Client, body: SubscriptionIn) -> SubscriptionOut:
    """Subscribe a callback URL to "half-hour values changed" notifications (push, then pull).

    Error codes: E_INVALID_CALLBACK_URL, E_PRIVATE_CALLBACK_URL, E_WEAK_SECRET,
    E_UNKNOWN_FORMAT, E_NOT_RETAILER, E_TOO_MANY_SUBSCRIPTIONS.
    """
    try:
        sub = webhook_service(context).subscribe(
            client, body.callback_url, body.secret, body.format
        )
    except InvalidSubscription as exc:
        status = {"E_NOT_RETAILER": 403, "E_TOO_MANY_SUBSCRIPTIONS": 409}.get(exc.code, 422)
        raise HTTPException(
            status_code=status, detail={"code": exc.code, "message": str(exc)}
        ) from None
    return _out(sub)


@router.get("/v1/subscriptions", response_model=SubscriptionList, responses=_ERRORS)
def list_subscriptions(context: Ctx, client: Client) -> SubscriptionList:
    subs = webhook_service(context).store.subscriptions(client.client_id)
    return SubscriptionList(subscriptions=[_out(s) for s in subs])


@router.get(
    "/v1/subscriptions/{subscription_id}", response_model=SubscriptionOut, responses=_ERRORS
)
def get_subscription(
    context: Ctx, client: Client, subscription_id: Annotated[str, Path(max_length=64)]
) -> SubscriptionOut:
    """A subscription with its latest 100 deliveries."""
    sub = _own(context, client, subscription_id)
    out = _out(sub)
    out.deliveries = [
        DeliveryOut(
            delivery_id=d.delivery_id,
            status=d.status,
            attempts=d.attempts,
            created_at=str(_iso(d.created_at)),
            delivered_at=_iso(d.delivered_at),
            next_try_at=_iso(d.next_try_at) if d.status == "pending" else None,
            last_status=d.last_status,
            last_error=d.last_error,
        )
        for d in webhook_service(context).store.deliveries(sub.subscription_id)
    ]
    return out


@router.delete("/v1/subscriptions/{subscription_id}", status_code=204, responses=_ERRORS)
def delete_subscription(
    context: Ctx, client: Client, subscription_id: Annotated[str, Path(max_length=64)]
) -> Response:
    sub = _own(context, client, subscription_id)
    webhook_service(context).store.deactivate(sub.subscription_id)
    return Response(status_code=204)
