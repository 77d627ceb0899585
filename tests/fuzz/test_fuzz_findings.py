"""Regression tests for what the fuzzers found (each input is also in fuzz/corpus/)."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openami.protocols.dlms.apdu import ApduError, decode_apdu
from openami.storage.bulk_import import read_import_file

CORPUS = Path(__file__).parents[2] / "fuzz" / "corpus"


def test_a_three_byte_get_response_is_an_apdu_error_not_an_index_error() -> None:
    data = (CORPUS / "dlms_apdu" / "crash-get-response-3-bytes").read_bytes()
    assert data == b"\xc4\x01\x01"
    with pytest.raises(ApduError, match="truncated result"):
        decode_apdu(data)


@pytest.mark.parametrize(
    "column",
    [
        pa.array([[1]], pa.list_(pa.int8())),
        pa.array([{"a": 1}]),
        pa.array([[("a", 1)]], pa.map_(pa.string(), pa.int64())),
    ],
    ids=["list", "struct", "map"],
)
def test_a_parquet_value_column_of_a_nested_type_is_refused_with_value_error(
    tmp_path: Path, column: pa.Array
) -> None:
    table = pa.table(
        {
            "supply_point_id": ["0300000000000000000110"],
            "slot_start": ["2026-11-01T00:00:00+09:00"],
            "import_register_wh": column,
            "export_register_wh": ["1"],
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    path = tmp_path / "reads.parquet"
    path.write_bytes(out.getvalue())
    with pytest.raises(ValueError, match=r"import_register_wh \(.*\) do not hold values"):
        read_import_file(path)


def test_the_corpus_keeps_the_parquet_crash_and_it_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "crash.parquet"
    path.write_bytes((CORPUS / "bulk_parquet" / "crash-list-register").read_bytes())
    with pytest.raises(ValueError, match="do not hold values"):
        read_import_file(path)


def test_a_parquet_file_with_invalid_utf8_text_is_refused_before_duckdb(tmp_path: Path) -> None:
    """Found by atheris: pyarrow reads such a file unchecked, and DuckDB's row check then
    failed with an InternalException (not a ValueError: the CLI printed a traceback)."""
    path = tmp_path / "crash.parquet"
    path.write_bytes((CORPUS / "bulk_parquet" / "crash-invalid-utf8-text").read_bytes())
    with pytest.raises(ValueError, match=r"invalid Parquet data: .*UTF8"):
        read_import_file(path)


def test_a_parquet_file_with_damaged_metadata_is_a_value_error(tmp_path: Path) -> None:
    """Found by atheris: pyarrow raised ArrowNotImplementedError ("Integers with more than
    64 bits") from damaged metadata, which is no ValueError."""
    path = tmp_path / "crash.parquet"
    path.write_bytes((CORPUS / "bulk_parquet" / "crash-int128-metadata").read_bytes())
    with pytest.raises(ValueError, match="not a readable import file"):
        read_import_file(path)


def test_a_missing_file_stays_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        read_import_file(tmp_path / "absent.parquet")


def test_a_csv_header_that_names_a_column_twice_is_a_value_error(tmp_path: Path) -> None:
    """Found by atheris: the row check failed with pyarrow's KeyError ("Field exists 2 times
    in schema"), which is no ValueError."""
    path = tmp_path / "reads.csv"
    path.write_bytes((CORPUS / "bulk_csv" / "crash-duplicate-column").read_bytes())
    with pytest.raises(ValueError, match="import_register_wh, slot_start given more than once"):
        read_import_file(path)
