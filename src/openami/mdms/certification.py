"""VEE rule V12 (issue #17 §1): values metered after the meter's certification (検定)
expired are not billable. They stay stored and visible as they are; the billing
determinants and the settlement runs count them (``not_billable_values``), and a billing
period holding any is not billing-ready. Like V05, the rule runs on the billing cycle, from
the registry's expiry per meter (computed from certification records,
:mod:`openami.registry.certification`) and the meter installations.
"""

from __future__ import annotations

import pyarrow as pa

CERTIFIED_SCHEMA = pa.schema(
    [
        ("supply_point_key", pa.int64()),
        ("valid_from", pa.float64()),
        ("valid_to", pa.float64()),
        ("expired_from_s", pa.float64()),
    ]
)


def certified_installations(installations: pa.Table, certification: pa.Table) -> pa.Table:
    """Each installation with the instant its meter's certification ends
    (``expired_from_s``); installations of meters without an expiry are left out."""
    joined = installations.join(certification, "meter_id", join_type="inner")
    return joined.select(CERTIFIED_SCHEMA.names).cast(CERTIFIED_SCHEMA)
