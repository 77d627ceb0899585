"""Storage: the only code that talks to a database or a file format.

- ``repositories``: the transactional store's public surface (registry, clients and tokens,
  OAuth, consents, requests and jobs, webhooks, settings, audit) on SQLite or PostgreSQL,
  with ``open_database`` / ``open_in_data_dir``; ``sql``: its internals (engine, tables,
  Alembic migrations). See ``docs/operations.md``.
- ``duckdb_interval``: register reads and half-hour value versions in DuckDB.
"""
