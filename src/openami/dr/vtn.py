"""The aggregator's OpenADR 2.0b VTN (openleadr's ``OpenADRServer``) over the DR store.

- **Registration is authorised**: the VTN serves HTTPS with mutual TLS (client certificates
  of the aggregator's DR CA only), and ``oadrCreatePartyRegistration`` succeeds only for an
  enrolled, unrevoked VEN name presenting the very certificate enrolled for it (its OpenADR
  fingerprint); every later message must come over TLS with that certificate and carry a
  valid XML signature by it (openleadr's ``ven_lookup`` check). A VEN that fails gets no
  ``venID``.
- **Events** come from the store (``openami dr event create``, status ``pending``): every
  ``poll_s`` the VTN queues each pending event for its participants' VENs and marks it
  ``distributed``; after a restart, distributed events that have not ended are queued again
  (openleadr keeps its queues in memory only).
- **Cancellation**: an event cancelled in the store (``openami dr event cancel``) is marked
  cancelled in openleadr, and each VEN hears it on its next poll.
- **Opt-in / opt-out** (``oadrCreatedEvent``) and **reports** of the home's metered load
  (TELEMETRY_USAGE, ``power_real`` in W) are written to the store.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openleadr import OpenADRServer

from openami.clock import Clock
from openami.dr.events import oadr_signal
from openami.log import get_logger
from openami.storage.repositories.dr import DrEvent, DrStore

log = get_logger("openami.dr.vtn")
PATH_PREFIX = "/OpenADR2/Simple/2.0b"
MARKET_CONTEXT = "oadr://openami/dr"


@dataclass(frozen=True)
class VtnTls:
    """PEM files: the VTN's server certificate and key, the CA VEN certificates must chain
    to, and the key that signs the VTN's own messages (the server key)."""

    cert: Path
    key: Path
    ca: Path


