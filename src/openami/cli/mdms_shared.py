"""`openami mdms shared-store`: the shared interval store other processes read (Delta Lake):
its status, publication from a stopped data directory, compaction and vacuum."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from openami.cli.mdms_common import DATA_DIR, open_mdms, parse_day, parse_days
from openami.storage.shared_values import RETENTION_HOURS, SINGLE_SOURCE, SharedValueStore

console = Console()
_EPOCH = date(1970, 1, 1).toordinal()

URI = click.option(
    "--uri",
    envvar="OPENAMI_SHARED_VALUES_URI",
    required=True,
    metavar="DIR",
    help="The shared interval store (a directory; env OPENAMI_SHARED_VALUES_URI), the "
    "same as the `shared_values_uri` setting of `openami serve`.",
)


@click.group("shared-store")
def shared_store() -> None:
    """The shared interval store: half-hour value versions published by the MDMS into a
    Delta Lake table that any number of processes (hub replicas, settlement, Spark, DuckDB)
    read while the MDMS writes. See docs/interval-store.md."""


@shared_store.command()
@URI
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME",
    help="Also show what this source (an MDMS partition, e.g. p07) has published (repeat).",
)
def status(uri: str, sources: tuple[str, ...]) -> None:
    """Table version, files and bytes per shape (tick rows, day and window files), days
    held."""
    store = SharedValueStore(uri)
    st = store.status()
    table = Table(title=f"shared interval store {uri} (version {st.version})")
    for column in ("shape", "files", "MiB"):
        table.add_column(column, justify="right" if column != "shape" else "left")
    for shape in sorted(st.files):
        table.add_row(shape, f"{st.files[shape]:,}", f"{st.bytes[shape] / 2**20:,.1f}")
    console.print(table)
    console.print(f"days: {st.first_day or '-'} … {st.last_day or '-'}")
    pending = store.days_with_ticks()
    console.print(f"days with uncompacted ticks: {len(pending)}" + _list(pending))
    for source in sources:
        values, days = store.watermarks(source)
        console.print(f"source {source}: value versions up to #{values:,}, ingests up to #{days:,}")


@shared_store.command()
@URI
@DATA_DIR
@click.option(
    "--source",
    default=SINGLE_SOURCE,
    show_default=True,
    help="Name this data directory's values are published under.",
)
def publish(uri: str, data_dir: Path, source: str) -> None:
    """Publish what the data directory's interval store holds and the shared store does
    not yet (for a stopped `openami serve`; a running one publishes after each tick when
    `shared_values_uri` is set). Running it again publishes nothing twice."""
    with open_mdms(data_dir) as mdms:
        count = SharedValueStore(uri).publish_new(mdms.store, source)
    console.print(f"published {count:,} value versions from {data_dir} as {source!r}")


@shared_store.command()
@URI
@click.option("--from", "first", default=None, help="First JST day, YYYY-MM-DD.")
@click.option("--to", "last", default=None, help="Last JST day (inclusive), YYYY-MM-DD.")
@click.option(
    "--every",
    type=click.FloatRange(min=10),
    default=None,
    metavar="SECONDS",
    help="Keep running: compact the days with new tick rows every SECONDS (a schedule).",
)
@click.option(
    "--windows/--no-windows",
    default=True,
    show_default=True,
    help="Then rebuild the point-major window files (16 days each) whose days changed.",
)
@click.option(
    "--windows-through",
    default=None,
    metavar="YYYY-MM-DD",
    help="Last day the windows hold (default: the day before the newest day in the table, "
    "which is still being written: each window is rebuilt about once a day, not at every "
    "compaction).",
)
def compact(
    uri: str,
    first: str | None,
    last: str | None,
    every: float | None,
    windows: bool,
    windows_through: str | None,
) -> None:
    """Compact tick rows into one day file per day, sorted by supply point (the current
    version of each slot), in one commit per day, then rebuild the window files (one
    point's 16 days together, what point queries read) whose day files changed: readers
    never wait and never see a change in what they read. Without --from/--to, every day
    that has tick rows."""
    store = SharedValueStore(uri)
    if (first is None) != (last is None):
        raise click.UsageError("give both --from and --to, or neither")
    while True:
        _compact(store, parse_days(first, last) if first and last else None)
        if windows:
            _build_windows(store, windows_through)
        if every is None:
            return
        time.sleep(every)


def _compact(store: SharedValueStore, span: tuple[date, date] | None) -> None:
    started = time.perf_counter()
    if span is None:
        done = {day: store.compact_day(day) for day in store.days_with_ticks()}
    else:
        done = store.compact_days(*span)
    for day, points in done.items():
        console.print(f"{day}: {points:,} supply points in one day file")
    console.print(f"compacted {len(done)} days in {time.perf_counter() - started:.1f} s")


def _build_windows(store: SharedValueStore, through_text: str | None) -> None:
    started = time.perf_counter()
    if through_text is not None:
        through: date | None = parse_day(through_text, "--windows-through")
    else:
        newest = store.status().last_day
        through = None if newest is None else newest - timedelta(days=1)
    built = store.build_windows(through) if through is not None else {}
    for first, rows in built.items():
        console.print(f"window from {date.fromordinal(_EPOCH + first)}: {rows:,} day rows")
    console.print(f"rebuilt {len(built)} window files in {time.perf_counter() - started:.1f} s")


@shared_store.command()
@URI
@click.option(
    "--retention-hours",
    type=click.FloatRange(min=0),
    default=RETENTION_HOURS,
    show_default=True,
    help="Delete only files removed from the table longer ago than this (readers still "
    "reading an older snapshot need them).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
def vacuum(uri: str, retention_hours: float, dry_run: bool) -> None:
    """Delete the files compaction replaced, once older than the retention."""
    removed = SharedValueStore(uri).vacuum(retention_hours, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    console.print(f"{verb} {len(removed):,} files")


def _list(days: list[date]) -> str:
    if not days:
        return ""
    shown = ", ".join(d.isoformat() for d in days[:5])
    return f" ({shown}{', …' if len(days) > 5 else ''})"
