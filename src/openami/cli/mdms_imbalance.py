"""`openami mdms imbalance` and `openami mdms loss-factors`: balancing groups' imbalance
per slot and area, and the loss factors it grosses metered energy up with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import click
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from openami.cli.mdms_common import DATA_DIR, open_mdms, parse_day
from openami.clock import RealClock
from openami.mdms.imbalance import ImbalanceError, ImbalanceRun, imbalance_of_day
from openami.mdms.loss_factors import LossFactorError, LossFactors
from openami.mdms.service import Mdms
from openami.mdms.settlement import RUN_KINDS
from openami.storage.repositories import open_database
from openami.storage.repositories.balancing import DemandPlanStore
from openami.storage.repositories.loss_factors import LossFactorFileError, LossFactorStore


@contextmanager
def _stores(data_dir: Path) -> Iterator[tuple[DemandPlanStore, LossFactors]]:
    registry_path = data_dir / "registry.sqlite"
    if not registry_path.exists():
        raise click.ClickException(f"no registry at {registry_path}")
    database = open_database(registry_path)
    try:
        yield DemandPlanStore(database), LossFactors(LossFactorStore(database))
    finally:
        database.close()


@click.command()
@click.option("--date", "day", required=True, help="JST day, YYYY-MM-DD.")
@click.option(
    "--kind",
    type=click.Choice(RUN_KINDS),
    default=None,
    help="From the newest settlement run of this kind (default: the newest of any kind).",
)
@click.option("--group", "balancing_group_id", default=None, help="One balancing group only.")
@click.option("--json", "as_json", is_flag=True, help="Print every slot row as one JSON object.")
@DATA_DIR
def imbalance(
    day: str, kind: str | None, balancing_group_id: str | None, as_json: bool, data_dir: Path
) -> None:
    """Imbalance per slot, balancing group and area: metered import ÷ (1 − loss rate)
    minus the group's demand plan, from the day's settlement run (run `openami mdms
    settle` first). > 0 is a shortfall (不足), < 0 a surplus (余剰). PV export is shown
    apart as the generation balance. The table sums the day; --json gives every slot."""
    the_day = parse_day(day, "--date")
    with open_mdms(data_dir) as mdms, _stores(data_dir) as (plans, losses):
        run = _run(mdms, plans, losses, the_day, kind, balancing_group_id)
    if as_json:
        click.echo(json.dumps(_as_json(run)))
    else:
        Console().print(_daily_table(run))


def _run(
    mdms: Mdms,
    plans: DemandPlanStore,
    losses: LossFactors,
    day: date,
    kind: str | None,
    group: str | None,
) -> ImbalanceRun:
    try:
        return imbalance_of_day(mdms, plans, losses, day, kind, group)
    except ImbalanceError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None


def _as_json(run: ImbalanceRun) -> dict[str, Any]:
    return {
        "date": run.day.isoformat(),
        "kind": run.kind,
        "settlement_run_id": run.settlement_run_id,
        "unit": "Wh",
        "rows": run.rows.to_pylist(),
    }


def _daily_table(run: ImbalanceRun) -> Table:
    title = (
        f"imbalance for {run.day} (JST) from settlement run {run.settlement_run_id} "
        f"({run.kind}), daily sums in kWh"
    )
    table = Table(title=title)
    heads = (
        "BG",
        "area",
        "class",
        "loss %",
        "metered",
        "actual",
        "plan",
        "shortfall",
        "surplus",
        "PV export",
    )
    for head in heads:
        table.add_column(head, justify="left" if head in ("BG", "area", "class") else "right")
    for r in daily_sums(run.rows):
        rate = r["loss_rate"]
        table.add_row(
            r["balancing_group_id"],
            r["area_code"],
            r["voltage_class"] or "-",
            "-" if rate is None else f"{100 * rate:.1f}",
            *(
                f"{r[k] / 1000:,.3f}"
                for k in (
                    "metered_import_wh",
                    "actual_wh",
                    "plan_wh",
                    "shortfall_wh",
                    "surplus_wh",
                    "generation_export_wh",
                )
            ),
        )
    return table


def daily_sums(rows: pa.Table) -> list[dict[str, Any]]:
    """Per (group, area): the day's sums, shortfall (Σ positive) and surplus (Σ −negative)."""
    imbalance = rows.column("imbalance_wh")
    with_parts = rows.append_column(
        "shortfall_wh", pc.max_element_wise(imbalance, 0.0)
    ).append_column("surplus_wh", pc.negate(pc.min_element_wise(imbalance, 0.0)))
    keys = ["balancing_group_id", "area_code"]
    sums = with_parts.group_by(keys).aggregate(
        [
            (c, "sum")
            for c in (
                "metered_import_wh",
                "actual_wh",
                "plan_wh",
                "shortfall_wh",
                "surplus_wh",
                "generation_export_wh",
            )
        ]
        + [("voltage_class", "max"), ("loss_rate", "max")]
    )
    out = []
    for r in sums.sort_by([(k, "ascending") for k in keys]).to_pylist():
        out.append({k.removesuffix("_sum").removesuffix("_max"): v for k, v in r.items()})
    return out


@click.command("loss-factors")
@click.option("--date", "day", default=None, help="Only the rates in force on this JST day.")
@click.option(
    "--load",
    "path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="First load this CSV (area_code,voltage_class,valid_from,loss_rate_pct,source).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@DATA_DIR
def loss_factors(day: str | None, path: Path | None, as_json: bool, data_dir: Path) -> None:
    """Network loss factors (損失率) per area and voltage class, effective-dated, with the
    source of each figure. The shipped example (openami/config/loss_factors.csv) is loaded
    when none are stored; --load adds or replaces rows (same area, class and valid_from)."""
    with _stores(data_dir) as (_, losses):
        now_s = RealClock().timestamp()
        try:
            if path is not None:
                click.echo(f"loaded {losses.load_file(path, now_s)} rows from {path}")
            losses.ensure_loaded(now_s)
        except (LossFactorError, LossFactorFileError) as exc:
            raise click.ClickException(str(exc)) from None
        if day is None:
            rows = [asdict(r) for r in losses.store.all()]
        else:
            rows = losses.in_force(parse_day(day, "--date")).to_pylist()
    if as_json:
        click.echo(json.dumps(rows, default=str))
        return
    table = Table(title="loss factors" + (f" in force on {day}" if day else ""))
    for head in ("area", "class", "from", "loss %", "source"):
        table.add_column(head, justify="right" if head == "loss %" else "left")
    for r in rows:
        table.add_row(
            r["area_code"],
            r["voltage_class"],
            str(r["valid_from"]),
            f"{100 * r['loss_rate']:.1f}",
            r["source"],
        )
    Console().print(table)
