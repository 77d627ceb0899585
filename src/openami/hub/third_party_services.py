"""The third-party meter services as the hub and the dashboard reach them (built once per
hub context from its database): the rules of :mod:`openami.registry.third_party` and the
checks of :mod:`openami.registry.third_party_duties`."""

from __future__ import annotations

import threading
from datetime import date

from openami.hub.context import HubContext
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
