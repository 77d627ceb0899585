"""The asset register on SQLite and PostgreSQL: catalogue, lots, meters through their
lifecycle, certification records and the expiry written to the registry, the forecast per
fiscal year and area, and every refusal (unknown model, expired certificate at install,
out-of-order dates, duplicates) leaving the store as it was."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from openami.clock import JST
from openami.registry import BalancingGroup, Meter, Registry, Retailer, make_supply_point_id
from openami.registry.assets import AssetError, Assets, MeterModel, ProcurementLot
from openami.storage.repositories import Database

T0 = 1_700_000_000.0
MODEL = MeterModel(
    "M30", "Maker", "SM-30", 30, "1P3W", ("mesh", "plc"), "TEPCO-PG spec 2014", "single_electronic"
)


@pytest.fixture
def assets(database: Database) -> Assets:
    service = Assets(database)
    service.add_model(MODEL)
    service.add_lot(ProcurementLot("LOT1", "M30", "Supplier", date(2016, 4, 1), 3))
    service.receive_meters(
        [(1, "M30", "LOT1", "S1"), (2, "M30", "LOT1", "S2"), (3, "M30", None, "S3")],
        date(2016, 5, 1),
        "alice",
        T0,
    )
    return service


def test_catalogue_and_lots(assets: Assets) -> None:
    assert assets.models() == [MODEL]
    assert assets.model("M30").comm_unit_options == ("mesh", "plc")
    assert [lot.lot_id for lot in assets.lots()] == ["LOT1"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"rated_current_a": 40}, "E_BAD_VALUE"),
        ({"phase_wires": "2P"}, "E_BAD_VALUE"),
        ({"meter_kind": "gas"}, "E_UNKNOWN_METER_KIND"),
        ({"model_id": "M30"}, "E_DUPLICATE"),
    ],
)
def test_bad_models_are_refused(assets: Assets, change: dict[str, object], code: str) -> None:
    fields = {**MODEL.__dict__, "model_id": "M60", "model": "SM-60", **change}
    with pytest.raises(AssetError) as refused:
        assets.add_model(MeterModel(**fields))  # type: ignore[arg-type]
    assert refused.value.code == code
    assert len(assets.models()) == 1


def test_unknown_model_is_refused(assets: Assets) -> None:
    with pytest.raises(AssetError, match="E_UNKNOWN_MODEL"):
        assets.receive_meters([(9, "NOPE", None, "S9")], date(2016, 5, 1), "alice", T0)
    with pytest.raises(AssetError, match="E_UNKNOWN_MODEL"):
        assets.add_lot(ProcurementLot("LOT2", "NOPE", "x", date(2016, 4, 1), 1))
    with pytest.raises(AssetError, match="E_UNKNOWN_METER"):
        assets.meter(9)


def test_lifecycle_with_history(assets: Assets) -> None:
    record = assets.certify(1, "C-0001", date(2016, 4, 20), T0)
    assert record.expires_on == date(2026, 4, 30)
    assert record.validity_years == 10
    assert "JEMIC" in record.rule_source
    assets.move(1, "installed", date(2016, 6, 1), "new connection", "bob", T0 + 1)
    assets.move(1, "removed", date(2026, 3, 1), "expiry exchange", "bob", T0 + 2)
    assets.move(1, "recovered", date(2026, 3, 2), "back to depot", "bob", T0 + 3)
    meter = assets.meter(1)
    assert (meter.state, meter.state_since) == ("recovered", date(2026, 3, 2))
    states = [(h.state, h.effective_from, h.recorded_by) for h in assets.history(1)]
    assert states == [
        ("in_stock", date(2016, 5, 1), "alice"),
        ("installed", date(2016, 6, 1), "bob"),
        ("removed", date(2026, 3, 1), "bob"),
        ("recovered", date(2026, 3, 2), "bob"),
    ]
    assert [m.meter_id for m in assets.meters(state="in_stock")] == [2, 3]


def test_refused_steps_change_nothing(assets: Assets) -> None:
    with pytest.raises(AssetError, match="E_BAD_TRANSITION"):
        assets.move(1, "removed", date(2016, 6, 1), "x", "bob", T0)
    with pytest.raises(AssetError, match="E_NOT_CERTIFIED"):
        assets.move(1, "installed", date(2016, 6, 1), "x", "bob", T0)
    assets.certify(1, "C-0001", date(2016, 4, 20), T0)
    with pytest.raises(AssetError, match="E_DATE_ORDER"):
        assets.move(1, "installed", date(2016, 4, 30), "x", "bob", T0)
    with pytest.raises(AssetError, match="E_CERTIFICATION_EXPIRED"):
        assets.move(1, "installed", date(2026, 5, 1), "x", "bob", T0)
    assert len(assets.history(1)) == 1
    with pytest.raises(AssetError, match="E_DUPLICATE"):
        assets.certify(2, "C-0001", date(2016, 4, 20), T0)
    with pytest.raises(AssetError, match="E_BAD_VALUE"):
        assets.certify(2, "  ", date(2016, 4, 20), T0)
    assert assets.certifications(2) == []


def test_recertification_extends_and_reaches_the_registry(database: Database) -> None:
    registry = Registry(database)
    registry.add_balancing_groups([BalancingGroup("BG1", "g")])
    registry.add_retailers([Retailer("R1", "r", "BG1")])
    registry.add_concentrators([("C1", "03")])
    keys = registry.add_supply_points(
        [make_supply_point_id("03", 1), make_supply_point_id("06", 2)]
    )
    registry.add_meters(
        [Meter(m, "Maker", f"S{m}", 30, "mesh", "C1", date(2099, 1, 1)) for m in (1, 2)]
    )
    registry.install_meters([(keys[0], 1), (keys[1], 2)], T0)
    assets = Assets(database)
    assets.add_model(MODEL)
    assets.receive_meters(
        [(1, "M30", None, "S1"), (2, "M30", None, "S2")], date(2016, 1, 1), "a", T0
    )
    assets.certify(1, "C-1", date(2016, 2, 10), T0)
    assets.certify(2, "C-2", date(2017, 3, 10), T0)
    assert registry.installed_meter(keys[0])["certification_expiry"] == "2026-02-28"  # type: ignore[index]
    assets.certify(1, "C-1b", date(2025, 12, 1), T0)  # re-certified: the newest counts
    assert registry.installed_meter(keys[0])["certification_expiry"] == "2035-12-31"  # type: ignore[index]
    assert assets.expiries([1, 2]) == {1: date(2035, 12, 31), 2: date(2027, 3, 31)}
    expired = registry.certification_table().sort_by("meter_id").to_pylist()
    jst_midnight = datetime(2036, 1, 1, tzinfo=JST).timestamp()  # the day after 2035-12-31
    assert (expired[0]["meter_id"], expired[0]["expired_from_s"]) == (1, jst_midnight)
    forecast = [(r.fiscal_year, r.area_code, r.meters) for r in assets.expiry_forecast()]
    assert forecast == [(2026, "06", 1), (2035, "03", 1)]  # 2027-03 is fiscal year 2026
