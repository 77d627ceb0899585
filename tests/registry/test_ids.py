import pytest

from openami.registry import InvalidSupplyPointId, make_supply_point_id, validate_supply_point_id


@pytest.mark.parametrize("area", ["01", "03", "09", "10"])
def test_valid_ids_per_area(area: str) -> None:
    sp = make_supply_point_id(area, 42)
    assert len(sp) == 22 and sp.startswith(area)
    assert validate_supply_point_id(sp) == sp


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0300000000000000012310" + "1", "exactly 22 digits"),
        ("03000000000000000123", "exactly 22 digits"),
        ("1100000000000000000000", "area code '11'"),
        ("0000000000000000000000", "area code '00'"),
        ("03-0000000000000001231", "exactly 22 digits"),
        ("０３00000000000000012310", "exactly 22 digits"),  # full-width digits
    ],
)
def test_invalid_ids_say_why(value: str, reason: str) -> None:
    with pytest.raises(InvalidSupplyPointId, match=reason):
        validate_supply_point_id(value)
