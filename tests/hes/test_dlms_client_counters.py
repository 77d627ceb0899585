"""Issue #15 §2.2, HES side: the client's invocation counter is persisted per meter and a
restarted HES goes on from it (never from the meter's public value)."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.protocols.dlms.dlms_peers import KEYS, Running, running_emulator

from openami.hes.dlms import AssociationRefused, DlmsClient
from openami.protocols.dlms.cosem import IMPORT_ENERGY_LN
from openami.storage.dlms_counters import ClientCounterFiles

TITLE = b"OPENAMI\x01"


@pytest.fixture
def run() -> Iterator[Running]:
    with running_emulator(meters=2) as running:
        yield running


async def _session(run: Running, store: ClientCounterFiles | None, **kw: object) -> int:
    async with await DlmsClient.connect(
        run.host,
        run.port,
        1,
        keys=KEYS,
        counters=store,
        counter_key="meter-1001",
        **kw,  # type: ignore[arg-type]
    ) as c:
        await c.read_register(IMPORT_ENERGY_LN)
        await c.read_clock()
        return c.next_invocation_counter


def test_a_restarted_hes_goes_on_from_its_stored_counter(run: Running, tmp_path: Path) -> None:
    store = ClientCounterFiles(tmp_path / "dlms-hes-counters")
    first = asyncio.run(_session(run, store))
    assert first > 1
    saved = store.next_counter(TITLE, "meter-1001")
    assert saved is not None and saved >= first  # saved before each APDU left (RLRQ too)
    path = tmp_path / "dlms-hes-counters" / f"{TITLE.hex()}@meter-1001.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # a new HES process: the same store, the default starting counter 1
    second = asyncio.run(_session(run, ClientCounterFiles(tmp_path / "dlms-hes-counters")))
    assert second > first
    # the control: without the store, counter 1 is a replay the meter refuses
    with pytest.raises(AssociationRefused):
        asyncio.run(_session(run, None))


def test_the_store_never_lowers_an_explicit_counter(run: Running, tmp_path: Path) -> None:
    store = ClientCounterFiles(tmp_path)
    done = asyncio.run(_session(run, store, invocation_counter=500))
    assert done > 500 and (store.next_counter(TITLE, "meter-1001") or 0) >= done
