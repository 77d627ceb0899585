"""`openami broute`: the B route — the smart meter as an ECHONET Lite node.

`openami broute serve` runs simulated meters as ECHONET Lite UDP nodes (IPv4 and IPv6).
`openami broute wisun` (when installed) runs the virtual Wi-SUN module on a pty.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import ipaddress
import logging
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from openami.broute.high_voltage import HighVoltageResponder
from openami.broute.node import ECHONET_PORT, MeterNode
from openami.broute.responder import MeterResponder
from openami.broute.simulated import clock_for_speed, meter_history_options, simulated_fleet
from openami.cli.broute_points import served_point
from openami.clock import Clock
from openami.meter import MeterView
from openami.protocols.echonet.high_voltage_meter import HighVoltageScale
from openami.protocols.echonet.smart_meter import EnergyScale

console = Console(stderr=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def command() -> None:
    """B route: the smart meter seen by a HEMS over ECHONET Lite.

    `serve` runs simulated meters as ECHONET Lite nodes on UDP port 3610 (node profile
    0x0EF001 + low-voltage smart electric energy meter 0x028801). Any ECHONET Lite
    controller (pychonet / Home Assistant echonetlite, pyhems, uecho) can discover and read them.
    """


def _node_hosts(binds: tuple[str, ...], k: int) -> list[str]:
    hosts = []
    for bind in binds:
        addr = ipaddress.ip_address(bind)
        if k and addr.is_unspecified:
            raise click.BadParameter(
                "several meters need a specific start address (e.g. 127.0.0.2): "
                "meter k is served on the address + k",
                param_hint="--bind",
            )
        hosts.append(str(addr + k))
    return hosts


def build_nodes(
    *,
    binds: tuple[str, ...],
    port: int,
    meters: int,
    first_meter_id: int,
    seed: int,
    pv_share: float,
    history_days: int,
    retention_days: int,
    clock: Clock,
    reply_to_sender_port: bool,
    multicast: bool,
    scale: EnergyScale,
    max_opc: int | None,
    speed: float = 1.0,
    high_voltage: HighVoltageScale | None = None,
) -> list[MeterNode]:
    """One fleet of ``meters`` meters started ``history_days`` ago; one node per meter
    (high-voltage meters 0x028A01 with ``high_voltage``, else low-voltage 0x028801)."""
    fleet = simulated_fleet(
        np.arange(first_meter_id, first_meter_id + meters, dtype=np.int64),
        clock,
        seed=seed,
        pv_share=pv_share,
        history_days=history_days,
        retention_days=retention_days,
    )
    nodes = []
    for k in range(meters):
        view = MeterView(fleet, k, clock)
        responder: MeterResponder = (
            MeterResponder(view, clock, retention_days=retention_days, scale=scale, max_opc=max_opc)
            if high_voltage is None
            else HighVoltageResponder(
                view, clock, hv_scale=high_voltage, retention_days=retention_days, max_opc=max_opc
            )
        )
        nodes.append(
            MeterNode(
                responder,
                _node_hosts(binds, k),
                port,
                reply_to_sender_port=reply_to_sender_port,
                multicast=multicast,
                # the 5-minute INF window must not fall between two polls of a fast clock
                poll_interval_s=min(1.0, 30.0 / speed),
            )
        )
    return nodes


async def _serve(nodes: list[MeterNode], duration_s: float | None) -> None:
    started: list[MeterNode] = []
    try:
        for node in nodes:
            await node.start()
            started.append(node)
        table = Table(title="ECHONET Lite meter nodes")
        for col in ("meter id", "addresses", "export (PV)", "notes"):
            table.add_column(col)
        for node in started:
            table.add_row(
                str(node.responder.meter.meter_id),
                ", ".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in node.bound),
                "yes" if node.responder.exports else "no",
                "; ".join(node.stats.errors),
            )
        console.print(table)
        if duration_s is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(duration_s)
    finally:
        for node in started:
            node.close()
        total = sum(n.responder.stats.received for n in started)
        bad = sum(n.responder.stats.malformed for n in started)
        infs = sum(n.stats.notifications_sent for n in started)
        console.print(f"stopped: {total} frames received, {bad} malformed, {infs} INF sent")


@command.command("serve")
@click.option(
    "--bind",
    "binds",
    multiple=True,
    default=("0.0.0.0", "::"),
    show_default=True,
    help="Local address to listen on (repeat for IPv4 and IPv6). With --meters N, meter k "
    "is served on address+k (e.g. 127.0.0.2, 127.0.0.3, … on loopback).",
)
@click.option("--port", default=ECHONET_PORT, show_default=True, help="UDP port (0 = any free).")
@click.option("--meters", default=1, show_default=True, help="Number of meters (one node each).")
@click.option("--meter-id", default=1, show_default=True, help="Id of the first meter.")
@click.option("--pv-share", default=0.15, show_default=True, help="Share of meters with PV.")
@click.option("--digits", default=6, show_default=True, help="D7 effective digits (1–8).")
@click.option("--coefficient", default=1, show_default=True, help="D3 coefficient.")
@click.option("--max-opc", type=int, default=None, help="Serve only this many EPCs per request.")
@click.option(
    "--high-voltage",
    is_flag=True,
    help="Serve high-voltage smart meters (0x028A01, ≥ 50 kW points) instead of 0x028801.",
)
@click.option(
    "--multiplier",
    default=40,
    show_default=True,
    help="CT/VT multiplier (乗率) of a high-voltage meter, given as its coefficient D3.",
)
@click.option(
    "--reply-to-sender-port",
    is_flag=True,
    help="Reply to the request's source port instead of 3610 (clients on other ports).",
)
@click.option(
    "--supply-point",
    "supply_point_id",
    default=None,
    help="Serve the meter --data-dir's registry has at this point (0x028A01 with its "
    "multiplier for a high-voltage point); sets --meter-id and --high-voltage.",
)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--no-multicast", is_flag=True, help="Do not join 224.0.23.0 / ff02::1.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("-v", "--verbose", is_flag=True, help="Log every dropped frame.")
@meter_history_options
def serve(
    binds: tuple[str, ...],
    port: int,
    meters: int,
    meter_id: int,
    seed: int,
    pv_share: float,
    history_days: int,
    retention_days: int,
    unit_code: str,
    digits: int,
    coefficient: int,
    max_opc: int | None,
    high_voltage: bool,
    multiplier: int,
    supply_point_id: str | None,
    data_dir: Path | None,
    reply_to_sender_port: bool,
    no_multicast: bool,
    speed: float,
    duration: float | None,
    verbose: bool,
) -> None:
    """Serve simulated smart meters as ECHONET Lite nodes over UDP.

    Each meter answers Get/SetC/SetI/SetGet/INF_REQ for the node profile 0x0EF001 and the
    meter 0x028801, announces itself with INF 0xD5 at start and sends EA (and EB with PV)
    as INF within 5 minutes after every :00 and :30. With --high-voltage the meters are
    high-voltage smart meters 0x028A01 (a ≥ 50 kW point's load; E2/E3 energy and C1/C3/C6
    demand, the CT/VT multiplier as coefficient D3), announcing E3 and C3.

    Example: openami broute serve --bind 127.0.0.2 --meters 3
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)
    if meters < 1:
        raise click.BadParameter("at least one meter", param_hint="--meters")
    try:
        clock = clock_for_speed(speed)
        scale = EnergyScale(int(unit_code, 16), coefficient, digits)
        hv_scale = HighVoltageScale(coefficient=multiplier) if high_voltage else None
        if supply_point_id is not None:
            point = served_point(data_dir or Path("openami-data"), supply_point_id)
            meter_id, meters, hv_scale = point.meter_id, 1, point.high_voltage
        nodes = build_nodes(
            binds=binds,
            port=port,
            meters=meters,
            first_meter_id=meter_id,
            seed=seed,
            pv_share=pv_share,
            history_days=history_days,
            retention_days=retention_days,
            clock=clock,
            reply_to_sender_port=reply_to_sender_port,
            multicast=not no_multicast,
            scale=scale,
            max_opc=max_opc,
            speed=speed,
            high_voltage=hv_scale,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(nodes, duration))
    except OSError as exc:
        raise click.ClickException(f"cannot bind: {exc}") from None


if importlib.util.find_spec("openami.broute.wisun_cli") is not None:
    from openami.broute import wisun_cli
    from openami.cli.broute_provisioned import provisioned_source

    wisun_cli.provisioned_source = provisioned_source
    command.add_command(wisun_cli.command, name="wisun")
