"""Who may see what on the C route, checked on every data request.

- a **retailer** sees a supply point for the JST days it supplied it
  (``supply_contracts``); a request is cut to those days, ``403 not_supplied_by_client``
  when none is left;
- a **third party** sees what one **live** consent covers (the consent behind its
  authorization-code token): its supply points, data kinds and period, while ``active``
  and before expiry; otherwise ``403`` with a code saying why.

A well-formed ID of no supply point gets the very answer a point of someone else gets
(``403 not_supplied_by_client`` / ``not_in_consent``), so the API is no oracle of valid
supply point IDs (issue #15 §3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa

from openami.clock import SLOTS_PER_DAY, day_first_slot
from openami.hub.audit import PURPOSE_RETAIL_SUPPLY
from openami.hub.context import HubContext
from openami.hub.errors import api_error as _error
from openami.hub.oauth import Party
from openami.hub.oauth_grants import THIRD_PARTY, consent_store
from openami.registry import InvalidSupplyPointId


@dataclass
class Access:
    key: int
    supply_point_id: str
    days: list[tuple[date, date]]  # inclusive day ranges the caller may see
    purpose: str

    def ranges(self) -> pa.Table:
        return pa.table(
            {
                "first_slot": pa.array([day_first_slot(a) for a, _ in self.days], pa.int64()),
                "last_slot": pa.array(
                    [day_first_slot(b) + SLOTS_PER_DAY - 1 for _, b in self.days], pa.int64()
                ),
            }
        )

    def day_count(self, month: tuple[int, int] | None = None) -> int:
        n = 0
        for a, b in self.days:
            d = a
            while d <= b:
                n += month is None or (d.year, d.month) == month
                d += timedelta(days=1)
        return n


def _clip(periods: Sequence[tuple[date, date]], first: date, last: date) -> list[tuple[date, date]]:
    """Inclusive overlaps of ``periods`` (inclusive) with ``[first, last]``."""
    out = []
    for a, b in periods:
        lo, hi = max(a, first), min(b, last)
        if lo <= hi:
            out.append((lo, hi))
    return out


def access(
    context: HubContext, party: Party, supply_point_id: str, kind: str, first: date, last: date
) -> Access:
    """What the caller may see of ``kind`` at the point in ``[first, last]``, or a 4xx."""
    try:
        sp = context.registry.supply_point(supply_point_id)
    except InvalidSupplyPointId as exc:
        raise _error(422, "invalid_supply_point_id", str(exc)) from None
    # an unknown ID is answered exactly as a point of someone else: no oracle of valid IDs
    client = party.client
    if client.role == "retailer":
        periods = (
            []
            if sp is None
            else [
                (a, b - timedelta(days=1))
                for a, b in context.registry.retailer_periods(sp.supply_point_key, client.party_id)
            ]
        )
        days = _clip(periods, first, last)
        if sp is None or not days:
            raise _error(
                403,
                "not_supplied_by_client",
                f"supply point {supply_point_id} is not supplied by {client.party_id} "
                f"between {first} and {last}",
            )
        return Access(sp.supply_point_key, supply_point_id, days, PURPOSE_RETAIL_SUPPLY)
    if client.role != THIRD_PARTY:
        raise _error(403, "forbidden", "this client may not read metering data")
    if party.consent_id is None:
        raise _error(
            403,
            "no_consent",
            "a third party reads data with a token from the authorization code grant",
        )
    consent = consent_store(context).get(party.consent_id)
    now_s = context.clock.timestamp()
    if consent is None or not consent.is_live(now_s):
        status = consent.effective_status(now_s) if consent else "unknown"
        raise _error(403, "consent_not_live", f"the consent is {status}")
    if kind not in consent.data_kinds:
        raise _error(403, "kind_not_consented", f"the consent does not cover {kind}")
    if sp is None or supply_point_id not in consent.supply_point_ids:
        raise _error(403, "not_in_consent", "the consent does not cover this supply point")
    days = _clip([(consent.period_from, consent.period_to)], first, last)
    if not days:
        raise _error(403, "outside_consent_period", "the consent does not cover these days")
    purpose = f"consent {consent.consent_id}: {consent.purpose}"
    return Access(sp.supply_point_key, supply_point_id, days, purpose)
