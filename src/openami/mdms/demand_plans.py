"""Demand plans (需要計画) of balancing groups: kWh per 30-minute slot and area, for one
JST day, with gate closure one hour before each slot.

A submission names every area it plans for, each with exactly the day's 48 slots of
non-negative energy in kWh (at most three decimals: 1 Wh). It replaces the group's plan
for the day as a new version; the versions before stay as history. A slot whose gate has
closed (``slot start − 1 h`` has passed) keeps its energy: a submission that would change
one (also by leaving out an area planned before: no plan counts as 0 kWh) is refused
whole with ``E_GATE_CLOSED``, nothing is stored. Bodies are JSON
(``{"unit": "kWh", "areas": {"03": [48 numbers]}}``) or CSV (header
``area_code,slot,energy_kwh``, slot 1…48, 1 = 00:00–00:30 JST).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from openami.clock import jst_day_of_s, slot_start_s, slots_of_day
from openami.registry import AREAS
from openami.storage.repositories.balancing import PLAN_SCHEMA, DemandPlanStore, PlanSubmission
from openami.storage.sql import Conflict

GATE_CLOSURE_S = 3600.0  # the plan of a slot is fixed one hour before the slot starts
MAX_DAYS_AHEAD = 366
#: above any area's half hour (Tokyo's peak of about 60 GW is 30 GWh a slot): 100 GWh
MAX_SLOT_KWH = Decimal(100_000_000)
UNIT = "kWh"
CSV_HEADER = ("area_code", "slot", "energy_kwh")
CONTENT_TYPES = ("application/json", "text/csv")


class PlanRejected(ValueError):
    """A plan submission that breaks a rule: nothing of it is stored."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad(code: str, message: str) -> PlanRejected:
    return PlanRejected(422, code, message)


def gate_closure_s(slot: int) -> float:
    """When the plan of ``slot`` (absolute slot index) is fixed [Unix s]."""
    return float(slot_start_s(slot)) - GATE_CLOSURE_S


def closed_slots_of_day(day: date, now_s: float) -> list[int]:
    """Positions 0…47 of the day's slots whose gate has closed at ``now_s``."""
    return [i for i, s in enumerate(slots_of_day(day)) if now_s >= gate_closure_s(s)]


def _energy_wh(raw: Any, where: str) -> int:
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except InvalidOperation:
        raise _bad("E_BAD_VALUE", f"{where}: {str(raw)[:20]!r} is not a number") from None
    if isinstance(raw, bool) or not value.is_finite():
        raise _bad("E_BAD_VALUE", f"{where}: not a finite number")
    if value < 0:
        raise _bad("E_NEGATIVE", f"{where}: energy must not be negative")
    if value > MAX_SLOT_KWH:
        raise _bad("E_BAD_VALUE", f"{where}: more than {MAX_SLOT_KWH} kWh in one slot")
    wh = value * 1000
    if wh != wh.to_integral_value():
        raise _bad("E_BAD_VALUE", f"{where}: at most three decimals of kWh (1 Wh)")
    return int(wh)


def _check_area(code: str) -> str:
    if code not in AREAS:
        raise _bad("E_UNKNOWN_AREA", f"unknown area code {code[:8]!r}: one of {', '.join(AREAS)}")
    return code


def _table(areas: dict[str, list[int]]) -> pa.Table:
    if not areas:
        raise _bad("E_EMPTY_PLAN", "a plan names at least one area")
    slots = len(slots_of_day(date(2016, 4, 1)))
    for code, values in areas.items():
        if len(values) != slots:
            raise _bad(
                "E_SLOT_COUNT", f"area {code}: {len(values)} slots, a day has exactly {slots}"
            )
    codes = sorted(areas)
    return pa.table(
        {
            "area_code": [c for c in codes for _ in range(slots)],
            "slot_of_day": [i for _ in codes for i in range(slots)],
            "energy_wh": [wh for c in codes for wh in areas[c]],
        },
        schema=PLAN_SCHEMA,
    )


