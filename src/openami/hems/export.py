"""History export: one CSV row per half-hour slot."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from openami.hems.client import HistorySlot

CSV_COLUMNS = ("slot_start", "import_kwh", "export_kwh")


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


def write_history_csv(target: Path | TextIO, slots: Iterable[HistorySlot]) -> int:
    """Write ``slot_start`` (ISO 8601, JST), ``import_kwh``, ``export_kwh``; empty = no data.

    Returns the number of rows written. Rows come out oldest first, one per slot.
    """
    ordered = sorted(slots, key=lambda s: s.slot_start)
    if isinstance(target, Path):
        with target.open("w", newline="", encoding="utf-8") as handle:
            return _write(handle, ordered)
    return _write(target, ordered)


def _write(handle: TextIO, slots: list[HistorySlot]) -> int:
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    for slot in slots:
        writer.writerow(
            [slot.slot_start.isoformat(), _cell(slot.import_kwh), _cell(slot.export_kwh)]
        )
    return len(slots)
