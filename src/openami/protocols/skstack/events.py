"""Events of the emulated module (:class:`~.module.SkModule`).

What ``next_event`` gives the transport: ``Output`` (bytes for the host), ``UdpSend`` (a
datagram for the radio, answered with ``send(SendOutcome(...))``), ``Joined``,
``SessionEnded`` and ``RadioTime``. What the transport tells the module with ``send`` (each
returns the bytes the module prints): ``SendOutcome``, ``DatagramArrived``,
``SessionExpiry`` and ``TxLimit``.
"""

from __future__ import annotations

from dataclasses import dataclass

from openami.protocols.skstack.codec import link_local_of


@dataclass(frozen=True)
class MeterRadio:
    """The smart meter's PAN as the module's radio hears it."""

    mac: bytes
    rbid: str
    password: str
    channel: int = 0x21
    pan_id: int = 0x8888
    lqi: int = 0xE1

    @property
    def address(self) -> str:
        return link_local_of(self.mac)


@dataclass(frozen=True)
class Output:
    data: bytes


@dataclass(frozen=True)
class UdpSend:
    handle: int
    dest: str
    port: int
    sec: int
    payload: bytes


@dataclass(frozen=True)
class Joined:
    meter_address: str


@dataclass(frozen=True)
class SessionEnded:
    reason: str


@dataclass(frozen=True)
class RadioTime:
    """What follows would take ``seconds`` on a real radio (scan, PANA handshake)."""

    seconds: float


ModuleEvent = Output | UdpSend | Joined | SessionEnded | RadioTime


@dataclass(frozen=True)
class SendOutcome:
    """The radio's result for the ``UdpSend`` the module gave last: EVENT 21 00 or 01, OK."""

    delivered: bool


@dataclass(frozen=True)
class DatagramArrived:
    """A datagram from the meter (printed as ERXUDP; only while a PANA session is up)."""

    sender: str
    dest: str
    payload: bytes
    rport: int = 0x0E1A
    lport: int = 0x0E1A


@dataclass(frozen=True)
class SessionExpiry:
    """The PANA session lifetime ran out: EVENT 29, then EVENT 25 (re-auth) or 24."""

    reauth_ok: bool = True


@dataclass(frozen=True)
class TxLimit:
    """The ARIB transmission-time limit was reached (EVENT 32) or released (EVENT 33)."""

    on: bool


RadioInput = SendOutcome | DatagramArrived | SessionExpiry | TxLimit
