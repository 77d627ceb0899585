"""Open the transactional store and bring its schema to the newest Alembic revision.

The revisions ship inside the package (``migrations/versions``) and run programmatically in
one transaction (on SQLite under the write lock, on PostgreSQL under an advisory lock), so
two processes opening the same database never upgrade it twice. A database already at head
costs one query; an empty one is created at head from the table definitions and stamped
(Alembic's "create from scratch" recipe: the same schema as running every revision, which
``tests/storage/test_sql_migrations.py`` checks, in a fraction of the time).

Files made before Alembic (no ``alembic_version`` table) are upgraded from the first
revision, which describes that schema and creates only what such a file lacks (its stores
created their tables on first use) plus the columns older files lack. A SQLite file's
directory may also hold the pre-Alembic ``audit.sqlite``: the revision that moves the
audit log into this database copies its chain verbatim (sequence numbers and hashes), so it
still verifies; the old file is left untouched and may be deleted afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from openami.log import get_logger
from openami.storage.sql import engine as engines
from openami.storage.sql import tables
from openami.storage.sql.database import Database
from openami.storage.sql.triggers import audit_append_only

if TYPE_CHECKING:
    from alembic.config import Config

#: the SQLite file of a data directory (the name predates Alembic: it holds every table)
DATA_DIR_FILE = "registry.sqlite"
#: the pre-Alembic audit log of a data directory, imported once by revision 0002
LEGACY_AUDIT_FILE = "audit.sqlite"
MIGRATIONS = Path(__file__).parent / "migrations"
#: the newest revision in ``migrations/versions`` (a test checks it against Alembic's head)
HEAD_REVISION = "0020_web_sessions"

_versions = sa.MetaData()
alembic_version = sa.Table(
    "alembic_version",
    _versions,
    sa.Column("version_num", sa.String(32), primary_key=True),
)

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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The head of the shipped revisions, as Alembic reads them."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(database: Database) -> str | None:
    """The revision the database is at (None: empty, or made before Alembic)."""
    with database.read() as connection:
        return _stored_revision(connection)


def _stored_revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table(alembic_version.name):
        return None
    return connection.execute(sa.select(alembic_version.c.version_num)).scalar()


def upgrade_to_head(database: Database) -> None:
    """Bring the database to head in one transaction (nothing to do when it is there)."""
    if current_revision(database) == HEAD_REVISION:
        return
    path = database.path
    legacy_audit = path.parent / LEGACY_AUDIT_FILE if path is not None else None
    with database.write() as connection:
        if database.dialect == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('openami-schema'))"))
        if _stored_revision(connection) == HEAD_REVISION:
            return  # another process upgraded it while this one waited
        names = sa.inspect(connection).get_table_names()
        if not names and not (legacy_audit is not None and legacy_audit.is_file()):
            _create_at_head(connection)
            return
        if alembic_version.name not in names:
            log.info("upgrading a database made before Alembic", tables=len(names))
        _run_revisions(connection, legacy_audit)


def _create_at_head(connection: sa.Connection) -> None:
    tables.metadata.create_all(connection)
    for statement in audit_append_only(connection.dialect.name):
        connection.exec_driver_sql(statement)
    _versions.create_all(connection)
    connection.execute(alembic_version.insert().values(version_num=HEAD_REVISION))


def _run_revisions(connection: sa.Connection, legacy_audit: Path | None) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["legacy_audit_path"] = legacy_audit
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
