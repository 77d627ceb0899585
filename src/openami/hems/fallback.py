"""The B route's media in order: Wi-SUN first, G3-PLC when the radio cannot join.

The seed gives every area 920 MHz Wi-SUN as the B route and G3-PLC as its fallback where
radio cannot be installed. :func:`open_broute` opens the Wi-SUN module's session; when the
scan finds no PAN or PANA authentication fails (or the module does not answer) and a PLC
modem is configured, it opens the PLC session instead and says so in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from openami.hems.client import Transport
from openami.hems.plc import PlcLinkError, PlcTransport
from openami.hems.skstack import SkstackTransport, WisunError
from openami.protocols.skstack import SkstackError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenedLink:
    transport: Transport
    medium: str  # "wisun" or "plc"
    wisun_error: str | None  # why the radio was not used (None: it was)


def open_broute(
    wisun: Callable[[], SkstackTransport], plc: Callable[[], PlcTransport] | None
) -> OpenedLink:
    """The first medium that joins: Wi-SUN, else PLC (errors of both when neither does)."""
    try:
        return OpenedLink(wisun().open(), "wisun", None)
    except (WisunError, SkstackError, OSError) as exc:
        if plc is None:
            raise
        reason = f"{type(exc).__name__}: {exc}"
    log.warning("Wi-SUN join failed (%s); falling back to G3-PLC", reason)
    try:
        return OpenedLink(plc().open(), "plc", reason)
    except PlcLinkError as exc:
        raise PlcLinkError(f"{exc} (and Wi-SUN: {reason})") from exc
