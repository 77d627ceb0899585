"""Database errors as clear domain errors: what broke which rule, never a driver's exception."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


class StorageError(ValueError):
    """A change the transactional store refused (the database is unchanged)."""


class AlreadyExists(StorageError):
    """A row with the same key (or unique value) is stored already."""


class MissingReference(StorageError):
    """The row refers to something that is not stored (a foreign key)."""


class InvalidValue(StorageError):
    """A value breaks a rule of its table (a CHECK or NOT NULL constraint)."""


_SQLSTATE_CLASSES: dict[str, type[StorageError]] = {
    "23505": AlreadyExists,
    "23503": MissingReference,
    "23514": InvalidValue,
    "23502": InvalidValue,
}
_SQLITE_MESSAGES: tuple[tuple[str, type[StorageError]], ...] = (
    ("UNIQUE constraint failed", AlreadyExists),
    ("PRIMARY KEY constraint failed", AlreadyExists),
    ("FOREIGN KEY constraint failed", MissingReference),
    ("CHECK constraint failed", InvalidValue),
    ("NOT NULL constraint failed", InvalidValue),
)


def domain_error(exc: Exception, what: str) -> StorageError:
    """The domain error for an integrity error raised while doing ``what`` (a SQLAlchemy
    error, or a driver's own from a bulk path)."""
    driver_error = getattr(exc, "orig", None) or exc
    state = getattr(driver_error, "sqlstate", None)
    kind = _SQLSTATE_CLASSES.get(str(state)) if state else None
    message = str(driver_error)
    if kind is None:
        kind = next((k for text, k in _SQLITE_MESSAGES if text in message), StorageError)
    reason = {
        AlreadyExists: "it is stored already",
        MissingReference: "it refers to something that is not stored",
        InvalidValue: "a value breaks a rule of the table",
    }.get(kind, "the database refused it")
    return kind(f"{what}: {reason} ({message.splitlines()[0]})")


@contextmanager
def refusals_as(what: str) -> Iterator[None]:
    """Turn integrity errors raised inside into :class:`StorageError` subclasses."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise domain_error(exc, what) from None
    except Exception as exc:
        if not str(getattr(exc, "sqlstate", "") or "").startswith("23"):
            raise
        raise domain_error(exc, what) from None  # psycopg's own, from COPY


class Conflict(StorageError):
    """The stored state does not allow the change (e.g. no open installation to close)."""
