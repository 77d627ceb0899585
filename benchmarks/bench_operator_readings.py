"""Meter-operator submissions (type (i) meters): how long the standard-format checks take for
one request at the size cap, JSON and CSV, against reading the body alone in the same run.

Each request holds ``meters`` × ``slots`` half-hour register reads: 140 × 48 = 6,720 reads,
a JSON body just under the hub's 1 MiB request limit (CSV is under half of it). The
baseline is the body's parse (``json.loads`` / ``csv``), the irreducible cost of the
format; the ratio is (parse + checks) ÷ parse. Lookups of a supply point's meter and a
meter's operator are in-memory here (one per supply point and per meter-day in the real
API, through the registry and the third-party store). ``--small`` is sized for
``make bench`` on 2 cores; ``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from datetime import date, datetime, timedelta
from typing import Any

from openami.clock import JST
from openami.mdms.operator_readings import CSV_HEADER, check_rows, parse_body

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=JST)


def body_rows(meters: int, slots: int) -> list[dict[str, Any]]:
    first = NOW - timedelta(minutes=30 * slots)
    return [
        {
            "supply_point_id": f"03{m:020d}",
            "read_at": (first + timedelta(minutes=30 * s)).isoformat(),
            "import_register_wh": 1_000_000 + 150 * s + m,
            "export_register_wh": 0,
        }
        for m in range(meters)
        for s in range(slots)
    ]


def csv_body(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for r in rows:
        writer.writerow([r[k] for k in CSV_HEADER])
    return out.getvalue().encode()


def timed(fn: Any, repeat: int = 3) -> tuple[Any, float]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def run(meters: int, slots: int) -> dict[str, Any]:
    rows = body_rows(meters, slots)
    meter_of = {f"03{m:020d}": m + 1 for m in range(meters)}
    now_s = NOW.timestamp()

    def owner(meter_id: int, day: date) -> str | None:
        return "MO1"

    bodies = {
        "json": (json.dumps({"reads": rows}).encode(), "application/json"),
        "csv": (csv_body(rows), "text/csv"),
    }
    out: dict[str, Any] = {"reads": len(rows), "meters": meters, "slots": slots}
    for name, (body, ctype) in bodies.items():
        _, parse_s = timed(lambda b=body, c=ctype: parse_body(b, c))
        checked, total_s = timed(
            lambda b=body, c=ctype: check_rows(parse_body(b, c), "MO1", now_s, meter_of.get, owner)
        )
        assert checked.reads.num_rows == len(rows) and not checked.rejected, checked.rejected[:3]
        out[name] = {
            "body_bytes": len(body),
            "parse_s": parse_s,
            "parse_and_check_s": total_s,
            "reads_per_s": len(rows) / total_s,
            "ratio_to_parse": total_s / parse_s,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="2,496 reads (make bench)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    meters, slots = (52, 48) if args.small else (140, 48)
    result = run(meters, slots)
    if args.json:
        print(json.dumps(result))
        return
    print(f"operator submission of {result['reads']:,} reads ({meters} meters × {slots} slots)")
    print(
        f"{'format':<6} {'body':>10} {'parse':>9} {'parse+check':>12} {'reads/s':>10} {'ratio':>6}"
    )
    for name in ("json", "csv"):
        r = result[name]
        print(
            f"{name:<6} {r['body_bytes']:>10,} {r['parse_s']:>8.3f}s"
            f" {r['parse_and_check_s']:>11.3f}s {r['reads_per_s']:>10,.0f}"
            f" {r['ratio_to_parse']:>6.1f}"
        )


if __name__ == "__main__":
    main()
