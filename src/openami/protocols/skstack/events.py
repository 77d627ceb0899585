"""What the emulated module does besides printing: sends, joins, radio time, the meter it hears."""

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
