"""Retailer requests and on-demand data jobs, in the registry's SQLite file.

- ``retailer_requests``: one row per request (switching start, reconnect, disconnect, ampere
  change) with its current status, error code and the HES correlation ID once scheduled;
- ``retailer_request_events``: every status transition (append-only), for the audit trail;
- ``data_jobs`` / ``data_job_chunks``: asynchronous half-hour value jobs and their result
  chunks (JSON text, one row per chunk).

Instants are Unix seconds; days are ISO ``YYYY-MM-DD`` (JST).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openami.storage.sqlite_registry import SqliteRegistryStore

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS retailer_requests (
        request_id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        retailer_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        supply_point_key INTEGER,
        supply_point_id TEXT NOT NULL,
        effective_date TEXT NOT NULL,
        amperage_a INTEGER,
        status TEXT NOT NULL,
        error_code TEXT,
        error_message TEXT,
        correlation_id INTEGER,
        received_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        undo TEXT)""",
    "CREATE INDEX IF NOT EXISTS retailer_requests_sp ON retailer_requests(supply_point_key)",
    "CREATE INDEX IF NOT EXISTS retailer_requests_corr ON retailer_requests(correlation_id)",
    "CREATE INDEX IF NOT EXISTS retailer_requests_status ON retailer_requests(status)",
    """CREATE TABLE IF NOT EXISTS retailer_request_events (
        request_id TEXT NOT NULL,
        status TEXT NOT NULL,
        at REAL NOT NULL,
        error_code TEXT)""",
    "CREATE INDEX IF NOT EXISTS retailer_request_events_id ON retailer_request_events(request_id)",
    """CREATE TABLE IF NOT EXISTS data_jobs (
        job_id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        retailer_id TEXT NOT NULL,
        first_day TEXT NOT NULL,
        last_day TEXT NOT NULL,
        supply_points TEXT NOT NULL,
        status TEXT NOT NULL,
        chunks_total INTEGER NOT NULL,
        chunks_done INTEGER NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        error_message TEXT)""",
    "CREATE INDEX IF NOT EXISTS data_jobs_status ON data_jobs(status)",
    """CREATE TABLE IF NOT EXISTS data_job_chunks (
        job_id TEXT NOT NULL,
        chunk_no INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (job_id, chunk_no))""",
)

OPEN_STATUSES = ("received", "accepted", "scheduled")

_REQ_COLS = (
    "request_id, client_id, retailer_id, kind, supply_point_key, supply_point_id, "
    "effective_date, amperage_a, status, error_code, error_message, correlation_id, "
    "received_at, updated_at"
)
_JOB_COLS = (
    "job_id, client_id, retailer_id, first_day, last_day, supply_points, status, "
    "chunks_total, chunks_done, created_at, updated_at, error_message"
)


@dataclass(frozen=True)
class RequestRow:
    request_id: str
    client_id: str
    retailer_id: str
    kind: str
    supply_point_key: int | None
    supply_point_id: str
    effective_date: str
    amperage_a: int | None
    status: str
    error_code: str | None
    error_message: str | None
    correlation_id: int | None
    received_at: float
    updated_at: float


@dataclass(frozen=True)
class JobRow:
    job_id: str
    client_id: str
    retailer_id: str
    first_day: str
    last_day: str
    supply_points: str  # JSON list of [supply_point_key, supply_point_id]
    status: str
    chunks_total: int
    chunks_done: int
    created_at: float
    updated_at: float
    error_message: str | None


