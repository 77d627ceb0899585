"""Quality names and codes in SQL are generated from ``bus.messages.Quality`` and agree
with the NumPy side (``point_read``) code by code."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from openami.bus.messages import QCODE_NONE, QUALITY_NAMES, Quality
from openami.storage.point_read import _QUALITY_BY_CODE, INVALID_CODE
from openami.storage.quality_sql import (
    HH_QUALITY,
    NO_VALUE_SQL,
    WITH_VALUE_SQL,
    quality_code_sql,
    quality_name_sql,
    quality_sql,
)

CODES = [*range(len(Quality) + 3), QCODE_NONE - 1]


def _scalar(sql: str) -> object:
    rows = duckdb.sql(f"SELECT {sql}").fetchall()
    return rows[0][0]


def test_each_code_has_the_enum_name_and_codes_above_read_as_invalid() -> None:
    got = [_scalar(quality_name_sql(str(code))) for code in CODES]
    assert got[: len(Quality)] == list(QUALITY_NAMES)
    assert set(got[len(Quality) :]) == {Quality.INVALID.label}


def test_sql_names_agree_with_point_read_for_every_code() -> None:
    known = [c if c < len(QUALITY_NAMES) else INVALID_CODE for c in CODES]
    numpy_side = _QUALITY_BY_CODE.take(pa.array(known)).to_pylist()
    assert [_scalar(quality_name_sql(str(code))) for code in CODES] == numpy_side
    # a narrow row with neither a name nor a code reads as invalid on both sides
    assert _scalar(HH_QUALITY.replace("quality", "NULL::VARCHAR", 1).replace("qcode", "NULL")) == (
        _QUALITY_BY_CODE[INVALID_CODE].as_py()
    )


def test_names_go_back_to_their_codes_and_no_version_to_qcode_none() -> None:
    for q in Quality:
        assert _scalar(quality_code_sql(f"'{q.label}'")) == int(q)
        assert _scalar(quality_code_sql(quality_name_sql(str(int(q))))) == int(q)
    assert _scalar(quality_code_sql("NULL")) == QCODE_NONE


def test_literals_name_the_enum_members() -> None:
    assert quality_sql(Quality.MEASURED) == "'measured'"
    assert quality_sql(Quality.MISSING, Quality.INVALID) == "('missing', 'invalid')"
    assert NO_VALUE_SQL == "('missing', 'invalid')"
    assert _scalar(f"'edited' IN {WITH_VALUE_SQL}") is True
    assert _scalar(f"'missing' IN {WITH_VALUE_SQL}") is False
    assert _scalar(f"'profiled' IN {WITH_VALUE_SQL}") is True
    with pytest.raises(ValueError, match="no quality"):
        quality_sql()
