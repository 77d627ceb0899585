"""The registry service over its repository, on SQLite and PostgreSQL: every write and read,
the one-transaction changes (meter exchange, contract start/switch/end, undo) and refused
changes as RegistryError (the database left as it was)."""

from __future__ import annotations

import threading
from datetime import date

import pyarrow as pa
import pytest

from openami.registry import (
    BalancingGroup,
    Meter,
    Registry,
    RegistryError,
    Retailer,
    make_supply_point_id,
)
from openami.registry.service import OPEN_END
from openami.storage.repositories import Database

T0 = 1_700_000_000.0
DAY = date(2026, 4, 1)


def _meter(meter_id: int, amperage_a: int = 30, expiry: date = date(2030, 10, 31)) -> Meter:
    return Meter(meter_id, "Maker", f"S{meter_id:012d}", amperage_a, "mesh", "C1", expiry)


@pytest.fixture
def registry(database: Database) -> Registry:
    reg = Registry(database)
    reg.add_balancing_groups([BalancingGroup("BG1", "group one")])
    reg.add_retailers([Retailer("R1", "Alpha", "BG1"), Retailer("R2", "Beta", "BG1")])
    reg.add_concentrators([("C1", "03")])
    ids = [make_supply_point_id("03", i) for i in range(1, 4)] + [make_supply_point_id("06", 9)]
    keys = reg.add_supply_points(ids)
    assert keys == [1, 2, 3, 4]
    reg.add_meters([_meter(i, 30 + 10 * (i % 2), date(2029 + i, 10, 31)) for i in range(1, 6)])
    reg.install_meters([(k, k) for k in keys], T0)
    reg.add_supply_contracts(
        [
            (1, "R1", date(2026, 1, 1), None),
            (2, "R2", date(2026, 1, 1), None),
            (3, "R1", date(2026, 1, 1), date(2026, 3, 1)),
            (3, "R2", date(2026, 3, 1), None),
        ]
    )
    return reg


def test_lookups_and_keys(registry: Registry) -> None:
    sp1 = make_supply_point_id("03", 1)
    point = registry.supply_point(sp1)
    assert point is not None and point.supply_point_key == 1 and point.area_code == "03"
    assert registry.supply_point(make_supply_point_id("03", 77)) is None
    assert registry.supply_point_key_of([sp1, "nonsense", sp1]) == {sp1: 1}
    assert registry.supply_point_ids([2, 1]) == [make_supply_point_id("03", 2), sp1]
    assert registry.supply_point_id_map([1, 99]) == {1: sp1}
    assert len(registry.all_supply_point_ids()) == 4 == registry.supply_point_count()
    assert [r.retailer_id for r in registry.retailers()] == ["R1", "R2"]
    assert registry.retailer_name("R2") == "Beta" and registry.retailer_name("R9") is None
    assert registry.meter_count() == 5
    # keys continue after the highest one
    assert registry.add_supply_points([make_supply_point_id("03", 50)]) == [5]


def test_periods_and_supplied_points(registry: Registry) -> None:
    assert registry.retailer_on(3, date(2026, 2, 28)) == "R1"
    assert registry.retailer_on(3, date(2026, 3, 1)) == "R2"
    assert registry.retailer_on(1, date(2025, 12, 31)) is None
    assert registry.retailer_periods(3, "R1") == [(date(2026, 1, 1), date(2026, 3, 1))]
    assert registry.retailer_periods(3, "R2") == [(date(2026, 3, 1), OPEN_END)]
    days = registry.supplied_days(3, "R1", date(2026, 2, 27), date(2026, 3, 2))
    assert days == [date(2026, 2, 27), date(2026, 2, 28)]
    rows = registry.supplied_points("R1", date(2026, 2, 1), date(2026, 3, 31), None)
    assert [(k, start, end) for k, _, start, end in rows] == [
        (1, date(2026, 1, 1), OPEN_END),
        (3, date(2026, 1, 1), date(2026, 3, 1)),
    ]
    page = registry.supplied_points("R1", date(2026, 2, 1), date(2026, 3, 31), 1, offset=1)
    assert [r[0] for r in page] == [3]
    one = registry.supplied_points("R1", date(2026, 2, 1), date(2026, 3, 31), None, 0, 1)
    assert [r[0] for r in one] == [1]


def test_columnar_reads(registry: Registry) -> None:
    contracts = registry.contracts_table()
    assert contracts.num_rows == 4 and contracts.schema.field("valid_from").type == pa.date32()
    r2 = registry.contracts_table(["R2"]).to_pydict()
    assert sorted(r2["supply_point_key"]) == [2, 3] and r2["valid_to"] == [None, None]
    assert registry.contracts_table([]).num_rows == 0
    members = registry.members_on(date(2026, 3, 15)).to_pydict()
    assert sorted(zip(members["supply_point_key"], members["retailer_id"], strict=True)) == [
        (1, "R1"),
        (2, "R2"),
        (3, "R2"),
    ]
    assert set(members["balancing_group_id"]) == {"BG1"}
    meters = registry.meters_table()
    assert meters.column("meter_id").to_pylist() == [1, 2, 3, 4]
    assert meters.column("area_code").to_pylist() == ["03", "03", "03", "06"]
    installations = registry.installations_table().to_pydict()
    assert installations["valid_from"] == [T0] * 4 and installations["valid_to"] == [None] * 4
    assert registry.supply_points_table().num_rows == 4
    amps = registry.meter_amperages_table().to_pydict()
    assert dict(zip(amps["meter_id"], amps["contract_amperage_a"], strict=True))[1] == 40
    assert registry.current_amperages([1, 2, 99]) == {1: 40, 2: 30}


