"""Rules that several packages apply have one definition in ``bus.messages``: the other
packages use it, so changing it there changes it everywhere (issue #12 §1)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

import openami.storage.sql.tables as tables
from openami.bus.messages import COMM_METHODS, DELIVERY_DEADLINE_S, METHOD_CODES
from openami.mdms.completeness import HORIZONS_S
from openami.mdms.kpi import COLLECTION_WITHIN_S
from openami.mdms.vee_config import load_vee_config
from openami.network import METHOD_CODES as NETWORK_METHOD_CODES
from openami.registry import COMM_METHODS as REGISTRY_COMM_METHODS
from openami.storage.sql.tables import COMM_METHOD_CHECK, meters


def test_communication_methods_are_one_list() -> None:
    assert COMM_METHODS == ("mesh", "cellular", "plc")
    assert REGISTRY_COMM_METHODS is COMM_METHODS
    assert NETWORK_METHOD_CODES is METHOD_CODES
    assert [METHOD_CODES[m] for m in COMM_METHODS] == list(range(len(COMM_METHODS)))


def test_the_meters_check_is_built_from_the_list_and_matches_the_frozen_revisions() -> None:
    checks = [c for c in meters.constraints if isinstance(c, sa.CheckConstraint)]
    assert [str(c.sqltext) for c in checks] == [COMM_METHOD_CHECK]
    assert "comm_method IN (" + ", ".join(f"'{m}'" for m in COMM_METHODS) + ")" == COMM_METHOD_CHECK
    # revision 0001 spells the text out; the same text means no migration is needed
    versions = Path(tables.__file__).parent / "migrations" / "versions"
    first = next(versions.glob("0001_*.py")).read_text("utf-8")
    assert f'"{COMM_METHOD_CHECK}"' in first


def test_the_c_route_deadline_is_one_constant() -> None:
    assert DELIVERY_DEADLINE_S == 3600.0
    assert load_vee_config().missing_deadline_s == DELIVERY_DEADLINE_S
    assert HORIZONS_S["available_60min"] == DELIVERY_DEADLINE_S
    assert COLLECTION_WITHIN_S["reads_within_60min"] == DELIVERY_DEADLINE_S


@pytest.mark.parametrize("method", ["lora", "MESH", ""])
def test_the_check_refuses_a_method_not_in_the_list(method: str) -> None:
    engine = sa.create_engine("sqlite://")
    tables.metadata.create_all(engine)
    row = {
        "meter_id": 1,
        "maker": "m",
        "serial": "s",
        "contract_amperage_a": 30,
        "certification_expiry": date(2030, 1, 1),
    }
    with engine.begin() as con:
        con.execute(meters.insert(), {**row, "comm_method": COMM_METHODS[-1]})
    with pytest.raises(sa.exc.IntegrityError, match="meters_comm_method"), engine.begin() as con:
        con.execute(meters.insert(), {**row, "meter_id": 2, "comm_method": method})
