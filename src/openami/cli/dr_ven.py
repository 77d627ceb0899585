"""`openami dr ven run`: a HEMS's VEN from the command line, reading the home's load from
the smart meter over the B route (ECHONET Lite over UDP) and printing each event, its
optIn/optOut and the peak-cut target it would hand to the HEMS controller."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from openami.clock import JST
from openami.hems.client import HemsError, MeterClient
from openami.hems.dr_ven import DrVen, TargetMapping, VenTls
from openami.hems.udp import UdpTransport, parse_address
from openami.storage.dr_certs import DrCertFiles, check_name

console = Console()


def _meter_load(client: MeterClient) -> Any:
    async def read() -> list[tuple[datetime, float]]:
        try:
            live = await asyncio.to_thread(client.read_live)
        except HemsError as exc:
            console.print(f"[yellow]meter not read: {exc}[/]")
            return []  # no sample rather than a made-up one
        if live.power_w is None:
            return []
        return [(datetime.now(UTC), float(live.power_w))]

    return read


def _print_target(target_w: float, start: datetime, end: datetime) -> None:
    console.print(
        f"[bold]target {target_w:.0f} W[/] from {start.astimezone(JST):%Y-%m-%d %H:%M} "
        f"to {end.astimezone(JST):%H:%M} JST (handed to the HEMS controller)"
    )


@click.command("run")
@click.argument("ven_name")
@click.option(
    "--vtn-url", required=True, help="e.g. https://vtn.example.jp:8080/OpenADR2/Simple/2.0b"
)
@click.option("--vtn-fingerprint", required=True, help="As printed by `openami dr init`.")
@click.option(
    "--certs",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    required=True,
    help="Directory with VEN_NAME.pem, VEN_NAME.key and ca.pem.",
)
@click.option(
    "--meter", "meter", required=True, help="The smart meter's B-route UDP address HOST[:PORT]."
)
@click.option("--local-port", type=click.IntRange(0, 65535), default=3610, show_default=True)
@click.option(
    "--normal-limit-w", type=click.FloatRange(100, 100_000), default=3000.0, show_default=True
)
@click.option(
    "--min-target-w",
    type=click.FloatRange(0, 100_000),
    default=500.0,
    show_default=True,
    help="Opt out of events that would need less than this.",
)
@click.option("--report-s", type=click.FloatRange(1, 3600), default=10.0, show_default=True)
def run(
    ven_name: str,
    vtn_url: str,
    vtn_fingerprint: str,
    certs: Path,
    meter: str,
    local_port: int,
    normal_limit_w: float,
    min_target_w: float,
    report_s: float,
) -> None:
    """Run a VEN until interrupted (the HEMS side of `openami dr serve`)."""
    files = DrCertFiles(certs)
    try:
        check_name(ven_name)
        host, port = parse_address(meter)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    pair = files.pair(ven_name)
    if not files.exists(ven_name) or not files.ca.cert.exists():
        raise click.ClickException(f"{pair.cert}, {pair.key} and ca.pem are needed in {certs}")
    client = MeterClient(UdpTransport(host, port, local_port=local_port))
    tls = VenTls(pair.cert, pair.key, files.ca.cert, vtn_fingerprint)
    mapping = TargetMapping(normal_limit_w=normal_limit_w, min_target_w=min_target_w)
    ven = DrVen(ven_name, vtn_url, tls, _print_target, _meter_load(client), mapping, report_s)

    async def main() -> None:
        if not await ven.start():
            raise click.ClickException("the VTN refused the registration (see its log)")
        console.print(f"registered as {ven.ven_id}; polling {vtn_url} (Ctrl-C stops)")
        seen = 0
        try:
            while True:
                for decision in ven.decisions[seen:]:
                    console.print(f"event {decision.event_id}: {decision.opt} ({decision.reason})")
                seen = len(ven.decisions)
                await asyncio.sleep(0.5)
        finally:
            await ven.stop()

    with suppress(KeyboardInterrupt):
        asyncio.run(main())
