"""`openami broute wisun --provisioned DATA_DIR` answers with the pair the HES confirmed for
its meter (from the store), and with ``--out-of-range --plc-link`` the HEMS falls back to
the PLC modem; a revocation in the store stops both."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from openami.hems import MeterClient
from openami.hems.fallback import open_broute
from openami.hems.plc import PlcLinkError, PlcTransport
from openami.hems.skstack import SkstackTransport
from openami.registry import Registry
from openami.storage.repositories import open_in_data_dir
from openami.storage.repositories.broute_apps import BrouteApplicationStore

RBID = "0123456789ABCDEF0123456789ABCDEF"
PASSWORD = "K7Q2M9X4B1Z8"
METER_ID = 5


def _provision(data_dir: Path) -> BrouteApplicationStore:
    database = open_in_data_dir(data_dir)
    key = Registry(database).add_supply_points(["0300000000000000000110"])[0]
    store = BrouteApplicationStore(database)
    store.create("ba-test", key, METER_ID, "customer:c1", None, "c1", 1.0)
    version = store.issue("ba-test", RBID, PASSWORD, 2.0)
    store.confirm_meter("ba-test", version, 3.0)  # what the HES confirmed writing
    return store


def _wait_for(*links: Path) -> None:
    deadline = time.monotonic() + 60  # the process's start, on a loaded machine
    while not all(link.is_symlink() for link in links) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(link.is_symlink() for link in links)


def _refused_within(plc: Path, seconds: float) -> bool:
    """Is the pair refused ("no meter answered") before ``seconds`` have passed?"""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            PlcTransport(str(plc), RBID, PASSWORD).open().close()
        except PlcLinkError as exc:
            return "no meter answered" in str(exc)
        time.sleep(0.2)
    return False


def test_provisioned_meter_read_over_plc_then_revoked(tmp_path: Path) -> None:
    store = _provision(tmp_path / "data")
    wisun, plc = tmp_path / "ttyWISUN", tmp_path / "ttyPLC"
    args = [
        *("-m", "openami.cli.main", "broute", "wisun", "--link", str(wisun)),
        *("--provisioned", str(tmp_path / "data"), "--meter-id", str(METER_ID)),
        *("--plc-link", str(plc), "--out-of-range", "--duration", "40", "--history-days", "2"),
    ]
    env = {k: v for k, v in os.environ.items() if k != "OPENAMI_BROUTE_PASSWORD"}
    proc = subprocess.Popen(
        [sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _wait_for(wisun, plc)
        opened = open_broute(
            lambda: SkstackTransport(str(wisun), RBID, PASSWORD, scan_durations=(3,), drain_s=0.05),
            lambda: PlcTransport(str(plc), RBID, PASSWORD),
        )
        assert opened.medium == "plc"
        client = MeterClient(opened.transport, timeout_s=3)
        reading = client.read_live()
        client.close()
        assert reading.power_w is not None and reading.import_kwh is not None
        assert store.revoke("ba-test", "test", 4.0)
        store.clear_meter("ba-test", 5.0)  # the HES confirmed the meter forgot the pair
        assert _refused_within(plc, 10.0)  # the emulator re-reads the store every 2 s
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err.decode()
    text = out.decode() + err.decode()
    assert PASSWORD not in text and "provisioned" in text and "G3-PLC" in text
