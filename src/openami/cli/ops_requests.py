"""`openami ops requests`: the back office's view of retailer requests (list, show).

Read-only: it works on the store of a data directory (or ``--db``) while ``openami serve``
runs. It shows what the hub decided and what the head-end returned (the registers read at a
switch, a move or an on-demand read), never a customer's name or contact: requests carry
none.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from openami.cli.options import DATA_DIR, DB
from openami.hub.requests import KINDS
from openami.storage.repositories import DATA_DIR_FILE, Database, open_database
from openami.storage.repositories.requests import STATUSES, RequestRow, RequestStore
from openami.storage.secrets import use_key_dir

console = Console()


def _store(data_dir: Path, db_url: str | None) -> RequestStore:
    if db_url is None and not (data_dir / DATA_DIR_FILE).exists():
        raise click.ClickException(f"no store in {data_dir} (give --data-dir or --db)")
    database: Database = open_database(db_url or data_dir / DATA_DIR_FILE)
    use_key_dir(database, data_dir)
    return RequestStore(database)


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@click.group("requests")
def requests_group() -> None:
    """Retailer requests as the hub recorded them (switching, reconnect, disconnect,
    suspension, on-demand reads, moves, contract changes)."""


@requests_group.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only requests in this status.")
@click.option("--kind", type=click.Choice(KINDS), help="Only requests of this kind.")
@click.option("--retailer", help="Only this retailer's requests.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@DATA_DIR
@DB
def list_requests(
    status: str | None,
    kind: str | None,
    retailer: str | None,
    limit: int,
    as_json: bool,
    data_dir: Path,
    db_url: str | None,
) -> None:
    """The newest requests first."""
    rows = _store(data_dir, db_url).recent(limit, status, kind, retailer)
    if as_json:
        for row in rows:
            click.echo(json.dumps(_summary(row)))
        return
    table = Table("request", "kind", "retailer", "supply point", "effective", "status", "error")
    for row in rows:
        table.add_row(
            row.request_id,
            row.kind,
            row.retailer_id,
            row.supply_point_id,
            row.effective_date,
            row.status,
            row.error_code or "",
        )
    console.print(table)
    if not rows:
        console.print("no requests match")


@requests_group.command("show")
@click.argument("request_id")
@DATA_DIR
@DB
def show_request(request_id: str, data_dir: Path, db_url: str | None) -> None:
    """One request: its input, its result and every status it went through."""
    store = _store(data_dir, db_url)
    row = store.request(request_id[:40])
    if row is None:
        raise click.ClickException(f"no request {request_id[:40]!r}")
    out = _summary(row)
    out["history"] = [
        {"status": s, "at": _at(at), "error_code": code}
        for s, at, code in store.history(row.request_id)
    ]
    click.echo(json.dumps(out, indent=2, ensure_ascii=False))


def _summary(row: RequestRow) -> dict[str, object]:
    return {
        "request_id": row.request_id,
        "kind": row.kind,
        "retailer_id": row.retailer_id,
        "supply_point_id": row.supply_point_id,
        "effective_date": row.effective_date,
        "status": row.status,
        "error_code": row.error_code,
        "error_message": row.error_message,
        "received_at": _at(row.received_at),
        "updated_at": _at(row.updated_at),
        "detail": json.loads(row.detail) if row.detail else None,
        "result": json.loads(row.result) if row.result else None,
    }
