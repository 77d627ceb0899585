"""Stateful: the DLMS meter behind decryption. An HLS-GMAC association (suite 0, known
fixture keys) is opened once; each input is the *plaintext* of one request, which the
harness glo-ciphers correctly (authenticated encryption, the next invocation counter) and
sends in a wrapper frame, so the fuzz bytes reach the APDU decoder and the COSEM handlers of
a management association, past the security layer.

The input's first byte picks the service tag (get, set or action-request); the rest follows
it. Allowed: nothing. A refusal the protocol answers (an exception-response, a denied
access) is handled inside ``serve``; an exception escaping it, or a handler traceback the
emulator logs, is a finding. When a request ends the association, a new one is opened.
"""

from __future__ import annotations

from collections.abc import Callable

from fuzz.harnesses.dlms_seeds import KEYS, requests
from fuzz.harnesses.dlms_world import Pair, World, client
from openami.protocols.dlms import security
from openami.protocols.dlms.apdu import ACTION_REQUEST, GET_REQUEST, SET_REQUEST
from openami.protocols.dlms.server_session import State
from openami.protocols.dlms.wrapper import encode_wrapper

ALLOWED: tuple[type[BaseException], ...] = ()
MAX_LEN = 1024
_TAGS = (GET_REQUEST, SET_REQUEST, ACTION_REQUEST)


def setup() -> Callable[[bytes], None]:
    world = World()
    emulator = world.emulator()
    pair = Pair(emulator, client("hls"))
    pair.associate()

    def one_input(data: bytes) -> None:
        nonlocal pair
        if not data:
            return
        plain = bytes((_TAGS[data[0] % 3],)) + data[1:]
        hls = pair.client
        ic = hls.invocation_counter
        hls.invocation_counter += 1
        ciphered = security.wrap(plain, KEYS, hls.system_title, ic)
        pair.connection.receive_data(encode_wrapper(hls.client_wport, hls.server_wport, ciphered))
        emulator.serve(pair.connection)
        association = pair.connection.current
        if association is None or association.state is not State.ASSOCIATED:
            pair = Pair(emulator, client("hls", seed=ic))
            pair.associate()

    return one_input


def seeds() -> dict[str, bytes]:
    out = {}
    for name, plain in requests().items():
        out[name] = bytes((_TAGS.index(plain[0]),)) + plain[1:]
    return out
