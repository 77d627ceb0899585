"""Certification validity and expiry (検満): the rule per meter kind and the expiry day."""

from __future__ import annotations

from datetime import date

import pytest

from openami.registry.certification import (
    CertificationError,
    expiry_day,
    fiscal_year,
    is_valid_on,
    validity_rule,
)


def test_validity_per_kind_with_source() -> None:
    assert validity_rule("single_electronic").validity_years == 10
    assert validity_rule("transformer_electronic").validity_years == 7
    assert validity_rule("transformer_mechanical").validity_years == 5
    assert validity_rule("single_mechanical_20_60a").validity_years == 7
    assert "計量法施行令" in validity_rule("single_electronic").source


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(CertificationError) as refused:
        validity_rule("gas")
    assert refused.value.code == "E_UNKNOWN_METER_KIND"


@pytest.mark.parametrize(
    ("certified_on", "years", "expires"),
    [
        (date(2016, 10, 5), 10, date(2026, 10, 31)),
        (date(2020, 2, 29), 10, date(2030, 2, 28)),
        (date(2024, 2, 1), 7, date(2031, 2, 28)),
        (date(2019, 12, 31), 5, date(2024, 12, 31)),
    ],
)
def test_expiry_is_the_end_of_the_month_years_later(
    certified_on: date, years: int, expires: date
) -> None:
    assert expiry_day(certified_on, years) == expires


@pytest.mark.parametrize("years", [0, -1, 21])
def test_bad_validity(years: int) -> None:
    with pytest.raises(CertificationError, match="E_BAD_VALIDITY"):
        expiry_day(date(2020, 1, 1), years)


def test_valid_through_the_expiry_day_only() -> None:
    assert is_valid_on(date(2026, 10, 31), date(2026, 10, 31))
    assert not is_valid_on(date(2026, 10, 31), date(2026, 11, 1))
    assert not is_valid_on(None, date(2020, 1, 1))


def test_fiscal_year_starts_in_april() -> None:
    assert fiscal_year(date(2027, 3, 31)) == 2026
    assert fiscal_year(date(2027, 4, 1)) == 2027
