"""Push, then pull: signed webhook notifications when half-hour values land on the hub.

Each :meth:`WebhookService.poll` looks for half-hour value versions recorded since the last
poll (new measured values, missing marks, backfills, estimates and edits alike), maps each
(supply point, slot) to the retailer supplying it on that JST day, and queues one
notification per subscription of that retailer's clients. The body lists, per slot, how
many values changed, the ESPI Batch URL to pull them from (``published-*`` = that day,
``updated-min`` = the start of the notified window) and up to ``max_usage_points``
UsagePoint Batch URLs with opaque ids (the same HMAC ids as :mod:`openami.hub.espi_api`).
No supply point ID, name or address is ever in a body.

Deliveries are HTTP POSTs (httpx, no redirects) signed with the subscription's secret::

    X-OpenAMI-Timestamp: <unix seconds on the hub clock>
    X-OpenAMI-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

A subscriber recomputes the HMAC over the raw body and rejects timestamps older than a few
minutes (replay); :func:`verify_signature` does both. A non-2xx answer or a transport error
is retried with exponential backoff on the one clock (``base_s`` × 2^(attempt−1), capped)
until ``max_attempts``; then the delivery is ``failed`` (the subscriber can still pull).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from urllib.parse import urlencode, urlsplit

import httpx
import pyarrow as pa
import structlog

from openami.clock import JST, day_of_slot, jst_day_start_s, slot_end_s, slot_start_s
from openami.hub.context import HubContext
from openami.hub.espi_ids import id_key, usage_point_id
from openami.mdms.reports import MdmsReports
from openami.protocols.espi import BatchList, write_batch_list
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.webhooks import Delivery, Subscription, WebhookStore

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-OpenAMI-Signature"
SUBSCRIBER_ROLES = ("retailer", "meter_operator")
TIMESTAMP_HEADER = "X-OpenAMI-Timestamp"
EVENT = "half_hour_values.changed"
ESPI_BASE = "/espi/1_1/resource"
MAX_SUBSCRIPTIONS_PER_CLIENT = 10
FORMATS = ("json", "espi")
_CONTENT_TYPE = {"json": "application/json", "espi": "application/xml"}


@dataclass(frozen=True)
class WebhookConfig:
    max_attempts: int = 8
    base_s: float = 30.0
    multiplier: float = 2.0
    max_backoff_s: float = 3600.0
    timeout_s: float = 5.0
    batch: int = 100  # deliveries per round
    max_usage_points: int = 100  # per slot; above this the body gives the count only
    public_base_url: str = ""  # prefix of resource URLs ("" = paths relative to the hub)
    allow_private: bool = False  # callbacks to loopback/private addresses (tests, labs)


class InvalidSubscription(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    now_s: float,
    tolerance_s: float = 300.0,
) -> bool:
    """What a subscriber checks: the HMAC over the raw body, and a fresh timestamp."""
    if not timestamp_header or not signature_header:
        return False
    try:
        ts = int(timestamp_header)
    except ValueError:
        return False
    if abs(now_s - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature_header)


def _private_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return not ip.is_global or ip.is_multicast


def _ipv4_number(part: str) -> int:
    """One part of an IPv4 host in any form a URL parser or ``inet_aton`` takes: decimal,
    ``0x`` hex, or octal with a leading zero; ValueError otherwise."""
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part[1:], 8)
    if not part.isdigit():
        raise ValueError(part)
    return int(part)


def numeric_ipv4(host: str) -> str | None:
    """The dotted-quad form of a host written as a number (``2130706433``, ``0x7f000001``,
    ``127.1``, ``0177.0.0.1``), as browsers and ``inet_aton`` read it; None for a name.
    ValueError for a host that ends in a number but is no valid address."""
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts = parts[:-1]  # a trailing dot
    last = parts[-1] if parts else ""
    if not (last.isdigit() or last[:2].lower() == "0x"):
        return None  # a name: resolved (and checked) at delivery
    if len(parts) > 4:
        raise ValueError(host)
    numbers = [_ipv4_number(p) for p in parts]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise ValueError(host)
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - i))
    return str(ipaddress.IPv4Address(value))


def check_callback_url(url: str, allow_private: bool = False) -> str:
    """Shape rules; returns the URL to store, with a numeric IPv4 host in its dotted-quad
    form. Without ``allow_private``, no private/loopback/link-local address in any
    notation and no ``localhost`` (host names are resolved and checked again at delivery)."""
    if len(url) > 2048:
        raise InvalidSubscription("E_INVALID_CALLBACK_URL", "callback URL longer than 2048")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidSubscription("E_INVALID_CALLBACK_URL", "malformed callback URL") from None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidSubscription(
            "E_INVALID_CALLBACK_URL", "callback URL must be http(s)://host/..."
        )
    if parts.username or parts.password or (port is not None and not 0 < port < 65536):
        raise InvalidSubscription(
            "E_INVALID_CALLBACK_URL", "callback URL must not carry credentials"
        )
    try:
        dotted = numeric_ipv4(host)
    except ValueError:
        raise InvalidSubscription(
            "E_INVALID_CALLBACK_URL", "callback URL host is a malformed IPv4 address"
        ) from None
    if dotted is not None and dotted != host:
        host = dotted
        netloc = dotted if port is None else f"{dotted}:{port}"
        url = parts._replace(netloc=netloc).geturl()
    if not allow_private:
        try:
            private = _private_address(host)
        except ValueError:  # a name, not an address literal
            private = host.rstrip(".").lower() == "localhost" or host.endswith(".localhost")
        if private:
            raise InvalidSubscription(
                "E_PRIVATE_CALLBACK_URL", "callback URL must be a public address"
            )
    return url


def resolves_to_private(url: str) -> bool:
    """True when the callback's host resolves to any non-public address (or not at all)."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return True
    return any(_private_address(str(info[4][0])) for info in infos) or not infos


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).isoformat()


