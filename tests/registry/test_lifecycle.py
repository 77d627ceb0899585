"""The meter lifecycle state machine: every allowed and every refused transition."""

from __future__ import annotations

import itertools

import pytest

from openami.registry.lifecycle import (
    STATES,
    TRANSITIONS,
    LifecycleError,
    check_state,
    check_transition,
)

ALLOWED = {
    ("in_stock", "installed"),
    ("in_stock", "scrapped"),
    ("installed", "removed"),
    ("removed", "repaired"),
    ("removed", "recovered"),
    ("removed", "scrapped"),
    ("repaired", "in_stock"),
    ("repaired", "scrapped"),
    ("recovered", "in_stock"),
    ("recovered", "scrapped"),
}
PAIRS = list(itertools.product(STATES, STATES))


def test_the_table_is_exactly_the_documented_one() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == ALLOWED
    assert set(TRANSITIONS) == set(STATES)


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_transition(current: str, target: str) -> None:
    assert check_transition(current, target) == target


@pytest.mark.parametrize(("current", "target"), [p for p in PAIRS if p not in ALLOWED])
def test_refused_transition(current: str, target: str) -> None:
    with pytest.raises(LifecycleError) as refused:
        check_transition(current, target)
    assert refused.value.code == "E_BAD_TRANSITION"
    assert current in refused.value.message


def test_scrapped_is_final() -> None:
    with pytest.raises(LifecycleError, match="none \\(final\\)"):
        check_transition("scrapped", "in_stock")


@pytest.mark.parametrize("state", ["", "lost", "INSTALLED"])
def test_unknown_state(state: str) -> None:
    with pytest.raises(LifecycleError) as refused:
        check_state(state)
    assert refused.value.code == "E_UNKNOWN_STATE"
    with pytest.raises(LifecycleError):
        check_transition("in_stock", state)
