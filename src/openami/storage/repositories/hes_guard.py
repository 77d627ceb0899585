"""What the HES's switching guard remembers: the remote operations it admitted (for its
fleet-wide cap and replay detection) and the commands it refused, with the reason."""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa

from openami.storage.repositories.switching import StopFlag, read_stop_flag
from openami.storage.sql.database import Database
from openami.storage.sql.switching_tables import (
    hes_command_refusals,
    hes_remote_operations,
    switching_alerts,
)

_o = hes_remote_operations
_r = hes_command_refusals


class HesGuardStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def stop_flag(self) -> StopFlag:
        return read_stop_flag(self.database)

    def admitted_since(self, since_s: float) -> int:
        with self.database.read() as connection:
            return int(
                connection.execute(
                    sa.select(sa.func.count()).select_from(_o).where(_o.c.admitted_at >= since_s)
                ).scalar()
                or 0
            )

    def seen(self, request_id: str | None, signature: str | None) -> bool:
        """Whether a remote operation with this request id or signature was admitted."""
        terms = []
        if request_id:
            terms.append(_o.c.request_id == request_id)
        if signature:
            terms.append(_o.c.signature == signature)
        if not terms:
            return False
        with self.database.read() as connection:
            return (
                connection.execute(sa.select(_o.c.correlation_id).where(sa.or_(*terms))).first()
                is not None
            )

    def record(
        self,
        admitted: Sequence[tuple[int, int, int, float, str | None, str | None]],
        refused: Sequence[tuple[int, int, int, str | None, str, float]],
    ) -> None:
        """Admitted (correlation id, meter id, kind, at, request id, signature) and refused
        (correlation id, meter id, kind, request id, reason, at) commands, one transaction."""
        with self.database.write() as connection:
            if admitted:
                connection.execute(
                    _o.insert(),
                    [
                        {
                            "correlation_id": c,
                            "meter_id": m,
                            "kind": k,
                            "admitted_at": at,
                            "request_id": rq,
                            "signature": sig,
                        }
                        for c, m, k, at, rq, sig in admitted
                    ],
                )
            if refused:
                connection.execute(
                    _r.insert(),
                    [
                        {
                            "correlation_id": c,
                            "meter_id": m,
                            "kind": k,
                            "request_id": rq,
                            "reason": reason,
                            "refused_at": at,
                        }
                        for c, m, k, rq, reason, at in refused
                    ],
                )

    def add_alert(self, at: float, scope: str, detail: dict[str, object]) -> None:
        """A cap the HES hit (source ``hes``), with the operators' alerts."""
        with self.database.write() as connection:
            connection.execute(
                switching_alerts.insert().values(
                    at=at, source="hes", scope=scope, scope_key="*", detail=json.dumps(detail)
                )
            )

    def refusal(self, correlation_id: int) -> str | None:
        with self.database.read() as connection:
            reason = connection.execute(
                sa.select(_r.c.reason).where(_r.c.correlation_id == int(correlation_id))
            ).scalar()
        return None if reason is None else str(reason)

    def refusals(self, limit: int = 1000) -> list[tuple[int, int, int, str | None, str, float]]:
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(
                    _r.c.correlation_id,
                    _r.c.meter_id,
                    _r.c.kind,
                    _r.c.request_id,
                    _r.c.reason,
                    _r.c.refused_at,
                )
                .order_by(_r.c.correlation_id)
                .limit(limit)
            ).all()
        return [(int(c), int(m), int(k), rq, str(r), float(a)) for c, m, k, rq, r, a in rows]
