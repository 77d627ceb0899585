"""Files of manual meter reads (CSV): columns ``meter_id``, ``read_on`` (JST day,
YYYY-MM-DD), ``import_register_wh`` and ``reader``. Read as text; the registry's
:mod:`openami.registry.kinds` checks every value and says which line is wrong."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

MANUAL_READ_COLUMNS = ("meter_id", "read_on", "import_register_wh", "reader")


def read_manual_read_file(path: Path) -> pa.Table:
    """The file's rows, every column as text (empty cells null); a ValueError names a
    missing or repeated column, or a file that is not CSV."""
    with path.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise ValueError(f"{path.name}: column(s) {', '.join(twice)} given more than once")
    missing = [c for c in MANUAL_READ_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}")
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise ValueError(f"{path.name}: not a readable CSV file: {exc}") from exc
    return table.select(list(MANUAL_READ_COLUMNS))