class RequestStore:
    def __init__(self, store: SqliteRegistryStore) -> None:
        self.store = store
        for statement in SCHEMA:
            store.execute(statement)

    # -- retailer requests ------------------------------------------------------------------
    def add_request(self, row: RequestRow) -> None:
        marks = ", ".join("?" for _ in range(14))
        with self.store._lock:
            self.store.execute(
                f"INSERT INTO retailer_requests ({_REQ_COLS}) VALUES ({marks})",
                (
                    row.request_id,
                    row.client_id,
                    row.retailer_id,
                    row.kind,
                    row.supply_point_key,
                    row.supply_point_id,
                    row.effective_date,
                    row.amperage_a,
                    row.status,
                    row.error_code,
                    row.error_message,
                    row.correlation_id,
                    row.received_at,
                    row.updated_at,
                ),
            )
            self._event(row.request_id, row.status, row.received_at, row.error_code)

    def _event(self, request_id: str, status: str, at: float, code: str | None) -> None:
        self.store.execute(
            "INSERT INTO retailer_request_events (request_id, status, at, error_code) "
            "VALUES (?, ?, ?, ?)",
            (request_id, status, at, code),
        )

    def set_status(
        self,
        request_id: str,
        status: str,
        at: float,
        error_code: str | None = None,
        error_message: str | None = None,
        correlation_id: int | None = None,
        expect: str | None = None,
    ) -> bool:
        """Move a request to ``status`` (only from ``expect`` when given); False if not moved."""
        with self.store._lock:
            sql = (
                "UPDATE retailer_requests SET status = ?, error_code = ?, error_message = ?, "
                "correlation_id = COALESCE(?, correlation_id), updated_at = ? "
                "WHERE request_id = ?"
            )
            params: tuple[Any, ...] = (
                status,
                error_code,
                error_message,
                correlation_id,
                at,
                request_id,
            )
            if expect is not None:
                sql += " AND status = ?"
                params += (expect,)
            self.store.execute(sql, params)
            moved = int(self.store.execute("SELECT changes()")[0][0]) > 0
            if moved:
                self._event(request_id, status, at, error_code)
            return moved

    def set_decision(self, request_id: str, supply_point_key: int, undo: str) -> None:
        """The supply point of an accepted request and how to take its registry change back."""
        self.store.execute(
            "UPDATE retailer_requests SET supply_point_key = ?, undo = ? WHERE request_id = ?",
            (supply_point_key, undo, request_id),
        )

    def undo_of(self, request_id: str) -> str | None:
        rows = self.store.execute(
            "SELECT undo FROM retailer_requests WHERE request_id = ?", (request_id,)
        )
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def request(self, request_id: str) -> RequestRow | None:
        rows = self.store.execute(
            f"SELECT {_REQ_COLS} FROM retailer_requests WHERE request_id = ?", (request_id,)
        )
        return RequestRow(*rows[0]) if rows else None

    def requests_of(self, client_id: str, limit: int, offset: int) -> list[RequestRow]:
        rows = self.store.execute(
            f"SELECT {_REQ_COLS} FROM retailer_requests WHERE client_id = ? "
            "ORDER BY received_at, request_id LIMIT ? OFFSET ?",
            (client_id, limit, offset),
        )
        return [RequestRow(*r) for r in rows]

    def open_for_supply_point(self, supply_point_key: int) -> list[RequestRow]:
        marks = ", ".join("?" for _ in OPEN_STATUSES)
        rows = self.store.execute(
            f"SELECT {_REQ_COLS} FROM retailer_requests WHERE supply_point_key = ? "
            f"AND status IN ({marks})",
            (supply_point_key, *OPEN_STATUSES),
        )
        return [RequestRow(*r) for r in rows]

    def with_status(self, status: str) -> list[RequestRow]:
        rows = self.store.execute(
            f"SELECT {_REQ_COLS} FROM retailer_requests WHERE status = ? "
            "ORDER BY effective_date, received_at",
            (status,),
        )
        return [RequestRow(*r) for r in rows]

    def by_correlation(self, correlation_ids: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for start in range(0, len(correlation_ids), 500):
            chunk = correlation_ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for corr, rid in self.store.execute(
                "SELECT correlation_id, request_id FROM retailer_requests "
                f"WHERE status = 'scheduled' AND correlation_id IN ({marks})",
                chunk,
            ):
                out[int(corr)] = str(rid)
        return out

    def history(self, request_id: str) -> list[tuple[str, float, str | None]]:
        rows = self.store.execute(
            "SELECT status, at, error_code FROM retailer_request_events WHERE request_id = ? "
            "ORDER BY rowid",
            (request_id,),
        )
        return [(str(s), float(a), c) for s, a, c in rows]

    # -- data jobs --------------------------------------------------------------------------
    def add_job(self, row: JobRow) -> None:
        marks = ", ".join("?" for _ in range(12))
        self.store.execute(
            f"INSERT INTO data_jobs ({_JOB_COLS}) VALUES ({marks})",
            (
                row.job_id,
                row.client_id,
                row.retailer_id,
                row.first_day,
                row.last_day,
                row.supply_points,
                row.status,
                row.chunks_total,
                row.chunks_done,
                row.created_at,
                row.updated_at,
                row.error_message,
            ),
        )

    def job(self, job_id: str) -> JobRow | None:
        rows = self.store.execute(f"SELECT {_JOB_COLS} FROM data_jobs WHERE job_id = ?", (job_id,))
        return JobRow(*rows[0]) if rows else None

    def unfinished_jobs(self, limit: int) -> list[JobRow]:
        rows = self.store.execute(
            f"SELECT {_JOB_COLS} FROM data_jobs WHERE status IN ('queued', 'running') "
            "ORDER BY created_at, job_id LIMIT ?",
            (limit,),
        )
        return [JobRow(*r) for r in rows]

    def add_chunk(self, job_id: str, chunk_no: int, body: str, at: float, total: int) -> None:
        """Store a result chunk and advance the job (one transaction)."""
        with self.store._lock:
            self.store.execute("BEGIN IMMEDIATE")
            try:
                self.store.execute(
                    "INSERT OR REPLACE INTO data_job_chunks (job_id, chunk_no, body) "
                    "VALUES (?, ?, ?)",
                    (job_id, chunk_no, body),
                )
                done = chunk_no + 1
                self.store.execute(
                    "UPDATE data_jobs SET chunks_done = ?, updated_at = ?, status = ? "
                    "WHERE job_id = ?",
                    (done, at, "completed" if done >= total else "running", job_id),
                )
            except BaseException:
                self.store.execute("ROLLBACK")
                raise
            self.store.execute("COMMIT")

    def set_job_status(self, job_id: str, status: str, at: float, message: str | None) -> None:
        self.store.execute(
            "UPDATE data_jobs SET status = ?, updated_at = ?, error_message = ? WHERE job_id = ?",
            (status, at, message, job_id),
        )

    def chunk(self, job_id: str, chunk_no: int) -> str | None:
        rows = self.store.execute(
            "SELECT body FROM data_job_chunks WHERE job_id = ? AND chunk_no = ?",
            (job_id, chunk_no),
        )
        return str(rows[0][0]) if rows else None
