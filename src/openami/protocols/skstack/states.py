"""The emulated module's states and its transition table.

The module is either without a PANA session (``IDLE``) or in one (``JOINED``); while a
``UdpSend`` waits for the radio's :class:`~.events.SendOutcome` it is ``SENDING`` (or
``JOINED_SENDING``) and reads no command. The host's state-changing commands and the
transport's radio inputs move it; anything else is refused: a command from the host with
``FAIL ER10`` (as a module does), a radio input from the transport with
:class:`~.errors.LocalSkstackProtocolError`.
"""

from __future__ import annotations

from enum import Enum

from openami.protocols.peer import Transitions
from openami.protocols.skstack.events import DatagramArrived, SendOutcome, SessionExpiry, TxLimit


class ModuleState(Enum):
    IDLE = "idle"
    JOINED = "joined"
    SENDING = "sending"
    JOINED_SENDING = "joined-sending"


class JoinCommand:
    """Marker: the host's SKJOIN."""


class TermCommand:
    """Marker: the host's SKTERM."""


class ResetCommand:
    """Marker: the host's SKRESET."""


class SendToCommand:
    """Marker: the host's SKSENDTO."""


M = ModuleState
MODULE_TRANSITIONS: Transitions[ModuleState] = Transitions(
    {
        (M.IDLE, JoinCommand): (M.JOINED, M.IDLE),  # EVENT 25, or EVENT 24
        (M.IDLE, TermCommand): M.IDLE,  # EVENT 28: no session
        (M.JOINED, TermCommand): M.IDLE,
        (M.IDLE, ResetCommand): M.IDLE,
        (M.JOINED, ResetCommand): M.IDLE,
        (M.IDLE, SendToCommand): (M.SENDING, M.IDLE),  # refused at once: EVENT 21 01
        (M.JOINED, SendToCommand): (M.JOINED_SENDING, M.JOINED),
        (M.SENDING, SendOutcome): M.IDLE,
        (M.JOINED_SENDING, SendOutcome): M.JOINED,
        (M.JOINED, DatagramArrived): M.JOINED,
        (M.JOINED, SessionExpiry): (M.JOINED, M.IDLE),  # re-authenticated, or not
        (M.IDLE, TxLimit): M.IDLE,
        (M.JOINED, TxLimit): M.JOINED,
    }
)

__all__ = [
    "MODULE_TRANSITIONS",
    "JoinCommand",
    "ModuleState",
    "ResetCommand",
    "SendToCommand",
    "TermCommand",
]
