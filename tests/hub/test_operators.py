"""Operator accounts: argon2id hashes, the bootstrap admin, bad input refused with nothing
changed, lockout per name, and sessions that expire."""

from __future__ import annotations

import pytest

from openami.hub.lockout import Lockout
from openami.hub.operators import (
    LockedOut,
    Operator,
    OperatorAccounts,
    OperatorError,
    Sessions,
)
from openami.storage.repositories import open_database
from openami.storage.repositories.operators import OperatorStore

PASSWORD = "correct-horse-battery"


@pytest.fixture
def accounts() -> OperatorAccounts:
    return OperatorAccounts(OperatorStore(open_database(":memory:")), Lockout(max_failures=3))


def test_hashes_are_argon2id_and_logins_check_them(accounts: OperatorAccounts) -> None:
    accounts.add("alice", "viewer", PASSWORD, 0.0)
    stored = accounts.store.get("alice")
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    assert accounts.authenticate("alice", PASSWORD, 1.0) == Operator("alice", "viewer")
    assert accounts.authenticate("alice", PASSWORD + "x", 1.0) is None
    assert accounts.authenticate("nobody", PASSWORD, 1.0) is None
    accounts.store.update("alice", disabled=True)
    assert accounts.authenticate("alice", PASSWORD, 1.0) is None


@pytest.mark.parametrize(
    ("name", "role", "password", "problem"),
    [
        ("bob", "root", PASSWORD, "unknown role"),
        ("bob", "viewer", "short", "12 to 1024"),
        ("", "viewer", PASSWORD, "operator name"),
        ("bob smith", "viewer", PASSWORD, "operator name"),
        ("alice", "admin", PASSWORD, "exists already"),
    ],
)
def test_bad_accounts_are_refused_and_change_nothing(
    accounts: OperatorAccounts, name: str, role: str, password: str, problem: str
) -> None:
    accounts.add("alice", "viewer", PASSWORD, 0.0)
    with pytest.raises(OperatorError, match=problem):
        accounts.add(name, role, password, 0.0)
    assert [(a.name, a.role) for a in accounts.store.all()] == [("alice", "viewer")]


def test_bootstrap_admin_is_made_or_reset(accounts: OperatorAccounts) -> None:
    accounts.ensure_admin("operator", PASSWORD, 0.0)
    assert accounts.authenticate("operator", PASSWORD, 0.0) == Operator("operator", "admin")
    accounts.store.update("operator", role="viewer", disabled=True)
    accounts.ensure_admin("operator", "a-new-password-123", 0.0)  # e.g. a new demo start
    assert accounts.authenticate("operator", PASSWORD, 0.0) is None
    assert accounts.authenticate("operator", "a-new-password-123", 0.0) == Operator(
        "operator", "admin"
    )


def test_a_name_is_locked_after_failures_even_for_the_right_password(
    accounts: OperatorAccounts,
) -> None:
    accounts.add("alice", "viewer", PASSWORD, 0.0)
    for _ in range(3):
        assert accounts.authenticate("alice", "wrong-password-x", 10.0) is None
    with pytest.raises(LockedOut) as locked:
        accounts.authenticate("alice", PASSWORD, 10.0)
    assert locked.value.wait_s == 300.0
    assert accounts.authenticate("alice", PASSWORD, 311.0) is not None


def test_sessions_expire_when_idle_and_at_their_lifetime() -> None:
    sessions = Sessions(idle_s=100.0, max_s=250.0)
    op = Operator("alice", "viewer")
    token, session = sessions.open(op, 0.0)
    assert len(session.csrf_token) >= 32 and token not in repr(sessions)
    assert sessions.get(token, 90.0) is session  # touched: idle from 90
    assert sessions.get(token, 180.0) is session
    assert sessions.get(token, 260.0) is None  # past the lifetime
    token, _ = sessions.open(op, 0.0)
    assert sessions.get(token, 150.0) is None  # idle too long
    token, _ = sessions.open(op, 0.0)
    assert sessions.close(token) is not None and sessions.get(token, 1.0) is None
    assert sessions.get("forged", 1.0) is None
