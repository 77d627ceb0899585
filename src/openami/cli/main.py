"""Entry point of the ``openami`` command.

Each subcommand lives in its own module ``openami.cli.<name>`` exposing ``command`` (a click
command or group), imported here by name.
"""

from __future__ import annotations

import click

from openami import __version__
from openami.cli import (
    appliances,
    assets,
    audit,
    broute,
    bus,
    demo,
    dlms,
    dr,
    hems,
    mdms,
    ops,
    plan,
    serve,
    thirdparty,
)
from openami.log import configure

SUBCOMMANDS = {
    "serve": serve,
    "demo": demo,
    "mdms": mdms,
    "plan": plan,
    "broute": broute,
    "hems": hems,
    "appliances": appliances,
    "dlms": dlms,
    "audit": audit,
    "ops": ops,
    "bus": bus,
    "thirdparty": thirdparty,
    "assets": assets,
    "dr": dr,
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="openami")
@click.option(
    "--log-json", is_flag=True, help="Write logs as JSON lines (also OPENAMI_LOG_JSON=1)."
)
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING … (also OPENAMI_LOG_LEVEL).")
def cli(log_json: bool, log_level: str | None) -> None:
    """openami: an open-source smart metering system (AMI).

    Simulate a fleet of smart meters, collect their half-hour values over the A route,
    validate them in the MDMS and share them with retailers over the C route.
    Run `openami COMMAND --help` for each command.
    """
    configure(json_logs=log_json or None, level=log_level)


for _name, _module in SUBCOMMANDS.items():
    cli.add_command(_module.command, name=_name)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
