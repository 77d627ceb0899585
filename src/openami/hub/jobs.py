"""On-demand data jobs: up to 13 months of half-hour values, computed asynchronously.

A retailer asks for 1 to ``MAX_SUPPLY_POINTS`` supply points over a JST day range of at
most 13 months (OCCTO 使用量情報照会 covers the past 13 months), going back no further
than 13 months before today. The job is ``queued``, then ``running`` while a worker
(:meth:`JobService.run_pending`, on the one clock's loop) writes result chunks — one per
supply point and calendar month — and ``completed`` when the last chunk is stored. Each
chunk holds only the days the retailer supplies the point. Status by job id; chunks by
number.
"""

from __future__ import annotations

import json
import threading
import uuid
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import structlog

from openami.clock import JST, SLOT_SECONDS, SLOTS_PER_DAY, day_first_slot, slot_start
from openami.hub.context import HubContext
from openami.hub.values import served_values
from openami.registry import InvalidSupplyPointId
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.requests import JobRow, RequestStore

log = structlog.get_logger(__name__)

MAX_MONTHS = 13
MAX_SUPPLY_POINTS = 100

JOB_ERROR_STATUS = {
    "E_NOT_RETAILER": 403,
    "E_NOT_SUPPLIER": 403,
    "E_UNKNOWN_SUPPLY_POINT": 404,
    "E_INVALID_SUPPLY_POINT": 422,
    "E_NO_SUPPLY_POINTS": 422,
    "E_TOO_MANY_SUPPLY_POINTS": 422,
    "E_BAD_PERIOD": 422,
    "E_PERIOD_TOO_LONG": 422,
    "E_BEYOND_13_MONTHS": 422,
    "E_DATE_IN_FUTURE": 422,
}


@dataclass
class JobRejected(Exception):
    code: str
    message: str

    @property
    def http_status(self) -> int:
        return JOB_ERROR_STATUS.get(self.code, 422)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), clamped to the month's last day."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def plan(first_day: date, last_day: date, points: list[tuple[int, str]]) -> list[_Chunk]:
    """Chunks: per supply point (in order), per calendar month of the period."""
    months: list[tuple[date, date]] = []
    d = first_day
    while d <= last_day:
        end = min(date(d.year, d.month, monthrange(d.year, d.month)[1]), last_day)
        months.append((d, end))
        d = end + timedelta(days=1)
    return [_Chunk(key, sp, a, b) for key, sp in points for a, b in months]


@dataclass(frozen=True)
class _Chunk:
    key: int
    supply_point_id: str
    first_day: date
    last_day: date


