"""A virtual Wi-SUN USB module (SKSTACK IP, BP35A1 or BP35C2 dialect) on a pty.

The host side of the pty behaves like the serial port of a real module; a client such as
momonga opens the slave path (or the symlink given as ``link``). Commands go to the sans-I/O
:class:`~openami.protocols.skstack.SkModule` (commands it refuses are answered with the
``FAIL`` line its error carries); what happens on the radio goes to the module with
``send`` and what it prints comes back. SKSENDTO payloads go to ``relay`` (one ECHONET
Lite frame in, the meter's replies out, e.g. ``MeterResponder.respond``) and the replies come
back as ERXUDP from the meter's link-local address. After a successful join the meter's
instance-list INF is printed; the fixed-time INF (EA/EB) follows every :00 and :30.

Fault injection (:class:`Faults`): drop a share of the meter's replies, fail a share of sends
(EVENT 21 01), and an ARIB transmission-time budget that raises EVENT 32 and releases with
EVENT 33. The session lifetime (EVENT 29, then re-authentication EVENT 25) can be timed or
triggered with :meth:`VirtualWisunModule.expire_session`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import random
import secrets
import select
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from openami.broute.wisun_radio import Faults, RadioLink, WisunStats, airtime_ms
from openami.clock import Clock, slot_at_s
from openami.meter.broute_credentials import BrouteCredentials
from openami.protocols.peer import Wait
from openami.protocols.skstack import (
    MULTICAST_ALL_NODES,
    DatagramArrived,
    Dialect,
    Joined,
    MeterRadio,
    ModuleState,
    Output,
    RadioTime,
    RemoteSkstackProtocolError,
    SendOutcome,
    SessionEnded,
    SessionExpiry,
    SkModule,
    TxLimit,
    UdpSend,
)
from openami.protocols.skstack.codec import ECHONET_PORT

if TYPE_CHECKING:
    from openami.broute.responder import MeterResponder

log = logging.getLogger(__name__)

Relay = Callable[[bytes], list[bytes]]
#: what the meter holds now (its B-route provisioning); None: no service, no join succeeds
CredentialSource = Callable[[], BrouteCredentials | None]
MAX_PENDING_OUTPUT = 1 << 20  # bytes kept for a host that does not read
DEFAULT_MODULE_MAC = bytes.fromhex("001D129012345678")
DEFAULT_METER_MAC = bytes.fromhex("001C6400601421A3")


class FixedTimeAnnouncer:
    """Gives the meter's EA/EB INF once per :00/:30, ``delay_s`` (clock time) after it."""

    def __init__(self, responder: MeterResponder, clock: Clock, delay_s: float = 60.0) -> None:
        if not 0 <= delay_s < 300:
            raise ValueError("the AIF wants the notification within 5 minutes of the boundary")
        self.responder = responder
        self.clock = clock
        self.delay_s = delay_s
        self._last = slot_at_s(clock.timestamp())

    def __call__(self) -> bytes | None:
        ts = self.clock.timestamp()
        boundary = slot_at_s(ts - self.delay_s)
        if boundary <= self._last:
            return None
        self._last = boundary
        return self.responder.fixed_time_inf()


