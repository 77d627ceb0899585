"""`openami audit`: check and read the hash-chained audit log of the C route."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from openami.storage.repositories import DATA_DIR_FILE, StorageError
from openami.storage.repositories.audit import AuditLog

console = Console()

_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("openami-data"),
    show_default=True,
    help=f"Directory holding {DATA_DIR_FILE} (the same --data-dir as `openami demo`).",
)
_DB = click.option(
    "--db",
    "db_url",
    default=None,
    metavar="URL",
    help="The database instead of --data-dir (e.g. postgresql+psycopg://user@host/openami).",
)
#: the audit log of a data directory made before it moved into the one database
LEGACY_AUDIT_FILE = "audit.sqlite"


def _open(data_dir: Path, db_url: str | None) -> AuditLog:
    """The audit log, opened read-only as found; a data directory that was not opened by
    this version yet still has its log in audit.sqlite."""
    targets: list[str | Path] = [db_url] if db_url else []
    if not db_url:
        targets = [
            p for p in (data_dir / DATA_DIR_FILE, data_dir / LEGACY_AUDIT_FILE) if p.exists()
        ]
        if not targets:
            raise click.ClickException(f"no audit log in {data_dir}")
    problem = ""
    for target in targets:
        try:
            return AuditLog.open_for_checking(target)
        except StorageError as exc:
            problem = str(exc)
    raise click.ClickException(problem)


@click.group()
def command() -> None:
    """The audit log: every C-route request and every read of personal data.

    Entries record who (API client), what (request or supply point read), when and for
    which purpose; each entry's SHA-256 hash covers the previous entry's hash, so changing,
    deleting or reordering entries is detected by `openami audit verify`.
    """


@command.command()
@_DATA_DIR
@_DB
@click.option(
    "--expect-head",
    metavar="SEQ:HASH",
    default=None,
    help="A head printed by an earlier verify (kept elsewhere): also detects cut-off entries.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def verify(data_dir: Path, db_url: str | None, expect_head: str | None, as_json: bool) -> None:
    """Walk the whole hash chain; exit status 1 if anything was tampered with."""
    anchor = None
    if expect_head:
        seq, _, digest = expect_head.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise click.BadParameter("expected SEQ:HASH (hash = 64 hex digits)")
        anchor = (int(seq), digest.lower())
    log = _open(data_dir, db_url)
    try:
        result = log.verify(anchor)
    finally:
        log.close()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": result.ok,
                    "entries": result.entries,
                    "head": f"{result.head_seq}:{result.head_hash}",
                    "problems": list(result.problems),
                }
            )
        )
    elif result.ok:
        console.print(f"[green]audit log OK[/]: {result.entries:,} entries")
        console.print(f"head {result.head_seq}:{result.head_hash}")
    else:
        console.print(f"[red]audit log TAMPERED[/] ({result.entries:,} entries):")
        for problem in result.problems:
            console.print(f"  - {problem}")
    if not result.ok:
        raise SystemExit(1)


@command.command()
@_DATA_DIR
@_DB
@click.option("--last", default=20, show_default=True, help="How many of the newest entries.")
def show(data_dir: Path, db_url: str | None, last: int) -> None:
    """Print the newest entries."""
    log = _open(data_dir, db_url)
    try:
        head_seq, _ = log.head
        entries = list(log.entries(after_seq=max(0, head_seq - last)))
    finally:
        log.close()
    table = Table(title=f"audit log, last {len(entries)} entries")
    for name in ("seq", "when (UTC)", "kind", "who", "what", "subject", "purpose"):
        table.add_column(name)
    for e in entries:
        when = datetime.fromtimestamp(e.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(e.seq), when, e.kind, e.actor, e.action, e.subject or "", e.purpose)
    console.print(table)
