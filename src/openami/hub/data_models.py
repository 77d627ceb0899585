"""Response shapes of the C-route JSON data API (:mod:`openami.hub.data_api`)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class IntervalValue(BaseModel):
    slot_start: str = Field(description="start of the 30-minute slot, ISO 8601 JST")
    import_wh: int | None
    export_wh: int | None
    quality: str = Field(description="measured, estimated, edited, missing or invalid")
    method: str | None = Field(description="VEE estimation/edit method, if any")
    final: bool
    version: int
    updated_at: str | None = Field(description="when this version was recorded")


class HalfHourValue(BaseModel):
    slot_start: str = Field(description="Start of the 30-minute slot, ISO 8601 in JST")
    import_wh: int | None = Field(description="Energy imported in the slot [Wh]")
    export_wh: int | None = Field(description="Energy exported in the slot [Wh]")
    quality: str = Field(
        description="measured, estimated, edited, missing, invalid or not_yet_available"
    )


class HalfHourDay(BaseModel):
    supply_point_id: str
    date: str
    slots: list[HalfHourValue]


class RegisterRead(BaseModel):
    at: str = Field(description=":00/:30 instant of the read, ISO 8601 JST")
    meter_id: int
    import_register_wh: int
    export_register_wh: int | None
    quality: str
    source: str = Field(description="scheduled, retry, backfill, exchange or bulk")
    final: bool
    updated_at: str | None


class DailySum(BaseModel):
    date: str
    import_wh: int | None
    export_wh: int | None
    slots_with_values: int
    quality: str = Field(description="incomplete, estimated, edited or measured")
    final: bool
    updated_at: str | None


class MonthlySum(BaseModel):
    month: str
    import_wh: int
    export_wh: int
    days: int = Field(description="days with values")
    days_visible: int = Field(description="days of the month the caller may see")
    quality: str
    final: bool
    updated_at: str | None


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(populate_by_name=True)

    supply_point_id: str
    from_: str = Field(alias="from")
    to: str
    total: int = Field(description="items matching in all pages")
    next: str | None = Field(description="URL of the next page, if any")
    items: list[T]


class PointsPage(BaseModel):
    items: list[dict[str, Any]]
    next: str | None
