"""Hub workers on the one clock: retailer requests → HES commands, data jobs, webhooks.

Whoever drives the loop (a simulation, the head-end's service loop) keeps a list of
after-tick hooks; :func:`attach_workers` adds one that runs the workers after every tick.
Behind a server without a head-end a :class:`WorkerThread` runs them every few seconds.
Each step is bounded, so one tick never stalls the loop for long. Requests become HES
commands only from the loop that drives the HES (the command queue is not shared between
threads): with ``HubContext.command_port`` set, use :func:`attach_workers`, not the thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from openami.hub.context import HubContext

log = structlog.get_logger(__name__)


def run_workers(context: HubContext, now_s: float, job_chunks: int = 50) -> None:
    """One round: schedule due requests, compute job chunks, notify and deliver webhooks."""
    from openami.hub.broute_applications import broute_service
    from openami.hub.jobs import job_service
    from openami.hub.requests import request_service
    from openami.hub.shared_changes import shared_change_round
    from openami.hub.third_party_services import third_party_tick
    from openami.hub.webhooks import webhook_service

    request_service(context).tick(now_s)
    third_party_tick(context, now_s)  # operator command time-outs, daily duty checks
    broute_service(context).tick(now_s)  # B-route credentials to meters, notifications
    job_service(context).run_pending(job_chunks)
    hooks = webhook_service(context)
    shared = shared_change_round(context)
    if shared is not None:  # a hub replica: slot files and notifications of the shared store
        shared.tick(now_s)
    else:
        hooks.poll(now_s)
    hooks.deliver_due(now_s)


def attach_workers(context: HubContext, after_tick: list[Callable[[float], None]]) -> None:
    """Run the hub workers after every tick of the loop that owns ``after_tick`` (e.g.
    ``Simulation.after_tick``). Before the first tick the request service subscribes to
    command outcomes and reconciles the ones it missed."""
    from openami.hub.requests import request_service

    request_service(context)
    after_tick.append(lambda now_s: run_workers(context, now_s))


class WorkerThread:
    """Runs :func:`run_workers` every ``interval_s`` wall seconds until :meth:`stop`."""

    def __init__(
        self,
        context: HubContext,
        interval_s: float = 5.0,
        job_chunks: int = 50,
        *,
        bus_round: Callable[[float], None] | None = None,
    ) -> None:
        """``bus_round``: with a command port over the bus (``wiring_hub``), its step after
        each round; an in-process HES's port runs the workers on its own loop instead."""
        if context.command_port is not None and bus_round is None:
            raise ValueError("with a command port, run the workers on its loop (attach_workers)")
        self.context = context
        self.bus_round = bus_round
        self.interval_s = interval_s
        self.job_chunks = job_chunks  # data job chunks per round
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hub-workers", daemon=True)

    def start(self) -> WorkerThread:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                now_s = self.context.clock.timestamp()
                run_workers(self.context, now_s, self.job_chunks)
                if self.bus_round is not None:
                    self.bus_round(now_s)
            except Exception:  # keep serving; the next round retries
                log.exception("hub workers failed")
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
