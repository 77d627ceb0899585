"""The transactional store: one engine, its transactions and the repositories built on it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from openami.storage.sql import engine as engines

if TYPE_CHECKING:
    from openami.storage.repositories.audit import AuditLog
    from openami.storage.repositories.clients import ClientStore
    from openami.storage.repositories.consents import ConsentStore
    from openami.storage.repositories.oauth import OAuthStore
    from openami.storage.repositories.registry import RegistryRepository
    from openami.storage.repositories.requests import RequestStore
    from openami.storage.repositories.settings import SettingsStore
    from openami.storage.repositories.webhooks import WebhookStore


class Database:
    """One transactional database (SQLite file or memory, or PostgreSQL).

    :meth:`read` and :meth:`write` hand out a connection inside a transaction that commits
    (write) or rolls back (read) when the block ends; a repository method runs its
    statements in one of them, so every multi-statement change is all or nothing.
    Repositories share the engine's connection pool and are safe to use from many threads.
    """

    def __init__(self, engine: sa.Engine, url: URL) -> None:
        self.engine = engine
        self.url = url
        self._writer = engine.execution_options(**{engines.WRITE_OPTION: True})
        # a memory database is one connection: one thread at a time
        self._memory_lock = threading.RLock() if engines.is_memory(url) else None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return str(self.engine.dialect.name)

    @property
    def path(self) -> Path | None:
        """The SQLite file, None for a memory or PostgreSQL database."""
        if self.dialect != "sqlite" or engines.is_memory(self.url):
            return None
        return Path(str(self.url.database))

    def _exclusive(self) -> AbstractContextManager[object]:
        return self._memory_lock if self._memory_lock is not None else nullcontext()

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A connection in a read transaction (one snapshot), rolled back at the end."""
        with self._exclusive(), self.engine.connect() as connection:
            yield connection

    @contextmanager
    def driver_read(self) -> Iterator[Any]:
        """A pooled driver connection for one read statement (autocommit on SQLite; the
        pool rolls PostgreSQL's implicit transaction back on return). Fast path only: see
        :mod:`openami.storage.sql.prepared`."""
        with self._exclusive():
            connection = self.engine.raw_connection()
            try:
                yield connection.driver_connection
            finally:
                connection.close()

    @staticmethod
    def driver_of(connection: sa.Connection) -> Any:
        """The driver connection under a SQLAlchemy connection (inside its transaction)."""
        return connection.connection.driver_connection

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A connection in a write transaction, committed at the end (rolled back on error).
        On SQLite it holds the write lock from its start."""
        with self._exclusive(), self._writer.begin() as connection:
            yield connection

    def close(self) -> None:
        """Close every pooled connection (repositories must not be used afterwards)."""
        self.engine.dispose()

    # -- repositories ----------------------------------------------------------------------
    @cached_property
    def registry(self) -> RegistryRepository:
        from openami.storage.repositories.registry import RegistryRepository

        return RegistryRepository(self)

    @cached_property
    def clients(self) -> ClientStore:
        from openami.storage.repositories.clients import ClientStore

        return ClientStore(self)

    @cached_property
    def oauth(self) -> OAuthStore:
        from openami.storage.repositories.oauth import OAuthStore

        return OAuthStore(self)

    @cached_property
    def consents(self) -> ConsentStore:
        from openami.storage.repositories.consents import ConsentStore

        return ConsentStore(self)

    @cached_property
    def requests(self) -> RequestStore:
        from openami.storage.repositories.requests import RequestStore

        return RequestStore(self)

    @cached_property
    def webhooks(self) -> WebhookStore:
        from openami.storage.repositories.webhooks import WebhookStore

        return WebhookStore(self)

    @cached_property
    def audit(self) -> AuditLog:
        from openami.storage.repositories.audit import AuditLog

        return AuditLog(self)

    @cached_property
    def settings(self) -> SettingsStore:
        from openami.storage.repositories.settings import SettingsStore

        return SettingsStore(self)
