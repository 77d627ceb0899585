"""`openami mdms`: bulk import, CSV export, manual edits, estimation, settlement, billing,
completeness and the layout of stored values; each group of subcommands in its own module."""

from __future__ import annotations

import click

from openami.cli.mdms_conventional import (
    demand,
    meter_type,
    point_class,
    profile,
    reading_rate,
)
from openami.cli.mdms_imbalance import imbalance, loss_factors
from openami.cli.mdms_layout import compact, pack
from openami.cli.mdms_reports import bill, completeness_cmd, settle
from openami.cli.mdms_shared import shared_store
from openami.cli.mdms_values import edit, estimate, export, ingest
from openami.cli.mdms_wheeling import wheeling


@click.group()
def command() -> None:
    """Meter data management: import register reads, export half-hour values, edit, estimate.

    Every half-hour value carries a quality (measured, estimated, edited, missing, invalid,
    profiled), the VEE rule IDs that flagged it, the estimation method and whether it is
    final.
    Rules and methods are described in docs/mdms.md.
    """


for _subcommand in (
    ingest,
    export,
    edit,
    estimate,
    settle,
    bill,
    compact,
    completeness_cmd,
    pack,
    wheeling,
    shared_store,  # the shared interval store (issue 13 §3)
):
    command.add_command(_subcommand)
for _subcommand in (imbalance, loss_factors):  # balancing groups (issue #16 §2)
    command.add_command(_subcommand)
for _subcommand in (meter_type, point_class, profile, demand, reading_rate):  # issue 16 §4
    command.add_command(_subcommand)
