"""`openami broute wisun`: a virtual Wi-SUN USB module (SKSTACK IP) on a pty."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click
from rich.console import Console
from rich.table import Table

from openami.broute.plc import VirtualPlcModem
from openami.broute.responder import MeterResponder
from openami.broute.simulated import clock_for_speed, meter_history_options, simulated_fleet
from openami.broute.wisun import (
    DEFAULT_METER_MAC,
    CredentialSource,
    Faults,
    VirtualWisunModule,
)
from openami.meter import MeterView
from openami.meter.broute_credentials import BrouteCredentials
from openami.protocols.echonet.smart_meter import EnergyScale
from openami.protocols.skstack import Dialect, link_local_of

console = Console(stderr=True)


#: opens the provisioning named by --provisioned for one meter; set by the command line's
#: composition (``openami.cli.broute``), as this package may not open a store itself
provisioned_source: Callable[[str, int], CredentialSource] | None = None


def _credential_source(
    provisioned: str | None, meter_id: int, rbid: str | None, password: str | None
) -> CredentialSource | None:
    if provisioned is not None:
        if rbid or password:
            raise click.UsageError("--provisioned or --rbid/--password, not both")
        if provisioned_source is None:
            raise click.UsageError("--provisioned needs the openami command line")
        try:
            return provisioned_source(provisioned, meter_id)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    if not rbid or not password:
        raise click.UsageError("give --provisioned, or --rbid and --password")
    if len(rbid) != 32 or not rbid.isalnum():
        raise click.BadParameter("a B-route ID has 32 letters or digits", param_hint="--rbid")
    if not 1 <= len(password) <= 32:
        raise click.BadParameter("1–32 characters", param_hint="--password")
    return None


def _plc_modem(
    link: Path | None,
    responder: MeterResponder,
    credentials: CredentialSource | None,
    rbid: str,
    password: str,
    mac: bytes,
) -> VirtualPlcModem | None:
    if link is None:
        return None
    if credentials is None:
        try:
            fixed = BrouteCredentials(rbid, password)
        except ValueError as exc:
            raise click.UsageError(f"--plc-link: {exc}") from None
        credentials = lambda: fixed  # noqa: E731
    return VirtualPlcModem(responder.respond, credentials, link=link, meter_mac=mac)


def _hex_int(value: str) -> int:
    return int(value, 16)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--link",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Symlink to create for the module's serial port (e.g. /tmp/ttyWISUN).",
)
@click.option(
    "--dialect",
    type=click.Choice([d.value for d in Dialect]),
    default=Dialect.BP35C2.value,
    show_default=True,
    help="bp35a1: no side field, 3-argument SKSCAN (RL7023 Stick-D/IPS). "
    "bp35c2: side field, 4-argument SKSCAN, LQI in ERXUDP (RS-WSUHA-P, Stick-D/DSS).",
)
@click.option(
    "--provisioned",
    metavar="DATA_DIR|URL",
    default=None,
    help="Take the meter's B-route ID and password from the utility's provisioning (what "
    "the HES confirmed writing to --meter-id), re-read before every scan or join: a data "
    "directory or a database URL (keys in OPENAMI_MASTER_KEY or next to the store).",
)
@click.option("--rbid", default=None, help="Fixed B-route ID (32 characters), for tests.")
@click.option(
    "--password",
    default=None,
    envvar="OPENAMI_BROUTE_PASSWORD",
    help="Fixed B-route password, for tests (or set OPENAMI_BROUTE_PASSWORD).",
)
@click.option("--meter-id", default=1, show_default=True, help="Id of the simulated meter.")
@click.option("--pv/--no-pv", default=True, show_default=True, help="Meter with PV export.")
@click.option("--meter-mac", default=DEFAULT_METER_MAC.hex().upper(), show_default=True)
@click.option("--channel", type=_hex_int, default="21", show_default=True, help="Hex, 21–3C.")
@click.option("--pan-id", type=_hex_int, default="8888", show_default=True, help="Hex PAN ID.")
@click.option("--drop-replies", default=0.0, show_default=True, help="Share of replies lost.")
@click.option("--fail-sends", default=0.0, show_default=True, help="Share of EVENT 21 01.")
@click.option(
    "--tx-budget-ms",
    type=int,
    default=None,
    help="ARIB transmission-time budget: EVENT 32 when reached, EVENT 33 --tx-hold later.",
)
@click.option("--tx-hold", default=5.0, show_default=True, help="Seconds of EVENT 32 limit.")
@click.option(
    "--session-lifetime",
    type=float,
    default=None,
    help="PANA session lifetime [s]: EVENT 29 then re-authentication (EVENT 25).",
)
@click.option("--reauth-fails", is_flag=True, help="Re-authentication ends in EVENT 24.")
@click.option(
    "--out-of-range", is_flag=True, help="The meter's radio does not reach: scans find nothing."
)
@click.option(
    "--plc-link",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also run a G3-PLC modem (OPLC/1) for the same meter, the HEMS's fallback medium.",
)
@click.option(
    "--binary-erxudp",
    is_flag=True,
    help="Start in WOPT 00 (binary ERXUDP), as a stick fresh from the factory.",
)
@click.option("--no-ropt", is_flag=True, help="Answer ROPT with FAIL ER04 (older A1 sticks).")
@click.option(
    "--radio-time",
    "radio_time_scale",
    default=0.0,
    show_default=True,
    help="Scale of real radio time for SKSCAN (17–70 s) and SKJOIN (~4 s): 1 = as a real "
    "stick, 0 = answer at once.",
)
@click.option("--fault-seed", default=0, show_default=True, help="Seed of the fault dice.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("-v", "--verbose", is_flag=True, help="Log what the module does.")
@meter_history_options
def command(
    link: Path,
    dialect: str,
    provisioned: str | None,
    rbid: str | None,
    password: str | None,
    meter_id: int,
    seed: int,
    pv: bool,
    history_days: int,
    retention_days: int,
    unit_code: str,
    speed: float,
    meter_mac: str,
    channel: int,
    pan_id: int,
    drop_replies: float,
    fail_sends: float,
    tx_budget_ms: int | None,
    tx_hold: float,
    session_lifetime: float | None,
    reauth_fails: bool,
    out_of_range: bool,
    plc_link: Path | None,
    binary_erxudp: bool,
    no_ropt: bool,
    radio_time_scale: float,
    fault_seed: int,
    duration: float | None,
    verbose: bool,
) -> None:
    """Run a virtual Wi-SUN module (SKSTACK IP) with a simulated smart meter behind it.

    The module is a pty that answers like a BP35A1 or BP35C2 USB stick: echo, ROPT/WOPT,
    SKINFO, SKSCAN (EPANDESC only when the B-route ID matches), SKJOIN (EVENT 25, or 24 on
    a wrong password), SKSENDTO relayed to the meter and answered as ERXUDP, SKTERM.
    Point momonga or `openami hems watch --serial` at --link.

    Example: openami broute wisun --link /tmp/ttyWISUN --rbid 0011…EEFF --password 0123456789AB
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)
    credentials = _credential_source(provisioned, meter_id, rbid, password)
    rbid, password = rbid or "", password or ""
    try:
        mac = bytes.fromhex(meter_mac)
        if len(mac) != 8:
            raise ValueError("the meter MAC has 8 bytes (16 hex digits)")
        faults = Faults(
            drop_replies,
            fail_sends,
            tx_budget_ms,
            tx_hold,
            reauth_fails,
            fault_seed,
            out_of_range=out_of_range,
        )
        clock = clock_for_speed(speed)
        fleet = simulated_fleet(
            [meter_id],
            clock,
            seed=seed,
            pv_share=1.0 if pv else 0.0,
            history_days=history_days,
            retention_days=max(retention_days, history_days),
        )
        responder = MeterResponder(
            MeterView(fleet, 0, clock),
            clock,
            retention_days=retention_days,
            scale=EnergyScale(int(unit_code, 16)),
        )
        module = VirtualWisunModule.for_responder(
            responder,
            dialect=Dialect(dialect),
            rbid=rbid,
            password=password,
            credentials=credentials,
            meter_mac=mac,
            channel=channel,
            pan_id=pan_id,
            link=link,
            faults=faults,
            session_lifetime_s=session_lifetime,
            wopt=0 if binary_erxudp else 1,
            ropt_supported=not no_ropt,
            radio_time_scale=radio_time_scale,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    modem = _plc_modem(plc_link, responder, credentials, rbid, password, mac)
    try:
        path = module.start()
        if modem is not None:
            modem.start()
    except OSError as exc:
        module.stop()
        raise click.ClickException(f"cannot create the module: {exc}") from None
    previous = signal.signal(signal.SIGTERM, _on_signal)  # stop cleanly, removing the link
    try:
        table = Table(title=f"virtual Wi-SUN module ({dialect})")
        table.add_column("what")
        table.add_column("value")
        table.add_row("serial port", f"{path} -> {module.path}")
        table.add_row("meter", f"{meter_id} ({'PV' if pv else 'no PV'})")
        table.add_row("meter MAC / address", f"{mac.hex().upper()} / {link_local_of(mac)}")
        table.add_row("channel / PAN ID", f"{channel:02X} / {pan_id:04X}")
        if modem is not None:
            table.add_row("G3-PLC modem (OPLC/1)", f"{plc_link} -> {modem.path}")
        shown = f"…{rbid[-8:]} (password not shown)" if rbid else f"provisioned ({provisioned})"
        table.add_row("B-route ID", shown)
        console.print(table)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait(duration)
    finally:
        signal.signal(signal.SIGTERM, previous)
        module.stop()
        if modem is not None:
            modem.stop()
        s = module.stats
        console.print(
            f"stopped: {s.sends} sends ({s.send_failures} failed), {s.replies} replies "
            f"({s.replies_dropped} dropped), {s.notifications} notifications"
        )
