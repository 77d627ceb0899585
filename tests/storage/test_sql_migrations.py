"""Alembic upgrades: a data directory written by the pre-Alembic main (stored fixture) comes
to head with every row, hash, consent and the audit chain intact; head matches the table
definitions on both engines; new files are private."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import threading
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from tests.storage.engines import ENGINES, database_url_for

from openami.registry import Registry
from openami.storage.repositories import DATA_DIR_FILE, Database, open_database, open_in_data_dir
from openami.storage.repositories.audit import AuditLog, AuditRecord
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.settings import SettingsStore
from openami.storage.secrets import SEALED_PREFIX
from openami.storage.sql import tables
from openami.storage.sql.migrate import (
    HEAD_REVISION,
    _run_revisions,
    current_revision,
    head_revision,
)

FIXTURES = Path(__file__).parent / "fixtures"
LEGACY = FIXTURES / "legacy_data_dir"
EXPECTED = json.loads((FIXTURES / "legacy_expected.json").read_text())
# every table of the pre-Alembic files and where its rows are now
MOVED = {"espi_settings": "settings"}


def _legacy_counts() -> dict[str, int]:
    counts = {}
    for name in ("registry.sqlite", "audit.sqlite"):
        with sqlite3.connect(f"{(LEGACY / name).as_uri()}?mode=ro", uri=True) as con:
            for (table,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall():
                counts[table] = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    return counts


@pytest.fixture
def upgraded(tmp_path: Path) -> Database:
    data_dir = tmp_path / "data"
    shutil.copytree(LEGACY, data_dir)
    return open_in_data_dir(data_dir)


def test_legacy_data_directory_comes_to_head_with_every_row(upgraded: Database) -> None:
    assert current_revision(upgraded) == head_revision()
    legacy = _legacy_counts()
    assert len(legacy) == 25 and all(n > 0 for n in legacy.values())
    with upgraded.read() as connection:
        for table, count in legacy.items():
            now = MOVED.get(table, table)
            got = connection.execute(sa.text(f"SELECT COUNT(*) FROM {now}")).scalar()
            assert got == count, table
        assert not sa.inspect(connection).has_table("espi_settings")
    upgraded.close()


def test_hashes_tokens_and_consents_still_work(upgraded: Database) -> None:
    registry = Registry(upgraded)
    keys, ids = EXPECTED["supply_point_keys"], EXPECTED["supply_point_ids"]
    assert registry.supply_point_ids(keys) == ids
    assert registry.current_meter(keys[3]) == 5  # the exchanged meter
    assert registry.retailer_periods(keys[0], "R001") == [(date(2023, 4, 1), date(2024, 5, 1))]
    assert registry.retailer_on(keys[0], date(2024, 5, 1)) == "R002"
    clients = upgraded.clients
    retailer = EXPECTED["retailer_client"]
    client = clients.authenticate(retailer["client_id"], retailer["secret"])
    assert client == ApiClient("retailer-r001", "retailer", "R001")
    assert clients.client_for_token(EXPECTED["access_token"], 1_711_900_000.0) == client
    consents = upgraded.consents
    customer = EXPECTED["customer"]
    assert consents.authenticate_customer(customer["customer_id"], customer["password"])
    states = {k: consents.get(v) for k, v in EXPECTED["consents"].items()}
    assert {k: c.status for k, c in states.items() if c} == {
        "requested": "requested",
        "active": "active",
        "denied": "denied",
    }
    assert states["active"] is not None and states["active"].supply_point_ids == tuple(ids[:2])
    assert states["requested"] is not None and states["requested"].supply_point_ids == (ids[0],)
    oauth, tokens = upgraded.oauth, EXPECTED["oauth_tokens"]
    code = oauth.take_code(EXPECTED["authorization_code"])
    assert code is not None and code.consent_id == EXPECTED["consents"]["active"]
    assert oauth.grant_for_access_token(tokens["live_access"], 1_711_900_000.0) is not None
    # the refresh token rotated out before the upgrade is still detected as reused
    assert oauth.rotate_refresh_token(tokens["rotated_refresh"], "tp-demo", 1_711_900_000.0) is None
    assert oauth.grant_for_access_token(tokens["live_access"], 1_711_900_000.0) is None
    assert upgraded.settings.get("espi_id_key") == EXPECTED["espi_id_key"]
    requests = upgraded.requests
    assert [s for s, _, _ in requests.history("req-0001")] == ["received", "accepted", "scheduled"]
    assert requests.by_correlation([77]) == {77: "req-0001"}
    assert requests.chunk("job-0001", 0) == '{"values": [1, 2, 3]}'
    bodies = sorted(d.body for d in upgraded.webhooks.deliveries("sub-0001"))
    assert bodies == [b"\x00\x01binary", b'{"event": "values"}']
    upgraded.close()


def test_audit_chain_moves_in_verifying_and_the_old_file_stays(upgraded: Database) -> None:
    data_dir = upgraded.path.parent if upgraded.path else Path()
    log = AuditLog(upgraded)
    result = log.verify(expect_head=tuple(EXPECTED["audit_head"]))  # type: ignore[arg-type]
    assert result.ok and result.entries == 6 and result.problems == ()
    assert [result.head_seq, result.head_hash] == EXPECTED["audit_head"]
    log.append(AuditRecord(1_711_900_000.0, "request", "after", "GET /after", "api-access"))
    keyed = log.verify()
    assert keyed.ok and log.head[0] == 7 and keyed.legacy_entries == 6  # the legacy segment
    upgraded.close()
    assert (data_dir / "audit.sqlite").read_bytes() == (LEGACY / "audit.sqlite").read_bytes()
    again = open_in_data_dir(data_dir)  # no second import
    assert AuditLog(again).verify().entries == 7
    again.close()


def test_older_files_get_missing_tables_and_late_columns(tmp_path: Path) -> None:
    path = tmp_path / DATA_DIR_FILE
    with sqlite3.connect(path) as con:  # a registry file from before consents had a column
        con.execute(
            "CREATE TABLE api_clients (client_id TEXT PRIMARY KEY, secret_hash TEXT "
            "NOT NULL, role TEXT NOT NULL, party_id TEXT NOT NULL)"
        )
        con.execute(
            "CREATE TABLE consents (consent_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, "
            "customer_id TEXT, purpose TEXT NOT NULL, data_kinds TEXT NOT NULL, "
            "period_from TEXT NOT NULL, period_to TEXT NOT NULL, status TEXT NOT NULL, "
            "created_at REAL NOT NULL, decided_at REAL, expires_at REAL NOT NULL, "
            "revoked_at REAL)"
        )
        con.execute("INSERT INTO api_clients VALUES ('tp', 'scrypt$00$00', 'third_party', 'P')")
        con.execute(
            "INSERT INTO consents VALUES ('c1', 'tp', NULL, 'p', 'daily', '2026-01-01', "
            "'2026-01-02', 'requested', 1.0, NULL, 9.0, NULL)"
        )
    database = open_database(path)
    consent = database.consents.get("c1")
    assert consent is not None and consent.supply_point_ids == () and consent.status == "requested"
    assert database.registry.meter_count() == 0  # created where missing
    database.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_the_revisions_build_what_the_tables_describe(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Running every revision on an empty database gives the schema that a new database gets
    from ``tables.py`` (and its triggers): the two ways to head agree."""
    assert head_revision() == HEAD_REVISION
    database = open_database(database_url_for(engine, request, tmp_path), upgrade=False)
    with database.write() as connection:
        _run_revisions(connection, None)
    assert current_revision(database) == HEAD_REVISION
    with database.read() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, tables.metadata)
    assert [d for d in differences if not _is_alembic_version(d)] == []
    assert AuditLog(database).verify().ok  # every append-only trigger is there
    database.close()


