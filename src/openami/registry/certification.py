"""Legal certification of meters (検定, 計量法) and its expiry (検満), issue #17 §1.

A certification record has a certificate number, the day the mark was applied and a
validity in years; the validity comes from :data:`VALIDITY_RULES` by the model's
``meter_kind`` (計量法施行令 §18, 別表第三, as tabled by JEMIC), and the record keeps the
rule's source. The expiry day is computed here, once, for every caller:

- **Assumption** (documented in docs/assets.md): the validity runs to the last day of the
  month the mark was applied in, ``validity_years`` later (a mark of 2016-10 is valid
  through 2026-10-31). The exact day-count convention was not found in the sources.

A value metered on a day after the expiry day is not billable (VEE rule ``certification``).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.clock import DAY_SECONDS, JST_OFFSET_S

RULE_SOURCE: Final = (
    "計量法施行令 §18 別表第三; JEMIC 証明用電気計器 (jemic.go.jp/kentei/shoumei_dk.html)"
)


@dataclass(frozen=True)
class ValidityRule:
    validity_years: int
    source: str


#: meter kind -> validity of its certification mark
VALIDITY_RULES: Final[dict[str, ValidityRule]] = {
    # 単独計器 (direct-connected), electronic, any rated current: household smart meters
    "single_electronic": ValidityRule(10, RULE_SOURCE),
    # 単独計器, mechanical (induction), 20 A and 60 A
    "single_mechanical_20_60a": ValidityRule(7, RULE_SOURCE),
    # 単独計器, mechanical, 30/120/200/250 A
    "single_mechanical": ValidityRule(10, RULE_SOURCE),
    # 変成器付計器 (CT/VT-operated), electronic
    "transformer_electronic": ValidityRule(7, RULE_SOURCE),
    # 変成器付計器, mechanical
    "transformer_mechanical": ValidityRule(5, RULE_SOURCE),
}
METER_KINDS: Final = tuple(VALIDITY_RULES)


class CertificationError(ValueError):
    """A refused certification record or a use of an uncertified meter; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def validity_rule(meter_kind: str) -> ValidityRule:
    rule = VALIDITY_RULES.get(meter_kind)
    if rule is None:
        raise CertificationError(
            "E_UNKNOWN_METER_KIND", f"{meter_kind!r} is not one of {', '.join(METER_KINDS)}"
        )
    return rule


def expiry_day(certified_on: date, validity_years: int) -> date:
    """The last day a mark applied on ``certified_on`` is valid (検満日)."""
    if not 1 <= validity_years <= 20:
        raise CertificationError("E_BAD_VALIDITY", "the validity is 1 to 20 years")
    year = certified_on.year + validity_years
    return date(year, certified_on.month, calendar.monthrange(year, certified_on.month)[1])


def is_valid_on(expires_on: date | None, day: date) -> bool:
    """Whether a meter whose certification expires on ``expires_on`` may meter on ``day``
    (None: no certification recorded, so not valid)."""
    return expires_on is not None and day <= expires_on


def fiscal_year(day: date) -> int:
    """The Japanese fiscal year (April to March) a day falls in."""
    return day.year if day.month >= 4 else day.year - 1


def expired_from_s(expiry: pa.Array) -> pa.Array:
    """Per expiry day (date32): the instant [Unix s] from which a meter's values are metered
    after expiry (00:00 JST of the next day); vectorised for the MDMS."""
    days = pc.cast(expiry, pa.int32()).to_numpy(zero_copy_only=False).astype(np.float64)
    return pa.array((days + 1.0) * DAY_SECONDS - JST_OFFSET_S, pa.float64())
