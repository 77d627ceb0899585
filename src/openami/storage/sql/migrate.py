"""Open the transactional store and bring its schema to the newest Alembic revision.

The revisions ship inside the package (``migrations/versions``) and run programmatically in
one transaction (on SQLite under the write lock, on PostgreSQL under an advisory lock), so
two processes opening the same database never upgrade it twice.

Files made before Alembic (no ``alembic_version`` table) are upgraded from the first
revision, which describes that schema and creates only what such a file lacks (its stores
created their tables on first use) plus the columns older files lack. A SQLite file's
directory may also hold the pre-Alembic ``audit.sqlite``: the revision that moves the
audit log into this database copies its chain verbatim (sequence numbers and hashes), so it
still verifies; the old file is left untouched and may be deleted afterwards.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from openami.log import get_logger
from openami.storage.sql import engine as engines
from openami.storage.sql.database import Database

#: the SQLite file of a data directory (the name predates Alembic: it holds every table)
DATA_DIR_FILE = "registry.sqlite"
#: the pre-Alembic audit log of a data directory, imported once by revision 0002
LEGACY_AUDIT_FILE = "audit.sqlite"
MIGRATIONS = Path(__file__).parent / "migrations"

log = get_logger(__name__)


def open_database(
    url_or_path: str | Path, upgrade: bool = True, read_only: bool = False
) -> Database:
    """The transactional store at ``url_or_path``: a SQLite file path, ``:memory:``, or a
    URL (``sqlite:///...``, ``postgresql+psycopg://user@host/db``). With ``upgrade`` (the
    default) its schema is brought to head first; ``read_only`` opens an existing database
    as found, for reading only (checks)."""
    url = engines.database_url(url_or_path)
    database = Database(engines.create(url, read_only), url)
    if upgrade and not read_only:
        try:
            upgrade_to_head(database)
        except BaseException:
            database.close()
            raise
    return database


def open_in_data_dir(data_dir: str | Path) -> Database:
    """The SQLite store of a data directory (created 0700 when missing)."""
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True, mode=engines.DIRECTORY_MODE)
    return open_database(directory / DATA_DIR_FILE)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(database: Database) -> str | None:
    """The revision the database is at (None: empty, or made before Alembic)."""
    with database.read() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(database: Database) -> None:
    """Run every revision the database lacks, in one transaction."""
    if current_revision(database) == head_revision():
        return
    config = alembic_config()
    path = database.path
    config.attributes["legacy_audit_path"] = (
        path.parent / LEGACY_AUDIT_FILE if path is not None else None
    )
    with database.write() as connection:
        if database.dialect == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('openami-schema'))"))
        legacy = _made_before_alembic(connection)
        if legacy:
            log.info("upgrading a database made before Alembic", tables=len(legacy))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _made_before_alembic(connection: sa.Connection) -> list[str]:
    """The tables of a database without ``alembic_version`` (empty: not such a database)."""
    names = sa.inspect(connection).get_table_names()
    return [] if "alembic_version" in names else names
