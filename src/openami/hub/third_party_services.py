"""The third-party meter services as the hub and the dashboard reach them (built once per
hub context from its database): the rules of :mod:`openami.registry.third_party` and the
checks of :mod:`openami.registry.third_party_duties`, and the hub worker's part
(:func:`third_party_tick`): operator commands past their deadline time out every round, and
the operators' duties are checked once per JST day (each alert logged as
``thirdparty.duty_alert``)."""

from __future__ import annotations

import threading
from datetime import date, datetime

from openami.clock import JST
from openami.hub.context import HubContext
from openami.hub.operator_commands import OperatorRoutedPort
from openami.registry.third_party import ThirdPartyMeters
from openami.registry.third_party_duties import DEFAULT_HORIZON_DAYS, DutyAlert, duty_alerts
from openami.storage.repositories.third_party import ThirdPartyDuties, ThirdPartyStore

_BUILD_LOCK = threading.Lock()


def third_party_meters(context: HubContext) -> ThirdPartyMeters:
    with _BUILD_LOCK:
        found = context.services.get("third_party_meters")
        if not isinstance(found, ThirdPartyMeters):
            found = ThirdPartyMeters(ThirdPartyStore(context.clients.database))
            context.services["third_party_meters"] = found
        return found


def operator_duty_alerts(
    context: HubContext, day: date, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> list[DutyAlert]:
    """The operators' duty alerts of a JST day (expiry and supply continuity)."""
    duties = ThirdPartyDuties(context.clients.database)
    return duty_alerts(duties, context.registry, day, horizon_days)


def third_party_tick(context: HubContext, now_s: float) -> int:
    """One worker round: time out operator commands; on a new JST day, check the duties.
    Returns the alerts raised this round."""
    if isinstance(context.command_port, OperatorRoutedPort):
        context.command_port.sweep(now_s)
    day = datetime.fromtimestamp(now_s, JST).date()
    with _BUILD_LOCK:
        if context.services.get("third_party_checked_day") == day:
            return 0
        context.services["third_party_checked_day"] = day
    return len(operator_duty_alerts(context, day))
