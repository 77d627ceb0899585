"""HTTP API of bulk slot files: ``GET /v1/slot-files`` and ``/v1/slot-files/{file_id}``.

Who sees what (checked on every request, with the bearer token's client):

- a **retailer** lists and downloads its own files only: files are looked up under its own
  retailer ID, so another retailer's file ID answers ``404 unknown_slot_file``, exactly as
  an ID of no file;
- a **third party** (authorization-code token) gets the same passes for the supply points
  of its consent that :func:`openami.hub.consent_access.access` lets it read (kind
  ``half_hour``, the slot's day inside the consent period, consent live): made on request
  from the pass's values, the same as the retailer's file rows for those points;
- any other role: ``403 forbidden``.

Downloads stream with ``ETag``, ``Content-Length`` and ``If-None-Match`` (304). Every
request is audit-logged by the route class; a download adds a read entry. The per-client
rate limit of every API call applies (``current_party``), and a download takes one more
token from a bucket of its own (``<client>:slot-files``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from openami.clock import SLOT_SECONDS, day_of_slot, slot_start_s
from openami.hub.api import ApiError, ctx
from openami.hub.audit import AuditedRoute, record_reads
from openami.hub.consent_access import access
from openami.hub.context import HubContext
from openami.hub.errors import api_error
from openami.hub.oauth import Party, current_party
from openami.hub.oauth_grants import THIRD_PARTY, consent_store
from openami.hub.ratelimit import enforce
from openami.hub.slot_files import (
    FileNameInfo,
    PassInfo,
    SlotFilePort,
    iso,
    slot_file_service,
)

router = APIRouter(route_class=AuditedRoute, tags=["slot files"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ApiError} for s in (401, 403, 404, 422, 429)
}
Ctx = Annotated[HubContext, Depends(ctx)]
Caller = Annotated[Party, Depends(current_party)]


class SlotFileOut(BaseModel):
    file_id: str = Field(description="<slot>-<kind>-<sequence>.<format>")
    kind: str = Field(description="preliminary, deadline or correction")
    sequence: int = Field(description="0, or the correction's number (1, 2, …)")
    format: str = Field(description="parquet or csv")
    rows: int | None = Field(description="supply points in the file (third parties: null)")
    size_bytes: int | None = Field(
        description="file size (null: third parties, and a CSV file not downloaded yet)"
    )
    as_of: str = Field(description="values recorded up to this instant")
    url: str


class SlotFileList(BaseModel):
    slot_start: str
    items: list[SlotFileOut]


def _port(context: HubContext) -> SlotFilePort:
    service = slot_file_service(context)
    if service is None:
        raise api_error(404, "slot_files_disabled", "this hub publishes no slot files")
    return service.port


def _slot(slot_start: datetime) -> int:
    if slot_start.tzinfo is None:
        raise api_error(422, "invalid_slot_start", "slot_start needs a UTC offset (+09:00)")
    epoch_s = slot_start.timestamp()
    if epoch_s % SLOT_SECONDS:
        raise api_error(422, "invalid_slot_start", "slot_start must be a :00 or :30 boundary")
    return int(epoch_s // SLOT_SECONDS)


def _role(party: Party) -> str:
    role = party.client.role
    if role not in ("retailer", THIRD_PARTY):
        raise api_error(403, "forbidden", "only retailers and third parties get slot files")
    return role


def _consented(context: HubContext, party: Party, slot: int) -> tuple[pa.Table, str]:
    """The consented points the third party may read on the slot's day (the one access
    rule, point by point), as the audience of a rendered file; 403 when none."""
    if party.consent_id is None:
        raise api_error(403, "no_consent", "a third party reads with an authorization-code token")
    consent = consent_store(context).get(party.consent_id)
    if consent is None:
        raise api_error(403, "consent_not_live", "the consent is unknown")
    day = day_of_slot(slot)
    keys: list[int] = []
    ids: list[str] = []
    purpose = ""
    refusal: HTTPException | None = None
    for supply_point_id in consent.supply_point_ids:
        try:
            acc = access(context, party, supply_point_id, "half_hour", day, day)
        except HTTPException as exc:
            refusal = refusal or exc
            continue
        keys.append(acc.key)
        ids.append(supply_point_id)
        purpose = acc.purpose
    if not keys:
        raise refusal or api_error(403, "not_in_consent", "the consent covers no supply point")
    audience = pa.table(
        {
            "supply_point_key": pa.array(keys, pa.int64()),
            "supply_point_id": pa.array(ids, pa.string()),
            "recipient": pa.array([0] * len(keys), pa.int32()),
        }
    )
    return audience, purpose


def _pass_items(port: SlotFilePort, passes: Sequence[PassInfo]) -> list[SlotFileOut]:
    return [
        SlotFileOut(
            file_id=name.file_id,
            kind=p.kind,
            sequence=p.seq,
            format=name.fmt,
            rows=None,
            size_bytes=None,
            as_of=iso(p.as_of_s),
            url=f"/v1/slot-files/{name.file_id}",
        )
        for p in passes
        for name in port.file_names(p)
    ]


@router.get("/v1/slot-files", response_model=SlotFileList, responses=_ERRORS)
def list_slot_files(
    context: Ctx,
    party: Caller,
    slot_start: Annotated[
        datetime, Query(description="start of the half-hour slot, ISO 8601 with offset")
    ],
) -> SlotFileList:
    """The caller's files of one slot: preliminary, deadline and corrections, Parquet and
    CSV each. Error codes: invalid_slot_start (422), forbidden, no_consent,
    consent_not_live, kind_not_consented, not_in_consent, outside_consent_period (403)."""
    role = _role(party)
    slot = _slot(slot_start)
    port = _port(context)
    if role == THIRD_PARTY:
        _consented(context, party, slot)
        items = _pass_items(port, port.manifests(slot))
    else:
        items = [
            SlotFileOut(
                file_id=f.file_id,
                kind=f.kind,
                sequence=f.seq,
                format=f.fmt,
                rows=f.rows,
                size_bytes=f.size_bytes,
                as_of=iso(f.as_of_s),
                url=f"/v1/slot-files/{f.file_id}",
            )
            for f in port.files_of(party.client.party_id, slot)
        ]
    return SlotFileList(slot_start=iso(slot_start_s(slot)), items=items)


def _unknown(file_id: str) -> HTTPException:
    return api_error(404, "unknown_slot_file", f"no slot file {file_id} of this client")


@router.get(
    "/v1/slot-files/{file_id}",
    responses={
        200: {
            "description": "the file (Parquet or CSV)",
            "content": {"application/vnd.apache.parquet": {}, "text/csv": {}},
        },
        304: {"description": "not modified (If-None-Match)"},
        **_ERRORS,
    },
)
def download_slot_file(
    context: Ctx,
    party: Caller,
    file_id: Annotated[str, Path(max_length=40, description="<slot>-<kind>-<seq>.<format>")],
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Download one file (streamed). Error codes: invalid_file_id (422), unknown_slot_file
    (404), 403 as the list."""
    role = _role(party)
    port = _port(context)
    name = port.parse_file_id(file_id)
    if name is None:
        raise api_error(422, "invalid_file_id", "a file ID is <slot>-<kind>-<seq>.<format>")
    enforce(context.rate_limits, f"{party.client.client_id}:slot-files", context.clock.timestamp())
    if role == THIRD_PARTY:
        return _third_party_file(context, party, port, name)
    found = port.file(party.client.party_id, file_id)
    if found is None:
        raise _unknown(file_id)
    headers = {
        "ETag": found.etag,
        "Content-Disposition": f'attachment; filename="{found.file_id}"',
        "Cache-Control": "private, no-store",
    }
    if if_none_match is not None and found.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    record_reads(
        context,
        party.client.client_id,
        "slot-file",
        [(f"slot file {found.file_id}", f"{found.rows} supply points")],
    )
    headers["Content-Length"] = str(found.size_bytes)
    return StreamingResponse(
        port.chunks(party.client.party_id, found), media_type=found.media_type, headers=headers
    )


def _third_party_file(
    context: HubContext, party: Party, port: SlotFilePort, name: FileNameInfo
) -> Response:
    audience, purpose = _consented(context, party, name.slot)
    wanted = (name.kind, name.seq)
    manifest = next((p for p in port.manifests(name.slot) if (p.kind, p.seq) == wanted), None)
    if manifest is None:
        raise _unknown(name.file_id)
    body = port.render(manifest, audience, name.fmt)
    slot, file_id = name.slot, name.file_id
    ids = audience.column("supply_point_id").to_pylist()
    period = iso(slot_start_s(slot))
    record_reads(
        context, party.client.client_id, "slot-file", [(sp, period) for sp in ids], purpose
    )
    return Response(
        content=body,
        media_type=port.media_type(name.fmt),
        headers={
            "Content-Disposition": f'attachment; filename="{file_id}"',
            "Cache-Control": "private, no-store",
        },
    )
