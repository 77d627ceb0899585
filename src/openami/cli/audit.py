"""`openami audit`: check, checkpoint and read the keyed hash-chained audit log."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from openami.cli.options import DATA_DIR, DB
from openami.storage.repositories import DATA_DIR_FILE, StorageError
from openami.storage.repositories.audit import AuditLog
from openami.storage.secrets import KeyRing

console = Console()

#: the audit log of a data directory made before it moved into the one database
LEGACY_AUDIT_FILE = "audit.sqlite"


def _open(data_dir: Path, db_url: str | None) -> AuditLog:
    """The audit log, opened read-only as found, with the keys of ``data_dir`` (also for
    --db: the keys are never in the database); a data directory that was not opened by
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
            return AuditLog.open_for_checking(target, key_dir=data_dir)
        except StorageError as exc:
            problem = str(exc)
    raise click.ClickException(problem)


@click.group()
def command() -> None:
    """The audit log: every C-route request, every read of personal data, every MDMS edit.

    Entries record who, what, when and for which purpose; each entry's hash is an
    HMAC-SHA-256 under the audit key (kept outside the database, in the data directory or
    OPENAMI_AUDIT_KEY) over the previous entry's hash, so changing, deleting, reordering or
    forging entries is detected by `openami audit verify`; signed checkpoints (Ed25519)
    catch entries cut off the end. Nothing here ever deletes the log.
    """


@command.command()
@DATA_DIR
@DB
@click.option(
    "--expect-head",
    metavar="SEQ:HASH",
    default=None,
    help="A head printed by an earlier verify (kept elsewhere): also detects cut-off entries.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def verify(data_dir: Path, db_url: str | None, expect_head: str | None, as_json: bool) -> None:
    """Walk the whole chain and check it against the signed checkpoints; exit status 1 if
    anything was tampered with. Entries cut off after the newest checkpoint are caught only
    with --expect-head (or a fresh checkpoint kept elsewhere)."""
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
                    "legacy_entries": result.legacy_entries,
                    "checkpoints": result.checkpoints,
                    "last_checkpoint_seq": result.last_checkpoint_seq,
                }
            )
        )
    elif result.ok:
        console.print(f"[green]audit log OK[/]: {result.entries:,} entries")
        console.print(f"head {result.head_seq}:{result.head_hash}")
        if result.legacy_entries:
            console.print(
                f"legacy segment: entries 1-{result.legacy_entries} were written before the "
                "chain was keyed (unkeyed SHA-256)"
            )
        console.print(
            f"{result.checkpoints} signed checkpoint(s), the newest at entry "
            f"{result.last_checkpoint_seq}"
            if result.checkpoints
            else "no signed checkpoint yet: run `openami audit checkpoint`"
        )
    else:
        console.print(f"[red]audit log TAMPERED[/] ({result.entries:,} entries):")
        for problem in result.problems:
            console.print(f"  - {problem}")
    if not result.ok:
        raise SystemExit(1)


@command.command()
@DATA_DIR
@DB
def checkpoint(data_dir: Path, db_url: str | None) -> None:
    """Sign the log's head now (Ed25519) and append it to DATA_DIR/audit-checkpoints.jsonl.

    `openami serve` does this every 1000 entries and at shutdown; run it (e.g. from cron)
    to narrow what a cut-off tail could hide, and copy the printed line elsewhere."""
    log = _open(data_dir, db_url)
    log.keys = KeyRing(data_dir, create=True)
    try:
        signed = log.checkpoint()
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        log.close()
    if signed is None:
        raise click.ClickException("the audit log is empty: nothing to checkpoint")
    click.echo(f"checkpoint at entry {signed.seq}:{signed.hash}")
    click.echo(json.dumps(asdict(signed), sort_keys=True))


@command.command()
@DATA_DIR
@DB
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
