"""Settlement and billing: the embedded DuckDB engine against Spark ``local[2]``, same data.

The month of tests/mdms/spark_month.py cut to ``days`` days (``points`` supply points;
default 2,000 × 10) with versions, estimates, holes, a meter exchange, a retailer switch,
published to a shared interval store in a temporary directory, the first days compacted.
Timed in the same process, on the same MDMS:

- settlement: every day settled (all slots, all levels, runs stored), by
  DuckDB over the MDMS store and by Spark over the shared interval store;
- billing: the determinants of every supply point over all the days.

DuckDB is the baseline: the ratio is Spark time ÷ DuckDB time (> 1: Spark slower). Spark's
session start (a JVM) is timed apart and not in the ratio; its first job, which warms the
JVM, is left out by settling the first day once before timing. Both engines' rows are
checked equal. ``--small`` is sized for ``make bench`` on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.mdms.spark_month

from tests.mdms.spark_month import build_month

from openami.log import configure
from openami.mdms.spark_engine import SparkEngine
from openami.storage.spark_values import spark_session


def timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def run(points: int, days: int, master: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        month, build_s = timed(lambda: build_month(points, days, Path(tmp) / "values"))
        mdms = month.mdms
        session, start_s = timed(lambda: spark_session(master, app_name="openami-bench"))
        spark = SparkEngine(month.shared.uri, master)
        mdms.settle(month.days[0], estimate=False, spark=spark)  # warm the JVM
        duck_runs, duck_settle_s = timed(
            lambda: [mdms.settle(d, estimate=False).rows for d in month.days]
        )
        spark_runs, spark_settle_s = timed(
            lambda: [mdms.settle(d, estimate=False, spark=spark).rows for d in month.days]
        )
        if any(a.to_pylist() != b.to_pylist() for a, b in zip(duck_runs, spark_runs, strict=True)):
            raise SystemExit("settlement rows differ between DuckDB and Spark")
        first, last = month.days[0], month.days[-1]
        duck_bill, duck_bill_s = timed(lambda: mdms.bill(first, last))
        spark_bill, spark_bill_s = timed(lambda: mdms.bill(first, last, spark=spark))
        if duck_bill.to_pylist() != spark_bill.to_pylist():
            raise SystemExit("billing determinants differ between DuckDB and Spark")
        session.stop()
    return {
        "points": points,
        "days": days,
        "master": master,
        "build_s": round(build_s, 2),
        "spark_session_start_s": round(start_s, 2),
        "settle_duckdb_s": round(duck_settle_s, 3),
        "settle_spark_s": round(spark_settle_s, 3),
        "settle_ratio_spark_to_duckdb": round(spark_settle_s / duck_settle_s, 2),
        "bill_duckdb_s": round(duck_bill_s, 3),
        "bill_spark_s": round(spark_bill_s, 3),
        "bill_ratio_spark_to_duckdb": round(spark_bill_s / duck_bill_s, 2),
        "identical": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--small", action="store_true", help="200 points × 3 days")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    configure()  # logs to stderr: stdout carries the table or the JSON object
    points, days = (200, 3) if args.small else (args.points, args.days)
    result = run(points, days, args.master)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{points:,} supply points × {days} days, Spark {args.master} (DuckDB = baseline)")
    print(
        f"month built and published in {result['build_s']} s; Spark session start "
        f"{result['spark_session_start_s']} s (not in the ratios)"
    )
    print(f"{'job':<28}{'DuckDB s':>10}{'Spark s':>10}{'Spark/DuckDB':>14}")
    print(
        f"{'settle every day':<28}{result['settle_duckdb_s']:>10}{result['settle_spark_s']:>10}"
        f"{result['settle_ratio_spark_to_duckdb']:>14}"
    )
    print(
        f"{'bill the month':<28}{result['bill_duckdb_s']:>10}{result['bill_spark_s']:>10}"
        f"{result['bill_ratio_spark_to_duckdb']:>14}"
    )
    print("rows identical: yes")


if __name__ == "__main__":
    main()
