"""Audit entries of what a customer does in the portal (``/my/``, issue #18 §5).

The web layer cannot write audit records itself (only the hub reaches the repositories):
:func:`record_customer` is its way in. Reads of personal data go through
:func:`openami.hub.audit.record_reads` with :data:`PURPOSE_OWN_DATA`; failed logins through
:func:`openami.hub.audit.record_anonymous` (bounded), as the dashboard's.
"""

from __future__ import annotations

from typing import Any

from openami.hub.context import HubContext
from openami.storage.repositories.audit import AuditRecord

PURPOSE_OWN_DATA = "own-data: the customer reads or manages their own supply points"


def record_customer(
    context: HubContext,
    customer_id: str,
    action: str,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
    kind: str = "customer-action",
) -> None:
    """Log what a customer did (actor ``customer:<id>``); never a password."""
    if context.audit is None:
        return
    context.audit.append(
        AuditRecord(
            at=context.clock.timestamp(),
            kind=kind,
            actor=f"customer:{customer_id}",
            action=action,
            subject=subject,
            purpose=PURPOSE_OWN_DATA,
            detail=detail or {},
        )
    )
