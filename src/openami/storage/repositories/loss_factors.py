"""Network loss factors (損失率) per area and voltage class, effective-dated, and the CSV
file they are configured in.

A row holds from its ``valid_from`` (JST day) until the next row of the same area and
voltage class. Loading a file replaces rows with the same (area, class, valid_from) and
adds the others, in one transaction; rows are never deleted otherwise, so the figures of
past days stay as they were. Which areas and classes are valid is the MDMS's rule
(:mod:`openami.mdms.loss_factors`); this module only reads the file and keeps the rows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

import sqlalchemy as sa

from openami.storage.sql.balancing_tables import loss_factors as _lf
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as

#: the example configuration shipped with openami (figures and their sources)
SHIPPED_FILE = "config/loss_factors.csv"
FILE_COLUMNS = ("area_code", "voltage_class", "valid_from", "loss_rate_pct", "source")


class LossFactorFileError(ValueError):
    """A loss factor file that cannot be read (the message names the line)."""


@dataclass(frozen=True)
class LossFactor:
    area_code: str
    voltage_class: str
    valid_from: date
    loss_rate: float  # fraction of the energy sent that is lost, 0 ≤ rate < 1
    source: str


def _row(line: int, fields: dict[str, str]) -> LossFactor:
    try:
        pct = float(fields["loss_rate_pct"])
        valid_from = date.fromisoformat(fields["valid_from"].strip())
    except ValueError as exc:
        raise LossFactorFileError(f"line {line}: {exc}") from None
    return LossFactor(
        fields["area_code"].strip(),
        fields["voltage_class"].strip(),
        valid_from,
        pct / 100.0,
        fields["source"].strip(),
    )


def read_loss_factor_text(text: str) -> list[LossFactor]:
    """Rows of a loss factor CSV (columns :data:`FILE_COLUMNS`, rate in percent; lines
    starting with ``#`` are comments)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or tuple(reader.fieldnames) != FILE_COLUMNS:
        raise LossFactorFileError(f"the header must be {','.join(FILE_COLUMNS)}")
    rows = []
    for n, fields in enumerate(reader, start=2):
        if None in fields or any(v is None for v in fields.values()):
            raise LossFactorFileError(f"line {n}: expected {len(FILE_COLUMNS)} fields")
        rows.append(_row(n, fields))
    return rows


def read_loss_factor_file(path: Path | None = None) -> list[LossFactor]:
    """Rows of the loss factor file at ``path`` (the shipped example if None)."""
    if path is None:
        text = resources.files("openami").joinpath(SHIPPED_FILE).read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return read_loss_factor_text(text)


class LossFactorStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def load(self, rows: list[LossFactor], now_s: float) -> int:
        """Store ``rows`` (replacing those with the same key) in one transaction."""
        with self.database.write() as connection, refusals_as("loading loss factors"):
            for r in rows:
                connection.execute(
                    _lf.delete().where(
                        _lf.c.area_code == r.area_code,
                        _lf.c.voltage_class == r.voltage_class,
                        _lf.c.valid_from == r.valid_from.isoformat(),
                    )
                )
            if rows:
                connection.execute(
                    _lf.insert(),
                    [
                        {
                            "area_code": r.area_code,
                            "voltage_class": r.voltage_class,
                            "valid_from": r.valid_from.isoformat(),
                            "loss_rate": r.loss_rate,
                            "source": r.source,
                            "loaded_at": now_s,
                        }
                        for r in rows
                    ],
                )
        return len(rows)

    def count(self) -> int:
        with self.database.read() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(_lf)).scalar_one())

    def all(self) -> list[LossFactor]:
        """Every stored row, by area, class and ``valid_from``."""
        query = sa.select(
            _lf.c.area_code, _lf.c.voltage_class, _lf.c.valid_from, _lf.c.loss_rate, _lf.c.source
        ).order_by(_lf.c.area_code, _lf.c.voltage_class, _lf.c.valid_from)
        with self.database.read() as connection:
            rows = connection.execute(query).all()
        return [
            LossFactor(a, v, date.fromisoformat(f), float(rate), s) for a, v, f, rate, s in rows
        ]

    def in_force(self, day: date) -> list[LossFactor]:
        """Per area and voltage class, the row in force on ``day`` (the newest
        ``valid_from`` not after it); pairs with no such row are left out."""
        current: dict[tuple[str, str], LossFactor] = {}
        for row in self.all():
            if row.valid_from <= day:
                current[(row.area_code, row.voltage_class)] = row  # sorted: the newest wins
        return list(current.values())
