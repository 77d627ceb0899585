"""`openami mdms compact / pack`: the physical layout of stored values (wide Parquet days,
day rows, point-major windows); what any query returns stays the same."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from openami.cli.mdms_common import DATA_DIR, open_mdms, parse_days
from openami.storage.day_cluster import WINDOW_DAYS, ClusterResult
from openami.storage.day_pack import PackResult
from openami.storage.parquet_days import day_path


@click.command()
@click.option("--from", "first", required=True, help="First JST day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last JST day (inclusive), YYYY-MM-DD.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Root of the day partitions (OUT/day=YYYY-MM-DD/values.parquet).",
)
@DATA_DIR
def compact(first: str, last: str, out: Path, data_dir: Path) -> None:
    """Write the current values of each day as wide Parquet: one row per supply point and
    day with 48 import, export and quality values, sorted by supply point. Running it again
    for a day replaces that day's file."""
    a, b = parse_days(first, last)
    with open_mdms(data_dir) as mdms:
        day = a
        while day <= b:
            rows = mdms.compact_day(day, out)
            click.echo(f"{day}: {rows:,} supply points → {day_path(out, day)}")
            day += timedelta(days=1)


@click.command()
@click.option("--from", "first", required=True, help="First JST day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last JST day (inclusive), YYYY-MM-DD.")
@click.option(
    "--window-days",
    type=click.IntRange(min=0),
    default=WINDOW_DAYS,
    show_default=True,
    help="Afterwards cluster every closed window of this many days point-major "
    "(0: do not cluster).",
)
@DATA_DIR
def pack(first: str, last: str, window_days: int, data_dir: Path) -> None:
    """Pack closed days of A-route ticks into day rows, so that one supply point's days
    are read fast.

    A-route ticks (one read per meter and slot) are stored as narrow rows, slot by slot,
    which keeps one slot's settlement fast but spreads a supply point's month over the whole
    file. Packing moves each supply-point day whose 48 values are still the first, measured
    (or invalid) register differences, from one meter with each read stored once, into one
    day row per supply point and day, and deletes the narrow rows it replaced. Nothing is
    lost: receipt times, sources, recording times and flags move along, and every query
    gives the same rows afterwards. Days with later versions (backfills, estimates, edits),
    meter exchanges or duplicate reads stay narrow. Running it again packs nothing more.

    Then every closed window of --window-days days (aligned, so each is done once) is
    re-written in supply point order: a supply point's days of one window lie together, so
    its month is read from a few places instead of one per day, while one slot's sums read
    a window instead of a day. Day rows from bulk imports are clustered the same way. Run it
    for days that are closed (e.g. nightly for the day before yesterday).
    """
    a, b = parse_days(first, last)
    with open_mdms(data_dir) as mdms:
        result = mdms.pack(a, b)
        clustered = mdms.cluster(a, b, window_days) if window_days else None
    _print_packing(result, clustered, window_days)


def _print_packing(result: PackResult, clustered: ClusterResult | None, window_days: int) -> None:
    click.echo(
        f"packed {result.packed_days:,} supply-point days into day rows "
        f"({result.explicit_days:,} with explicit values; {result.values_packed:,} values, "
        f"{result.reads_packed:,} reads); {result.narrow_days:,} stayed narrow"
    )
    for reason, count in sorted(result.narrow_reasons.items(), key=lambda rc: -rc[1]):
        click.echo(f"  {count:,} {reason}")
    if result.packed_days and not result.checkpointed:
        click.echo("(the emptied row groups are freed at DuckDB's next checkpoint)")
    if clustered is not None:
        click.echo(
            f"clustered {clustered.windows:,} closed window(s) of {window_days} days "
            f"({clustered.rows:,} day rows) in supply point order"
        )
