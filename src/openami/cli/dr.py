"""`openami dr`: demand response over OpenADR 2.0b on the aggregator's side.

- ``dr init``: the aggregator's DR CA and the VTN's TLS certificate (``--certs``);
- ``dr ven add|list|revoke``: enrol a HEMS's VEN for a customer's supply point (issues its
  client certificate: only enrolled certificates may register), list, revoke;
  ``dr ven run``: a VEN from the command line (:mod:`openami.cli.dr_ven`);
- ``dr event create|cancel|list``: a DR event (level, target in W or price) for the aggregator's
  VENs; ``dr event results ID``: its baseline and reduction per customer;
- ``dr serve``: the VTN (HTTPS with mutual TLS; VENs poll it).

The store is the data directory's database (or ``--db``); certificates and keys are in
``--certs`` (default ``DATA_DIR/dr-certs``, keys 0600). docs/demand-response.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from openami.cli import dr_ven
from openami.cli.mdms_common import open_mdms
from openami.cli.options import DATA_DIR, DB, cli_actor, open_store
from openami.clock import JST, RealClock
from openami.dr.events import new_event
from openami.dr.pki import Issued, issue_ven, issue_vtn, new_ca
from openami.dr.vtn import PATH_PREFIX, DrVtn, VtnTls
from openami.mdms.dr_settlement import EventWindowError, settle_stored_event
from openami.mdms.reports import MdmsReports
from openami.registry import InvalidSupplyPointId, validate_supply_point_id
from openami.storage.dr_certs import DrCertFiles, check_name
from openami.storage.repositories import StorageError, open_in_data_dir
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.dr import DrStore

console = Console()
CERTS = click.option(
    "--certs",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the DR certificates and keys [default: DATA_DIR/dr-certs].",
)
PURPOSE = "demand response"


_actor = cli_actor


@contextmanager
def open_dr(data_dir: Path, db_url: str | None) -> Iterator[tuple[DrStore, AuditLog]]:
    database = open_store(data_dir, db_url)
    try:
        yield DrStore(database), AuditLog(database)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.close()


def _files(data_dir: Path, certs: Path | None) -> DrCertFiles:
    return DrCertFiles(certs or data_dir / "dr-certs")


def _ca(files: DrCertFiles) -> Issued:
    if not files.exists("ca"):
        raise click.ClickException(f"no DR CA in {files.directory}: run `openami dr init` first")
    return Issued(*files.read("ca"))


@click.group()
def command() -> None:
    """Demand response over OpenADR 2.0b: VTN, VEN enrolment, events, results."""


@command.command()
@DATA_DIR
@CERTS
@click.option(
    "--vtn-host",
    "hosts",
    multiple=True,
    default=("127.0.0.1", "localhost"),
    show_default=True,
    help="Host name or address VENs use to reach the VTN (repeat for more).",
)
def init(data_dir: Path, certs: Path | None, hosts: tuple[str, ...]) -> None:
    """Create the DR CA and the VTN's TLS certificate."""
    files = _files(data_dir, certs)
    if files.exists("ca"):
        raise click.ClickException(f"{files.directory} has a DR CA already")
    ca = new_ca()
    vtn = issue_vtn(ca, "openami-vtn", hosts)
    files.write("ca", ca.cert_pem, ca.key_pem)
    files.write("vtn", vtn.cert_pem, vtn.key_pem)
    console.print(f"DR CA and VTN certificate in {files.directory}")
    console.print(f"VTN fingerprint (give it to each VEN): [bold]{vtn.fingerprint}[/]")


@command.group()
def ven() -> None:
    """VENs (HEMS) enrolled with this aggregator."""


ven.add_command(dr_ven.run)