class JobService:
    def __init__(self, context: HubContext) -> None:
        self.context = context
        self.store = RequestStore(context.clients.database, context.claim_ttl_s)
        self._lock = threading.Lock()

    def submit(
        self, client: ApiClient, supply_point_ids: list[str], first_day: date, last_day: date
    ) -> JobRow:
        ctx = self.context
        if client.role != "retailer":
            raise JobRejected("E_NOT_RETAILER", "only retailers request data jobs")
        ids = list(dict.fromkeys(supply_point_ids))
        if not ids:
            raise JobRejected("E_NO_SUPPLY_POINTS", "give at least one supply point ID")
        if len(ids) > MAX_SUPPLY_POINTS:
            raise JobRejected(
                "E_TOO_MANY_SUPPLY_POINTS", f"at most {MAX_SUPPLY_POINTS} supply points per job"
            )
        if last_day < first_day:
            raise JobRejected("E_BAD_PERIOD", "last_day is before first_day")
        today = ctx.clock.now().astimezone(JST).date()
        if last_day > today:
            raise JobRejected("E_DATE_IN_FUTURE", f"last_day is after today ({today})")
        if last_day >= add_months(first_day, MAX_MONTHS):
            raise JobRejected(
                "E_PERIOD_TOO_LONG",
                f"at most {MAX_MONTHS} months per job (last_day before "
                f"{add_months(first_day, MAX_MONTHS)})",
            )
        if first_day < add_months(today, -MAX_MONTHS):
            raise JobRejected(
                "E_BEYOND_13_MONTHS",
                f"data is offered for the past {MAX_MONTHS} months (from "
                f"{add_months(today, -MAX_MONTHS)})",
            )
        points: list[tuple[int, str]] = []
        for sp_id in ids:
            try:
                sp = ctx.registry.supply_point(sp_id)
            except InvalidSupplyPointId as exc:
                raise JobRejected("E_INVALID_SUPPLY_POINT", str(exc)) from None
            # an unknown ID is answered as someone else's point: no oracle of valid IDs
            if sp is None or not self._supplied_days(
                sp.supply_point_key, client.party_id, first_day, last_day
            ):
                raise JobRejected(
                    "E_NOT_SUPPLIER",
                    f"{client.party_id} does not supply {sp_id} on any day of the period",
                )
            points.append((sp.supply_point_key, sp_id))
        now = ctx.clock.timestamp()
        row = JobRow(
            job_id=f"job-{uuid.uuid4().hex[:20]}",
            client_id=client.client_id,
            retailer_id=client.party_id,
            first_day=first_day.isoformat(),
            last_day=last_day.isoformat(),
            supply_points=json.dumps(points),
            status="queued",
            chunks_total=len(plan(first_day, last_day, points)),
            chunks_done=0,
            created_at=now,
            updated_at=now,
            error_message=None,
        )
        self.store.add_job(row)
        return row

    def _supplied_days(self, key: int, retailer_id: str, first: date, last: date) -> set[date]:
        return set(self.context.registry.supplied_days(key, retailer_id, first, last))

    def run_pending(self, max_chunks: int = 50) -> int:
        """Compute up to ``max_chunks`` result chunks of the oldest unfinished jobs that no
        other hub process holds: each job is claimed (a lease renewed after every chunk),
        so a job runs in one process at a time; one left by a process that died is taken
        over once its lease has run out, from its first chunk not stored."""
        done = 0
        owner = self.context.replica_id
        with self._lock:
            while done < max_chunks:
                job = self.store.claim_job(owner)
                if job is None:
                    break
                computed = self._run_job(job, owner, max_chunks - done)
                done += computed
                held = self.store.job_claims.holders([job.job_id]).get(job.job_id) == owner
                if held or computed == 0:
                    break  # the budget is spent on an unfinished job, or nothing moved
        return done

    def _run_job(self, job: JobRow, owner: str, max_chunks: int) -> int:
        """Chunks of one claimed job, up to ``max_chunks``; the claim is given up when the
        job ends (completed or failed) and kept while it goes on."""
        points = [(int(k), str(s)) for k, s in json.loads(job.supply_points)]
        chunks = plan(date.fromisoformat(job.first_day), date.fromisoformat(job.last_day), points)
        done = 0
        for no in range(job.chunks_done, len(chunks)):
            if done >= max_chunks:
                return done
            if no == job.chunks_done:
                self.store.set_job_status(
                    job.job_id, "running", self.context.clock.timestamp(), None
                )
            try:
                body = self._chunk_body(job, no, chunks[no], len(chunks))
            except Exception as exc:  # one broken job must not stall the others
                log.exception("data job failed", job=job.job_id, chunk=no)
                self.store.set_job_status(
                    job.job_id,
                    "failed",
                    self.context.clock.timestamp(),
                    f"chunk {no}: {type(exc).__name__}",
                )
                break
            if not self.store.add_chunk(
                job.job_id, no, body, self.context.clock.timestamp(), len(chunks)
            ):
                return done  # another process stored this chunk: it holds the job now
            done += 1
            if not self.store.job_claims.renew(owner, job.job_id):
                return done  # the lease ran out and another process took the job over
        self.store.job_claims.release(owner, job.job_id)
        return done

    def _chunk_body(self, job: JobRow, no: int, chunk: _Chunk, total: int) -> str:
        supplied = self._supplied_days(chunk.key, job.retailer_id, chunk.first_day, chunk.last_day)
        first = day_first_slot(chunk.first_day)
        last = day_first_slot(chunk.last_day) + SLOTS_PER_DAY - 1
        table = served_values(self.context.mdms, chunk.key, first, last)
        imports, exports, qualities = _slot_columns(table, first, last)
        days = []
        for day in sorted(supplied):
            start = day_first_slot(day) - first
            days.append(
                {
                    "date": day.isoformat(),
                    "first_slot_start": slot_start(first + start).isoformat(),
                    "import_wh": imports[start : start + SLOTS_PER_DAY],
                    "export_wh": exports[start : start + SLOTS_PER_DAY],
                    "quality": qualities[start : start + SLOTS_PER_DAY],
                }
            )
        return json.dumps(
            {
                "job_id": job.job_id,
                "chunk": no,
                "chunks_total": total,
                "supply_point_id": chunk.supply_point_id,
                "first_day": chunk.first_day.isoformat(),
                "last_day": chunk.last_day.isoformat(),
                "slot_seconds": SLOT_SECONDS,
                "days": days,
            },
            separators=(",", ":"),
        )


def _slot_columns(
    table: pa.Table, first_slot: int, last_slot: int
) -> tuple[list[int | None], list[int | None], list[str]]:
    """Import, export and quality of every slot of ``[first_slot, last_slot]`` (current
    values; slots without one: no value, ``not_yet_available``)."""
    n = last_slot - first_slot + 1
    position = np.asarray(table.column("slot").to_numpy(), dtype=np.int64) - first_slot
    imports = np.full(n, None, dtype=object)
    exports = np.full(n, None, dtype=object)
    qualities = np.full(n, "not_yet_available", dtype=object)
    imports[position] = table.column("import_wh").to_pylist()
    exports[position] = table.column("export_wh").to_pylist()
    qualities[position] = table.column("quality").to_pylist()
    return imports.tolist(), exports.tolist(), qualities.tolist()


_BUILD_LOCK = threading.Lock()


def job_service(context: HubContext) -> JobService:
    """The context's job service (built on first use)."""
    with _BUILD_LOCK:
        service = context.services.get("jobs")
        if not isinstance(service, JobService):
            service = JobService(context)
            context.services["jobs"] = service
        return service
