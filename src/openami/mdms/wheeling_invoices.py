"""Per-retailer wheeling invoices: a CSV of the lines and an HTML summary.

The CSV has one line per supply point and segment (:data:`CSV_COLUMNS`); the summary sums
the same lines per area and menu, with the invoice total, so the summary's total equals the
sum of the CSV's ``total_yen``. Both are returned as bytes: the caller decides where they go
(the command line writes them to files only their owner may read).
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

CSV_COLUMNS = (
    "supply_point_id",
    "area_code",
    "menu",
    "reading_day_code",
    "period_start",
    "period_end",
    "supply_start",
    "supply_end",
    "days_share",
    "contract_amperage_a",
    "basic_quantity",
    "kwh",
    "kwh_day",
    "kwh_night",
    "kwh_holiday",
    "max_demand_kw",
    "missing_slots",
    "estimated_slots",
    "basic_yen",
    "energy_yen",
    "total_yen",
    "tax_yen",
)
_SUMS = ("kwh", "basic_yen", "energy_yen", "total_yen", "tax_yen")


@dataclass(frozen=True)
class Invoice:
    retailer_id: str
    period: str  # YYYY-MM
    lines: int
    total_yen: int
    csv: bytes
    html: bytes

    def file_stem(self) -> str:
        """``wheeling_<retailer>_<YYYY-MM>``, with anything but letters, digits, ``-`` and
        ``_`` in the retailer ID replaced by ``_`` (never a path separator)."""
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", self.retailer_id)
        return f"wheeling_{safe}_{self.period}"


def summary(lines: pa.Table) -> pa.Table:
    """Lines, kWh and yen per area and menu."""
    grouped = lines.group_by(["area_code", "menu"]).aggregate(
        [("supply_point_id", "count")] + [(c, "sum") for c in _SUMS]
    )
    return grouped.sort_by([("area_code", "ascending"), ("menu", "ascending")])


def _html(retailer_id: str, period: str, lines: pa.Table, total_yen: int) -> bytes:
    rows = []
    for r in summary(lines).to_pylist():
        cells = [
            html.escape(str(r["area_code"])),
            html.escape(str(r["menu"])),
            f"{r['supply_point_id_count']:,}",
            f"{r['kwh_sum']:,.1f}",
            f"{r['basic_yen_sum']:,}",
            f"{r['energy_yen_sum']:,}",
            f"{r['total_yen_sum']:,}",
            f"{r['tax_yen_sum']:,}",
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in ("area", "menu", "lines", "kWh", "basic ¥", "energy ¥", "total ¥", "tax incl. ¥")
    )
    rid, per = html.escape(retailer_id), html.escape(period)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Wheeling charges {rid} {per}</title>
<style>body{{font-family:sans-serif}}td,th{{padding:2px 8px;text-align:right}}</style>
</head><body>
<h1>Wheeling charges (託送料金) — {rid}, billing month {per}</h1>
<p>Per supply point and billing period (計量日 to the day before the next); figures include
consumption tax. Detail: <code>wheeling_{rid}_{per}.csv</code>.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{"".join(rows)}
</tbody></table>
<p id="total">Invoice total: <strong>¥{total_yen:,}</strong> ({lines.num_rows:,} lines)</p>
</body></html>
"""
    return page.encode("utf-8")


def invoices(lines: pa.Table, supply_point_ids: pa.Array, period: str) -> list[Invoice]:
    """One invoice per retailer in ``lines`` (the run's lines, with the supply point ID of
    each line in ``supply_point_ids``), by retailer ID."""
    table = lines.append_column("supply_point_id", supply_point_ids)
    out = []
    for retailer_id in sorted(pc.unique(table.column("retailer_id")).to_pylist()):
        own = table.filter(pc.equal(table.column("retailer_id"), retailer_id))
        own = own.select(list(CSV_COLUMNS))
        total = int(pc.sum(own.column("total_yen")).as_py() or 0)
        buf = io.BytesIO()
        pacsv.write_csv(own, buf)
        out.append(
            Invoice(
                retailer_id,
                period,
                own.num_rows,
                total,
                buf.getvalue(),
                _html(retailer_id, period, own, total),
            )
        )
    return out