@ven.command("add")
@click.argument("ven_name")
@click.option("--aggregator", required=True, help="The aggregator's party ID (its C-route client).")
@click.option("--supply-point", "supply_point_id", required=True, help="The customer's 22 digits.")
@DATA_DIR
@DB
@CERTS
def ven_add(
    ven_name: str,
    aggregator: str,
    supply_point_id: str,
    data_dir: Path,
    db_url: str | None,
    certs: Path | None,
) -> None:
    """Enrol a VEN and issue its client certificate (VEN_NAME.pem / .key in --certs)."""
    try:
        check_name(ven_name)
        validate_supply_point_id(supply_point_id)
    except (ValueError, InvalidSupplyPointId) as exc:
        raise click.BadParameter(str(exc)) from None
    files = _files(data_dir, certs)
    issued = issue_ven(_ca(files), ven_name)
    with open_dr(data_dir, db_url) as (store, audit):
        enrolled = store.enrol(
            ven_name, aggregator, supply_point_id, issued.fingerprint, time.time()
        )
        pair = files.write(ven_name, issued.cert_pem, issued.key_pem)
        audit.record(
            _actor(),
            "dr.ven_enrolled",
            time.time(),
            PURPOSE,
            supply_point_id,
            {"ven_name": ven_name, "aggregator_id": aggregator},
        )
    console.print(
        f"enrolled {ven_name} as {enrolled.ven_id}; certificate {pair.cert}, key {pair.key}"
    )


@ven.command("list")
@click.option("--aggregator", required=True)
@DATA_DIR
@DB
def ven_list(aggregator: str, data_dir: Path, db_url: str | None) -> None:
    """The aggregator's VENs."""
    with open_dr(data_dir, db_url) as (store, _):
        vens = store.vens_of(aggregator)
    table = Table("ven_name", "ven_id", "supply point", "registered", "revoked")
    for v in vens:
        table.add_row(
            v.ven_name, v.ven_id, v.supply_point_id, _when(v.registered_at), _when(v.revoked_at)
        )
    console.print(table)


@ven.command("revoke")
@click.argument("ven_name")
@DATA_DIR
@DB
def ven_revoke(ven_name: str, data_dir: Path, db_url: str | None) -> None:
    """Revoke a VEN: it can no longer register or send messages."""
    with open_dr(data_dir, db_url) as (store, audit):
        if not store.revoke(ven_name, time.time()):
            raise click.ClickException(f"no active VEN {ven_name}")
        audit.record(_actor(), "dr.ven_revoked", time.time(), PURPOSE, None, {"ven_name": ven_name})
    console.print(f"revoked {ven_name}")


def _when(epoch_s: float | None) -> str:
    if epoch_s is None:
        return ""
    return datetime.fromtimestamp(epoch_s, JST).isoformat(timespec="minutes")


@command.group()
def event() -> None:
    """DR events."""


@event.command("create")
@click.option("--aggregator", required=True)
@click.option(
    "--start",
    required=True,
    help="ISO 8601 with offset on the :00/:30 grid, e.g. 2026-07-15T13:00+09:00.",
)
@click.option(
    "--minutes", type=click.IntRange(30, 1440), required=True, help="Duration (a multiple of 30)."
)
@click.option("--level", type=click.IntRange(0, 3), default=None, help="SIMPLE level 0–3.")
@click.option("--target-w", type=float, default=None, help="Import limit per home [W].")
@click.option("--price", type=float, default=None, help="Price [JPY/kWh].")
@click.option(
    "--ven", "ven_names", multiple=True, help="Only these VENs (default: all the aggregator's)."
)
@DATA_DIR
@DB
def event_create(
    aggregator: str,
    start: str,
    minutes: int,
    level: int | None,
    target_w: float | None,
    price: float | None,
    ven_names: tuple[str, ...],
    data_dir: Path,
    db_url: str | None,
) -> None:
    """Create a DR event; a running `openami dr serve` distributes it within its poll time."""
    given = [
        (k, v)
        for k, v in (("level", level), ("target_w", target_w), ("price", price))
        if v is not None
    ]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --level, --target-w, --price")
    try:
        start_s = datetime.fromisoformat(start).timestamp()
        if datetime.fromisoformat(start).tzinfo is None:
            raise ValueError("--start needs a UTC offset, e.g. +09:00")
        dr_event = new_event(
            aggregator,
            given[0][0],
            float(given[0][1]),
            start_s,
            minutes * 60.0,
            time.time(),
            _actor(),
        )
    except (ValueError, EventWindowError) as exc:
        raise click.BadParameter(str(exc)) from None
    with open_dr(data_dir, db_url) as (store, audit):
        participants = store.create_event(dr_event, list(ven_names) or None)
        audit.record(
            _actor(),
            "dr.event_created",
            time.time(),
            PURPOSE,
            dr_event.event_id,
            {
                "aggregator_id": aggregator,
                "signal": dr_event.signal,
                "value": dr_event.value,
                "vens": len(participants),
            },
        )
    console.print(
        f"event {dr_event.event_id}: {dr_event.signal}={dr_event.value:g}"
        f" for {len(participants)} VEN(s)"
    )


