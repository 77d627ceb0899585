"""DLMS/COSEM (IEC 62056) subset, written for openami: pure codecs and session state machines.

- :mod:`.axdr` — A-XDR ``Data`` and the COSEM date-time
- :mod:`.wrapper` — the TCP/UDP wrapper (port 4059)
- :mod:`.acse` — AARQ/AARE/RLRQ/RLRE and the xDLMS initiate APDUs
- :mod:`.apdu` — GET (normal, next block, with-list), SET, ACTION, exception responses
- :mod:`.profile` — selective access by range and by entry
- :mod:`.security` — suite 0 (AES-GCM-128 glo-ciphering, HLS-GMAC)
- :mod:`.server_session` / :mod:`.client_session` — the association state machines
- :mod:`.connection` — a server connection: wrapper frames routed by wPort to associations

No sockets, threads or asyncio live here; transports feed bytes in and send bytes out.
"""

from openami.protocols.dlms.acse import Mechanism
from openami.protocols.dlms.apdu import SelectiveAccess
from openami.protocols.dlms.cosem import AttributeRef, ClassId, MethodRef, obis, obis_text
from openami.protocols.dlms.security import Keys

__all__ = [
    "AttributeRef",
    "ClassId",
    "Keys",
    "Mechanism",
    "MethodRef",
    "SelectiveAccess",
    "obis",
    "obis_text",
]
