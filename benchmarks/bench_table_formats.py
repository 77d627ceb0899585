"""Delta Lake (deltalake) against Iceberg (pyiceberg, SQL catalog) on the MDMS workload.

The measurement behind the choice in docs/interval-store.md. Both tables get the same rows,
the layout of ``storage/shared_layout.py`` (partitioned by JST day; Iceberg: identity
partition on ``day`` and ``shape``):

1. tick commits: ``--commits`` appends of ``--tick-rows`` value versions each (one MDMS
   partition's share of a slot), commit time per window of 100 commits as the table grows;
2. ``--days`` compacted day files of ``--points`` supply points (wide rows, sorted by point);
3. one point's ``--days`` days and one slot's values, through each library's own scan
   (median of 9), while nothing writes, and while a second process commits ticks;
4. compaction of one day of ticks into a day file (Delta: overwrite with a predicate;
   Iceberg: overwrite with a filter).

Iceberg's catalog: SQLite in a temporary directory, or PostgreSQL with ``--catalog URL``
(a schema of its own, dropped afterwards).

    python benchmarks/bench_table_formats.py --small
    python benchmarks/bench_table_formats.py --catalog postgresql+psycopg://127.0.0.1/test --json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake

from openami.clock import day_first_slot
from openami.storage.shared_layout import (
    PARTITION_BY,
    TABLE_SCHEMA,
    day_rows,
    explode_day_rows,
    latest_versions,
    measured_day_rows,
    tick_rows,
)

FIRST_DAY = date(2026, 10, 1)


def _ticks(rng: np.random.Generator, n: int, slot: int, points: int) -> pa.Table:
    keys = np.sort(rng.choice(points, n, replace=False)).astype(np.int64)
    versions = pa.table(
        {
            "supply_point_key": keys,
            "slot": np.full(n, slot, dtype=np.int64),
            "import_wh": rng.integers(0, 900, n),
            "export_wh": np.zeros(n, dtype=np.int64),
            "qcode": pa.array(np.zeros(n, dtype=np.uint8)),
            "version": pa.array(np.full(n, 2, dtype=np.int32)),
            "recorded_at": np.full(n, 1.8e9),
            "vee_flags": pa.array(np.zeros(n, dtype=np.int32)),
            "final": np.zeros(n, dtype=bool),
            "method": pa.nulls(n, pa.string()),
            "edited_by": pa.nulls(n, pa.string()),
            "reason": pa.nulls(n, pa.string()),
        }
    )
    return tick_rows(versions, "p00")


class Delta:
    name = "delta"

    def __init__(self, root: Path) -> None:
        self.uri = str(root / "delta")
        DeltaTable.create(self.uri, schema=TABLE_SCHEMA, partition_by=PARTITION_BY)

    def append(self, rows: pa.Table) -> None:
        write_deltalake(self.uri, rows, mode="append", partition_by=PARTITION_BY)

    def scan(self, expr: pc.Expression, columns: list[str]) -> pa.Table:
        return DeltaTable(self.uri).to_pyarrow_dataset().to_table(filter=expr, columns=columns)

    def compact(self, day: date, rows: pa.Table) -> None:
        write_deltalake(
            self.uri,
            rows,
            mode="overwrite",
            predicate=f"day = '{day.isoformat()}'",
            partition_by=PARTITION_BY,
        )


class Iceberg:
    name = "iceberg"

    def __init__(self, root: Path, catalog_url: str | None) -> None:
        from pyiceberg.catalog.sql import SqlCatalog

        url = catalog_url or f"sqlite:///{root / 'catalog.db'}"
        self.catalog = SqlCatalog("bench", uri=url, warehouse=f"file://{root / 'warehouse'}")
        self.namespace = f"ami_{uuid.uuid4().hex[:8]}"
        self.catalog.create_namespace(self.namespace)
        table = self.catalog.create_table(f"{self.namespace}.values", schema=TABLE_SCHEMA)
        with table.update_spec() as update:
            for column in PARTITION_BY:
                update.add_identity(column)
        self.table = self.catalog.load_table(f"{self.namespace}.values")

    def append(self, rows: pa.Table) -> None:
        self.table.append(rows)

    def scan(self, expr: Any, columns: list[str]) -> pa.Table:
        self.table = self.catalog.load_table(f"{self.namespace}.values")
        return self.table.scan(row_filter=expr, selected_fields=tuple(columns)).to_arrow()

    def compact(self, day: date, rows: pa.Table) -> None:
        from pyiceberg.expressions import EqualTo

        self.table.overwrite(rows, overwrite_filter=EqualTo("day", day.isoformat()))

    def drop(self) -> None:
        self.catalog.drop_table(f"{self.namespace}.values")
        self.catalog.drop_namespace(self.namespace)


def _point_expr(fmt: Delta | Iceberg, key: int) -> Any:
    if isinstance(fmt, Delta):
        return pc.field("supply_point_key") == key
    from pyiceberg.expressions import EqualTo

    return EqualTo("supply_point_key", key)


def _day_expr(fmt: Delta | Iceberg, day: date) -> Any:
    if isinstance(fmt, Delta):
        return pc.field("day") == day
    from pyiceberg.expressions import EqualTo

    return EqualTo("day", day.isoformat())


POINT_COLUMNS = [
    "supply_point_key",
    "slot",
    "import_wh_48",
    "export_wh_48",
    "qcode_48",
    "version_48",
    "vee_flags_48",
    "final_48",
]


def _queries(
    fmt: Delta | Iceberg, points: int, days: int, rng: np.random.Generator
) -> dict[str, float]:
    point_ms, slot_ms = [], []
    for _ in range(9):
        key = int(rng.integers(0, points))
        t0 = time.perf_counter()
        got = fmt.scan(_point_expr(fmt, key), POINT_COLUMNS)
        point_ms.append(1000 * (time.perf_counter() - t0))
        assert got.num_rows >= days, (fmt.name, got.num_rows)
        day = FIRST_DAY + timedelta(days=int(rng.integers(0, days)))
        t0 = time.perf_counter()
        wide = fmt.scan(_day_expr(fmt, day), ["supply_point_key", "import_wh_48", "export_wh_48"])
        total = pc.sum(pc.list_element(wide.column("import_wh_48"), 17)).as_py()
        slot_ms.append(1000 * (time.perf_counter() - t0))
        assert total and total > 0
    return {"point_ms": statistics.median(point_ms), "slot_ms": statistics.median(slot_ms)}


def _writer(
    kind: str, root: str, catalog: str | None, ns: str, stop: Any, rows: int, points: int
) -> None:
    """A second process committing ticks while the reader measures."""
    rng = np.random.default_rng(7)
    if kind == "delta":
        target: Callable[[pa.Table], None] = lambda t: write_deltalake(  # noqa: E731
            str(Path(root) / "delta"), t, mode="append", partition_by=PARTITION_BY
        )
    else:
        from pyiceberg.catalog.sql import SqlCatalog

        url = catalog or f"sqlite:///{Path(root) / 'catalog.db'}"
        cat = SqlCatalog("bench", uri=url, warehouse=f"file://{Path(root) / 'warehouse'}")

        def target(t: pa.Table) -> None:
            cat.load_table(f"{ns}.values").append(t)

    slot = day_first_slot(FIRST_DAY) + 5
    while not stop.is_set():
        target(_ticks(rng, rows, slot, points))


def _run(fmt: Delta | Iceberg, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    out: dict[str, Any] = {"format": fmt.name}
    keys = np.arange(args.points, dtype=np.int64)
    for d in range(args.days):  # compacted history (untimed)
        number = (FIRST_DAY + timedelta(days=d) - date(1970, 1, 1)).days
        grid = rng.integers(0, 900, (args.points, 48))
        fmt.append(measured_day_rows(keys, number, grid, grid // 10))
    commit_ms: list[float] = []
    slot = day_first_slot(FIRST_DAY + timedelta(days=args.days))
    for i in range(args.commits):
        rows = _ticks(rng, args.tick_rows, slot + i // 64, args.points)
        t0 = time.perf_counter()
        fmt.append(rows)
        commit_ms.append(1000 * (time.perf_counter() - t0))
    out["commit_ms_by_100"] = [
        round(statistics.median(commit_ms[i : i + 100]), 1) for i in range(0, len(commit_ms), 100)
    ]
    out.update({f"quiet_{k}": v for k, v in _queries(fmt, args.points, args.days, rng).items()})
    ctx = mp.get_context("spawn")  # delta-rs' runtime does not survive a fork
    stop = ctx.Event()
    ns = getattr(fmt, "namespace", "")
    writer = ctx.Process(
        target=_writer,
        args=(fmt.name, str(root), args.catalog, ns, stop, args.tick_rows, args.points),
    )
    writer.start()
    time.sleep(1.0)  # the writer is committing
    out.update({f"writing_{k}": v for k, v in _queries(fmt, args.points, args.days, rng).items()})
    stop.set()
    writer.join(60)
    day = FIRST_DAY + timedelta(days=args.days)
    t0 = time.perf_counter()
    data = fmt.scan(_day_expr(fmt, day), list(TABLE_SCHEMA.names))
    current = latest_versions(
        pa.concat_tables(
            [
                explode_day_rows(data.filter(pc.equal(data.column("shape"), "day"))),
                data.filter(pc.equal(data.column("shape"), "tick"))
                .select(
                    [
                        "supply_point_key",
                        "slot",
                        "import_wh",
                        "export_wh",
                        "qcode",
                        "version",
                        "vee_flags",
                        "final",
                    ]
                )
                .cast(explode_day_rows(data.slice(0, 0)).schema),
            ]
        )
    )
    fmt.compact(day, day_rows(current, (day - date(1970, 1, 1)).days))
    out["compact_s"] = time.perf_counter() - t0
    out["compact_rows_in"] = data.num_rows
    return out


def _own_schema(url: str) -> tuple[str, str]:
    """A PostgreSQL schema of this run's own; the catalog URL that uses it."""
    import psycopg

    schema = f"openami_formats_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(url), autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}", schema


