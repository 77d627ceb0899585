"""Options shared by the commands that open a data directory's store."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from openami.storage.repositories import DATA_DIR_FILE, Database, open_database, open_in_data_dir
from openami.storage.secrets import use_key_dir

DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("openami-data"),
    show_default=True,
    help=f"Directory holding {DATA_DIR_FILE} and the keys (the same --data-dir as `openami demo`).",
)
DB = click.option(
    "--db",
    "db_url",
    default=None,
    metavar="URL",
    help="The database instead of --data-dir (e.g. postgresql+psycopg://user@host/openami); "
    "its keys stay in --data-dir.",
)


def open_store(data_dir: Path, db_url: str | None) -> Database:
    """The transactional store of ``--data-dir``, or of ``--db`` with its keys (the audit
    key among them) kept in ``--data-dir``."""
    if not db_url:
        return open_in_data_dir(data_dir)
    database = open_database(db_url)
    use_key_dir(database, data_dir)
    return database


def cli_actor() -> str:
    """Who a command acts as in the audit log: ``cli:`` and the operating-system user."""
    return f"cli:{getpass.getuser()}"


def host_port(
    ctx: click.Context | None, param: click.Parameter | None, text: str | None
) -> tuple[str, int] | None:
    """A ``HOST:PORT`` option's value as (host, port); None when not given."""
    if text is None:
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 0xFFFF:
        raise click.BadParameter(f"HOST:PORT, e.g. 127.0.0.1:4060, not {text!r}")
    return host, int(port)