def parse_json(body: bytes) -> pa.Table:
    """A JSON plan body as :data:`PLAN_SCHEMA` rows (validated)."""
    try:
        doc = json.loads(body, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad("E_BAD_BODY", f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("areas"), dict):
        raise _bad("E_BAD_BODY", 'expected {"unit": "kWh", "areas": {"<area code>": [48 kWh]}}')
    if doc.get("unit") != UNIT:
        raise _bad("E_BAD_UNIT", f"unit must be {UNIT!r}, got {str(doc.get('unit'))[:10]!r}")
    areas: dict[str, list[int]] = {}
    for code, values in doc["areas"].items():
        _check_area(code)
        if not isinstance(values, list):
            raise _bad("E_BAD_BODY", f"area {code}: expected a list of kWh per slot")
        areas[code] = [_energy_wh(v, f"area {code} slot {i + 1}") for i, v in enumerate(values)]
    return _table(areas)


def parse_csv(body: bytes) -> pa.Table:
    """A CSV plan body (``area_code,slot,energy_kwh``, slot 1…48) as rows (validated)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad("E_BAD_BODY", "CSV must be UTF-8") from None
    rows = list(csv.reader(io.StringIO(text)))
    header = tuple(h.strip() for h in rows[0]) if rows else ()
    if len(header) == 3 and header[:2] == CSV_HEADER[:2] and header[2] != CSV_HEADER[2]:
        raise _bad("E_BAD_UNIT", f"the energy column must be {CSV_HEADER[2]!r} (kWh)")
    if header != CSV_HEADER:
        raise _bad("E_BAD_BODY", f"the header must be {','.join(CSV_HEADER)}")
    cells: dict[str, dict[int, int]] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 3:
            raise _bad("E_BAD_BODY", f"line {n}: expected 3 fields")
        code, slot_text, energy = (c.strip() for c in row)
        slots = cells.setdefault(_check_area(code), {})
        if not slot_text.isdigit() or not 1 <= int(slot_text) <= 48 or int(slot_text) in slots:
            raise _bad("E_SLOT_COUNT", f"line {n}: slot must be 1…48, once per area")
        slots[int(slot_text)] = _energy_wh(energy, f"line {n}")
    return _table({c: [s[k] for k in sorted(s)] for c, s in cells.items()})


def parse(body: bytes, content_type: str) -> pa.Table:
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json":
        return parse_json(body)
    if media == "text/csv":
        return parse_csv(body)
    raise PlanRejected(415, "E_UNSUPPORTED_MEDIA_TYPE", f"send {' or '.join(CONTENT_TYPES)}")


def _cells(plan: pa.Table) -> dict[tuple[str, int], int]:
    return {(r["area_code"], r["slot_of_day"]): r["energy_wh"] for r in plan.to_pylist()}


def changed_closed_slots(old: pa.Table, new: pa.Table, closed: list[int]) -> list[str]:
    """``area/slot`` (slot 1…48) of every closed slot whose energy ``new`` would change."""
    before, after = _cells(old), _cells(new)
    areas = sorted({a for a, _ in before} | {a for a, _ in after})
    return [
        f"{a}/{i + 1}"
        for a in areas
        for i in closed
        if before.get((a, i), 0) != after.get((a, i), 0)
    ]


@dataclass
class DemandPlans:
    """Submissions, the current plan and its history (rules here, rows in the store)."""

    store: DemandPlanStore

    def submit(
        self,
        balancing_group_id: str,
        day: date,
        body: bytes,
        content_type: str,
        submitted_by: str,
        now_s: float,
    ) -> PlanSubmission:
        new = parse(body, content_type)
        if (day - jst_day_of_s(now_s)).days > MAX_DAYS_AHEAD:
            raise _bad("E_DATE_TOO_FAR", f"plans reach at most {MAX_DAYS_AHEAD} days ahead")
        version, old = self.store.current(balancing_group_id, day)
        changed = changed_closed_slots(old, new, closed_slots_of_day(day, now_s))
        if changed:
            shown = ", ".join(changed[:10]) + (" …" if len(changed) > 10 else "")
            raise PlanRejected(
                409,
                "E_GATE_CLOSED",
                f"gate closure (1 h before the slot) has passed for {len(changed)} planned "
                f"area slot(s) this submission would change: {shown}; nothing was stored",
            )
        total = int(sum(new.column("energy_wh").to_pylist()))
        media = content_type.split(";")[0].strip().lower()
        submission = PlanSubmission(
            balancing_group_id, day, version + 1, now_s, submitted_by, media, total
        )
        try:
            self.store.submit(submission, version, new)
        except Conflict:
            raise PlanRejected(
                409, "E_PLAN_CONFLICT", "another submission was stored meanwhile; send it again"
            ) from None
        return submission

    def current(self, balancing_group_id: str, day: date) -> tuple[int, pa.Table]:
        return self.store.current(balancing_group_id, day)

    def history(self, balancing_group_id: str, day: date) -> list[PlanSubmission]:
        return self.store.history(balancing_group_id, day)