def _drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(_libpq(url.split("?")[0]), autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", action="store_true", help="a quick run (make bench)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--catalog", default=None, help="Iceberg SQL catalog URL (default SQLite)")
    parser.add_argument("--points", type=int, default=None)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--commits", type=int, default=None)
    parser.add_argument("--tick-rows", type=int, default=None)
    args = parser.parse_args()
    args.points = args.points or (5_000 if args.small else 50_000)
    args.days = args.days or (5 if args.small else 45)
    args.commits = args.commits or (50 if args.small else 400)
    args.tick_rows = args.tick_rows or (500 if args.small else 5_000)
    root = Path(tempfile.mkdtemp(prefix="openami-formats-"))
    results = []
    schema = None
    if args.catalog and args.catalog.startswith("postgresql"):
        args.catalog, schema = _own_schema(args.catalog)
    try:
        results.append(_run(Delta(root), args, root))
        iceberg = Iceberg(root, args.catalog)
        try:
            results.append(_run(iceberg, args, root))
        finally:
            iceberg.drop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if schema is not None:
            _drop_schema(args.catalog, schema)
    delta, ice = results
    summary = {
        "points": args.points,
        "days": args.days,
        "commits": args.commits,
        "tick_rows": args.tick_rows,
        "catalog": "postgresql" if args.catalog else "sqlite",
        "load_average": os.getloadavg()[0],
        "results": results,
        "ratio_iceberg_over_delta": {
            k: round(ice[k] / delta[k], 2)
            for k in delta
            if isinstance(delta[k], float) and delta[k]
        },
    }
    if args.json:
        print(json.dumps(summary))
        return
    print(
        f"{args.points:,} points × {args.days} days; {args.commits} tick commits of "
        f"{args.tick_rows:,} rows; Iceberg catalog {summary['catalog']}; "
        f"load {summary['load_average']:.1f}"
    )
    print(f"{'figure':<28}{'delta':>14}{'iceberg':>14}{'iceberg/delta':>15}")
    for key in delta:
        if key == "format":
            continue
        ratio = summary["ratio_iceberg_over_delta"].get(key, "")
        print(f"{key:<28}{_fmt(delta[key])!s:>14}{_fmt(ice[key])!s:>14}{ratio!s:>15}")


def _fmt(value: Any) -> Any:
    return round(value, 1) if isinstance(value, float) else value


if __name__ == "__main__":
    main()
