"""`openami dlms`: the A route's DLMS/COSEM meter emulator and openami's own DLMS client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from openami.cli.dlms_field import make_clock, register_field, with_clock_options
from openami.cli.dlms_keys import (
    HES_COUNTERS_DIR,
    HES_KEYS_FILE,
    METER_KEYS_FILE,
    METER_STATE_DIR,
    data_dir_option,
    keys_init,
    open_key_store,
    rotate,
)
from openami.cli.options import host_port
from openami.clock import JST, day_first_slot, slot_index, slot_start
from openami.hes.dlms import DlmsClient, DlmsError
from openami.meter import DEFAULT_RETENTION_DAYS, MeterFleet
from openami.meter.dlms import DlmsEmulator, EmulatorSecrets
from openami.meter.dlms.objects import THRESHOLD_UNITS_PER_AMPERE
from openami.meter.dlms.push import AlarmPusher
from openami.protocols.dlms.cosem import (
    EXPORT_ENERGY_LN,
    IMPORT_ENERGY_LN,
    INVOCATION_COUNTER_LN,
    LOAD_PROFILE_LN,
    LOGICAL_DEVICE_NAME_LN,
    AttributeRef,
    ClassId,
)
from openami.protocols.dlms.security import Keys
from openami.protocols.dlms.wrapper import DEFAULT_PORT
from openami.storage.dlms_counters import ClientCounterFiles, MeterCounterFiles

console = Console(stderr=True)

# Printed whenever they are used: for demos on a laptop, never for real meters.
DEMO_PASSWORD = "openami-demo"
DEMO_KEY_HEX = "000102030405060708090a0b0c0d0e0f"
DEMO_AUTH_KEY_HEX = "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def command() -> None:
    """A route over DLMS/COSEM (IEC 62056): meter emulator and head-end client.

    `serve` runs many simulated meters behind one TCP wrapper endpoint (port 4059); the
    destination wPort selects the meter (wPort n = meter n-1 of the fleet). `read` uses
    openami's own client to read one meter and prints a table. See docs/dlms.md.
    """


def _keys(key_hex: str | None, auth_key_hex: str | None) -> Keys | None:
    if key_hex is None and auth_key_hex is None:
        return None
    if key_hex is None or auth_key_hex is None:
        raise click.UsageError("suite 0 needs both --key and --auth-key")
    try:
        return Keys(bytes.fromhex(key_hex), bytes.fromhex(auth_key_hex))
    except ValueError as exc:
        raise click.UsageError(f"keys are 32 hex digits (16 bytes): {exc}") from None


_secret_options = [
    click.option(
        "--password",
        envvar="OPENAMI_DLMS_PASSWORD",
        help="Lowest-level security password (env OPENAMI_DLMS_PASSWORD).",
    ),
    click.option(
        "--key",
        "key_hex",
        envvar="OPENAMI_DLMS_KEY",
        help="Suite-0 global unicast encryption key, 32 hex digits (env OPENAMI_DLMS_KEY).",
    ),
    click.option(
        "--auth-key",
        "auth_key_hex",
        envvar="OPENAMI_DLMS_AUTH_KEY",
        help="Suite-0 authentication key, 32 hex digits (env OPENAMI_DLMS_AUTH_KEY).",
    ),
    click.option(
        "--demo-secrets",
        is_flag=True,
        help="Use the published DEMO password and keys (printed at start; never for real use).",
    ),
]


def _with_secrets(f: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_secret_options):
        f = option(f)
    return f


def _resolve(
    password: str | None, key_hex: str | None, auth_key_hex: str | None, demo: bool
) -> tuple[bytes | None, Keys | None]:
    if demo:
        console.print(
            "[bold yellow]DEMO secrets in use (public, for demos only):[/] "
            f"password={DEMO_PASSWORD!r} key={DEMO_KEY_HEX} auth-key={DEMO_AUTH_KEY_HEX}"
        )
        password = password or DEMO_PASSWORD
        key_hex = key_hex or DEMO_KEY_HEX
        auth_key_hex = auth_key_hex or DEMO_AUTH_KEY_HEX
    return (password.encode() if password else None), _keys(key_hex, auth_key_hex)


@command.command()
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, help="TCP port (0 = any).")
@click.option("--meters", default=100, show_default=True, help="Meters in the fleet (≤ 65535).")
@click.option("--first-meter-id", default=1, show_default=True, help="Id of meter index 0.")
@click.option("--seed", default=1, show_default=True, help="Seed of the load model.")
@click.option("--history-days", default=7, show_default=True, help="Days of logged history.")
@click.option(
    "--retention-days",
    default=DEFAULT_RETENTION_DAYS,
    show_default=True,
    help="Days the meters keep in their half-hour log (≈ 770 bytes per meter per day).",
)
@with_clock_options
@click.option(
    "--no-fsync",
    is_flag=True,
    help="Write the meters' counter files without fsync: they survive a killed emulator, "
    "not a power loss (for fields of thousands of emulated meters on one disk).",
)
@click.option(
    "--idle-timeout",
    default=120.0,
    show_default=True,
    help="Close connections silent this long (s).",
)
@click.option(
    "--push-to",
    metavar="HOST:PORT",
    callback=host_port,
    help="Push each alarm that rises in a meter's alarm register to this address (a "
    "DataNotification; `openami serve hes --alarm-listen`).",
)
@data_dir_option
@_with_secrets
def serve(
    bind: str,
    port: int,
    meters: int,
    first_meter_id: int,
    seed: int,
    history_days: int,
    retention_days: int,
    speed: float | None,
    clock_anchor: float | None,
    clock_at_anchor: float | None,
    no_fsync: bool,
    idle_timeout: float,
    push_to: tuple[str, int] | None,
    data_dir: Path,
    password: str | None,
    key_hex: str | None,
    auth_key_hex: str | None,
    demo_secrets: bool,
) -> None:
    """Serve simulated meters over the DLMS TCP wrapper (one event loop, no thread per meter).

    A client selects meter index i by sending to destination wPort i+1. Client SAP 16 is the
    public client (public objects only); other SAPs authenticate with the password (lowest
    level: reads only) or HLS-GMAC (suite 0, authenticated encryption), which allows SET and
    ACTION. Each meter has its own secrets from the key store in --data-dir (`openami dlms
    keys-init`); --password/--key/--auth-key/--demo-secrets give every meter the same ones,
    for demos and tests only. Invocation counters persist in --data-dir across restarts.
    """
    if not 1 <= meters <= 0xFFFF:
        raise click.BadParameter("1..65535 meters per endpoint", param_hint="--meters")
    pw, keys = _resolve(password, key_hex, auth_key_hex, demo_secrets)
    keyring = None
    if pw is None and keys is None:
        keyring = open_key_store(data_dir, METER_KEYS_FILE)
        if keyring is None:
            console.print(
                "[yellow]no key store and no secrets: only the public client (SAP 16) can "
                "read (run `openami dlms keys-init`)"
            )
        else:
            console.print(f"per-meter secrets from {keyring.path}")
    state = MeterCounterFiles(data_dir / METER_STATE_DIR, sync=not no_fsync)
    clock = make_clock(speed, clock_anchor, clock_at_anchor)
    ids = np.arange(first_meter_id, first_meter_id + meters, dtype=np.int64)
    now_slot = slot_index(clock.now())
    fleet = MeterFleet(ids, now_slot - history_days * 48, seed=seed, retention_days=retention_days)
    fleet.advance_to(now_slot)
    emulator = DlmsEmulator(
        fleet,
        clock,
        EmulatorSecrets(pw, keys),
        idle_timeout_s=idle_timeout,
        keyring=keyring,
        state=state,
        push=None if push_to is None else AlarmPusher(*push_to),
    )

    async def run() -> None:
        server = await emulator.start(bind, port)
        for sock in server.sockets:
            host, bound = sock.getsockname()[:2]
            console.print(
                f"DLMS emulator: {meters} meters on {host}:{bound} "
                f"(wPort 1..{meters} = meter ids {ids[0]}..{ids[-1]}); Ctrl-C stops"
            )
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        console.print("stopped")


@command.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True)
@click.option("--meter", "meter_index", default=0, show_default=True, help="Fleet index (wPort-1).")
@click.option(
    "--day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="JST day of the load profile (default: yesterday).",
)
@click.option(
    "--system-title",
    default="4f50454e414d4901",
    show_default=True,
    help="Our 8-byte system title in hex (suite 0).",
)
@click.option(
    "--meter-id",
    default=None,
    type=int,
    help="The meter's id in the key store (default: meter index + 1).",
)
@click.option(
    "--invocation-counter",
    default=None,
    type=int,
    help="First invocation counter (suite 0; default: the one saved in --data-dir).",
)
@click.option(
    "--counter-from-meter",
    is_flag=True,
    help="Start from the meter's public counter (demo/test peers only: a man in the middle "
    "controls that value).",
)
@data_dir_option
@_with_secrets
def read(
    host: str,
    port: int,
    meter_index: int,
    day: datetime | None,
    system_title: str,
    meter_id: int | None,
    invocation_counter: int | None,
    counter_from_meter: bool,
    data_dir: Path,
    password: str | None,
    key_hex: str | None,
    auth_key_hex: str | None,
    demo_secrets: bool,
) -> None:
    """Read one meter with openami's own DLMS client and print a table.

    Secrets: --password (reads), --key/--auth-key (HLS), --demo-secrets, or else the meter's
    own from the HES key store in --data-dir; without any, the public objects only. The
    invocation counter is saved in --data-dir and never taken from the meter unless
    --counter-from-meter says so.
    """
    pw, keys = _resolve(password, key_hex, auth_key_hex, demo_secrets)
    meter_id = meter_index + 1 if meter_id is None else meter_id
    if pw is None and keys is None:
        store = open_key_store(data_dir, HES_KEYS_FILE)
        stored = store.get(meter_id) if store is not None else None
        if stored is not None:
            pw, keys = stored.password, stored.keys
    if counter_from_meter:
        console.print("[yellow]invocation counter taken from the meter: demo/test peers only")
    wanted = day.date() if day else (datetime.now(JST) - timedelta(days=1)).date()
    session = _Session(
        host,
        port,
        meter_index + 1,
        pw,
        keys,
        bytes.fromhex(system_title),
        invocation_counter,
        counter_from_meter,
        ClientCounterFiles(data_dir / HES_COUNTERS_DIR),
        f"meter-{meter_id}",
    )
    try:
        asyncio.run(_read(session, wanted))
    except (DlmsError, OSError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc


@dataclass(frozen=True)
class _Session:
    host: str
    port: int
    wport: int
    password: bytes | None = field(repr=False)
    keys: Keys | None = field(repr=False)
    title: bytes
    invocation_counter: int | None
    counter_from_meter: bool
    counters: ClientCounterFiles
    counter_key: str


async def _public_values(session: _Session) -> tuple[bytes, int]:
    async with await DlmsClient.connect(session.host, session.port, session.wport) as public:
        name = await public.get(AttributeRef(ClassId.DATA, LOGICAL_DEVICE_NAME_LN, 2))
        counter = await public.get(AttributeRef(ClassId.DATA, INVOCATION_COUNTER_LN, 2))
    return bytes(name), int(counter)


async def _read(session: _Session, day: date) -> None:
    if session.password is None and session.keys is None:
        device_name, counter = await _public_values(session)
        out = Console()
        info = Table(title=f"meter at wPort {session.wport} (public client: public objects only)")
        info.add_column("object")
        info.add_column("value", justify="right")
        info.add_row("logical device name 0.0.42.0.0.255", device_name.decode("ascii", "replace"))
        info.add_row("invocation counter 0.0.43.1.0.255", str(counter))
        out.print(info)
        return
    first_counter = session.invocation_counter or 1
    if session.keys is not None and session.counter_from_meter:
        first_counter = max(first_counter, (await _public_values(session))[1])
    async with await DlmsClient.connect(
        session.host,
        session.port,
        session.wport,
        password=session.password,
        keys=session.keys,
        system_title=session.title,
        invocation_counter=first_counter,
        counters=session.counters,
        counter_key=session.counter_key,
    ) as client:
        clock = await client.read_clock()
        imp = await client.read_register(IMPORT_ENERGY_LN)
        exp = await client.read_register(EXPORT_ENERGY_LN)
        state = await client.read_control_state()
        threshold = await client.read_limiter_threshold()
        first = slot_start(day_first_slot(day))
        rows = await client.read_profile_range(
            LOAD_PROFILE_LN, first, first + timedelta(hours=23, minutes=30)
        )
    wport = session.wport
    out = Console()
    info = Table(title=f"meter at wPort {wport}")
    info.add_column("quantity")
    info.add_column("value", justify="right")
    info.add_row("clock", clock.isoformat())
    info.add_row("import register 1.0.1.8.0.255", f"{imp.value:,.0f} Wh")
    info.add_row("export register 1.0.2.8.0.255", f"{exp.value:,.0f} Wh")
    info.add_row("control_state", {0: "disconnected", 1: "connected"}.get(state, str(state)))
    info.add_row("limiter threshold", f"{threshold / THRESHOLD_UNITS_PER_AMPERE:g} A")
    out.print(info)
    profile = Table(title=f"load profile 1.0.99.1.0.255, {day.isoformat()} (JST)")
    for name in ("time", "import Wh", "export Wh", "import in slot Wh"):
        profile.add_column(name, justify="right")
    previous: int | None = None
    for moment, i, e in rows:
        delta = "" if previous is None else f"{i - previous:,}"
        profile.add_row(moment.strftime("%H:%M"), f"{i:,}", f"{e:,}", delta)
        previous = i
    out.print(profile)


command.add_command(keys_init)
command.add_command(rotate)
command.add_command(register_field)
