"""Green Button "Download My Data" of the customer portal (issue #18 §5).

- ``GET /my/points/{id}/download.xml?from=YYYY-MM-DD&to=YYYY-MM-DD``: one ESPI Atom feed
  (the same writer and documents as the C route's ESPI feeds, :mod:`openami.hub.espi_feed`):
  LocalTimeParameters, the two ReadingTypes, the UsagePoint, its import and export
  MeterReadings and one IntervalBlock per JST day and direction;
- ``GET /my/points/{id}/download.csv?...``: the same half-hour values as CSV, one row per
  slot with a value: ``supply_point_id, slot_start, import_wh, export_wh, quality, final``
  (``slot_start`` as the data API writes it, ISO 8601 with ``+09:00``).

Both are the point's served current values (:func:`openami.hub.values.served_values`),
what ``/v1/supply-points/{id}/intervals`` gives for the same days. At most
:data:`~openami.web.portal_data.MAX_DOWNLOAD_DAYS` days per file; each download counts
against the customer's request budget (``rate_limits``, key ``customer:<id>``) and is in the
audit log as a read of the point and period.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Annotated

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from openami.clock import JST, SLOT_SECONDS
from openami.hub.audit import record_reads
from openami.hub.context import HubContext
from openami.hub.espi_access import Point, with_rated_current
from openami.hub.espi_feed import blocks, feed, point_values
from openami.hub.espi_ids import id_key, usage_point_id
from openami.hub.espi_window import Window
from openami.hub.ratelimit import enforce
from openami.protocols.espi import jp
from openami.protocols.espi.feeds import FeedBuilder, local_time_entry, reading_type_entry
from openami.web.common import FIRST_DAY, LAST_DAY, bad_request, hub
from openami.web.portal import PointId
from openami.web.portal_auth import PURPOSE_OWN_DATA, CustomerSession
from openami.web.portal_data import MAX_DOWNLOAD_DAYS, own_point, period_values

router = APIRouter(prefix="/my", include_in_schema=False)
SUBSCRIPTION = "DownloadMyData"  # the feed's subscription segment (no customer data in it)
DayQ = Annotated[str | None, Query(max_length=10)]
CSV_COLUMNS = ("supply_point_id", "slot_start", "import_wh", "export_wh", "quality", "final")


def _days(first_text: str | None, last_text: str | None, context: HubContext) -> list[date]:
    today = context.clock.now().astimezone(JST).date()
    try:
        first = date.fromisoformat(first_text) if first_text else today.replace(day=1)
        last = date.fromisoformat(last_text) if last_text else today
    except ValueError:
        raise bad_request("invalid_date", "from and to are dates (YYYY-MM-DD)") from None
    if not (FIRST_DAY <= first <= LAST_DAY and FIRST_DAY <= last <= LAST_DAY):
        raise bad_request("invalid_date", f"dates lie between {FIRST_DAY} and {LAST_DAY}")
    if last < first:
        raise bad_request("invalid_period", "to comes before from")
    if (last - first).days >= MAX_DOWNLOAD_DAYS:
        raise bad_request("period_too_long", f"at most {MAX_DOWNLOAD_DAYS} days per download")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _start(
    request: Request, session: CustomerSession, sp_id: str, first: DayQ, last: DayQ, what: str
) -> tuple[HubContext, int, list[date]]:
    """Checks common to both downloads: the point is the customer's, the budget, the days;
    then the audit entry."""
    context = hub(request)
    customer_id = session.operator.name
    key = own_point(context, customer_id, sp_id)
    enforce(context.rate_limits, f"customer:{customer_id}", context.clock.timestamp())
    days = _days(first, last, context)
    record_reads(
        context,
        f"customer:{customer_id}",
        f"portal download {what}",
        [(sp_id, f"{days[0]}..{days[-1]}")],
        purpose=PURPOSE_OWN_DATA,
    )
    return context, key, days


def _attachment(response: Response, sp_id: str, days: list[date], suffix: str) -> Response:
    name = f"openami-{sp_id}-{days[0]:%Y%m%d}-{days[-1]:%Y%m%d}.{suffix}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.get("/points/{supply_point_id}/download.xml")
def download_espi(
    request: Request,
    session: CustomerSession,
    supply_point_id: PointId,
    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    context, key, days = _start(request, session, supply_point_id, first, last, "espi")
    point = Point(key, supply_point_id, usage_point_id(id_key(context), supply_point_id), days)
    point = with_rated_current(context, [point])[0]
    now = context.clock.now()
    builder = FeedBuilder(SUBSCRIPTION, now)
    values = point_values(context, [point])
    everything = Window(days, None, None, 1, 1)
    entries = [local_time_entry(now), *(reading_type_entry(d, now) for d in jp.DIRECTIONS)]
    entries.append(builder.usage_point(point))
    for direction in jp.DIRECTIONS:
        entries.append(builder.meter_reading(point, direction))
        entries.extend(blocks(builder, point, direction, values, everything))
    response = feed(
        jp.child_uuid(point.usage_point_id, f"{SUBSCRIPTION}/{days[0]}/{days[-1]}"),
        "Green Button Download My Data",
        now,
        (),
        entries,
    )
    return _attachment(response, supply_point_id, days, "xml")


def csv_table(sp_id: str, values: pa.Table) -> pa.Table:
    """The CSV's columns from current values (columnar: no Python object per value)."""
    slots = np.asarray(values.column("slot").to_numpy(), dtype=np.int64)
    jst = (slots * SLOT_SECONDS + 9 * 3600).astype("datetime64[s]")
    starts = np.char.add(np.datetime_as_string(jst, unit="s").astype(str), "+09:00")
    return pa.table(
        {
            "supply_point_id": pa.array(np.full(len(slots), sp_id)),
            "slot_start": pa.array(starts),
            "import_wh": values.column("import_wh"),
            "export_wh": values.column("export_wh"),
            "quality": values.column("quality"),
            "final": values.column("final"),
        }
    )


@router.get("/points/{supply_point_id}/download.csv")
def download_csv(
    request: Request,
    session: CustomerSession,
    supply_point_id: PointId,
    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    context, key, days = _start(request, session, supply_point_id, first, last, "csv")
    values = period_values(context, key, days[0], days[-1])
    out = io.BytesIO()
    pacsv.write_csv(
        csv_table(supply_point_id, values),
        out,
        pacsv.WriteOptions(quoting_style="none"),
    )
    response = Response(content=out.getvalue(), media_type="text/csv; charset=utf-8")
    return _attachment(response, supply_point_id, days, "csv")
