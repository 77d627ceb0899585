"""The clock's slot arithmetic as SQL expressions for the interval store's DuckDB.

Queries never spell 1800 or ``(x + 18) % 48``: they call these, which are built from the
constants of :mod:`openami.clock.slots`, so the SQL and the NumPy side share one definition.
Each function takes the SQL text of an integer expression (a column name, a parameter) and
returns the SQL text of the result, parenthesised so it composes.
"""

from __future__ import annotations

from openami.clock.slots import (
    DAY_SECONDS,
    JST_OFFSET_S,
    JST_OFFSET_SLOTS,
    SLOT_SECONDS,
    SLOTS_PER_DAY,
)


def start_s(slot: str) -> str:
    """Start of slot ``slot`` [Unix seconds, DOUBLE]."""
    return f"(({slot}) * {float(SLOT_SECONDS)})"


def end_s(slot: str) -> str:
    """End of slot ``slot`` (start of the next) [Unix seconds, DOUBLE]."""
    return f"((({slot}) + 1) * {float(SLOT_SECONDS)})"


def of_day(slot: str) -> str:
    """Position 0..47 of slot ``slot`` within its JST day."""
    return f"((({slot}) + {JST_OFFSET_SLOTS}) % {SLOTS_PER_DAY})"


def day_first(slot: str) -> str:
    """First slot (00:00 JST) of the JST day of slot ``slot``."""
    return f"(({slot}) - {of_day(slot)})"


def day_number(slot: str) -> str:
    """Days since 1970-01-01 JST of slot ``slot`` (integer division)."""
    return f"((({slot}) * {SLOT_SECONDS} + {JST_OFFSET_S}) // {DAY_SECONDS})"


def delay_s(epoch_s: str, boundary: str) -> str:
    """Seconds from boundary ``boundary`` (a slot index used as an instant) to ``epoch_s``."""
    return f"(({epoch_s}) - ({boundary}) * {float(SLOT_SECONDS)})"


def within(slot: str, valid_from: str, valid_to: str, last_slot: str | None = None) -> str:
    """Whether slot ``slot`` (through ``last_slot``, when given) lies wholly inside the
    period ``[valid_from, valid_to)`` [Unix seconds; ``valid_to`` NULL: open-ended]: "the
    meter is installed during the slot", the rule of ``clock.slots_within`` (tested equal)."""
    last = slot if last_slot is None else last_slot
    return (
        f"({start_s(slot)} >= {valid_from} AND ({valid_to} IS NULL OR {end_s(last)} <= {valid_to}))"
    )


def installed(inst: str, slot: str, last_slot: str | None = None) -> str:
    """:func:`within` for an installation row ``inst`` (``valid_from``, ``valid_to``)."""
    return within(slot, f"{inst}.valid_from", f"{inst}.valid_to", last_slot)


#: one slot [s], for comparisons such as "received within one slot of the boundary"
SLOT_S = float(SLOT_SECONDS)
#: one JST day [s]
DAY_S = float(DAY_SECONDS)
