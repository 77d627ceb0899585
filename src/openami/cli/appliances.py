"""`openami appliances`: a home's ECHONET Lite appliances (and its smart meter) on the LAN."""

from __future__ import annotations

import asyncio

import click
from rich.console import Console
from rich.table import Table

from openami.broute.node import ECHONET_PORT, MeterNode
from openami.broute.simulated import clock_for_speed, meter_history_options
from openami.home.serve import ServedHome, build_home
from openami.protocols.echonet import appliances as ap
from openami.protocols.echonet.smart_meter import EnergyScale

console = Console(stderr=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def command() -> None:
    """Home appliances as ECHONET Lite devices a HEMS controls.

    `serve` runs one home's air conditioner (0x0130), storage battery (0x027D), EV
    charger (0x027E), water heater (0x026B) and PV (0x0279) as one ECHONET Lite node on UDP
    3610, each with a small physical model driven by the same seeded household model as
    the home's smart meter. With --meter-bind the meter is served too, and its half-hour
    values and instantaneous power include what the appliances do.
    """


def _where(node: MeterNode) -> str:
    return ", ".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in node.bound)


def _table(home: ServedHome) -> Table:
    table = Table(title=f"home {int(home.homes.p.meter_ids[0])}")
    for col in ("node", "addresses", "objects"):
        table.add_column(col)
    devices = home.appliance_node.responder.devices
    names = [f"{ap.APPLIANCE_CLASSES[d.class_code].name} {d.eoj:06X}" for d in devices]
    table.add_row("appliances", _where(home.appliance_node), "\n".join(names))
    if home.meter_node is not None:
        table.add_row("smart meter", _where(home.meter_node), "low-voltage meter 028801")
    return table


async def _serve(home: ServedHome, duration_s: float | None) -> None:
    started: list[MeterNode] = []
    try:
        for node in home.nodes:
            await node.start()
            started.append(node)
        console.print(_table(home))
        if duration_s is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(duration_s)
    finally:
        for node in started:
            node.close()
        stats = home.appliance_node.responder.stats
        infs = home.appliance_node.stats.notifications_sent
        console.print(f"stopped: {stats.received} frames received, {infs} INF sent")


@command.command("serve")
@click.option(
    "--bind",
    "binds",
    multiple=True,
    default=("0.0.0.0", "::"),
    show_default=True,
    help="Local address of the appliance node (repeat for IPv4 and IPv6).",
)
@click.option("--port", default=ECHONET_PORT, show_default=True, help="UDP port (0 = any free).")
@click.option("--home", "home_id", type=click.IntRange(1), required=True, help="Home (= meter) id.")
@click.option(
    "--meter-bind", "meter_binds", multiple=True, help="Also serve the home's meter here."
)
@click.option("--meter-port", default=ECHONET_PORT, show_default=True, help="The meter's UDP port.")
@click.option("--pv-share", default=0.15, show_default=True, help="Share of homes with PV.")
@click.option(
    "--all-appliances",
    is_flag=True,
    help="Give the home a battery, an EV charger and a water heater (else drawn from the seed).",
)
@click.option(
    "--reply-to-sender-port",
    is_flag=True,
    help="Reply to the request's source port instead of 3610 (clients on other ports).",
)
@click.option("--no-multicast", is_flag=True, help="Do not join 224.0.23.0 / ff02::1.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@meter_history_options
def serve(
    binds: tuple[str, ...],
    port: int,
    home_id: int,
    meter_binds: tuple[str, ...],
    meter_port: int,
    pv_share: float,
    all_appliances: bool,
    reply_to_sender_port: bool,
    no_multicast: bool,
    duration: float | None,
    seed: int,
    history_days: int,
    retention_days: int,
    unit_code: str,
    speed: float,
) -> None:
    """Serve home HOME's appliances (and with --meter-bind its meter) over ECHONET Lite.

    Examples: openami appliances serve --home 42 --bind 0.0.0.0 ;
    openami appliances serve --home 42 --bind 127.0.0.3 --meter-bind 127.0.0.2 --all-appliances
    """
    if speed <= 0:
        raise click.BadParameter("must be positive", param_hint="--speed")
    shares = {"battery_share": 1.0, "ev_share": 1.0, "water_heater_share": 1.0}
    try:
        home = build_home(
            home_id,
            clock_for_speed(speed),
            hosts=binds,
            port=port,
            meter_hosts=meter_binds,
            meter_port=meter_port,
            seed=seed,
            pv_share=1.0 if all_appliances else pv_share,
            shares=shares if all_appliances else None,
            history_days=history_days,
            retention_days=retention_days,
            reply_to_sender_port=reply_to_sender_port,
            multicast=not no_multicast,
            poll_interval_s=min(1.0, 30.0 / speed),
            scale=EnergyScale(int(unit_code, 16)),
        )
        asyncio.run(_serve(home, duration))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot serve: {exc}") from None
    except KeyboardInterrupt:
        pass