@event.command("cancel")
@click.argument("event_id")
@click.option("--aggregator", required=True)
@DATA_DIR
@DB
def event_cancel(event_id: str, aggregator: str, data_dir: Path, db_url: str | None) -> None:
    """Cancel an event; a running VTN tells its VENs on their next poll."""
    with open_dr(data_dir, db_url) as (store, audit):
        if not store.cancel_event(event_id, aggregator):
            raise click.ClickException(
                f"{aggregator} has no pending or distributed event {event_id}"
            )
        audit.record(_actor(), "dr.event_cancelled", time.time(), PURPOSE, event_id, {})
    console.print(f"cancelled {event_id}")


@event.command("list")
@DATA_DIR
@DB
def event_list(data_dir: Path, db_url: str | None) -> None:
    """The latest events with their participants' answers."""
    with open_dr(data_dir, db_url) as (store, _):
        rows = [(e, store.participants(e.event_id)) for e in store.events()]
    table = Table(
        "event_id", "aggregator", "signal", "start", "min", "status", "in", "out", "no answer"
    )
    for e, ps in rows:
        opts = [p.opt for p in ps]
        table.add_row(
            e.event_id,
            e.aggregator_id,
            f"{e.signal}={e.value:g}",
            _when(e.start_s),
            str(int(e.duration_s // 60)),
            e.status,
            str(opts.count("optIn")),
            str(opts.count("optOut")),
            str(opts.count("none")),
        )
    console.print(table)


@event.command("results")
@click.argument("event_id")
@DATA_DIR
def event_results(event_id: str, data_dir: Path) -> None:
    """Baseline (High 4 of 5, same-day adjustment), actual use and reduction per customer."""
    with open_mdms(data_dir) as mdms:
        store = DrStore(open_in_data_dir(data_dir))
        try:
            dr_event = store.event(event_id)
            if dr_event is None:
                raise click.ClickException(f"no event {event_id}")
            settled = settle_stored_event(MdmsReports(mdms), mdms.registry, store, dr_event)
        finally:
            store.database.close()
    table = Table(
        "supply point", "opt", "status", "baseline kWh", "actual kWh", "reduction kWh", "days"
    )
    for r in settled.customers.to_pylist():
        table.add_row(
            r["supply_point_id"],
            r["opt"],
            r["status"],
            f"{r['baseline_wh'] / 1000:.3f}",
            f"{r['actual_wh'] / 1000:.3f}",
            f"{r['reduction_wh'] / 1000:.3f}",
            " ".join(d.isoformat()[5:] for d in r["baseline_days"]),
        )
    console.print(table)
    console.print(
        f"aggregator total (opted in, complete): {settled.total_reduction_wh / 1000:.3f} kWh"
    )


@command.command()
@DATA_DIR
@DB
@CERTS
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--poll-s",
    type=click.FloatRange(1, 3600),
    default=10.0,
    show_default=True,
    help="How often VENs poll, and how often new events are picked up.",
)
def serve(
    data_dir: Path, db_url: str | None, certs: Path | None, host: str, port: int, poll_s: float
) -> None:
    """Run the VTN (HTTPS, mutual TLS) until interrupted."""
    files = _files(data_dir, certs)
    _ca(files)
    if not files.exists("vtn"):
        raise click.ClickException(
            f"no VTN certificate in {files.directory}: run `openami dr init`"
        )
    tls = VtnTls(files.pair("vtn").cert, files.pair("vtn").key, files.ca.cert)
    with open_dr(data_dir, db_url) as (store, _):
        vtn = DrVtn(store, RealClock(), tls, host=host, port=port, poll_s=poll_s)
        console.print(f"VTN at https://{host}:{port}{PATH_PREFIX} (Ctrl-C stops)")

        async def run() -> None:
            await vtn.start()
            try:
                await asyncio.Event().wait()
            finally:
                await vtn.stop()

        with suppress(KeyboardInterrupt):
            asyncio.run(run())