class DrVtn:
    def __init__(
        self,
        store: DrStore,
        clock: Clock,
        tls: VtnTls,
        vtn_id: str = "openami-vtn",
        host: str = "127.0.0.1",
        port: int = 8080,
        poll_s: float = 10.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.poll_s = poll_s
        self.vtn_id = vtn_id
        self.server = OpenADRServer(
            vtn_id=vtn_id,
            http_host=host,
            http_port=port,
            http_path_prefix=PATH_PREFIX,
            requested_poll_freq=timedelta(seconds=poll_s),
            cert=str(tls.cert),
            key=str(tls.key),
            http_cert=str(tls.cert),
            http_key=str(tls.key),
            http_ca_file=str(tls.ca),
            ven_lookup=self.ven_lookup,
            verify_message_signatures=True,
            show_fingerprint=False,
            show_server_cert_domain=False,
        )
        self.server.add_handler("on_create_party_registration", self.on_create_party_registration)
        self.server.add_handler("on_register_report", self.on_register_report)
        self._task: asyncio.Task[None] | None = None
        # what openleadr holds: store event → [(ven_id, OpenADR event id)], to cancel it
        self._queued: dict[str, list[tuple[str, str]]] = {}

    # -- registration -----------------------------------------------------------------------
    async def on_create_party_registration(self, info: dict[str, Any]) -> tuple[str, str] | bool:
        name = str(info.get("ven_name") or "")
        ven = self.store.ven(name) if name else None
        fingerprint = info.get("fingerprint")
        if ven is None or not ven.active or fingerprint != ven.cert_fingerprint:
            why = "unknown" if ven is None else ("revoked" if not ven.active else "certificate")
            log.warning("dr.registration_refused", ven_name=name[:64], reason=why)
            return False
        registration_id = "reg-" + secrets.token_hex(8)
        self.store.registered(ven.ven_name, registration_id, self.clock.timestamp())
        log.info("dr.registered", ven_name=ven.ven_name, ven_id=ven.ven_id)
        return ven.ven_id, registration_id

    def ven_lookup(self, ven_id: str) -> dict[str, Any]:
        ven = self.store.ven_by_id(ven_id)
        if ven is None or not ven.active:
            return {}
        return {
            "ven_id": ven.ven_id,
            "ven_name": ven.ven_name,
            "fingerprint": ven.cert_fingerprint,
            "registration_id": ven.registration_id,
        }

    # -- reports ----------------------------------------------------------------------------
    async def on_register_report(
        self,
        ven_id: str,
        resource_id: str,
        measurement: str,
        unit: str,
        scale: str,
        min_sampling_interval: timedelta,
        max_sampling_interval: timedelta,
    ) -> tuple[Callable[..., Any], timedelta] | None:
        """Ask for the home's real power (W); other reports are not requested."""
        ven = self.store.ven_by_id(ven_id)
        if ven is None or measurement not in ("power_real", "RealPower"):
            return None
        factor = {"k": 1000.0, "M": 1e6}.get(scale, 1.0)

        async def store_samples(data: Sequence[tuple[datetime, float]]) -> None:
            samples = [
                (moment.timestamp(), float(value) * factor)
                for moment, value in data
                if isinstance(value, int | float) and math.isfinite(value)
            ]
            if len(samples) < len(data):
                log.warning("dr.report_values_dropped", ven_name=ven.ven_name)
            self.store.add_reports(ven.ven_name, samples, self.clock.timestamp())

        return store_samples, min_sampling_interval

    # -- events -----------------------------------------------------------------------------
    def on_opt(self, ven_id: str, event_id: str, opt_type: str) -> None:
        event_id = event_id.partition(".")[0]  # the store's event of this per-VEN OpenADR id
        if not self.store.record_opt(event_id, ven_id, opt_type, self.clock.timestamp()):
            log.warning("dr.opt_unknown", ven_id=ven_id, event_id=event_id)
            return
        log.info("dr.opt", ven_id=ven_id, event_id=event_id, opt=opt_type)

    def queue(self, event: DrEvent) -> int:
        """Hand the event to openleadr for each participant still to answer."""
        signal = oadr_signal(event)
        start = datetime.fromtimestamp(event.start_s, UTC)
        queued = 0
        for participant in self.store.participants(event.event_id):
            oadr_id = f"{event.event_id}.{participant.ven_id}"
            self._queued.setdefault(event.event_id, []).append((participant.ven_id, oadr_id))
            self.server.add_event(
                ven_id=participant.ven_id,
                signal_name=signal.signal_name,
                signal_type=signal.signal_type,
                intervals=[
                    {
                        "dtstart": start,
                        "duration": timedelta(seconds=event.duration_s),
                        "signal_payload": signal.payload,
                    }
                ],
                callback=self.on_opt,
                # one OpenADR event per VEN: openleadr keeps one opt callback per event id
                event_id=oadr_id,
                market_context=MARKET_CONTEXT,
                response_required="always",
            )
            queued += 1
        return queued

    def distribute_pending(self) -> int:
        """Queue every pending event, and mark it distributed. Returns how many events."""
        events = self.store.events(status="pending")
        for event in events:
            count = self.queue(event)
            self.store.set_status(event.event_id, "distributed")
            log.info("dr.event_distributed", event_id=event.event_id, vens=count)
        return len(events)

    def withdraw_cancelled(self) -> int:
        """Mark cancelled in openleadr the events the store says were cancelled; each VEN
        learns it on its next poll. Returns how many events."""
        withdrawn = 0
        for event in self.store.events(status="cancelled"):
            for ven_id, oadr_id in self._queued.pop(event.event_id, []):
                self.server.cancel_event(ven_id, oadr_id)
                withdrawn += 1
        if withdrawn:
            log.info("dr.events_cancelled", vens=withdrawn)
        return withdrawn

    def requeue_running(self) -> int:
        now_s = self.clock.timestamp()
        running = [e for e in self.store.events(status="distributed") if e.end_s > now_s]
        for event in running:
            self.queue(event)
        return len(running)

    async def _distribute_loop(self) -> None:
        while True:
            try:
                self.distribute_pending()
                self.withdraw_cancelled()
            except Exception:  # the loop must outlive one bad event; it is logged
                log.exception("dr.distribute_failed")
            await asyncio.sleep(self.poll_s)

    async def start(self) -> None:
        self.requeue_running()
        self.distribute_pending()
        await self.server.run_async()
        self._task = asyncio.create_task(self._distribute_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.server.stop()
