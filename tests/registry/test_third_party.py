"""Meters installed by third parties (types i, i-2, ii, iii) on SQLite and PostgreSQL: the
responsibility matrix and cost attribution as data, type approval refusing unapproved
metering parts, chooser charges, and sub-meters kept out of billing and settlement."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from openami.registry import Meter, Registry
from openami.registry.third_party import (
    STAGES,
    ThirdPartyError,
    ThirdPartyMeters,
)
from openami.storage.repositories import Database
from openami.storage.repositories.third_party import ThirdPartyStore, TypeApproval

DAY = date(2026, 11, 2)


@pytest.fixture
def service(database: Database) -> ThirdPartyMeters:
    Registry(database).add_meters(
        [Meter(i, "M", f"S{i}", 30, "mesh", None, date(2036, 10, 31)) for i in (1, 2, 3, 4)]
    )
    return ThirdPartyMeters(ThirdPartyStore(database))


def test_the_seed_matrix_is_data(service: ThirdPartyMeters) -> None:
    for stage in STAGES:
        assert service.responsible("utility", stage) == "utility"
        assert service.responsible("i", stage) == "third_party"
        assert service.responsible("i-2", stage) == "third_party"
    assert service.responsible("ii", "procurement") == "third_party"
    assert service.responsible("ii", "installation") == "utility"
    assert service.responsible("iii", "selection") == "third_party"
    assert service.responsible("iii", "procurement") == "utility"
    kinds = service.store.installation_types()
    assert kinds["i"].readings_route == "operator_submission"
    assert kinds["i-2"].readings_route == "none" and not kinds["i-2"].enters_settlement
    assert kinds["ii"].readings_route == "aroute" and kinds["ii"].enters_settlement
    assert service.payer("iii", "extra_over_standard_model") == "chooser"
    assert service.payer("ii", "metering_part") == "third_party"
    assert service.payer("i", "utility_receiving_system") == "open"
    for bad in (lambda: service.responsible("v", "faults"), lambda: service.payer("v", "meter")):
        with pytest.raises(ThirdPartyError) as err:
            bad()
        assert err.value.code == "E_UNKNOWN_TYPE"
    with pytest.raises(ThirdPartyError, match="stage"):
        service.responsible("i", "painting")


def test_an_unapproved_metering_part_is_refused(service: ThirdPartyMeters) -> None:
    with pytest.raises(ThirdPartyError) as err:
        service.install_metering_part(1, "TP1", "Acme", "MP-1", DAY)
    assert err.value.code == "E_UNAPPROVED_TYPE"
    assert service.type_of(1, DAY) is None  # nothing recorded
    service.approve(
        TypeApproval("TA-1", "Acme", "MP-1", "1.0", date(2026, 1, 1), date(2026, 12, 1))
    )
    row = service.install_metering_part(1, "TP1", "Acme", "MP-1", DAY)
    assert row.approval_id == "TA-1" and service.type_of(1, DAY) == row
    # withdrawn on 2026-12-01: a later installation is refused
    with pytest.raises(ThirdPartyError, match="no type approval valid on 2026-12-01"):
        service.install_metering_part(2, "TP1", "Acme", "MP-1", date(2026, 12, 1))
    with pytest.raises(ThirdPartyError) as err:
        service.approve(TypeApproval("TA-2", "Acme", "MP-2", "9.9", DAY))
    assert err.value.code == "E_UNKNOWN_INTERFACE"
    with pytest.raises(ThirdPartyError) as err:
        service.approve(TypeApproval("TA-1", "Acme", "MP-3", "1.0", DAY))
    assert err.value.code == "E_CONFLICT"
    assert service.store.withdraw_approval("TA-1", DAY) is False  # already has a withdrawal


def test_the_chooser_pays_the_extra_of_a_chosen_model(service: ThirdPartyMeters) -> None:
    service.choose_model(1, "R1", "premium-display", 18000, 12000, DAY)
    service.choose_model(2, "R1", "standard", 12000, 12000, DAY)
    charges = service.chooser_charges(DAY)
    assert [(c.meter_id, c.chooser_party_id, c.extra_cost_yen) for c in charges] == [
        (1, "R1", 6000)
    ]
    assert service.chooser_charges(date(2026, 11, 1)) == []  # not yet in force
    with pytest.raises(ThirdPartyError, match="negative"):
        service.choose_model(3, "R1", "x", -1, 12000, DAY)
    with pytest.raises(ThirdPartyError) as err:
        service.choose_model(99, "R1", "x", 1, 1, DAY)
    assert err.value.code == "E_UNKNOWN_METER"


def test_a_type_change_closes_the_previous_period(service: ThirdPartyMeters) -> None:
    service.register_operator_meter(3, "MO1", DAY)
    service.choose_model(3, "R1", "premium", 15000, 12000, date(2027, 1, 1))
    first = service.type_of(3, DAY)
    assert first is not None and first.installation_type == "i"
    later = service.type_of(3, date(2027, 1, 1))
    assert later is not None and later.installation_type == "iii"


def test_sub_meter_reads_are_kept_for_the_owner_and_out_of_settlement(
    service: ThirdPartyMeters,
) -> None:
    service.register_operator_meter(4, "HEMS-CO", DAY, sub_meter=True)
    service.register_operator_meter(3, "MO1", DAY)
    assert service.outside_settlement(DAY) == [4]
    t0 = 1_793_000_000.0
    at = t0 + 1800.0 * np.arange(3)
    wh = np.array([100, 250, 400], dtype=np.int64)
    assert service.record_sub_meter_reads("HEMS-CO", 4, at, wh, t0 + 6000, DAY) == 3
    table = service.sub_meter_reads("HEMS-CO", 4, t0, t0 + 86400, DAY)
    assert table.column("import_register_wh").to_pylist() == [100, 250, 400]
    for party, meter in (("MO1", 4), ("MO1", 3), ("HEMS-CO", 3)):
        with pytest.raises(ThirdPartyError) as err:
            service.sub_meter_reads(party, meter, t0, t0 + 86400, DAY)
        assert err.value.code == "E_NOT_SUB_METER"
    with pytest.raises(ThirdPartyError, match="negative"):
        service.record_sub_meter_reads("HEMS-CO", 4, at[:1], np.array([-1]), t0, DAY)
    with pytest.raises(ThirdPartyError) as err:  # the same instant twice: nothing lost
        service.record_sub_meter_reads("HEMS-CO", 4, at[:1], wh[:1], t0, DAY)
    assert err.value.code == "E_CONFLICT"
    assert service.sub_meter_reads("HEMS-CO", 4, t0, t0 + 86400, DAY).num_rows == 3


def test_the_responsible_party_per_meter_and_stage(service: ThirdPartyMeters) -> None:
    service.register_operator_meter(1, "MO1", DAY)
    service.choose_model(2, "R1", "premium", 15000, 12000, DAY)
    service.approve(TypeApproval("TA-9", "Acme", "MP-9", "1.0", DAY))
    service.install_metering_part(3, "TP3", "Acme", "MP-9", DAY)
    assert {s: service.responsible_party(1, s, DAY) for s in STAGES} == dict.fromkeys(STAGES, "MO1")
    assert service.responsible_party(2, "selection", DAY) == "R1"
    assert service.responsible_party(2, "procurement", DAY) == "utility"
    assert service.responsible_party(3, "procurement", DAY) == "TP3"
    assert service.responsible_party(3, "faults", DAY) == "utility"
    assert service.responsible_party(4, "replacement", DAY) == "utility"  # the utility's own
    assert service.responsible_party(1, "selection", date(2026, 11, 1)) == "utility"  # not yet
