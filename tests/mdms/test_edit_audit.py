"""Issue #15 §4: people's changes to metering values go in the audit chain.

Manual edits, known totals and estimation runs started by a user are recorded (who, what,
which supply point, why) through the MDMS's audit port; the automatic VEE run is not.
"""

from __future__ import annotations

import json

from tests.mdms.vee_world import B0, SP_ID, cumulative, make_mdms, reads

from openami.mdms.audit_port import PURPOSE_MDMS_CORRECTION
from openami.storage.repositories import open_database
from openami.storage.repositories.audit import AuditLog


def test_edits_totals_and_user_estimations_are_in_the_audit_chain() -> None:
    mdms = make_mdms()
    log = AuditLog(open_database(":memory:"))
    mdms.audit = log
    mdms.ingest(reads(cumulative(1000, [100, 200, 300, 50])))
    mdms.estimate(B0, B0 + 3)  # the automatic run: not a person's action
    assert log.head[0] == 0
    mdms.edit(1, [B0, B0 + 1], [150, 150], [0, None], "alice", "meter test")
    mdms.distribute_total(1, B0 + 2, B0 + 3, 400, "bob", "customer reading")
    mdms.estimate(B0, B0 + 3, user="carol")
    mdms.finalize(B0, B0 + 3, user="dave")
    entries = list(log.entries())
    assert [(e.actor, e.action, e.subject) for e in entries] == [
        ("alice", "mdms manual edit", SP_ID),
        ("bob", "mdms known total", SP_ID),
        ("carol", "mdms estimation", None),
        ("dave", "mdms estimation", None),
    ]
    assert all(e.purpose == PURPOSE_MDMS_CORRECTION and e.kind == "operation" for e in entries)
    edit = json.loads(entries[0].detail)
    assert edit["reason"] == "meter test" and edit["import_wh"] == [150, 150]
    assert edit["slots"] == [B0, B0 + 1] and edit["versions"] == 2
    assert json.loads(entries[1].detail)["total_import_wh"] == 400
    assert json.loads(entries[3].detail)["final"] is True
    assert all(e.at == mdms.clock.timestamp() for e in entries)
    assert log.verify().ok
