"""Retailer requests and on-demand data jobs.

- ``retailer_requests``: one row per request (switching start, reconnect, disconnect, ampere
  change, suspend, resume, on-demand read, move-in/out, contract change) with its current
  status, error code, the HES correlation ID once scheduled, its kind-specific input and
  its result (JSON);
- ``retailer_request_events``: every status transition (append-only), for the audit trail;
- ``data_jobs`` / ``data_job_chunks``: asynchronous half-hour value jobs and their result
  chunks (JSON text, one row per chunk).

Instants are Unix seconds; days are ISO ``YYYY-MM-DD`` (JST). A status change and its event
are one transaction; a change guarded by ``expect`` happens only from that status, so two
workers racing for the same transition move it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass
from typing import Any

import sqlalchemy as sa

from openami.storage.repositories.claims import Claims
from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as
from openami.storage.sql.upsert import insert_if_absent

OPEN_STATUSES = ("received", "accepted", "held", "scheduled")
#: every status a request can have: the open ones, then the final ones
STATUSES = (*OPEN_STATUSES, "completed", "failed", "rejected", "cancelled", "expired")
UNFINISHED_JOB_STATUSES = ("queued", "running")
_CHUNK = 500  # correlation IDs per IN (...) list


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
    detail: str | None = None  # JSON: kind-specific input (contract kW, supply plan)
    result: str | None = None  # JSON: what the request returned (e.g. registers read)


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


_r = t.retailer_requests
_REQUEST_COLUMNS = tuple(_r.c[name] for name in RequestRow.__dataclass_fields__)
_j = t.data_jobs
_JOB_COLUMNS = tuple(_j.c[name] for name in JobRow.__dataclass_fields__)


def _requests(rows: Sequence[Any]) -> list[RequestRow]:
    return [RequestRow(*row) for row in rows]


class RequestStore:
    def __init__(self, database: Database, claim_ttl_s: float = 120.0) -> None:
        self.database = database
        #: data jobs are claimed by one hub process at a time (``claims.py``)
        self.job_claims = Claims(database, _j, "job_id", claim_ttl_s)

    # -- retailer requests ------------------------------------------------------------------
    def add_request(self, row: RequestRow) -> None:
        """Store a new request and its first event (one transaction)."""
        values = dict(zip(RequestRow.__dataclass_fields__, astuple(row), strict=True))
        with self.database.write() as connection, refusals_as(f"request {row.request_id}"):
            connection.execute(_r.insert().values(**values))
            _event(connection, row.request_id, row.status, row.received_at, row.error_code)

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
        """Move a request to ``status`` (only from ``expect`` when given) and record the
        event, in one transaction; False if not moved."""
        where = [_r.c.request_id == request_id]
        kept = _r.c.correlation_id if correlation_id is None else correlation_id
        if expect is not None:
            where.append(_r.c.status == expect)
        with self.database.write() as connection:
            moved = connection.execute(
                _r.update()
                .where(*where)
                .values(
                    status=status,
                    error_code=error_code,
                    error_message=error_message,
                    correlation_id=kept,
                    updated_at=at,
                )
            ).rowcount
            if moved:
                _event(connection, request_id, status, at, error_code)
        return bool(moved)

    def set_decision(self, request_id: str, supply_point_key: int, undo: str) -> None:
        """The supply point of an accepted request and how to take its registry change back."""
        with self.database.write() as connection:
            connection.execute(
                _r.update()
                .where(_r.c.request_id == request_id)
                .values(supply_point_key=supply_point_key, undo=undo)
            )

    def set_result(self, request_id: str, result: str) -> None:
        """What the request returned (JSON), stored before it is marked completed."""
        with self.database.write() as connection:
            connection.execute(
                _r.update().where(_r.c.request_id == request_id).values(result=result)
            )

    def latest_of_kinds(
        self,
        supply_point_key: int,
        kinds: Sequence[str],
        statuses: Sequence[str],
        on_or_before: str = "9999-12-31",
    ) -> RequestRow | None:
        """The supply point's request of one of ``kinds`` in one of ``statuses`` with the
        latest effective date up to ``on_or_before`` (ISO day; then the latest received)."""
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(*_REQUEST_COLUMNS)
                .where(
                    _r.c.supply_point_key == supply_point_key,
                    _r.c.kind.in_(list(kinds)),
                    _r.c.status.in_(list(statuses)),
                    _r.c.effective_date <= on_or_before,
                )
                .order_by(_r.c.effective_date.desc(), _r.c.received_at.desc())
                .limit(1)
            ).first()
        return None if row is None else RequestRow(*row)

    def undo_of(self, request_id: str) -> str | None:
        with self.database.read() as connection:
            undo = connection.execute(
                sa.select(_r.c.undo).where(_r.c.request_id == request_id)
            ).scalar()
        return None if undo is None else str(undo)

    def request(self, request_id: str) -> RequestRow | None:
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(*_REQUEST_COLUMNS).where(_r.c.request_id == request_id)
            ).first()
        return None if row is None else RequestRow(*row)

    def requests_of(self, client_id: str, limit: int, offset: int) -> list[RequestRow]:
        with self.database.read() as connection:
            return _requests(
                connection.execute(
                    sa.select(*_REQUEST_COLUMNS)
                    .where(_r.c.client_id == client_id)
                    .order_by(_r.c.received_at, _r.c.request_id)
                    .limit(limit)
                    .offset(offset)
                ).all()
            )

    def open_for_supply_point(self, supply_point_key: int) -> list[RequestRow]:
        with self.database.read() as connection:
            return _requests(
                connection.execute(
                    sa.select(*_REQUEST_COLUMNS).where(
                        _r.c.supply_point_key == supply_point_key,
                        _r.c.status.in_(OPEN_STATUSES),
                    )
                ).all()
            )

    def with_status(self, status: str) -> list[RequestRow]:
        with self.database.read() as connection:
            return _requests(
                connection.execute(
                    sa.select(*_REQUEST_COLUMNS)
                    .where(_r.c.status == status)
                    .order_by(_r.c.effective_date, _r.c.received_at)
                ).all()
            )

    def recent(
        self,
        limit: int,
        status: str | None = None,
        kind: str | None = None,
        retailer_id: str | None = None,
    ) -> list[RequestRow]:
        """The newest requests first (the back office's view), filtered when asked."""
        query = sa.select(*_REQUEST_COLUMNS)
        if status is not None:
            query = query.where(_r.c.status == status)
        if kind is not None:
            query = query.where(_r.c.kind == kind)
        if retailer_id is not None:
            query = query.where(_r.c.retailer_id == retailer_id)
        query = query.order_by(_r.c.received_at.desc(), _r.c.request_id).limit(limit)
        with self.database.read() as connection:
            return _requests(connection.execute(query).all())

    def by_correlation(self, correlation_ids: list[int]) -> dict[int, str]:
        """Scheduled requests by their HES correlation ID."""
        out: dict[int, str] = {}
        with self.database.read() as connection:
            for start in range(0, len(correlation_ids), _CHUNK):
                chunk = correlation_ids[start : start + _CHUNK]
                for correlation_id, request_id in connection.execute(
                    sa.select(_r.c.correlation_id, _r.c.request_id).where(
                        _r.c.status == "scheduled", _r.c.correlation_id.in_(chunk)
                    )
                ):
                    out[int(correlation_id)] = str(request_id)
        return out

    def history(self, request_id: str) -> list[tuple[str, float, str | None]]:
        """Every status the request went through: (status, at, error code), in order."""
        e = t.retailer_request_events
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(e.c.status, e.c.at, e.c.error_code)
                .where(e.c.request_id == request_id)
                .order_by(e.c.event_id)
            ).all()
        return [(str(s), float(a), c) for s, a, c in rows]

    # -- data jobs --------------------------------------------------------------------------
    def add_job(self, row: JobRow) -> None:
        values = dict(zip(JobRow.__dataclass_fields__, astuple(row), strict=True))
        with self.database.write() as connection, refusals_as(f"job {row.job_id}"):
            connection.execute(_j.insert().values(**values))

    def job(self, job_id: str) -> JobRow | None:
        with self.database.read() as connection:
            row = connection.execute(sa.select(*_JOB_COLUMNS).where(_j.c.job_id == job_id)).first()
        return None if row is None else JobRow(*row)

    def unfinished_jobs(self, limit: int) -> list[JobRow]:
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(*_JOB_COLUMNS)
                .where(_j.c.status.in_(UNFINISHED_JOB_STATUSES))
                .order_by(_j.c.created_at, _j.c.job_id)
                .limit(limit)
            ).all()
        return [JobRow(*row) for row in rows]

    def claim_job(self, owner: str) -> JobRow | None:
        """Claim the oldest unfinished job no other hub process holds (or ``owner``'s own)."""
        keys = self.job_claims.claim(
            owner, _j.c.status.in_(UNFINISHED_JOB_STATUSES), (_j.c.created_at, _j.c.job_id), 1
        )
        return self.job(str(keys[0])) if keys else None

    def add_chunk(self, job_id: str, chunk_no: int, body: str, at: float, total: int) -> bool:
        """Store result chunk ``chunk_no`` and advance the job past it (one transaction).
        The chunk is claimed: only the writer that finds the job at ``chunks_done ==
        chunk_no`` stores it; False (nothing changed) for any other."""
        with self.database.write() as connection:
            done = chunk_no + 1
            advanced = connection.execute(
                _j.update()
                .where(_j.c.job_id == job_id, _j.c.chunks_done == chunk_no)
                .values(
                    chunks_done=done,
                    updated_at=at,
                    status="completed" if done >= total else "running",
                )
            ).rowcount
            if not advanced:
                return False
            insert_if_absent(
                connection,
                t.data_job_chunks,
                {"job_id": job_id, "chunk_no": chunk_no, "body": body},
                ("job_id", "chunk_no"),
            )
        return True

    def set_job_status(self, job_id: str, status: str, at: float, message: str | None) -> None:
        with self.database.write() as connection:
            connection.execute(
                _j.update()
                .where(_j.c.job_id == job_id)
                .values(status=status, updated_at=at, error_message=message)
            )

    def chunk(self, job_id: str, chunk_no: int) -> str | None:
        c = t.data_job_chunks
        with self.database.read() as connection:
            body = connection.execute(
                sa.select(c.c.body).where(c.c.job_id == job_id, c.c.chunk_no == chunk_no)
            ).scalar()
        return None if body is None else str(body)


def _event(
    connection: sa.Connection, request_id: str, status: str, at: float, code: str | None
) -> None:
    connection.execute(
        t.retailer_request_events.insert().values(
            request_id=request_id, status=status, at=at, error_code=code
        )
    )
