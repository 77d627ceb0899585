"""Balancing groups' demand plans: versioned submissions per (group, JST day).

A submission is stored whole (every area and slot it names) as the next version of the
group's plan for the day, in one transaction, and only if the newest stored version is the
one the caller checked its rules against (``expected_version``): otherwise
:class:`openami.storage.sql.Conflict` and nothing is stored. The rules themselves (slot
counts, units, gate closure) are :mod:`openami.mdms.demand_plans`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import sqlalchemy as sa

from openami.storage.sql import tables as t
from openami.storage.sql.balancing_tables import (
    demand_plan_submissions,
    demand_plan_values,
)
from openami.storage.sql.database import Database
from openami.storage.sql.errors import Conflict, refusals_as

#: a plan's values: area, slot of the JST day (0…47) and energy [Wh], by area and slot
PLAN_SCHEMA = pa.schema(
    [("area_code", pa.string()), ("slot_of_day", pa.int64()), ("energy_wh", pa.int64())]
)
#: the current plans of a day: the group and its version, then :data:`PLAN_SCHEMA`
DAY_PLANS_SCHEMA = pa.schema(
    [("balancing_group_id", pa.string()), ("version", pa.int64()), *PLAN_SCHEMA]
)

_s, _v = demand_plan_submissions, demand_plan_values


@dataclass(frozen=True)
class PlanSubmission:
    balancing_group_id: str
    day: date
    version: int
    submitted_at: float
    submitted_by: str  # the API client's id
    content_type: str
    energy_wh: int  # Σ over every area and slot


def _empty_plan() -> pa.Table:
    return PLAN_SCHEMA.empty_table()


class DemandPlanStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def group_exists(self, balancing_group_id: str) -> bool:
        bg = t.balancing_groups
        with self.database.read() as connection:
            found = connection.execute(
                sa.select(bg.c.balancing_group_id).where(
                    bg.c.balancing_group_id == balancing_group_id
                )
            ).first()
        return found is not None

    def current(self, balancing_group_id: str, day: date) -> tuple[int, pa.Table]:
        """The newest version of the group's plan for ``day`` and its values (version 0 and
        no values when none was submitted)."""
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(_s.c.submission_id, _s.c.version)
                .where(_s.c.balancing_group_id == balancing_group_id, _s.c.day == day.isoformat())
                .order_by(_s.c.version.desc())
                .limit(1)
            ).first()
            if row is None:
                return 0, _empty_plan()
            return int(row[1]), self._values(connection, int(row[0]))

    def version(self, balancing_group_id: str, day: date, version: int) -> pa.Table | None:
        """The values of one stored version (None if there is no such version)."""
        with self.database.read() as connection:
            found = connection.execute(
                sa.select(_s.c.submission_id).where(
                    _s.c.balancing_group_id == balancing_group_id,
                    _s.c.day == day.isoformat(),
                    _s.c.version == version,
                )
            ).scalar()
            return None if found is None else self._values(connection, int(found))

    @staticmethod
    def _values(connection: sa.Connection, submission_id: int) -> pa.Table:
        rows = connection.execute(
            sa.select(_v.c.area_code, _v.c.slot_of_day, _v.c.energy_wh)
            .where(_v.c.submission_id == submission_id)
            .order_by(_v.c.area_code, _v.c.slot_of_day)
        ).all()
        return pa.table(
            {
                "area_code": [r[0] for r in rows],
                "slot_of_day": [int(r[1]) for r in rows],
                "energy_wh": [int(r[2]) for r in rows],
            },
            schema=PLAN_SCHEMA,
        )

    def submit(
        self,
        submission: PlanSubmission,
        expected_version: int,
        values: pa.Table,
    ) -> None:
        """Store ``values`` (:data:`PLAN_SCHEMA`) as version ``expected_version + 1``
        (``submission.version`` must say so); :class:`Conflict` if another version was
        stored since ``expected_version`` was read."""
        if submission.version != expected_version + 1:
            raise ValueError("a submission is the version after the one it was checked against")
        what = f"plan of {submission.balancing_group_id} for {submission.day}"
        with self.database.write() as connection, refusals_as(what):
            newest = connection.execute(
                sa.select(sa.func.coalesce(sa.func.max(_s.c.version), 0)).where(
                    _s.c.balancing_group_id == submission.balancing_group_id,
                    _s.c.day == submission.day.isoformat(),
                )
            ).scalar_one()
            if int(newest) != expected_version:
                raise Conflict(f"{what}: version {newest} was stored meanwhile")
            submission_id = connection.execute(
                _s.insert()
                .values(
                    balancing_group_id=submission.balancing_group_id,
                    day=submission.day.isoformat(),
                    version=submission.version,
                    submitted_at=submission.submitted_at,
                    submitted_by=submission.submitted_by,
                    content_type=submission.content_type,
                )
                .returning(_s.c.submission_id)
            ).scalar_one()
            if values.num_rows:
                connection.execute(
                    _v.insert(),
                    [{"submission_id": submission_id, **row} for row in values.to_pylist()],
                )

    def history(self, balancing_group_id: str, day: date) -> list[PlanSubmission]:
        """Every submission of the group's plan for ``day``, oldest first."""
        total = sa.func.coalesce(sa.func.sum(_v.c.energy_wh), 0)
        query = (
            sa.select(_s.c.version, _s.c.submitted_at, _s.c.submitted_by, _s.c.content_type, total)
            .select_from(_s.outerjoin(_v, _v.c.submission_id == _s.c.submission_id))
            .where(_s.c.balancing_group_id == balancing_group_id, _s.c.day == day.isoformat())
            .group_by(_s.c.submission_id, _s.c.version, _s.c.submitted_at)
            .group_by(_s.c.submitted_by, _s.c.content_type)
            .order_by(_s.c.version)
        )
        with self.database.read() as connection:
            rows = connection.execute(query).all()
        return [
            PlanSubmission(balancing_group_id, day, int(v), float(at), by, ctype, int(wh))
            for v, at, by, ctype, wh in rows
        ]

    def plans_on(self, day: date) -> pa.Table:
        """The current (newest) plan of every balancing group for ``day``:
        :data:`DAY_PLANS_SCHEMA`, by group, area and slot."""
        newest = (
            sa.select(_s.c.balancing_group_id, sa.func.max(_s.c.version).label("version"))
            .where(_s.c.day == day.isoformat())
            .group_by(_s.c.balancing_group_id)
            .subquery()
        )
        query = (
            sa.select(
                _s.c.balancing_group_id,
                _s.c.version,
                _v.c.area_code,
                _v.c.slot_of_day,
                _v.c.energy_wh,
            )
            .join_from(
                _s,
                newest,
                sa.and_(
                    _s.c.balancing_group_id == newest.c.balancing_group_id,
                    _s.c.version == newest.c.version,
                ),
            )
            .join(_v, _v.c.submission_id == _s.c.submission_id)
            .where(_s.c.day == day.isoformat())
            .order_by(_s.c.balancing_group_id, _v.c.area_code, _v.c.slot_of_day)
        )
        with self.database.read() as connection:
            rows = connection.execute(query).all()
        names = DAY_PLANS_SCHEMA.names
        return pa.table(
            {name: [r[i] for r in rows] for i, name in enumerate(names)}, schema=DAY_PLANS_SCHEMA
        )