def test_dashboard_reads(registry: Registry) -> None:
    assert registry.search_supply_points("0300") == [
        make_supply_point_id("03", i) for i in (1, 2, 3)
    ]
    assert registry.search_supply_points("06", limit=5) == [make_supply_point_id("06", 9)]
    assert registry.search_supply_points("0%") == [] and registry.search_supply_points("") == []
    meter = registry.installed_meter(1)
    assert meter is not None and meter["meter_id"] == 1 and meter["installed_at"] == T0
    assert meter["certification_expiry"] == "2030-10-31"
    assert registry.installed_meter(99) is None
    assert registry.installed_by_area() == {"03": 3, "06": 1}
    assert registry.expiry_by_year() == [(2030, 1), (2031, 1), (2032, 1), (2033, 1)]
    total, page = registry.expiring_meters(date(2031, 12, 31), offset=1, limit=1)
    assert total == 2 and page.column("meter_id").to_pylist() == [2]
    assert page.column("certification_expiry").to_pylist() == ["2031-10-31"]
    before = registry.watermark()
    registry.exchange_meter(1, 1, 5, T0 + 100)
    assert registry.watermark() != before
    assert [i["meter_id"] for i in registry.installations_of(1)] == [1, 5]


def test_meter_exchange_is_one_transaction(registry: Registry) -> None:
    registry.exchange_meter(2, 2, 5, T0 + 60)
    assert registry.current_meter(2) == 5
    history = registry.installations_of(2)
    assert [(h["meter_id"], h["valid_from"], h["valid_to"]) for h in history] == [
        (2, T0, T0 + 60),
        (5, T0 + 60, None),
    ]
    with pytest.raises(RegistryError, match="no open installation"):
        registry.exchange_meter(2, 2, 3, T0 + 120)  # meter 2 is gone from there
    with pytest.raises(RegistryError, match="no open installation"):
        registry.exchange_meter(1, 1, 5, T0 - 1)  # before it was installed
    # a new meter that does not exist: nothing changes (the close is rolled back)
    with pytest.raises(RegistryError):
        registry.exchange_meter(1, 1, 999, T0 + 60)
    assert registry.current_meter(1) == 1 and len(registry.installations_of(1)) == 1


def test_contract_start_switch_end_and_undo(registry: Registry) -> None:
    with pytest.raises(RegistryError, match="covers"):
        registry.start_supply_contract(1, "R2", DAY)  # R1 supplies it open-ended
    registry.start_supply_contract(1, "R2", DAY, switch=True)
    assert registry.retailer_on(1, DAY) == "R2"
    assert registry.contract_end(1, "R1", date(2026, 3, 31)) == DAY
    assert registry.contract_end(1, "R2", DAY) is None
    with pytest.raises(RegistryError, match="already supplies"):
        registry.start_supply_contract(1, "R2", date(2026, 5, 1), switch=True)
    with pytest.raises(RegistryError, match="no contract covering"):
        registry.contract_end(1, "R1", DAY)
    registry.undo_contract_change(1, ("R2", DAY), ("R1", DAY, None))
    assert registry.retailer_periods(1, "R1") == [(date(2026, 1, 1), OPEN_END)]
    assert registry.retailer_periods(1, "R2") == []
    with pytest.raises(RegistryError, match="take back"):
        registry.undo_contract_change(1, ("R2", DAY), None)
    registry.end_supply_contract(2, "R2", DAY)
    assert registry.retailer_on(2, DAY) is None
    with pytest.raises(RegistryError, match="began before"):
        registry.end_supply_contract(2, "R2", DAY)
    registry.start_supply_contract(2, "R1", date(2026, 6, 1))
    assert registry.retailer_on(2, date(2026, 6, 1)) == "R1"
    # restoring an end that a later contract now overlaps is refused, and nothing changes
    with pytest.raises(RegistryError, match="restore"):
        registry.undo_contract_change(2, None, ("R2", DAY, None))
    assert registry.retailer_periods(2, "R2") == [(date(2026, 1, 1), DAY)]


def test_concurrent_switches_of_one_point_apply_once(registry: Registry) -> None:
    outcomes: list[str] = []

    def switch(day: date) -> None:
        try:
            registry.start_supply_contract(1, "R2", day, switch=True)
            outcomes.append("ok")
        except RegistryError:
            outcomes.append("refused")

    threads = [threading.Thread(target=switch, args=(date(2026, 5, d),)) for d in (1, 2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 1 and outcomes.count("refused") == 3
    assert len(registry.retailer_periods(1, "R2")) == 1


def test_refused_writes_are_registry_errors_and_change_nothing(registry: Registry) -> None:
    with pytest.raises(RegistryError, match="stored already"):
        registry.add_retailers([Retailer("R3", "Gamma", "BG1"), Retailer("R1", "dup", "BG1")])
    assert [r.retailer_id for r in registry.retailers()] == ["R1", "R2"]  # all or nothing
    with pytest.raises(RegistryError, match="not stored"):
        registry.add_retailers([Retailer("R9", "Orphan", "BG-unknown")])
    with pytest.raises(RegistryError, match="not stored"):
        registry.install_meters([(1, 999)], T0)
    with pytest.raises(RegistryError, match="stored already"):
        registry.add_supply_points([make_supply_point_id("03", 1)])
    with pytest.raises(RegistryError, match="unknown communication method"):
        registry.add_meters([Meter(9, "M", "x", 30, "wifi", None, date(2030, 1, 1))])  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="rule"):
        registry.add_supply_contracts([(4, "R1", DAY, DAY)])  # empty period: CHECK
    with pytest.raises(RegistryError, match="positive"):
        registry.set_contract_amperage(1, 0)
    registry.set_contract_amperage(1, 60)
    assert registry.current_amperages([1]) == {1: 60}
