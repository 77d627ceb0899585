"""`openami hems`: a HEMS controller reading a smart meter over the B route."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from openami.clock import JST
from openami.hems.appliance_link import ApplianceLink
from openami.hems.client import HemsError, HistorySlot, LiveReading, MeterClient, Transport
from openami.hems.export import write_history_csv
from openami.hems.fallback import open_broute
from openami.hems.live import Decision, HemsController
from openami.hems.plc import PlcTransport
from openami.hems.policy import PolicyError, load_policy
from openami.hems.skstack import SkstackTransport
from openami.hems.udp import UdpTransport, parse_address
from openami.protocols.echonet import smart_meter as sm

console = Console()
err = Console(stderr=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def command() -> None:
    """HEMS: read a low-voltage smart meter (ECHONET Lite 0x028801) over the B route and
    control the home's appliances.

    `watch` joins the meter (over UDP, or through a Wi-SUN USB module on a serial port),
    shows live power, currents and cumulative energy, reads the half-hour history and
    exports it as CSV. `run` controls the appliances (peak cut, peak shift) under a policy.
    """


def _fmt(value: float | int | None, spec: str = "") -> str:
    return "—" if value is None else format(value, spec)


def last_fixed_time(client: MeterClient) -> str | None:
    """The newest fixed-time INF (EA) the meter sent on its own, as text."""
    for frame in reversed(client.notifications):
        edt = frame.edt(sm.EPC_FIXED_TIME_NORMAL)
        if edt is None:
            continue
        try:
            value = sm.FixedTimeValue.decode(edt)
        except ValueError:
            continue
        kwh = None if value.value is None else value.value * client.energy_scale()
        return f"{_fmt(kwh, '.1f')} kWh at {value.at:%H:%M}"
    return None


def live_table(
    reading: LiveReading, where: str, lqi: int | None = None, fixed_time: str | None = None
) -> Table:
    table = Table(title=f"smart meter via {where}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("read at", reading.at.strftime("%Y-%m-%d %H:%M:%S %Z"))
    table.add_row("instantaneous power", f"{_fmt(reading.power_w)} W")
    table.add_row("current R / T", f"{_fmt(reading.r_phase_a)} A / {_fmt(reading.t_phase_a)} A")
    table.add_row("import register", f"{_fmt(reading.import_kwh, '.1f')} kWh")
    table.add_row("export register", f"{_fmt(reading.export_kwh, '.1f')} kWh")
    if fixed_time is not None:
        table.add_row("last EA notification", fixed_time)
    if lqi is not None:
        table.add_row("LQI / RSSI", f"{lqi} / {0.275 * lqi - 104.27:.1f} dBm")
    return table


def history_table(slots: list[HistorySlot], last: int = 8) -> Table:
    """The newest half-hours that have data, with the energy used in each."""
    table = Table(title="half-hour history (newest)")
    for col in ("slot", "import kWh", "used kWh", "export kWh"):
        table.add_column(col, justify="right")
    known = [s for s in sorted(slots, key=lambda s: s.slot_start) if s.import_kwh is not None]
    for prev, slot in list(zip([None, *known], known, strict=False))[-last:]:
        used = None
        if prev is not None and prev.import_kwh is not None and slot.import_kwh is not None:
            used = slot.import_kwh - prev.import_kwh
        table.add_row(
            slot.slot_start.strftime("%m-%d %H:%M"),
            _fmt(slot.import_kwh, ".1f"),
            _fmt(used, ".1f"),
            _fmt(slot.export_kwh, ".1f"),
        )
    return table


def _transport(
    udp: str | None,
    serial: str | None,
    rbid: str | None,
    password: str | None,
    local_port: int,
    plc: str | None = None,
) -> tuple[Transport, str]:
    if (udp is None) == (serial is None):
        raise click.UsageError("give exactly one of --udp ADDR or --serial PATH")
    if udp is not None:
        try:
            host, port = parse_address(udp)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--udp") from None
        return UdpTransport(host, port, local_port=local_port), f"UDP {host}:{port}"
    if not rbid or not password:
        raise click.UsageError("--serial needs --rbid and --password")
    assert serial is not None
    err.print(f"joining the meter's PAN through {serial} …")
    wisun = SkstackTransport(serial, rbid, password)
    fallback = None if plc is None else (lambda: PlcTransport(plc, rbid, password))
    opened = open_broute(lambda: wisun, fallback)
    if opened.medium == "plc":
        err.print(f"[yellow]Wi-SUN failed ({opened.wisun_error}); reading over G3-PLC {plc}")
        return opened.transport, f"G3-PLC (OPLC/1) on {plc}"
    return opened.transport, f"Wi-SUN {wisun.dialect.value} on {serial}"


@command.command("watch")
@click.option("--udp", metavar="ADDR", help="Meter's ECHONET Lite address: host[:port].")
@click.option("--local-port", default=3610, show_default=True, help="UDP port to send from.")
@click.option("--serial", metavar="PATH", help="Serial port of a Wi-SUN module (SKSTACK IP).")
@click.option(
    "--plc",
    metavar="PATH",
    help="Serial port of a G3-PLC modem (OPLC/1), used when the Wi-SUN join fails.",
)
@click.option("--rbid", help="B-route ID (32 characters), for --serial.")
@click.option(
    "--password", envvar="OPENAMI_BROUTE_PASSWORD", help="B-route password, for --serial."
)
@click.option("--interval", default=10.0, show_default=True, help="Seconds between readings.")
@click.option(
    "--days", default=1, show_default=True, help="Days of history to read (1 = today only)."
)
@click.option(
    "--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="History CSV."
)
@click.option("--once", is_flag=True, help="Read once, print and exit (no live view).")
@click.option("--count", type=int, default=None, help="Stop after this many live readings.")
@click.option("--timeout", default=20.0, show_default=True, help="Seconds to wait per request.")
@click.option("-v", "--verbose", is_flag=True, help="Log the conversation (secrets masked).")
def watch(
    udp: str | None,
    local_port: int,
    serial: str | None,
    plc: str | None,
    rbid: str | None,
    password: str | None,
    interval: float,
    days: int,
    csv_path: Path | None,
    once: bool,
    count: int | None,
    timeout: float,
    verbose: bool,
) -> None:
    """Join the meter, read it live and export its half-hour history.

    Reads instantaneous power (E7) and currents (E8), the cumulative registers (E0, E3),
    and the 48 half-hour registers (E5 then E2/E4) of today and the --days - 1 days before.

    Examples: openami hems watch --udp 127.0.0.2 --csv history.csv ;
    openami hems watch --serial /tmp/ttyWISUN --rbid 0011…EEFF --password 0123456789AB
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)
    if not 1 <= days <= 100:
        raise click.BadParameter("1–100", param_hint="--days")
    try:
        transport, where = _transport(udp, serial, rbid, password, local_port, plc)
    except (HemsError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    client = MeterClient(transport, timeout_s=timeout)
    try:
        history: list[HistorySlot] = []
        today = client.meter_date()
        for day in range(days):
            history.extend(client.read_history(day, today=today))
        if csv_path is not None:
            rows = write_history_csv(csv_path, history)
            err.print(f"wrote {rows} half-hour rows to {csv_path}")
        lqi = getattr(transport, "lqi", None)
        if once:
            console.print(live_table(client.read_live(), where, lqi))
            console.print(history_table(history))
            return
        done = 0
        with (
            Live(console=console, refresh_per_second=2) as live,
            contextlib.suppress(KeyboardInterrupt),
        ):
            while count is None or done < count:
                reading = client.read_live()
                done += 1
                lqi = getattr(transport, "lqi", None)
                table = live_table(reading, where, lqi, last_fixed_time(client))
                live.update(Group(table, history_table(history)))
                if count is None or done < count:
                    time.sleep(interval)
    except HemsError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()


def decisions_table(decisions: list[Decision], where: str) -> Table:
    """The newest decisions: band, limit, import, what was decided and set."""
    table = Table(title=f"HEMS decisions ({where})")
    for col in ("time", "band", "limit W", "import W", "expected W", "decision", "sets"):
        table.add_column(col, justify="right" if col.endswith("W") else "left")
    for d in decisions[-12:]:
        sets = "\n".join(
            f"{s.device} {s.epc:#04x}={s.value}{'' if s.accepted else ' (SNA)'}" for s in d.sets
        )
        table.add_row(
            datetime.fromtimestamp(d.at_s, JST).strftime("%H:%M:%S"),
            d.band,
            f"{d.limit_w:,.0f}",
            _fmt(d.import_w, ",.0f"),
            f"{d.expected_import_w:,.0f}",
            "\n".join(d.reasons) or "—",
            sets or "—",
        )
    return table


@command.command("run")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Policy TOML (limits, shed order, comfort bounds, tariff bands; see docs/hems.md).",
)
@click.option("--udp", metavar="ADDR", help="Meter's ECHONET Lite address: host[:port].")
@click.option("--serial", metavar="PATH", help="Serial port of a Wi-SUN module (SKSTACK IP).")
@click.option("--rbid", help="B-route ID (32 characters), for --serial.")
@click.option(
    "--password", envvar="OPENAMI_BROUTE_PASSWORD", help="B-route password, for --serial."
)
@click.option(
    "--appliances",
    "appliances_addr",
    metavar="ADDR",
    required=True,
    help="The appliances' ECHONET Lite node: host[:port].",
)
@click.option("--local-port", default=3610, show_default=True, help="UDP port to send from.")
@click.option("--interval", default=60.0, show_default=True, help="Seconds between decisions.")
@click.option("--count", type=int, default=None, help="Stop after this many decisions.")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait per request.")
def run(
    policy_path: Path,
    udp: str | None,
    serial: str | None,
    rbid: str | None,
    password: str | None,
    appliances_addr: str,
    local_port: int,
    interval: float,
    count: int | None,
    timeout: float,
) -> None:
    """Control the home's appliances: peak cut and peak shift under POLICY.

    Each --interval: read the meter's power (E7, over UDP or a Wi-SUN module), read the
    appliances, decide, send the Sets; the live table shows each decision and every one is
    logged (event hems.decision).

    Example: openami hems run --policy examples/hems-policy.toml --udp 127.0.0.2
    --appliances 127.0.0.3
    """
    if interval < 1.0:
        raise click.BadParameter("at least 1 second", param_hint="--interval")
    try:
        policy = load_policy(policy_path)
        app_host, app_port = parse_address(appliances_addr)
    except (PolicyError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        transport, where = _transport(udp, serial, rbid, password, local_port)
        peer = (
            transport.peer(app_host, app_port)
            if isinstance(transport, UdpTransport)
            else UdpTransport(app_host, app_port, local_port=local_port)
        )
    except (HemsError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    meter = MeterClient(transport, timeout_s=timeout)
    link = ApplianceLink(MeterClient(peer, timeout_s=timeout))
    try:
        found = link.discover()
        err.print(
            f"appliances at {appliances_addr}: " + ", ".join(f"{e:06X}" for e in found.values())
        )
        hems = HemsController(policy, meter, link, interval_s=interval)
        done = 0
        with (
            Live(console=console, refresh_per_second=2) as live,
            contextlib.suppress(KeyboardInterrupt),
        ):
            while count is None or done < count:
                hems.step()
                done += 1
                live.update(decisions_table(hems.history, where))
                if count is None or done < count:
                    time.sleep(interval)
    except (HemsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        link.client.close()
        meter.close()
