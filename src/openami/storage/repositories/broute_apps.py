"""B-route service applications and the credentials issued for them.

One method, one transaction. Passwords are sealed under the master key
(:class:`openami.storage.secrets.SecretBox`), bound to ``broute-password/<application>/<version>``
so a sealed value copied to another row or version does not open; they leave the store
only through :meth:`BrouteApplicationStore.take_password_once` (the customer's one view),
:meth:`BrouteApplicationStore.credentials_to_provision` (the HES writing the meter) and
:meth:`BrouteApplicationStore.meter_credentials` (the emulated meter reading what it holds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openami.meter.broute_credentials import BrouteCredentials
from openami.storage.secrets import SecretBox, secret_box
from openami.storage.sql.broute_tables import broute_applications as _b
from openami.storage.sql.database import Database
from openami.storage.sql.errors import Conflict, refusals_as

LIVE_STATUSES = ("applied", "issued", "provisioned", "notified")


@dataclass(frozen=True)
class BrouteApplication:
    """An application as stored, without its password."""

    application_id: str
    supply_point_key: int
    meter_id: int | None
    applicant: str
    retailer_id: str | None
    customer_id: str | None
    status: str
    reason: str | None
    credential_version: int
    rbid: str | None
    meter_version: int | None
    correlation_id: int | None
    created_at: float
    updated_at: float
    issued_at: float | None
    provisioned_at: float | None
    notified_at: float | None
    shown_at: float | None
    revoked_at: float | None


_COLUMNS = [getattr(_b.c, f) for f in BrouteApplication.__dataclass_fields__]


def _row(row: Any) -> BrouteApplication:
    return BrouteApplication(*row)


def _what(application_id: str, version: int) -> str:
    return f"broute-password/{application_id}/{version}"


class BrouteApplicationStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._box: SecretBox | None = None

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = secret_box(self.database)
        return self._box

    # -- reading ---------------------------------------------------------------------------
    def get(self, application_id: str) -> BrouteApplication | None:
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(*_COLUMNS).where(_b.c.application_id == application_id)
            ).first()
        return None if row is None else _row(row)

    def _list(self, condition: sa.ColumnElement[bool]) -> list[BrouteApplication]:
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(*_COLUMNS).where(condition).order_by(_b.c.created_at)
            ).all()
        return [_row(r) for r in rows]

    def of_customer(self, customer_id: str, keys: list[int]) -> list[BrouteApplication]:
        """Applications the customer made, or for points the customer holds."""
        return self._list(sa.or_(_b.c.customer_id == customer_id, _b.c.supply_point_key.in_(keys)))

    def of_retailer(self, retailer_id: str) -> list[BrouteApplication]:
        return self._list(_b.c.retailer_id == retailer_id)

    def of_status(self, statuses: tuple[str, ...]) -> list[BrouteApplication]:
        return self._list(_b.c.status.in_(statuses))

    def in_flight(self) -> list[BrouteApplication]:
        """Applications waiting for a HES command's outcome."""
        return self._list(_b.c.correlation_id.is_not(None))

    def live_of_point(self, supply_point_key: int) -> BrouteApplication | None:
        rows = self._list(_b.c.live_key == supply_point_key)
        return rows[0] if rows else None

    # -- changes ---------------------------------------------------------------------------
    def create(
        self,
        application_id: str,
        supply_point_key: int,
        meter_id: int | None,
        applicant: str,
        retailer_id: str | None,
        customer_id: str | None,
        now_s: float,
    ) -> BrouteApplication:
        """A new ``applied`` application; ``AlreadyExists`` when the point has a live one."""
        with self.database.write() as connection, refusals_as("a live B-route application"):
            connection.execute(
                _b.insert().values(
                    application_id=application_id,
                    supply_point_key=supply_point_key,
                    live_key=supply_point_key,
                    meter_id=meter_id,
                    applicant=applicant,
                    retailer_id=retailer_id,
                    customer_id=customer_id,
                    status="applied",
                    credential_version=0,
                    created_at=now_s,
                    updated_at=now_s,
                )
            )
        made = self.get(application_id)
        assert made is not None
        return made

    def _update(
        self, application_id: str, where: sa.ColumnElement[bool] | None, **values: Any
    ) -> bool:
        condition = _b.c.application_id == application_id
        if where is not None:
            condition = sa.and_(condition, where)
        with self.database.write() as connection:
            result = connection.execute(_b.update().where(condition).values(**values))
        return result.rowcount == 1

    def issue(self, application_id: str, rbid: str, password: str, now_s: float) -> int:
        """Store a new pair as the next credential version (status ``issued``); returns it."""
        with self.database.write() as connection:
            version = connection.execute(
                sa.select(_b.c.credential_version).where(
                    _b.c.application_id == application_id, _b.c.live_key.is_not(None)
                )
            ).scalar()
            if version is None:
                raise Conflict(f"application {application_id} is not live")
            new = int(version) + 1
            connection.execute(
                _b.update()
                .where(_b.c.application_id == application_id)
                .values(
                    credential_version=new,
                    rbid=rbid,
                    password_sealed=self.box.seal(password, _what(application_id, new)),
                    status="issued",
                    reason=None,
                    issued_at=now_s,
                    shown_at=None,
                    updated_at=now_s,
                )
            )
        return new

    def set_command(self, application_id: str, correlation_id: int | None, now_s: float) -> None:
        self._update(application_id, None, correlation_id=correlation_id, updated_at=now_s)

    def confirm_meter(self, application_id: str, version: int, now_s: float) -> None:
        """The meter holds ``version`` (read-back confirmed): ``provisioned``."""
        with self.database.write() as connection:
            connection.execute(
                _b.update()
                .where(
                    _b.c.application_id == application_id,
                    _b.c.credential_version == version,
                    _b.c.live_key.is_not(None),
                )
                .values(
                    meter_version=version,
                    meter_rbid=_b.c.rbid,
                    meter_password_sealed=_b.c.password_sealed,
                    status="provisioned",
                    provisioned_at=now_s,
                    correlation_id=None,
                    updated_at=now_s,
                )
            )

    def clear_meter(self, application_id: str, now_s: float) -> None:
        """The meter forgot its pair (read-back confirmed)."""
        self._update(
            application_id,
            None,
            meter_version=None,
            meter_rbid=None,
            meter_password_sealed=None,
            correlation_id=None,
            updated_at=now_s,
        )

    def mark_notified(self, application_id: str, now_s: float) -> None:
        self._update(
            application_id,
            _b.c.status == "provisioned",
            status="notified",
            notified_at=now_s,
            updated_at=now_s,
        )

    def fail(self, application_id: str, reason: str, now_s: float) -> None:
        """``failed`` with ``reason``; the point may be applied for again."""
        self._update(
            application_id,
            _b.c.live_key.is_not(None),
            status="failed",
            reason=reason[:300],
            live_key=None,
            correlation_id=None,
            updated_at=now_s,
        )

    def revoke(self, application_id: str, reason: str, now_s: float) -> bool:
        """``revoked``: the issued pair is dropped (the meter's is cleared by a command)."""
        return self._update(
            application_id,
            _b.c.live_key.is_not(None),
            status="revoked",
            reason=reason[:300],
            live_key=None,
            rbid=None,
            password_sealed=None,
            revoked_at=now_s,
            updated_at=now_s,
        )

    # -- secrets ---------------------------------------------------------------------------
    def take_password_once(self, application_id: str, version: int, now_s: float) -> str | None:
        """The password of ``version``, the first time only (None afterwards)."""
        with self.database.write() as connection:
            sealed = connection.execute(
                sa.select(_b.c.password_sealed).where(
                    _b.c.application_id == application_id,
                    _b.c.credential_version == version,
                    _b.c.shown_at.is_(None),
                    _b.c.live_key.is_not(None),
                )
            ).scalar()
            if sealed is None:
                return None
            connection.execute(
                _b.update().where(_b.c.application_id == application_id).values(shown_at=now_s)
            )
        return self.box.open(str(sealed), _what(application_id, version))

    def credentials_to_provision(self, meter_id: int, version: int) -> BrouteCredentials | None:
        """The pair a HES command for ``meter_id`` should write: the live application's
        ``version`` (None when it is not, e.g. superseded or revoked)."""
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(_b.c.application_id, _b.c.rbid, _b.c.password_sealed).where(
                    _b.c.meter_id == meter_id,
                    _b.c.credential_version == version,
                    _b.c.live_key.is_not(None),
                    _b.c.password_sealed.is_not(None),
                )
            ).first()
        if row is None:
            return None
        password = self.box.open(str(row.password_sealed), _what(row.application_id, version))
        return BrouteCredentials(str(row.rbid), password)

    def held_by_meters(self) -> dict[int, BrouteCredentials]:
        """Every meter's confirmed pair (to restore the meter models after a restart)."""
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(
                    _b.c.meter_id,
                    _b.c.application_id,
                    _b.c.meter_version,
                    _b.c.meter_rbid,
                    _b.c.meter_password_sealed,
                )
                .where(_b.c.meter_password_sealed.is_not(None), _b.c.meter_id.is_not(None))
                .order_by(_b.c.updated_at)
            ).all()
        return {
            int(r.meter_id): BrouteCredentials(
                str(r.meter_rbid),
                self.box.open(
                    str(r.meter_password_sealed), _what(r.application_id, int(r.meter_version))
                ),
            )
            for r in rows
        }

    def meter_credentials(self, meter_id: int) -> BrouteCredentials | None:
        """What the meter ``meter_id`` was last confirmed to hold (the emulated meters'
        source); None when it holds nothing."""
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(
                    _b.c.application_id,
                    _b.c.meter_version,
                    _b.c.meter_rbid,
                    _b.c.meter_password_sealed,
                )
                .where(_b.c.meter_id == meter_id, _b.c.meter_password_sealed.is_not(None))
                .order_by(_b.c.updated_at.desc())
            ).first()
        if row is None:
            return None
        what = _what(row.application_id, int(row.meter_version))
        return BrouteCredentials(
            str(row.meter_rbid), self.box.open(str(row.meter_password_sealed), what)
        )
