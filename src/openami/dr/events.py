"""DR events as the aggregator creates them, and how each becomes an OpenADR 2.0b signal.

| ``signal`` | value | OpenADR signal (name / type) | payload |
|---|---|---|---|
| ``level`` | 0–3 (normal, moderate, high, special) | SIMPLE / level | the level |
| ``target_w`` | the home's import limit [W] | LOAD_DISPATCH / setpoint | the limit in W |
| ``price`` | JPY per kWh | ELECTRICITY_PRICE / price | the price |

An event starts and ends on a half-hour boundary inside one JST day (the unit of the
baseline and settlement: :func:`openami.mdms.dr_settlement.event_units`).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

from openami.mdms.dr_settlement import event_units
from openami.storage.repositories.dr import DrEvent

MAX_TARGET_W = 100_000.0  # a low-voltage home never imports more
MAX_PRICE_JPY_KWH = 10_000.0
MAX_DURATION_S = 24 * 3600


@dataclass(frozen=True)
class OadrSignal:
    signal_name: str
    signal_type: str
    payload: float


def check_signal(signal: str, value: float) -> None:
    """A clear ``ValueError`` for a signal value the profile does not allow."""
    if not math.isfinite(value):
        raise ValueError("the signal value must be a finite number")
    if signal == "level":
        if value not in (0, 1, 2, 3):
            raise ValueError("a level is 0, 1, 2 or 3")
    elif signal == "target_w":
        if not 0 < value <= MAX_TARGET_W:
            raise ValueError(f"a target is more than 0 and at most {MAX_TARGET_W:.0f} W")
    elif signal == "price":
        if not 0 <= value <= MAX_PRICE_JPY_KWH:
            raise ValueError(f"a price is 0 to {MAX_PRICE_JPY_KWH:.0f} JPY/kWh")
    else:
        raise ValueError("the signal is level, target_w or price")


def new_event(
    aggregator_id: str,
    signal: str,
    value: float,
    start_s: float,
    duration_s: float,
    now_s: float,
    created_by: str,
) -> DrEvent:
    """A ``pending`` event, checked: signal and value, half-hour window in one day, in the
    future."""
    check_signal(signal, value)
    if duration_s > MAX_DURATION_S:
        raise ValueError("an event lasts at most 24 h")
    event_units(start_s, duration_s)  # half-hours inside one JST day
    if start_s + duration_s <= now_s:
        raise ValueError("the event is over already")
    return DrEvent(
        event_id="dr-" + secrets.token_hex(8),
        aggregator_id=aggregator_id,
        signal=signal,
        value=float(value),
        start_s=float(start_s),
        duration_s=float(duration_s),
        status="pending",
        created_at=now_s,
        created_by=created_by,
    )


def oadr_signal(event: DrEvent) -> OadrSignal:
    if event.signal == "level":
        return OadrSignal("SIMPLE", "level", float(int(event.value)))
    if event.signal == "target_w":
        return OadrSignal("LOAD_DISPATCH", "setpoint", event.value)
    return OadrSignal("ELECTRICITY_PRICE", "price", event.value)
