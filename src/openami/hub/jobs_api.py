"""HTTP API of on-demand data jobs: ``/v1/jobs`` (see :mod:`openami.hub.jobs`)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic import BaseModel, Field

from openami.clock import JST
from openami.hub.api import ApiError, ctx, current_client
from openami.hub.audit import AuditedRoute, record_reads
from openami.hub.context import HubContext
from openami.hub.jobs import MAX_SUPPLY_POINTS, JobRejected, job_service
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.requests import JobRow

router = APIRouter(route_class=AuditedRoute, tags=["data jobs"])

Ctx = Annotated[HubContext, Depends(ctx)]
Client = Annotated[ApiClient, Depends(current_client)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ApiError} for s in (401, 403, 404, 409, 422, 429)
}


class JobIn(BaseModel):
    supply_point_ids: list[str] = Field(
        max_length=10 * MAX_SUPPLY_POINTS, description=f"1 to {MAX_SUPPLY_POINTS} supply point IDs"
    )
    first_day: date = Field(description="first JST day")
    last_day: date = Field(description="last JST day (inclusive); at most 13 months in all")


class JobOut(BaseModel):
    job_id: str
    status: str = Field(description="queued, running, completed or failed")
    first_day: str
    last_day: str
    supply_points: int
    chunks_total: int
    chunks_done: int
    chunk_urls: list[str] = Field(description="URLs of the chunks ready so far")
    created_at: str
    updated_at: str


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).isoformat()


def _out(job: JobRow) -> JobOut:

    return JobOut(
        job_id=job.job_id,
        status=job.status,
        first_day=job.first_day,
        last_day=job.last_day,
        supply_points=len(json.loads(job.supply_points)),
        chunks_total=job.chunks_total,
        chunks_done=job.chunks_done,
        chunk_urls=[f"/v1/jobs/{job.job_id}/chunks/{n}" for n in range(job.chunks_done)],
        created_at=_iso(job.created_at),
        updated_at=_iso(job.updated_at),
    )


def _own(context: HubContext, client: ApiClient, job_id: str) -> JobRow:
    job = job_service(context).store.job(job_id)
    if job is None or job.client_id != client.client_id:
        raise HTTPException(
            status_code=404, detail={"code": "E_UNKNOWN_JOB", "message": f"no job {job_id}"}
        )
    return job


@router.post("/v1/jobs", status_code=202, response_model=JobOut, responses=_ERRORS)
def create_job(context: Ctx, client: Client, body: JobIn) -> JobOut:
    """Ask for half-hour values of up to 13 months; poll the job, then fetch its chunks.

    Error codes: E_NOT_RETAILER, E_NOT_SUPPLIER, E_UNKNOWN_SUPPLY_POINT,
    E_INVALID_SUPPLY_POINT, E_NO_SUPPLY_POINTS, E_TOO_MANY_SUPPLY_POINTS, E_BAD_PERIOD,
    E_PERIOD_TOO_LONG, E_BEYOND_13_MONTHS, E_DATE_IN_FUTURE.
    """
    try:
        job = job_service(context).submit(
            client, body.supply_point_ids, body.first_day, body.last_day
        )
    except JobRejected as exc:
        raise HTTPException(
            status_code=exc.http_status, detail={"code": exc.code, "message": exc.message}
        ) from None
    return _out(job)


@router.get("/v1/jobs/{job_id}", response_model=JobOut, responses=_ERRORS)
def get_job(context: Ctx, client: Client, job_id: Annotated[str, Path(max_length=64)]) -> JobOut:
    """Status of a job and the chunks ready so far."""
    return _out(_own(context, client, job_id))


@router.get(
    "/v1/jobs/{job_id}/chunks/{chunk_no}",
    responses={
        200: {"description": "one chunk (JSON)", "content": {"application/json": {}}},
        **_ERRORS,
    },
)
def get_chunk(
    context: Ctx,
    client: Client,
    job_id: Annotated[str, Path(max_length=64)],
    chunk_no: Annotated[int, Path(ge=0, le=1_000_000)],
) -> Response:
    """One result chunk: one supply point, one calendar month (only days it is supplied)."""
    job = _own(context, client, job_id)
    if chunk_no >= job.chunks_total:
        raise HTTPException(
            status_code=404,
            detail={"code": "E_NO_SUCH_CHUNK", "message": f"the job has {job.chunks_total}"},
        )
    body = job_service(context).store.chunk(job_id, chunk_no)
    if body is None:
        raise HTTPException(
            status_code=409,
            detail={"code": "E_CHUNK_NOT_READY", "message": "not computed yet; poll the job"},
        )

    head = json.loads(body)
    record_reads(
        context,
        client.client_id,
        "job-chunk",
        [(str(head["supply_point_id"]), f"{head['first_day']}/{head['last_day']}")],
    )
    return Response(content=body, media_type="application/json")
