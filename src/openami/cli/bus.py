"""`openami bus status`: the JetStream bus's streams and consumers, for operators."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.table import Table

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.port import BusUnavailable


@click.group()
def command() -> None:
    """The NATS JetStream bus (see docs/deployment.md)."""


@command.command()
@click.option(
    "--bus",
    "bus_url",
    default=lambda: os.environ.get("OPENAMI_BUS_URL", "nats://127.0.0.1:4222"),
    show_default="OPENAMI_BUS_URL or nats://127.0.0.1:4222",
    metavar="URL",
)
@click.option(
    "--prefix",
    default=lambda: os.environ.get("OPENAMI_BUS_PREFIX", "openami"),
    show_default="OPENAMI_BUS_PREFIX or openami",
)
def status(bus_url: str, prefix: str) -> None:
    """Messages stored per stream and, per consumer, what is pending, unacknowledged and
    redelivered. Creates nothing."""
    try:
        bus = JetStreamBus(JetStreamConfig(url=bus_url, prefix=prefix, create_streams=False))
    except (BusUnavailable, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        streams = bus.status()
    finally:
        bus.close()
    table = Table(title=f"bus {prefix} at {bus_url.rpartition('@')[2]}")
    columns = ("stream", "messages", "bytes", "consumer", "pending", "unacked", "redelivered")
    for column in (*columns, "last ack (UTC)"):
        table.add_column(column, justify="left" if column in ("stream", "consumer") else "right")
    for s in streams:
        if s.messages is None:
            table.add_row(s.stream, "absent", "", "", "", "", "", "")
            continue
        first = [s.stream, f"{s.messages:,}", f"{s.bytes or 0:,}"]
        if not s.consumers:
            table.add_row(*first, "", "", "", "", "")
        for i, c in enumerate(s.consumers):
            lead = first if i == 0 else ["", "", ""]
            table.add_row(
                *lead,
                c.name,
                f"{c.pending:,}",
                f"{c.ack_pending:,}",
                f"{c.redelivered:,}",
                _utc(c.last_ack_s),
            )
    Console(width=150).print(table)


def _utc(epoch_s: float | None) -> str:
    """An instant as the table shows it: UTC to the second, or a dash for never."""
    if epoch_s is None:
        return "-"
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M:%S")
