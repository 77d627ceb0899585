"""VEE rule V12: values metered after the meter's certification expired stay stored and
visible, but billing and settlement count them as not billable (and the billing period is
not billing-ready). The meter's expiry comes from a certification record."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tests.mdms.vee_world import B0, DAY, METER, SP_ID, reads

from openami.clock import ManualClock
from openami.mdms import Mdms
from openami.mdms.vee_config import RULES, bit, decode_flags, load_vee_config
from openami.registry import BalancingGroup, Meter, Registry, Retailer
from openami.registry.assets import Assets, MeterModel
from openami.storage.duckdb_interval import DuckIntervalStore

NEXT = DAY + timedelta(days=1)


def _mdms(certified_on: date, first_b: int = 0) -> Mdms:
    registry = Registry.open(":memory:")
    keys = registry.add_supply_points([SP_ID])
    registry.add_meters([Meter(METER, "Toshiba", "S1", 30, "mesh", None, date(2099, 1, 1))])
    registry.install_meters([(keys[0], METER)], 0.0)
    registry.add_balancing_groups([BalancingGroup("BG1", "group one")])
    registry.add_retailers([Retailer("R1", "retailer one", "BG1")])
    registry.add_supply_contracts([(keys[0], "R1", date(2026, 1, 1), None)])
    assets = Assets(registry._database)  # the registry's own store
    assets.add_model(
        MeterModel("M", "Toshiba", "X", 30, "1P3W", ("mesh",), "s", "single_electronic")
    )
    assets.receive_meters([(METER, "M", None, "S1")], date(2016, 1, 1), "depot", 0.0)
    assets.certify(METER, "C-1", certified_on, 0.0)
    clock = ManualClock(datetime(2026, 11, 20, tzinfo=UTC))
    mdms = Mdms(DuckIntervalStore(), registry, clock, None)
    # register reads from B0 + first_b to the end of NEXT, 100 Wh a slot
    mdms.ingest(reads([(b, 10_000 + 100 * b, 0) for b in range(first_b, 97)]))
    return mdms


def test_values_after_the_expiry_day_are_not_billable() -> None:
    mdms = _mdms(date(2016, 11, 3))  # 10 years: valid through 2026-11-30
    billing = mdms.bill(DAY, NEXT).to_pylist()[0]
    assert billing["not_billable_values"] == 0
    expired = _mdms(date(2016, 10, 3))  # valid through 2026-10-31: DAY is after expiry
    row = expired.bill(DAY, NEXT).to_pylist()[0]
    assert (row["not_billable_values"], row["billing_ready"]) == (96, False)
    assert row["import_wh"] == 9600  # the values stay stored and visible
    assert expired.current_values(1, B0, B0 + 95).num_rows == 96


def test_the_expiry_day_itself_is_billable() -> None:
    mdms = _mdms(date(2016, 10, 20), first_b=-48)  # valid through 2026-10-31 (DAY - 1)
    before = mdms.bill(DAY - timedelta(days=1), DAY - timedelta(days=1)).to_pylist()[0]
    assert (before["not_billable_values"], before["import_wh"]) == (0, 4800)
    both = mdms.bill(DAY - timedelta(days=1), DAY).to_pylist()[0]
    assert both["not_billable_values"] == 48


def test_settlement_counts_not_billable_values() -> None:
    expired = _mdms(date(2016, 10, 3))
    run = expired.settle(NEXT, estimate=False)
    assert run.not_billable_values == 48
    assert run.rows.num_rows > 0
    valid = _mdms(date(2016, 11, 3))
    assert valid.settle(NEXT, estimate=False).not_billable_values == 0


def test_the_rule_is_configured_and_only_flags() -> None:
    cfg = load_vee_config()
    assert cfg.rule("V12").action == "flag" and "V12" in RULES
    assert decode_flags(bit("V12")) == ["V12"]
    assert cfg.reject_mask() & bit("V12") == 0


def test_v12_reject_is_refused(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "vee.toml"  # type: ignore[operator]
    path.write_text('[rules.V12]\naction = "reject"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="V12 only flags"):
        load_vee_config(path)
