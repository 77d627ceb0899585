"""openami's own DLMS client against the emulator, cross-checked with gurux-dlms."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from gurux_dlms.objects import GXDLMSClock, GXDLMSProfileGeneric, GXDLMSRegister
from tests.protocols.dlms.dlms_peers import (
    KEYS,
    NOW,
    PASSWORD,
    Running,
    gurux_session,
    running_emulator,
)

from openami.clock import JST
from openami.hes.dlms import AssociationRefused, DlmsClient, DlmsError, ListItemError
from openami.meter import MeterView
from openami.meter.dlms.catalog import (
    EVENT_LIMITER_CHANGED,
    EVENT_REMOTE_DISCONNECT,
    EVENT_REMOTE_RECONNECT,
)
from openami.protocols.dlms import Keys, axdr
from openami.protocols.dlms.cosem import (
    CLOCK_LN,
    EVENT_LOG_LN,
    EXPORT_ENERGY_LN,
    IMPORT_ENERGY_LN,
    INVOCATION_COUNTER_LN,
    LOAD_PROFILE_LN,
    AttributeRef,
    ClassId,
    obis,
)
from openami.protocols.dlms.profile import CLOCK_TIME, CaptureObject

DAY = datetime(2026, 11, 2, tzinfo=JST)
DAY_END = DAY + timedelta(hours=23, minutes=30)


@pytest.fixture
def run() -> Iterator[Running]:
    with running_emulator(meters=4) as running:
        yield running


SECRETS = [{"password": PASSWORD}, {"keys": KEYS}]


@pytest.mark.parametrize("secrets", SECRETS, ids=["password", "suite0"])
def test_own_client_reads_what_gurux_reads(run: Running, secrets: dict) -> None:
    with gurux_session(run, "hls" if "keys" in secrets else "password", server_address=2) as g:
        clock = GXDLMSClock("0.0.1.0.0.255")
        g.read(clock, 2)
        regs = []
        for ln in ("1.0.1.8.0.255", "1.0.2.8.0.255"):
            reg = GXDLMSRegister(ln)
            g.read(reg, 2)
            g.read(reg, 3)
            regs.append((reg.value, reg.scaler, int(reg.unit)))  # gurux: scaler as 10**n
        pg = GXDLMSProfileGeneric("1.0.99.1.0.255")
        g.read(pg, 3)
        reply = g.exchange(g.client.readRowsByRange(pg, DAY, DAY_END))
        g.client.updateValue(pg, 2, reply.value)
        gurux_rows = [(r[0].value.astimezone(JST), r[1], r[2]) for r in pg.buffer]

    async def own() -> tuple:
        async with await DlmsClient.connect(
            run.host, run.port, 2, system_title=b"OPENAMI\x07", **secrets
        ) as c:
            t = await c.read_clock()
            imp = await c.read_register(IMPORT_ENERGY_LN)
            exp = await c.read_register(EXPORT_ENERGY_LN)
            rows = await c.read_profile_range(LOAD_PROFILE_LN, DAY, DAY_END)
            return t, imp, exp, rows

    t, imp, exp, rows = asyncio.run(own())
    assert t == clock.time.value.astimezone(JST) == NOW
    assert [(r.raw, 10.0**r.scaler, r.unit) for r in (imp, exp)] == regs
    assert imp.raw == MeterView(run.fleet, 1, run.clock).import_register_wh()
    assert rows == gurux_rows
    assert len(rows) == 48


def test_the_password_level_cannot_operate(run: Running) -> None:
    async def go() -> tuple[int, int]:
        async with await DlmsClient.connect(run.host, run.port, 3, password=PASSWORD) as c:
            with pytest.raises(DlmsError) as cut:
                await c.remote_disconnect()
            with pytest.raises(DlmsError) as limit:
                await c.set_limiter_threshold(200)
            return cut.value.code, limit.value.code

    assert asyncio.run(go()) == (3, 3)  # read-write-denied
    assert run.fleet.switch_connected[2] and run.fleet.contract_amperage_a[2] != 20


def test_own_client_operates_the_switch_and_limiter(run: Running) -> None:
    async def go() -> tuple:
        async with await DlmsClient.connect(run.host, run.port, 3, keys=KEYS) as c:
            await c.remote_disconnect()
            off = await c.read_control_state()
            switch_off = bool(run.fleet.switch_connected[2])
            await c.remote_reconnect()
            on = await c.read_control_state()
            await c.set_limiter_threshold(200)
            threshold = await c.read_limiter_threshold()
            with pytest.raises(DlmsError) as bad:
                await c.set_limiter_threshold(205)
            events = await c.get(AttributeRef(ClassId.PROFILE_GENERIC, EVENT_LOG_LN, 2))
            return off, switch_off, on, threshold, bad.value.code, events

    off, switch_off, on, threshold, code, events = asyncio.run(go())
    assert (off, switch_off, on, threshold, code) == (0, False, 1, 200, 250)
    assert run.fleet.contract_amperage_a[2] == 20 and run.fleet.switch_connected[2]
    assert [e[1] for e in events] == [
        EVENT_REMOTE_DISCONNECT,
        EVENT_REMOTE_RECONNECT,
        EVENT_LIMITER_CHANGED,
    ]
    assert axdr.decode_datetime(events[0][0]) == NOW


def test_block_transfer_get_with_list_and_column_selection(run: Running) -> None:
    async def go() -> tuple:
        async with await DlmsClient.connect(
            run.host, run.port, 1, keys=KEYS, max_receive_pdu=200
        ) as c:
            whole = await c.read_profile_entries(LOAD_PROFILE_LN, 1)  # every logged row
            one_col = await c.read_profile_range(
                LOAD_PROFILE_LN, DAY, DAY_END, columns=(CLOCK_TIME,)
            )
            imports = await c.read_profile_range(
                LOAD_PROFILE_LN,
                DAY,
                DAY_END,
                columns=(CaptureObject(ClassId.REGISTER, IMPORT_ENERGY_LN, 2),),
            )
            listed = await c.get_with_list(
                [
                    AttributeRef(ClassId.REGISTER, IMPORT_ENERGY_LN, 2),
                    AttributeRef(ClassId.REGISTER, obis("1.0.3.8.0.255"), 2),  # no such object
                    AttributeRef(ClassId.PROFILE_GENERIC, LOAD_PROFILE_LN, 2),  # big: blocks
                ]
            )
            return whole, one_col, imports, listed

    whole, one_col, imports, listed = asyncio.run(go())
    expected_rows = run.fleet.now_boundary - run.fleet.first_logged_boundary + 1
    assert len(whole) == expected_rows > 100
    assert [r[0] for r in one_col] == [DAY + timedelta(minutes=30 * k) for k in range(48)]
    log = MeterView(run.fleet, 0, run.clock).day_log(DAY.date())
    assert [r for (r,) in imports] == [pair[0] for pair in log]  # type: ignore[index]
    assert isinstance(listed[0], int) and listed[0] > 0
    assert listed[1] == ListItemError(4)  # object-undefined
    assert len(listed[2]) == expected_rows


def test_wrong_secrets_replay_and_public_limits(run: Running) -> None:
    async def go() -> None:
        with pytest.raises(AssociationRefused):
            await DlmsClient.connect(run.host, run.port, 1, password=b"nope")
        with pytest.raises(AssociationRefused):
            await DlmsClient.connect(
                run.host, run.port, 1, keys=Keys(bytes(16), KEYS.authentication_key)
            )
        async with await DlmsClient.connect(
            run.host, run.port, 1, keys=KEYS, invocation_counter=100
        ) as c:
            await c.read_clock()
            # AARQ, GMAC of the HLS answer, the ciphered ACTION carrying it, the GET
            assert c.next_invocation_counter == 104
        # reusing counters already seen from this system title is refused at association
        with pytest.raises(AssociationRefused):
            await DlmsClient.connect(run.host, run.port, 1, keys=KEYS, invocation_counter=50)
        async with await DlmsClient.connect(run.host, run.port, 1) as public:
            expected = await public.get(AttributeRef(ClassId.DATA, INVOCATION_COUNTER_LN, 2))
            assert expected > 100
            with pytest.raises(DlmsError):
                await public.remote_disconnect()
            with pytest.raises(DlmsError):
                await public.get(AttributeRef(ClassId.CLOCK, CLOCK_LN, 99))
        async with await DlmsClient.connect(
            run.host, run.port, 1, keys=KEYS, invocation_counter=expected
        ) as c:
            assert await c.read_clock() == NOW

    asyncio.run(go())
    assert run.fleet.switch_connected.all()


def test_thousands_of_meters_share_one_thread() -> None:
    with running_emulator(meters=3000) as run:
        threads = threading.active_count()

        async def one(index: int) -> int:
            async with await DlmsClient.connect(
                run.host, run.port, index + 1, password=PASSWORD
            ) as c:
                reg = await c.read_register(IMPORT_ENERGY_LN)
                return reg.raw

        async def many() -> list[int]:
            picks = list(range(0, 3000, 60))
            return await asyncio.gather(*(one(i) for i in picks))

        values = asyncio.run(many())
        assert threading.active_count() == threads
        expected = [
            MeterView(run.fleet, i, run.clock).import_register_wh() for i in range(0, 3000, 60)
        ]
        assert values == expected
        assert len(set(values)) > 40
        with pytest.raises(AssociationRefused):
            asyncio.run(DlmsClient.connect(run.host, run.port, 3001, password=PASSWORD))