def _day_start(day: date) -> datetime:
    return datetime.fromtimestamp(jst_day_start_s(day), JST)


@cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's roots), built once per process: building it
    takes ~35 ms, too much for every delivery round."""
    return httpx.create_ssl_context()


class WebhookService:
    def __init__(
        self,
        context: HubContext,
        config: WebhookConfig | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.context = context
        self.config = config or WebhookConfig()
        self.store = WebhookStore(context.clients.database, context.claim_ttl_s)
        self.transport = transport
        self._lock = threading.Lock()
        if self.store.watermark("values") is None:  # notify what lands from now on
            self.store.set_watermark("values", context.clock.timestamp())

    # -- subscriptions ------------------------------------------------------------------------
    def subscribe(
        self, client: ApiClient, callback_url: str, secret: str, body_format: str = "json"
    ) -> Subscription:
        callback_url = check_callback_url(callback_url, self.config.allow_private)
        if body_format not in FORMATS:
            raise InvalidSubscription("E_UNKNOWN_FORMAT", f"format must be one of {FORMATS}")
        if not 16 <= len(secret) <= 256:
            raise InvalidSubscription("E_WEAK_SECRET", "the secret must have 16 to 256 characters")
        # retailers get value notifications; meter operators the commands to their meters
        if client.role not in SUBSCRIBER_ROLES:
            raise InvalidSubscription(
                "E_NOT_RETAILER", "only retailer and meter operator clients subscribe"
            )
        with self._lock:
            if len(self.store.subscriptions(client.client_id)) >= MAX_SUBSCRIPTIONS_PER_CLIENT:
                raise InvalidSubscription(
                    "E_TOO_MANY_SUBSCRIPTIONS",
                    f"at most {MAX_SUBSCRIPTIONS_PER_CLIENT} subscriptions per client",
                )
            sub = Subscription(
                f"ws-{uuid.uuid4().hex[:20]}",
                client.client_id,
                callback_url,
                secret,
                self.context.clock.timestamp(),
                body_format,
            )
            self.store.add_subscription(sub)
        return sub

    # -- notifications ------------------------------------------------------------------------
    def poll(self, now_s: float, changed: pa.Table | None = None) -> int:
        """Queue notifications for value versions recorded since the last poll, or with
        ``changed`` for these (supply_point_key, slot) pairs (a hub replica's changes from
        the shared interval store, which keeps no recording times)."""
        with self._lock:
            last = self.store.watermark("values")
            if last is not None and now_s <= last:
                return 0
            by_retailer = self.store.subscribed_retailers()
            changes = (
                self._changes(last, now_s, sorted(by_retailer), changed)
                if last and by_retailer
                else {}
            )
            rows: list[tuple[str, bytes]] = []
            for retailer, slots in changes.items():
                for sub in by_retailer.get(retailer, []):
                    rows.append((sub.subscription_id, self._body(sub, slots, last or 0.0, now_s)))
            # the watermark moves with the queue (compare-and-set): a crash in between
            # repeats, never loses, a notice; another replica that polled first wins
            if not self.store.advance_watermark("values", last, now_s, rows):
                return 0
            return len(rows)

    def _changes(
        self, after_s: float, until_s: float, retailers: list[str], changed: pa.Table | None
    ) -> dict[str, list[tuple[int, int, list[int]]]]:
        """retailer -> [(slot, values changed, first supply point keys)]."""
        contracts = self.context.registry.contracts_table(retailers)
        if contracts.num_rows == 0 or (changed is not None and changed.num_rows == 0):
            return {}
        reports, max_keys = MdmsReports(self.context.mdms), int(self.config.max_usage_points) + 1
        if changed is not None:
            table = reports.changed_slots_of(changed, contracts, max_keys)
        else:
            table = reports.changed_slots(after_s, until_s, contracts, max_keys)
        out: dict[str, list[tuple[int, int, list[int]]]] = {}
        for retailer, slot, n, keys in zip(
            *(table.column(c).to_pylist() for c in ("retailer_id", "slot", "n", "keys")),
            strict=True,
        ):
            out.setdefault(str(retailer), []).append((int(slot), int(n), list(keys)))
        return out

    def _usage_point_ids(self, keys: set[int]) -> dict[int, str]:
        key = id_key(self.context)  # the ESPI feeds' deployment key: the same opaque ids
        ids = self.context.registry.supply_point_id_map(sorted(keys))
        return {k: usage_point_id(key, sp) for k, sp in ids.items()}

    def _body(
        self,
        sub: Subscription,
        slots: list[tuple[int, int, list[int]]],
        after_s: float,
        until_s: float,
    ) -> bytes:
        base = self.config.public_base_url.rstrip("/") + ESPI_BASE
        ups = self._usage_point_ids({k for _, n, keys in slots for k in keys})
        # updated-min only: a block updated again before the pull must still be served
        updated = {"updated-min": _iso(after_s)}
        items = []
        for slot, n, keys in slots:
            day = day_of_slot(slot)
            window = {
                "published-min": _day_start(day).isoformat(),
                "published-max": _day_start(day + timedelta(days=1)).isoformat(),
                **updated,
            }
            listed = n <= self.config.max_usage_points
            items.append(
                {
                    "slot_start": _iso(slot_start_s(slot)),
                    "slot_end": _iso(slot_end_s(slot)),
                    "values": n,
                    "batch": f"{base}/Batch/Subscription/{sub.client_id}?{urlencode(window)}",
                    "usage_points": [
                        f"{base}/Batch/Subscription/{sub.client_id}/UsagePoint/{ups[k]}?"
                        + urlencode(window)
                        for k in keys
                        if k in ups
                    ]
                    if listed
                    else None,
                }
            )
        if sub.format == "espi":  # NAESB ESPI notification: the Batch URLs to pull
            return write_batch_list(BatchList(tuple(str(item["batch"]) for item in items)))
        body = {
            "event": EVENT,
            "notification_id": str(uuid.uuid4()),
            "subscription_id": sub.subscription_id,
            "created_at": _iso(until_s),
            "updated_min": updated["updated-min"],
            "updated_max": _iso(until_s),
            "slots": items,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    # -- delivery -----------------------------------------------------------------------------
    def deliver_due(self, now_s: float) -> int:
        """POST every notification due by ``now_s`` that no other hub process holds (one try
        each, claimed a few at a time); returns how many landed."""
        owner, claim_batch = self.context.replica_id, 10
        delivered = tried = 0
        subs: dict[str, Subscription | None] = {}
        http: httpx.Client | None = None  # built only when something is due (TLS set-up costs)
        try:
            while tried < self.config.batch:
                due = self.store.claim_due(
                    owner, now_s, min(claim_batch, self.config.batch - tried)
                )
                if not due:
                    break
                if http is None:
                    http = httpx.Client(
                        transport=self.transport,
                        verify=_tls_context(),
                        timeout=self.config.timeout_s,
                        follow_redirects=False,
                    )
                tried += len(due)
                for d in due:
                    if d.subscription_id not in subs:
                        subs[d.subscription_id] = self.store.subscription(d.subscription_id)
                    delivered += self._attempt(http, d, subs[d.subscription_id], now_s)
        finally:
            if http is not None:
                http.close()
        return delivered

    def _attempt(
        self, http: httpx.Client, d: Delivery, sub: Subscription | None, now_s: float
    ) -> int:
        """One try of a claimed delivery, recorded (by this claim's holder only); 1 if it
        landed."""
        cfg, owner = self.config, self.context.replica_id
        attempts = d.attempts + 1
        if sub is None:
            self.store.record_attempt(
                d.delivery_id, "failed", d.attempts, now_s, now_s, None, "unsubscribed", owner
            )
            return 0
        if not cfg.allow_private and resolves_to_private(sub.callback_url):
            self.store.record_attempt(
                d.delivery_id, "failed", attempts, now_s, now_s, None, "private address", owner
            )
            return 0
        ts = int(now_s)
        headers = {
            "Content-Type": _CONTENT_TYPE.get(sub.format, "application/json"),
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(sub.secret, ts, d.body),
            "X-OpenAMI-Event": _event_of(d.body),
            "X-OpenAMI-Delivery": str(d.delivery_id),
        }
        status: int | None = None
        error: str | None = None
        try:
            resp = http.post(sub.callback_url, content=d.body, headers=headers)
            status = resp.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        if error is None:
            self.store.record_attempt(
                d.delivery_id, "delivered", attempts, now_s, now_s, status, None, owner
            )
            return 1
        wait = min(cfg.base_s * cfg.multiplier ** (attempts - 1), cfg.max_backoff_s)
        state = "failed" if attempts >= cfg.max_attempts else "pending"
        self.store.record_attempt(
            d.delivery_id, state, attempts, now_s + wait, now_s, status, error, owner
        )
        log.info(
            "webhook delivery failed",
            delivery=d.delivery_id,
            subscription=d.subscription_id,
            attempts=attempts,
            state=state,
            error=error,
        )
        return 0


def _event_of(body: bytes) -> str:
    """The event a queued body carries (``switch.pending``, ``operator.alert`` …)."""
    if body[:1] != b"{":
        return EVENT
    try:
        event = json.loads(body).get("event")
    except ValueError:
        return EVENT
    return event if isinstance(event, str) else EVENT


_BUILD_LOCK = threading.Lock()


def webhook_service(context: HubContext, config: WebhookConfig | None = None) -> WebhookService:
    """The context's webhook service (built on first use, with ``config`` if given then)."""
    with _BUILD_LOCK:
        service = context.services.get("webhooks")
        if not isinstance(service, WebhookService):
            service = WebhookService(context, config)
            context.services["webhooks"] = service
        return service
