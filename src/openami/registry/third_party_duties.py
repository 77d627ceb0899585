"""Checks of a type (i) meter operator's duties (seed section 2, point 7), and of (i)-2
sub-meter owners' expiry duty:

- replace before the certification expires: ``W_EXPIRY_DUE`` when a meter's certification
  expires within the horizon, ``E_EXPIRED_NOT_REPLACED`` once it has expired while the meter
  is still in place (its values are then not billable);
- keep supply through moves and switches: ``E_SUPPLY_GAP`` when an operator's meter was
  removed on the day from a supply point that had a retailer that day, and no meter was
  installed there from that instant (the operator must keep its meter in place until a
  utility meter is installed, or agree with the new customer or retailer to keep it).

Each alert is logged (``thirdparty.duty_alert``, warning) and returned for the CLI and the
dashboard; the check is a read and may run as often as wanted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import structlog

from openami.clock import jst_day_start_s
from openami.registry.certification import is_valid_on
from openami.registry.service import Registry
from openami.storage.repositories.third_party import ThirdPartyDuties

log = structlog.get_logger(__name__)
DEFAULT_HORIZON_DAYS = 90


@dataclass(frozen=True)
class DutyAlert:
    code: str
    meter_id: int
    owner_party_id: str
    message: str
    supply_point_key: int | None = None


def duty_alerts(
    duties: ThirdPartyDuties,
    registry: Registry,
    day: date,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> list[DutyAlert]:
    """The alerts of JST ``day`` (expiry within ``horizon_days`` and the day's gaps)."""
    if horizon_days < 0:
        raise ValueError("horizon_days must not be negative")
    alerts: list[DutyAlert] = []
    for due in duties.expiring(day, day + timedelta(days=horizon_days)):
        expired = not is_valid_on(due.certification_expiry, day)  # the one validity rule
        alerts.append(
            DutyAlert(
                "E_EXPIRED_NOT_REPLACED" if expired else "W_EXPIRY_DUE",
                due.meter_id,
                due.owner_party_id,
                f"certification {'expired' if expired else 'expires'} on "
                f"{due.certification_expiry}; the {due.installation_type} meter's owner must "
                "replace it before expiry",
            )
        )
    start_s = jst_day_start_s(day)
    for gap in duties.gaps(start_s, jst_day_start_s(day + timedelta(days=1))):
        if registry.retailer_on(gap.supply_point_key, day) is None:
            continue  # nobody supplied there: no continuity at stake
        alerts.append(
            DutyAlert(
                "E_SUPPLY_GAP",
                gap.meter_id,
                gap.owner_party_id,
                "the operator's meter was removed and no meter was installed after it",
                gap.supply_point_key,
            )
        )
    for alert in alerts:
        log.warning(
            "thirdparty.duty_alert",
            code=alert.code,
            meter_id=alert.meter_id,
            owner=alert.owner_party_id,
            supply_point_key=alert.supply_point_key,
        )
    return alerts
