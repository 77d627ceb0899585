"""The audit log's append-only triggers, as a database at head has them (revision 0002
creates the same ones with its own copy of this text, as revisions never import code that
moves on)."""

from __future__ import annotations

APPEND_ONLY = "the audit log is append-only"


def audit_append_only(dialect: str) -> list[str]:
    """DDL refusing UPDATE and DELETE on ``audit_log`` (and TRUNCATE on PostgreSQL)."""
    if dialect == "postgresql":
        function = (
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}' "
            "USING ERRCODE = 'integrity_constraint_violation'; END $$"
        )
        return [function] + [
            f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
            f"FOR EACH {each} EXECUTE FUNCTION audit_log_append_only()"
            for event, each in (("UPDATE", "ROW"), ("DELETE", "ROW"), ("TRUNCATE", "STATEMENT"))
        ]
    return [
        f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        for event in ("UPDATE", "DELETE")
    ]
