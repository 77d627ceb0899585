"""A meter's lifecycle as an explicit state machine (issue #17 §1).

A meter enters the books ``in_stock`` (delivered from a procurement lot); from there the
transitions in :data:`TRANSITIONS` are the only ones allowed. Every other step is refused
with :class:`LifecycleError` (code ``E_BAD_TRANSITION``), so a history can only be a path
through this table:

    in_stock ──> installed ──> removed ──> repaired ──> in_stock
       │                          ├──────> recovered ─> in_stock
       └─────────> scrapped <─────┴── (and from repaired / recovered)

``repaired``: fixed and re-certified, waits to go back to stock; ``recovered``: taken back
whole (e.g. at certification expiry) for re-certification or recycling; ``scrapped``:
final.
"""

from __future__ import annotations

from typing import Final, Literal

MeterState = Literal["in_stock", "installed", "removed", "repaired", "recovered", "scrapped"]
STATES: Final = ("in_stock", "installed", "removed", "repaired", "recovered", "scrapped")
INITIAL_STATE: Final[MeterState] = "in_stock"

#: state -> the states it may go to next
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "in_stock": frozenset({"installed", "scrapped"}),
    "installed": frozenset({"removed"}),
    "removed": frozenset({"repaired", "recovered", "scrapped"}),
    "repaired": frozenset({"in_stock", "scrapped"}),
    "recovered": frozenset({"in_stock", "scrapped"}),
    "scrapped": frozenset(),
}


class LifecycleError(ValueError):
    """A refused lifecycle step; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def check_state(state: str) -> MeterState:
    """``state`` if it is one of :data:`STATES`, else ``E_UNKNOWN_STATE``."""
    if state not in STATES:
        raise LifecycleError("E_UNKNOWN_STATE", f"{state!r} is not one of {', '.join(STATES)}")
    return state  # type: ignore[return-value]  # checked against STATES just above


def check_transition(current: str, target: str) -> MeterState:
    """``target`` if a meter in ``current`` may go there, else ``E_BAD_TRANSITION``."""
    to = check_state(target)
    if to not in TRANSITIONS[check_state(current)]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final)"
        raise LifecycleError(
            "E_BAD_TRANSITION", f"a meter {current} cannot become {to} (allowed: {allowed})"
        )
    return to
