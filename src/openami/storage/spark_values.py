"""Spark over the shared interval store: a session, the snapshot's file list, current values.

Spark's Delta Lake connector (``delta-spark``) is a Maven package, and Maven cannot be
reached where openami is built and tested; neither can Iceberg's. So Spark does not read
the Delta log itself: :func:`snapshot_files` asks ``deltalake`` (delta-rs) for the table's
current snapshot — its version and the add actions, one Parquet file each with its
partition values (``day``, ``shape``) — and Spark reads exactly those files with its own
Parquet reader. What that means:

- the job sees the snapshot of the moment it started (files committed later are not read;
  files removed by a later compaction stay on disk until ``vacuum``'s retention, which is
  longer than a job);
- features that change what a data file means are refused with an error, not misread:
  deletion vectors (rows deleted without rewriting the file), column mapping (physical
  column names unlike the logical ones). delta-rs writes neither for this table;
- partition values are taken from the add actions, never from directory names.

:func:`current_values` turns the files into the current value of every (supply point, slot)
— the highest version over tick rows and day rows (``storage/shared_layout.py``) — as a
Spark DataFrame; ``storage/spark_sums.py`` sums it for settlement and billing.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from deltalake import DeltaTable

from openami.bus.messages import QCODE_NONE
from openami.storage.quality_sql import quality_name_sql
from openami.storage.shared_layout import DAY_LISTS, SHAPE_DAY, SHAPE_TICK, jst_day_numbers

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: reader features that change how a data file is read: Spark's plain Parquet reader would
#: misread them, so a snapshot using any is refused
UNSUPPORTED_READER_FEATURES = frozenset({"deletionVectors", "columnMapping"})
#: shuffle partitions of a session made here: the sums are small after the first aggregation
DEFAULT_SHUFFLE_PARTITIONS = 8
_VALUE_COLUMNS = ("import_wh", "export_wh", "qcode", "version", "vee_flags", "final")


class SparkUnavailableError(RuntimeError):
    """pyspark or a Java runtime is missing (``pip install 'openami[spark]'``, Java 17+)."""


class UnsupportedSnapshotError(ValueError):
    """The table uses a Delta feature the file-list reading cannot honour."""


def spark_session(
    master: str = "local[2]",
    app_name: str = "openami",
    shuffle_partitions: int = DEFAULT_SHUFFLE_PARTITIONS,
) -> SparkSession:
    """A Spark session at ``master`` (``local[N]``, ``spark://host:7077``, ``yarn``, …),
    or the one this process already runs (whose master stays as it is: one session per
    process); :class:`SparkUnavailableError` without pyspark or Java."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailableError(
            "the Spark engine needs pyspark: pip install 'openami[spark]'"
        ) from exc
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise SparkUnavailableError(
            "the Spark engine needs a Java 17+ runtime (Debian: openjdk-17-jre-headless)"
        )
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and Spark raise many kinds: say which master failed
        raise SparkUnavailableError(
            f"no Spark session at master {master!r}: {str(exc).splitlines()[0][:300]}"
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


@dataclass(frozen=True)
class SnapshotFiles:
    """One snapshot of the shared interval store: its version and its data files (URIs)
    with the JST day number each holds, by shape."""

    uri: str
    version: int
    tick_files: tuple[tuple[int, str], ...]
    day_files: tuple[tuple[int, str], ...]

    def files_between(self, first_day: int, last_day: int, shape: str) -> list[str]:
        """The files of ``shape`` whose JST day number is in ``[first_day, last_day]``."""
        files = self.day_files if shape == SHAPE_DAY else self.tick_files
        return [path for day, path in files if first_day <= day <= last_day]


def snapshot_files(uri: str | Path, storage_options: dict[str, str] | None = None) -> SnapshotFiles:
    """The current snapshot's file list, from the Delta log as ``deltalake`` reads it."""
    table = DeltaTable(str(uri), storage_options=storage_options)
    features = set(table.protocol().reader_features or ())
    refused = sorted(features & UNSUPPORTED_READER_FEATURES)
    if refused:
        raise UnsupportedSnapshotError(
            f"the shared interval store uses Delta reader features {refused}: Spark reads "
            "the snapshot's Parquet files without a Delta connector and cannot honour them"
        )
    actions = pa.table(table.get_add_actions(flatten=True))
    root = table.table_uri.rstrip("/")
    ticks: list[tuple[int, str]] = []
    days: list[tuple[int, str]] = []
    if actions.num_rows:
        paths = actions.column("path").to_pylist()
        shapes = actions.column("partition.shape").to_pylist()
        numbers = actions.column("partition.day").cast(pa.int32()).to_numpy()
        for path, shape, number in zip(paths, shapes, numbers.astype(np.int64), strict=True):
            full = path if "://" in path else f"{root}/{path}"
            if shape == SHAPE_DAY:
                days.append((int(number), full))
            elif shape == SHAPE_TICK:
                ticks.append((int(number), full))
            # window files (SHAPE_WINDOW) copy day rows for point reads: never summed
    return SnapshotFiles(str(uri), table.version(), tuple(ticks), tuple(days))


def _empty_values(spark: SparkSession) -> DataFrame:
    schema = (
        "supply_point_key BIGINT, slot BIGINT, import_wh BIGINT, export_wh BIGINT, "
        "qcode INT, version INT, vee_flags INT, final BOOLEAN"
    )
    return spark.createDataFrame([], schema)


def _tick_values(spark: SparkSession, files: list[str]) -> DataFrame:
    rows = spark.read.parquet(*files)
    return rows.selectExpr(
        "CAST(supply_point_key AS BIGINT) AS supply_point_key",
        "CAST(slot AS BIGINT) AS slot",
        "CAST(import_wh AS BIGINT) AS import_wh",
        "CAST(export_wh AS BIGINT) AS export_wh",
        "CAST(qcode AS INT) AS qcode",
        "CAST(version AS INT) AS version",
        "CAST(vee_flags AS INT) AS vee_flags",
        "CAST(final AS BOOLEAN) AS final",
    )


def _day_values(spark: SparkSession, files: list[str]) -> DataFrame:
    """Day rows → one row per slot that holds a version (as ``explode_day_rows``)."""
    lists = ", ".join(name for name, _ in DAY_LISTS)
    exploded = (
        spark.read.parquet(*files)
        .selectExpr(
            "supply_point_key",
            "slot AS first_slot",
            f"posexplode(arrays_zip({lists})) AS (pos, v)",
        )
        .selectExpr(
            "CAST(supply_point_key AS BIGINT) AS supply_point_key",
            "CAST(first_slot + pos AS BIGINT) AS slot",
            *(
                f"CAST(v.{name}_48 AS {kind}) AS {name}"
                for name, kind in zip(
                    _VALUE_COLUMNS,
                    ("BIGINT", "BIGINT", "INT", "INT", "INT", "BOOLEAN"),
                    strict=True,
                )
            ),
        )
    )
    return exploded.where(f"qcode <> {QCODE_NONE}")


def current_values(
    spark: SparkSession, snapshot: SnapshotFiles, first_slot: int, last_slot: int
) -> DataFrame:
    """The current (highest) version of every (supply point, slot) in ``[first_slot,
    last_slot]`` that has one: supply_point_key, slot, import_wh, export_wh, quality (the
    name), version, vee_flags, final. Only the files of the slots' JST days are read."""
    lo, hi = (int(d) for d in jst_day_numbers(np.array([first_slot, last_slot])))
    parts = []
    ticks = snapshot.files_between(lo, hi, "tick")
    if ticks:
        parts.append(_tick_values(spark, ticks))
    days = snapshot.files_between(lo, hi, SHAPE_DAY)
    if days:
        parts.append(_day_values(spark, days))
    values = parts[0] if parts else _empty_values(spark)
    for part in parts[1:]:
        values = values.unionByName(part)
    values = values.where(f"slot BETWEEN {int(first_slot)} AND {int(last_slot)}")
    fields = ", ".join(f"'{name}', {name}" for name in _VALUE_COLUMNS)
    latest = values.groupBy("supply_point_key", "slot").agg(
        _expr(f"max_by(named_struct({fields}), version) AS v")
    )
    return latest.selectExpr(
        "supply_point_key",
        "slot",
        "v.import_wh AS import_wh",
        "v.export_wh AS export_wh",
        f"{quality_name_sql('v.qcode')} AS quality",
        "v.version AS version",
        "v.vee_flags AS vee_flags",
        "v.final AS final",
    )


def _expr(sql: str) -> Any:
    from pyspark.sql import functions

    return functions.expr(sql)


def temp_view(frame: DataFrame, prefix: str) -> str:
    """Register ``frame`` as a temporary view of a unique name (so that jobs sharing a
    session never see each other's inputs) and return the name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    frame.createOrReplaceTempView(name)
    return name


def arrow_view(spark: SparkSession, table: pa.Table, prefix: str) -> str:
    """A small Arrow table (registry rows, side inputs) as a temporary view."""
    return temp_view(spark.createDataFrame(table), prefix)


def drop_views(spark: SparkSession, names: list[str]) -> None:
    for name in names:
        spark.catalog.dropTempView(name)
