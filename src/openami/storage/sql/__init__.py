"""Internals of the transactional store (SQLAlchemy Core + Alembic on SQLite or PostgreSQL).

- :func:`open_database` (``url_or_path``): the engine, ``alembic upgrade head`` and a
  :class:`Database` that hands out the repositories of :mod:`openami.storage.repositories`;
- ``engine``: engine settings per backend (WAL, busy timeout, foreign keys, pool, file modes);
- ``tables``: the table definitions at head; ``migrations/``: the Alembic revisions;
- ``migrate``: upgrades (also of pre-Alembic files), ``errors``: integrity errors as domain
  errors.

Only :mod:`openami.storage` imports this package.

Adding a table (e.g. the HES command queue): add its ``sa.Table`` to ``tables.py``; add a
revision ``migrations/versions/NNNN_what.py`` whose ``down_revision`` is the current head
and whose ``upgrade()`` creates it with ``op.create_table`` (spell the columns out: a
revision never imports ``tables.py``, which moves on); add a repository module in
``openami.storage.repositories`` taking a :class:`Database` and running each method in one
``database.read()`` / ``database.write()`` block; then a property on :class:`Database` if
callers should get it from there. ``tests/storage/test_sql_migrations.py`` checks that head
matches ``tables.py`` on both engines.
"""

from openami.storage.sql.database import Database
from openami.storage.sql.errors import (
    AlreadyExists,
    Conflict,
    InvalidValue,
    MissingReference,
    StorageError,
)
from openami.storage.sql.migrate import DATA_DIR_FILE, open_database, open_in_data_dir

__all__ = [
    "DATA_DIR_FILE",
    "AlreadyExists",
    "Conflict",
    "Database",
    "InvalidValue",
    "MissingReference",
    "StorageError",
    "open_database",
    "open_in_data_dir",
]
