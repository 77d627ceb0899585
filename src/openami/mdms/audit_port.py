"""The port through which the MDMS puts people's changes to values into the audit chain.

Manual edits, known totals spread over slots, estimation runs started by a user and
finalisations are recorded with who, what, which supply point and why; the automatic VEE
run (user ``vee``) is not a person's action and is not recorded. The composition root
hands the MDMS the audit log (:class:`openami.storage.repositories.audit.AuditLog`
implements this port); an MDMS without one records nothing.
"""

from __future__ import annotations

from typing import Any, Protocol

#: the purpose of the MDMS's entries in the audit chain
PURPOSE_MDMS_CORRECTION = "mdms-correction: metering values changed by a person"
#: the user of the automatic VEE run (not a person: not recorded)
AUTOMATIC_USER = "vee"


class AuditTrail(Protocol):
    def record(
        self,
        actor: str,
        action: str,
        at: float,
        purpose: str,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
        kind: str = "operation",
    ) -> int: ...
