"""One error root for SKSTACK IP, split by who is at fault.

::

    SkstackError
    ├── LocalSkstackProtocolError    our side misused a machine (SKSENDTO before the PANA
    │                                session is up, a send result nobody waits for…)
    ├── RemoteSkstackProtocolError   the other side sent something illegal; on the module's
    │                                side ``reply`` is the ``FAIL ERxx`` line a module prints
    └── SkFormatError                a line that does not have its dialect's shape (ValueError)
"""

from __future__ import annotations


class SkstackError(Exception):
    """Every SKSTACK IP error."""


class LocalSkstackProtocolError(SkstackError):
    """Our side asked a machine for something its state does not allow."""


class RemoteSkstackProtocolError(SkstackError):
    """The other side sent something illegal.

    On the module's side it is a command the module refuses: ``code`` is the ``ERxx`` number
    and ``reply`` the ``FAIL ERxx`` line to print. On the host's side it is a line the module
    should not have printed (``reply`` is None: hosts answer nothing).
    """

    def __init__(self, message: str, code: int | None = None, reply: bytes | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reply = reply


class SkFormatError(SkstackError, ValueError):
    """A module line that does not have the shape its dialect gives it."""


__all__ = [
    "LocalSkstackProtocolError",
    "RemoteSkstackProtocolError",
    "SkFormatError",
    "SkstackError",
]