def _is_alembic_version(difference: object) -> bool:
    return (
        isinstance(difference, tuple)
        and difference[0] == "remove_table"
        and difference[1].name == "alembic_version"
    )


def test_a_new_database_is_at_head_with_its_triggers(database: Database) -> None:
    assert current_revision(database) == HEAD_REVISION
    with database.read() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert [
            d for d in compare_metadata(context, tables.metadata) if not _is_alembic_version(d)
        ] == []
    assert AuditLog(database).verify().ok


def test_new_files_are_private_and_opening_twice_at_once_upgrades_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    opened: list[Database] = []
    start = threading.Barrier(2)

    def open_it() -> None:
        start.wait()
        opened.append(open_in_data_dir(data_dir))

    threads = [threading.Thread(target=open_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 2 and all(current_revision(d) == head_revision() for d in opened)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for name in (DATA_DIR_FILE, DATA_DIR_FILE + "-wal"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
    for database in opened:
        database.close()
    with pytest.raises(FileNotFoundError):
        open_database(tmp_path / "none.sqlite", read_only=True)
    with pytest.raises(ValueError, match="unsupported database"):
        open_database("mysql://x@y/z")


def test_the_legacy_clear_espi_id_key_is_sealed_and_keeps_its_value(upgraded: Database) -> None:
    with upgraded.read() as connection:
        clear = connection.execute(
            sa.text("SELECT value FROM settings WHERE name = 'espi_id_key'")
        ).scalar()
    assert clear and not str(clear).startswith(SEALED_PREFIX)  # as the old version stored it
    assert SettingsStore(upgraded).get("espi_id_key") == clear  # sealed on open, same key
    with upgraded.read() as connection:
        stored = connection.execute(
            sa.text("SELECT value FROM settings WHERE name = 'espi_id_key'")
        ).scalar()
    assert str(stored).startswith(SEALED_PREFIX) and str(clear) not in str(stored)
    upgraded.close()
