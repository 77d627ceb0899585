"""DLMS over the TCP wrapper, unciphered: a byte stream into a fresh meter emulator
(wrapper framing, wPort routing to associations, AARQ checks for the public client and the
password level, plain GET/SET/ACTION on the COSEM objects, lockout after failures).

The first byte sets the size of the pieces the stream is fed in (1–64 bytes). Allowed:
:class:`RemoteDlmsProtocolError` with ``fatal`` set (a stream that is not a wrapper stream:
the connection closes). A non-fatal one escaping ``serve``, any other exception, or a
handler traceback the emulator logs is a finding.
"""

from __future__ import annotations

from collections.abc import Callable

from fuzz.engine import Finding
from fuzz.harnesses.dlms_seeds import CLOCK, PROFILE_BUFFER, requests
from fuzz.harnesses.dlms_world import Pair, World, client
from openami.protocols.dlms.errors import RemoteDlmsProtocolError
from openami.protocols.dlms.events import Get, Release, Set
from openami.protocols.dlms.wrapper import encode_wrapper

ALLOWED = (RemoteDlmsProtocolError,)
MAX_LEN = 2048


def setup() -> Callable[[bytes], None]:
    world = World()

    def one_input(data: bytes) -> None:
        if not data:
            return
        emulator = world.emulator()
        pair = Pair(emulator, client("public"))
        step = (data[0] & 0x3F) + 1
        body = data[1:]
        for pos in range(0, len(body), step):
            pair.connection.receive_data(body[pos : pos + step])
            try:
                emulator.serve(pair.connection)
            except RemoteDlmsProtocolError as exc:
                if not exc.fatal:
                    raise Finding(f"a non-fatal refusal escaped serve: {exc!r}") from exc
                raise

    return one_input


def seeds() -> dict[str, bytes]:
    world = World()
    out: dict[str, bytes] = {}
    for kind in ("public", "password"):
        pair = Pair(world.emulator(), client(kind))
        pair.associate()
        pair.exchange(Get(CLOCK))
        if kind == "password":
            pair.exchange(Get(PROFILE_BUFFER, None))
            pair.exchange(Set(CLOCK, b"\x09\x0c" + bytes(12)))
        pair.exchange(Release())
        out[f"{kind}-session"] = b"\x3f" + b"".join(pair.sent)
    out["two-frames-bytewise"] = b"\x00" + out["public-session"][1:120]
    out["plain-get-without-aarq"] = b"\x3f" + encode_wrapper(16, 1, requests()["get-clock"])
    out["wrong-wport"] = b"\x3f" + encode_wrapper(16, 9, requests()["get-clock"])
    return out
