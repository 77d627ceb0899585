"""The checks of meter operators' duties on SQLite and PostgreSQL: replacement before the
certification expires, and supply continuity through moves and switches."""

from __future__ import annotations

from datetime import date

import pytest

from openami.clock import jst_day_start_s
from openami.registry import BalancingGroup, Meter, Registry, Retailer, make_supply_point_id
from openami.registry.third_party import ThirdPartyMeters
from openami.registry.third_party_duties import duty_alerts
from openami.storage.repositories import Database
from openami.storage.repositories.third_party import ThirdPartyDuties, ThirdPartyStore
from openami.storage.sql import tables as t

DAY = date(2026, 11, 2)


@pytest.fixture
def registry(database: Database) -> Registry:
    registry = Registry(database)
    registry.add_balancing_groups([BalancingGroup("BG1", "one")])
    registry.add_retailers([Retailer("R1", "r1", "BG1")])
    keys = registry.add_supply_points([make_supply_point_id("03", i) for i in (1, 2, 3, 4)])
    expiry = {1: date(2026, 10, 31), 2: date(2026, 12, 31), 3: date(2036, 10, 31)}
    registry.add_meters(
        [
            Meter(i, "M", f"S{i}", 30, "cellular", None, expiry.get(i, date(2036, 1, 1)))
            for i in range(1, 7)
        ]
    )
    registry.install_meters([(keys[i - 1], i) for i in (1, 2, 3, 4)], 0.0)
    registry.add_supply_contracts([(k, "R1", date(2026, 1, 1), None) for k in keys[:3]])
    service = ThirdPartyMeters(ThirdPartyStore(database))
    for meter in (1, 2, 3, 4):
        service.register_operator_meter(meter, "MO1", date(2026, 1, 1))
    service.register_operator_meter(5, "HEMS", date(2026, 1, 1), sub_meter=True)
    return registry


def remove(database: Database, meter_id: int, at_s: float) -> None:
    """A meter taken away with nothing installed after it (what the operator must avoid)."""
    i = t.meter_installations
    with database.write() as connection:
        connection.execute(
            i.update().where(i.c.meter_id == meter_id, i.c.valid_to.is_(None)).values(valid_to=at_s)
        )


def test_expiry_alerts_before_and_after_the_date(database: Database, registry: Registry) -> None:
    duties = ThirdPartyDuties(database)
    alerts = duty_alerts(duties, registry, DAY, horizon_days=90)
    assert [(a.code, a.meter_id, a.owner_party_id) for a in alerts] == [
        ("E_EXPIRED_NOT_REPLACED", 1, "MO1"),
        ("W_EXPIRY_DUE", 2, "MO1"),
    ]
    assert duty_alerts(duties, registry, DAY, horizon_days=0)[0].meter_id == 1
    # the sub-meter's owner has the expiry duty too
    Registry(database).add_meters([Meter(7, "M", "S7", 30, "cellular", None, date(2026, 11, 30))])
    ThirdPartyMeters(ThirdPartyStore(database)).register_operator_meter(
        7, "HEMS", DAY, sub_meter=True
    )
    codes = {(a.meter_id, a.code) for a in duty_alerts(duties, registry, DAY)}
    assert (7, "W_EXPIRY_DUE") in codes
    with pytest.raises(ValueError, match="horizon"):
        duty_alerts(duties, registry, DAY, horizon_days=-1)


def test_a_removed_meter_without_successor_is_a_supply_gap(
    database: Database, registry: Registry
) -> None:
    duties = ThirdPartyDuties(database)
    noon = jst_day_start_s(DAY) + 12 * 3600
    keys = registry.supply_point_key_of([make_supply_point_id("03", i) for i in (1, 2, 3, 4)])
    sp = [keys[make_supply_point_id("03", i)] for i in (1, 2, 3, 4)]
    registry.exchange_meter(sp[0], 1, 6, noon)  # replaced by the utility's meter: fine
    remove(database, 3, noon)  # supplied point left without a meter: alert
    remove(database, 4, noon)  # no retailer there: no continuity at stake
    gaps = [
        a for a in duty_alerts(duties, registry, DAY, horizon_days=0) if a.code == "E_SUPPLY_GAP"
    ]
    assert [(a.meter_id, a.supply_point_key, a.owner_party_id) for a in gaps] == [(3, sp[2], "MO1")]
    assert not [
        a for a in duty_alerts(duties, registry, date(2026, 11, 3)) if a.code == "E_SUPPLY_GAP"
    ]
    # the expired meter 1 was replaced: no expiry alert for it any more
    assert 1 not in {a.meter_id for a in duty_alerts(duties, registry, DAY)}
