"""One transactional store: request events get an ordering key, settings get a table, and
the audit log moves in (append-only on both engines).

- ``retailer_request_events``: ``event_id`` (autoincrement) replaces SQLite's rowid as the
  order of a request's history; rows are copied in their old order;
- ``settings`` (name → value) replaces the hub's ``espi_settings`` (``id_key`` becomes
  ``espi_id_key``);
- ``audit_log``: the hash-chained log, until now a separate ``audit.sqlite``, with triggers
  refusing UPDATE, DELETE (and on PostgreSQL TRUNCATE). A pre-Alembic ``audit.sqlite`` next
  to a SQLite database is copied in verbatim (same sequence numbers and hashes, so the chain
  still verifies); the old file is left as it was.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EPOCH_S: sa.Double[float] = sa.Double()
APPEND_ONLY = "the audit log is append-only"
AUDIT_COLUMNS = (
    *("seq", "at", "kind", "actor", "action", "subject", "purpose", "detail"),
    *("prev_hash", "hash"),
)


def upgrade() -> None:
    _number_request_events()
    _settings_table()
    _audit_log()


def _number_request_events() -> None:
    physical_order = "rowid" if op.get_bind().dialect.name == "sqlite" else "ctid"
    op.create_table(
        "retailer_request_events_numbered",
        sa.Column("event_id", KEY, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("at", EPOCH_S, nullable=False),
        sa.Column("error_code", sa.Text),
        sqlite_autoincrement=True,
    )
    op.execute(
        "INSERT INTO retailer_request_events_numbered (request_id, status, at, error_code) "
        "SELECT request_id, status, at, error_code FROM retailer_request_events "
        f"ORDER BY {physical_order}"
    )
    op.drop_index("retailer_request_events_id", "retailer_request_events")
    op.drop_table("retailer_request_events")
    op.rename_table("retailer_request_events_numbered", "retailer_request_events")
    op.create_index("retailer_request_events_id", "retailer_request_events", ["request_id"])


def _settings_table() -> None:
    settings = op.create_table(
        "settings",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("espi_settings"):
        return
    rows = bind.execute(sa.text("SELECT name, value FROM espi_settings")).all()
    renamed = {"id_key": "espi_id_key"}
    op.bulk_insert(settings, [{"name": renamed.get(n, n), "value": v} for n, v in rows])
    op.drop_table("espi_settings")


def _audit_log() -> None:
    audit = op.create_table(
        "audit_log",
        sa.Column("seq", KEY, primary_key=True, autoincrement=False),
        sa.Column("at", EPOCH_S, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
    )
    legacy = context.config.attributes.get("legacy_audit_path")
    if legacy is not None and Path(legacy).is_file():
        _copy_legacy_audit(audit, Path(legacy))
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_append_only()
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def _copy_legacy_audit(audit: sa.Table, path: Path) -> None:
    """Copy every entry of a pre-Alembic audit file as it is, in sequence order."""
    source = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        cursor = source.execute(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log ORDER BY seq")
        while rows := cursor.fetchmany(5000):
            op.bulk_insert(audit, [dict(zip(AUDIT_COLUMNS, r, strict=True)) for r in rows])
    finally:
        source.close()


def _postgresql_append_only() -> None:
    op.execute(
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'integrity_constraint_violation'; "
        "END $$"
    )
    for event, each in (("UPDATE", "ROW"), ("DELETE", "ROW"), ("TRUNCATE", "STATEMENT")):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
            f"FOR EACH {each} EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    raise NotImplementedError("the transactional store is not downgraded (restore a backup)")