class VirtualWisunModule:
    """A SKSTACK IP module on a pty, with the meter behind ``relay``. Use as a context manager."""

    def __init__(
        self,
        module: SkModule,
        relay: Relay,
        *,
        link: Path | str | None = None,
        announce: Callable[[], list[bytes]] | None = None,
        notifications: Callable[[], bytes | None] | None = None,
        faults: Faults | None = None,
        session_lifetime_s: float | None = None,
        radio_time_scale: float = 0.0,
        credentials: CredentialSource | None = None,
    ) -> None:
        if module.meter is None:
            raise ValueError("the module needs a meter to relay to")
        self.module = module
        self.meter_address = module.meter.address
        self.relay = relay
        self.link = Path(link) if link is not None else None
        self.announce = announce
        self.notifications = notifications
        self.faults = faults or Faults()
        module.in_range = not self.faults.out_of_range
        self.session_lifetime_s = session_lifetime_s
        if radio_time_scale < 0:
            raise ValueError("radio_time_scale must not be negative")
        self.radio_time_scale = radio_time_scale
        self.credentials = credentials
        self.radio_link: RadioLink | None = None  # set at each join that ran PANA
        self._unprovisioned_password = secrets.token_urlsafe(24)  # matches nothing
        self._hold_until: float | None = None
        self.stats = WisunStats()
        self._rng = random.Random(self.faults.seed)
        self._control: queue.Queue[tuple[str, bool]] = queue.Queue()
        self._out = bytearray()
        self._deferred = bytearray()  # printed while scan or join output is held back
        self._master = self._slave = -1
        self._wake_r = self._wake_w = -1
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._session_deadline: float | None = None
        self._tx_release_at: float | None = None
        self.path = ""

    @classmethod
    def for_responder(
        cls,
        responder: MeterResponder,
        *,
        dialect: Dialect,
        rbid: str = "",
        password: str = "",
        meter_mac: bytes = DEFAULT_METER_MAC,
        module_mac: bytes = DEFAULT_MODULE_MAC,
        channel: int = 0x21,
        pan_id: int = 0x8888,
        notify_delay_s: float | None = 60.0,
        link: Path | str | None = None,
        faults: Faults | None = None,
        session_lifetime_s: float | None = None,
        radio_time_scale: float = 0.0,
        wopt: int = 1,
        ropt_supported: bool = True,
        credentials: CredentialSource | None = None,
    ) -> VirtualWisunModule:
        """A module whose radio hears one meter answered by ``responder``.

        ``wopt=0`` starts in binary ERXUDP mode (as sticks leave the factory; clients send
        ``WOPT 01``); ``ropt_supported=False`` answers ROPT with FAIL ER04 (some A1 sticks).
        ``credentials``: the meter's provisioning, read before every host command (then
        ``rbid`` and ``password`` are only the start); without it the fixed pair serves.
        """
        if credentials is None and not (rbid and password):
            raise ValueError("give the meter's rbid and password, or its credentials source")
        meter = MeterRadio(meter_mac, rbid, password, channel=channel, pan_id=pan_id)
        announcer = (
            None
            if notify_delay_s is None
            else FixedTimeAnnouncer(responder, responder.clock, notify_delay_s)
        )
        return cls(
            SkModule(
                dialect,
                meter,
                module_mac,
                wopt=wopt,
                ropt_supported=ropt_supported,
                random_bytes=secrets.token_bytes,  # SKJOIN runs PANA with EAP-PSK
            ),
            responder.respond,
            announce=lambda: [responder.instance_list_inf()],
            notifications=announcer,
            link=link,
            faults=faults,
            session_lifetime_s=session_lifetime_s,
            radio_time_scale=radio_time_scale,
            credentials=credentials,
        )

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> str:
        """Open the pty, make the symlink and start serving; returns the slave path."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self._wake_r, self._wake_w = os.pipe()
        self.path = os.ttyname(self._slave)
        if self.link is not None:
            try:
                if self.link.is_symlink():
                    self.link.unlink()
                elif self.link.exists():
                    raise FileExistsError(f"{self.link} exists and is not a symlink")
                self.link.symlink_to(self.path)
            except OSError:
                self._close_fds()
                raise
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="wisun-module", daemon=True)
        self._thread.start()
        return str(self.link) if self.link is not None else self.path

    def stop(self) -> None:
        self._stopping.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()
        self._close_fds()

    def __enter__(self) -> VirtualWisunModule:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _close_fds(self) -> None:
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = self._wake_r = self._wake_w = -1

    # -- control from other threads --------------------------------------------------------
    def expire_session(self, reauth_ok: bool = True) -> None:
        """Let the PANA session lifetime run out now (EVENT 29, then 25 or 24)."""
        self._control.put(("expire", reauth_ok))
        self._wake()

    def set_tx_limited(self, limited: bool) -> None:
        """Raise (EVENT 32) or release (EVENT 33) the transmission-time limit."""
        self._control.put(("txlimit", limited))
        self._wake()

    def _wake(self) -> None:
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    # -- the loop --------------------------------------------------------------------------
    def _run(self) -> None:
        next_poll = time.monotonic()
        while not self._stopping.is_set():
            now = time.monotonic()
            timeout = max(0.0, min(self._next_deadline(now), next_poll) - now)
            wlist = [self._master] if self._out else []
            try:
                readable, writable, _ = select.select(
                    [self._master, self._wake_r], wlist, [], min(timeout, 0.5)
                )
            except (OSError, ValueError):
                break
            try:
                if self._master in readable:
                    self._read_host()
                if self._wake_r in readable:
                    os.read(self._wake_r, 4096)
                    self._run_control()
                self._run_timers(time.monotonic())
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + 1.0
                    self._poll_notifications()
                if self._master in writable or self._out:
                    self._flush()
            except Exception:  # the module must keep serving whatever a client does
                log.exception("virtual Wi-SUN module: unexpected error, continuing")

    def _next_deadline(self, now: float) -> float:
        pending = (self._session_deadline, self._tx_release_at, self._hold_until)
        deadlines = [d for d in pending if d is not None]
        return min(deadlines, default=now + 1.0)

    def _read_host(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO while no slave is open on some systems
            time.sleep(0.05)
            return
        self.stats.commands_bytes += len(data)
        self._refresh_credentials()
        self.module.receive_data(data)
        self._pump()

    def _refresh_credentials(self) -> None:
        """Take the meter's current provisioning before the host's next command, so a
        rotation or a revocation applies to the next scan or join."""
        meter = self.module.meter
        if self.credentials is None or meter is None:
            return
        held = self.credentials()
        rbid, password = (
            ("", self._unprovisioned_password) if held is None else (held.rbid, held.password)
        )
        if (meter.rbid, meter.password) != (rbid, password):
            self.module.meter = dataclasses.replace(meter, rbid=rbid, password=password)

    def _flush(self) -> None:
        while self._out:
            try:
                n = os.write(self._master, self._out[:4096])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            del self._out[:n]

    def _emit(self, data: bytes) -> None:
        self._out += data
        if len(self._out) > MAX_PENDING_OUTPUT:
            del self._out[: len(self._out) - MAX_PENDING_OUTPUT]

    def _emit_radio(self, data: bytes) -> None:
        """What the module printed for a radio input: after any output still held back."""
        if self._hold_until is not None:
            self._deferred += data
        else:
            self._emit(data)

    def _pump(self) -> None:
        module = self.module
        if self._hold_until is not None:
            if time.monotonic() < self._hold_until:
                return  # the radio is still busy: later output waits in the module
            self._hold_until = None
        while True:
            try:
                event = module.next_event()
            except RemoteSkstackProtocolError as exc:  # a refused command: print its FAIL
                self._emit(exc.reply or b"")
                continue
            if isinstance(event, Wait):
                break
            if isinstance(event, RadioTime):
                if self.radio_time_scale > 0 and event.seconds > 0:
                    self._hold_until = time.monotonic() + event.seconds * self.radio_time_scale
                    break
            elif isinstance(event, Output):
                self._emit(event.data)
            elif isinstance(event, UdpSend):
                self._send(event)
            elif isinstance(event, Joined):
                self._joined(event)
            elif isinstance(event, SessionEnded):
                self.stats.events.append(f"session ended: {event.reason}")
                self._session_deadline = None
                self.radio_link = None
        if self._hold_until is None and self._deferred:
            self._emit(bytes(self._deferred))
            self._deferred.clear()
        self._flush()

    def _joined(self, event: Joined) -> None:
        self.stats.events.append("joined")
        pana, meter = self.module.pana, self.module.meter
        if pana is not None and pana.client and pana.agent and meter is not None:
            self.radio_link = RadioLink(self.module.own_mac, meter.mac, pana.client, pana.agent)
        if self.session_lifetime_s is not None:
            self._session_deadline = time.monotonic() + self.session_lifetime_s
        for frame in self.announce() if self.announce else []:
            self._emit(
                self.module.send(DatagramArrived(event.meter_address, MULTICAST_ALL_NODES, frame))
            )

    def _send(self, send: UdpSend) -> None:
        module = self.module
        self.stats.sends += 1
        if self._rng.random() < self.faults.send_failure_share:
            self.stats.send_failures += 1
            self._emit(module.send(SendOutcome(False)))
            return
        self._emit(module.send(SendOutcome(True)))
        spent_ms = module.add_send_time(airtime_ms(len(send.payload)))
        budget = self.faults.tx_budget_ms
        to_meter = send.dest.upper() == self.meter_address and send.port == ECHONET_PORT
        replies: list[bytes] = []
        if to_meter and module.state is ModuleState.JOINED:
            try:
                replies = self._over_link(send.payload)
            except Exception:
                self.stats.relay_errors += 1
                log.exception("relay failed for a %d-byte frame", len(send.payload))
        for reply in replies:
            if self._rng.random() < self.faults.drop_reply_share:
                self.stats.replies_dropped += 1
                continue
            self.stats.replies += 1
            arrived = DatagramArrived(self.meter_address, module.own_address, reply)
            self._emit(module.send(arrived))
        if budget is not None and spent_ms >= budget and not module.tx_limited:
            self._emit(module.send(TxLimit(True)))
            self._tx_release_at = time.monotonic() + self.faults.tx_hold_s

    def _over_link(self, payload: bytes) -> list[bytes]:
        """The relay, through the PANA session's link protection when there is one."""
        link = self.radio_link
        if link is None:
            return self.relay(payload)
        clear = link.to_meter(payload)
        replies = [] if clear is None else self.relay(clear)
        return [r for r in map(link.to_module, replies) if r is not None]

    def _run_control(self) -> None:
        while True:
            try:
                what, flag = self._control.get_nowait()
            except queue.Empty:
                break
            if what == "expire":
                self._expire(flag)
            elif what == "txlimit":
                self._emit_radio(self.module.send(TxLimit(flag)))
                if not flag:
                    self.module.reset_send_time()
                    self._tx_release_at = None
        self._pump()

    def _expire(self, reauth_ok: bool) -> None:
        module = self.module
        if module.state is not ModuleState.JOINED:
            return  # no session to expire
        self._emit_radio(module.send(SessionExpiry(reauth_ok and not self.faults.reauth_fails)))
        self.stats.events.append("session expired")
        if module.session_address is not None and self.session_lifetime_s is not None:
            self._session_deadline = time.monotonic() + self.session_lifetime_s

    def _run_timers(self, now: float) -> None:
        if self._hold_until is not None and now >= self._hold_until:
            self._pump()
        if self._session_deadline is not None and now >= self._session_deadline:
            self._session_deadline = None
            self._expire(True)
            self._pump()
        if self._tx_release_at is not None and now >= self._tx_release_at:
            self._tx_release_at = None
            self._emit_radio(self.module.send(TxLimit(False)))
            self.module.reset_send_time()
            self._pump()

    def _poll_notifications(self) -> None:
        if self.notifications is None or self.module.state is not ModuleState.JOINED:
            return
        frame = self.notifications()
        if frame is not None:
            self.stats.notifications += 1
            arrived = DatagramArrived(self.meter_address, self.module.own_address, frame)
            self._emit_radio(self.module.send(arrived))
            self._pump()
