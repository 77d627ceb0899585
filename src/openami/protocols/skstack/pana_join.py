"""SKJOIN's PANA exchange between the module (PaC) and the meter (PAA), over the radio.

With a source of randomness the virtual module runs the real exchange of
:mod:`openami.protocols.pana` (RFC 5191 with EAP-PSK): the PaC authenticates with the ID
set by SKSETRBID as ID_P and the PSK of the SKSETPWD password, the meter's PAA looks up the
PSK of its own provisioned pair; EVENT 25 only when both ends end OPEN with the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openami.protocols.pana import PanaAgent, PanaClient, PanaResult, authenticate, terminate
from openami.protocols.pana import psk_from_password as _psk
from openami.protocols.pana.eap_psk import RandomBytes
from openami.protocols.skstack.events import MeterRadio


@dataclass
class PanaJoin:
    messages: tuple[bytes, ...]  # the exchange as sent over the radio, PCI first
    client: PanaResult | None
    agent: PanaResult | None
    pac: PanaClient = field(repr=False)
    paa: PanaAgent = field(repr=False)
    terminated: bool = False  # SKTERM ended it with PANA-Termination

    def terminate(self) -> bool:
        """SKTERM: the PaC's PTR and the meter's PTA (both signed with PANA_AUTH_KEY)."""
        self.terminated = self.success and terminate(self.pac, self.paa)
        return self.terminated

    @property
    def success(self) -> bool:
        c, a = self.client, self.agent
        return bool(c and a and c.success and a.success and c.msk == a.msk)


def pana_join(
    rbid: str | None, password: str | None, meter: MeterRadio, random_bytes: RandomBytes
) -> PanaJoin:
    """Run the exchange; a module without an ID or password sends nothing that succeeds."""
    id_p = (rbid or "-").encode()
    client = PanaClient(id_p, _psk(password or ""), random_bytes)
    held = meter.rbid.encode() if meter.rbid else None

    def lookup(peer_id: bytes) -> bytes | None:
        return _psk(meter.password) if held is not None and peer_id == held else None

    agent = PanaAgent(b"openami-meter-" + meter.mac.hex().upper().encode(), lookup, random_bytes)
    messages = authenticate(client, agent)
    return PanaJoin(tuple(messages), client.result, agent.result, client, agent)
