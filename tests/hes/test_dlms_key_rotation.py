"""Issue #15 §2.4: per-meter keys from the key store, and their rotation from the HES through
the Security Setup object (key transfer), audited in the log."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import structlog
from tests.protocols.dlms.dlms_peers import NOW, START

from openami.clock import ManualClock
from openami.clock.slots import SLOT_SECONDS
from openami.hes.dlms import AssociationRefused, DlmsClient, DlmsError
from openami.hes.dlms.rotation import KeyRotationError, MeterAddress, rotate_keys
from openami.meter import MeterFleet
from openami.meter.dlms import DlmsEmulator
from openami.meter.dlms.catalog import EVENT_AUTHENTICATION_FAILURE, EVENT_KEYS_CHANGED
from openami.protocols.dlms.cosem import IMPORT_ENERGY_LN
from openami.protocols.dlms.security import DeviceSecrets, Keys
from openami.storage.dlms_counters import ClientCounterFiles, MeterCounterFiles
from openami.storage.dlms_keys import DlmsKeyStore, new_device_secrets

MASTER = bytes(range(32))  # test fixture secret (the key stores' master key)
IDS = [1001, 1002, 1003]


@contextmanager
def served(tmp_path: Path) -> Iterator[tuple[DlmsEmulator, int, DlmsKeyStore]]:
    provisioned = {meter_id: new_device_secrets() for meter_id in IDS}
    meter_store = DlmsKeyStore(tmp_path / "meter" / "dlms-meter-keys.json", MASTER)
    meter_store.put_many(provisioned)
    hes_store = DlmsKeyStore(tmp_path / "hes" / "dlms-hes-keys.json", MASTER)
    hes_store.put_many(provisioned)
    clock = ManualClock(START)
    fleet = MeterFleet(IDS, int(START.timestamp()) // SLOT_SECONDS, seed=7)
    clock.set(NOW)
    emulator = DlmsEmulator(
        fleet,
        clock,
        keyring=DlmsKeyStore(meter_store.path, MASTER),
        state=MeterCounterFiles(tmp_path / "meter" / "state"),
    )
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(emulator.start("127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield emulator, server.sockets[0].getsockname()[1], hes_store
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


async def _read(port: int, wport: int, keys: Keys, counters: ClientCounterFiles) -> int:
    async with await DlmsClient.connect(
        "127.0.0.1", port, wport, keys=keys, counters=counters, counter_key=f"meter-{1000 + wport}"
    ) as c:
        return (await c.read_register(IMPORT_ENERGY_LN)).raw


def test_each_meter_has_its_own_keys(tmp_path: Path) -> None:
    with served(tmp_path) as (_, port, hes_store):
        counters = ClientCounterFiles(tmp_path / "hes" / "counters")
        one = hes_store.get(1001)
        two = hes_store.get(1002)
        assert one is not None and two is not None and one.keys and two.keys
        assert asyncio.run(_read(port, 1, one.keys, counters)) > 0
        with pytest.raises(AssociationRefused):  # meter 1's keys do not open meter 2
            asyncio.run(_read(port, 2, one.keys, counters))
        assert asyncio.run(_read(port, 2, two.keys, counters)) > 0

        # nor does meter 1's password
        async def password(wport: int, pw: bytes) -> None:
            async with await DlmsClient.connect("127.0.0.1", port, wport, password=pw):
                pass

        assert one.password is not None
        asyncio.run(password(1, one.password))
        with pytest.raises(AssociationRefused):
            asyncio.run(password(3, one.password))


def test_rotation_changes_both_stores_and_is_audited(tmp_path: Path) -> None:
    with served(tmp_path) as (emulator, port, hes_store):
        counters = ClientCounterFiles(tmp_path / "hes" / "counters")
        before = hes_store.get(1002)
        assert before is not None and before.keys is not None
        address = MeterAddress("127.0.0.1", port, 2, 1002)
        with structlog.testing.capture_logs() as logs:
            fresh = asyncio.run(rotate_keys(address, hes_store, counters))
        assert fresh != before.keys
        after = hes_store.get(1002)
        assert after == DeviceSecrets(before.password, fresh, before.master_key)
        # the HES store on disk has them too; the meter's own store was written by the meter
        assert DlmsKeyStore(hes_store.path, MASTER).get(1002) == after
        meter_side = DlmsKeyStore(tmp_path / "meter" / "dlms-meter-keys.json", MASTER)
        assert meter_side.get(1002) == after
        assert asyncio.run(_read(port, 2, fresh, counters)) > 0
        with pytest.raises(AssociationRefused):
            asyncio.run(_read(port, 2, before.keys, counters))
        steps = [e["step"] for e in logs if e["event"] == "dlms.key_rotation"]
        assert steps == ["start", "done"]
        assert all(e.get("audit") for e in logs if e["event"] == "dlms.key_rotation")
        flat = repr(logs)
        assert (
            fresh.encryption_key.hex() not in flat and before.keys.encryption_key.hex() not in flat
        )
        assert [c for _, c in emulator.meter(1).events] == [
            EVENT_KEYS_CHANGED,
            EVENT_AUTHENTICATION_FAILURE,  # the old keys, tried above
        ]
        # meter 1 was not touched
        untouched = hes_store.get(1001)
        assert untouched is not None and untouched.keys is not None
        assert asyncio.run(_read(port, 1, untouched.keys, counters)) > 0


def test_key_transfer_needs_hls_and_the_right_master_key(tmp_path: Path) -> None:
    with served(tmp_path) as (_, port, hes_store):
        counters = ClientCounterFiles(tmp_path / "hes" / "counters")
        current = hes_store.get(1003)
        assert current is not None and current.keys is not None and current.password

        async def transfer(**kw: object) -> None:
            async with await DlmsClient.connect(
                "127.0.0.1",
                port,
                3,
                counters=counters,
                counter_key="meter-1003",
                **kw,  # type: ignore[arg-type]
            ) as c:
                await c.transfer_keys(bytes(16), Keys(bytes(16), bytes(16)))

        with pytest.raises(DlmsError):  # the password level cannot
            asyncio.run(transfer(password=current.password))
        with pytest.raises(DlmsError):  # a key not wrapped with this meter's master key
            asyncio.run(transfer(keys=current.keys))
        assert asyncio.run(_read(port, 3, current.keys, counters)) > 0  # nothing changed
        hes_store.put(1003, DeviceSecrets(current.password, current.keys, None))
        with pytest.raises(KeyRotationError, match="master key"):
            asyncio.run(rotate_keys(MeterAddress("127.0.0.1", port, 3, 1003), hes_store))
