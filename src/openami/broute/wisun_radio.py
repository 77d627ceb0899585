"""The radio between the virtual Wi-SUN module and its meter: faults on purpose, counters,
and the link protection after PANA.

:class:`RadioLink`: each end keys its own :class:`~openami.protocols.pana.LinkSecurity`
from its own PANA result (the module's PaC, the meter's PAA), so a datagram reaches the
meter only when both ends derived the same MSK and Key-Id; a frame that does not verify is
dropped, as a radio would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openami.protocols.pana import LinkSecurity, PanaError, PanaResult, link_key


@dataclass(frozen=True)
class Faults:
    """What can go wrong on the radio, on purpose.

    ``drop_reply_share`` of the meter's replies never arrive; ``send_failure_share`` of the
    sends end in EVENT 21 01; ``tx_budget_ms`` is the transmission time (register SFD) after
    which the module reports EVENT 32 and refuses to send until EVENT 33, ``tx_hold_s`` later.
    """

    drop_reply_share: float = 0.0
    send_failure_share: float = 0.0
    tx_budget_ms: int | None = None
    tx_hold_s: float = 5.0
    reauth_fails: bool = False
    seed: int = 0
    out_of_range: bool = False  # the meter's radio does not reach: scans and joins fail

    def __post_init__(self) -> None:
        for name in ("drop_reply_share", "send_failure_share"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {share}")


def airtime_ms(payload_len: int) -> int:
    """Rough ARIB T108 airtime of one datagram at 100 kbit/s with 6LoWPAN/MAC overhead."""
    return max(1, (payload_len + 60) * 8 // 100)


@dataclass
class WisunStats:
    commands_bytes: int = 0
    sends: int = 0
    send_failures: int = 0
    replies: int = 0
    replies_dropped: int = 0
    notifications: int = 0
    relay_errors: int = 0
    events: list[str] = field(default_factory=list)


class RadioLink:
    def __init__(
        self, module_mac: bytes, meter_mac: bytes, client: PanaResult, agent: PanaResult
    ) -> None:
        self.module = LinkSecurity(link_key(client.msk, client.key_id), module_mac)
        self.meter = LinkSecurity(link_key(agent.msk, agent.key_id), meter_mac)
        self.dropped = 0

    def to_meter(self, payload: bytes) -> bytes | None:
        """What the meter decrypts of the module's datagram (None: dropped)."""
        try:
            return self.meter.unprotect(self.module.own_address, self.module.protect(payload))
        except PanaError:
            self.dropped += 1
            return None

    def to_module(self, payload: bytes) -> bytes | None:
        """What the module decrypts of the meter's datagram (None: dropped)."""
        try:
            return self.module.unprotect(self.meter.own_address, self.meter.protect(payload))
        except PanaError:
            self.dropped += 1
            return None
