"""Storage: the only code that talks to a database or a file format.

- ``sqlite_registry``: the registry (supply points, meters, retailers, links) and client
  credentials in SQLite (embedded default).
- ``duckdb_interval``: register reads and half-hour value versions in DuckDB.
"""
