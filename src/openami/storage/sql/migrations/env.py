"""Alembic environment of the transactional store: runs on the connection that
:func:`openami.storage.sql.migrate.upgrade_to_head` hands over (inside its transaction)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "these migrations run through openami.storage.sql.open_database(), which opens the "
        "database and upgrades it to head"
    )
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
