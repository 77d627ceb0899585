"""Every check of a client secret or customer password (issue #15 §3).

Order of work per attempt, cheapest first: the per-address budget the endpoints apply
(:func:`openami.hub.ratelimit.enforce_token_requests`), then here a budget per client id or
customer id (:func:`openami.hub.ratelimit.enforce_guesses`), then the lockout of that id
(:class:`openami.hub.lockout.Lockout`: ``429 locked_out`` with ``Retry-After``, even for the
right secret), and only then the deliberately slow hash check. Rotating source addresses
therefore buys an attacker nothing against one id.
"""

from __future__ import annotations

import math

from fastapi import HTTPException

from openami.hub.context import HubContext
from openami.hub.lockout import Lockout
from openami.hub.ratelimit import enforce_guesses
from openami.storage.repositories.clients import ApiClient


def locked_out(wait_s: float, what: str) -> HTTPException:
    retry_after = max(1, math.ceil(wait_s))
    return HTTPException(
        status_code=429,
        detail={
            "code": "locked_out",
            "message": f"too many failed attempts for this {what}; retry after {retry_after} s",
        },
        headers={"Retry-After": str(retry_after)},
    )


def _guard(context: HubContext, key: str, what: str, now_s: float) -> Lockout | None:
    enforce_guesses(context.rate_limits, key, now_s)
    lockout = context.lockout
    if lockout is not None:
        wait_s = lockout.wait_s(key, now_s)
        if wait_s > 0:
            raise locked_out(wait_s, what)
    return lockout


def _count(lockout: Lockout | None, key: str, ok: bool, now_s: float) -> None:
    if lockout is None:
        return
    if ok:
        lockout.succeeded(key)
    else:
        lockout.failed(key, now_s)


def authenticate_client(context: HubContext, client_id: str, secret: str) -> ApiClient | None:
    """The client if ``secret`` is right, else None; raises 429 when over budget or locked."""
    now_s = context.clock.timestamp()
    key = f"client:{client_id}"
    lockout = _guard(context, key, "client", now_s)
    client = context.clients.authenticate(client_id, secret)
    _count(lockout, key, client is not None, now_s)
    return client


def authenticate_customer(context: HubContext, customer_id: str, password: str) -> bool:
    """Whether ``password`` is the customer's; raises 429 when over budget or locked."""
    from openami.hub.oauth_grants import consent_store

    now_s = context.clock.timestamp()
    key = f"customer:{customer_id}"
    lockout = _guard(context, key, "customer", now_s)
    ok = consent_store(context).authenticate_customer(customer_id, password)
    _count(lockout, key, ok, now_s)
    return ok
