"""Options shared by the commands that open a data directory's store."""

from __future__ import annotations

from pathlib import Path

import click

from openami.storage.repositories import DATA_DIR_FILE

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
