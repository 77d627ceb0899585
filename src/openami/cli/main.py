"""Entry point of the ``openami`` command.

Each subcommand lives in its own module ``openami.cli.<name>`` exposing ``command`` (a click
command or group). The modules are imported only when their command runs: importing all of
them (the web app, Spark glue, every protocol) took ~3 s of CPU before any command started,
while ``openami mdms …`` needs a third of that. ``openami --help`` lists the commands from
the one-line summaries below (a test keeps them equal to each command's own help).
"""

from __future__ import annotations

import importlib

import click

from openami import __version__
from openami.log import configure

#: command name → its one-line summary (the first line of the module's command help)
SUBCOMMANDS: dict[str, str] = {
    "serve": "Run openami: the city's meters, head-end, MDMS, C-route API and dashboard.",
    "demo": "Simulate a city of smart meters, then serve the dashboard and the C-route API.",
    "mdms": "Meter data management: import register reads, export half-hour values, edit, "
    "estimate.",
    "plan": "Evaluate a communication-method mix for an area, KPIs per method side by side.",
    "broute": "B route: the smart meter seen by a HEMS over ECHONET Lite.",
    "hems": "HEMS: read a low-voltage smart meter (ECHONET Lite 0x028801) over the B route and "
    "control the home's appliances.",
    "appliances": "Home appliances as ECHONET Lite devices a HEMS controls.",
    "dlms": "A route over DLMS/COSEM (IEC 62056): meter emulator and head-end client.",
    "audit": "The audit log: every C-route request, every read of personal data, every MDMS edit.",
    "ops": "Operations: operator accounts, remote switching (held requests, four-eyes "
    "approval, emergency stop) and the retailer requests' back-office view.",
    "bus": "The NATS JetStream bus (see docs/deployment.md).",
    "thirdparty": "Meters installed by third parties: types i, i-2, ii and iii (seed section 2).",
    "assets": "Meter assets: models, lots, meters' lifecycle, certification, work orders.",
    "dr": "Demand response over OpenADR 2.0b: VTN, VEN enrolment, events, results.",
}


def load_command(name: str) -> click.Command:
    """Import ``openami.cli.<name>`` and return its command."""
    module = importlib.import_module(f"openami.cli.{name}")
    command: click.Command = module.command
    return command


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        return load_command(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in SUBCOMMANDS)
        rows = []
        for name, summary in SUBCOMMANDS.items():
            short = summary if len(summary) <= limit else summary[: max(limit - 3, 10)] + "..."
            rows.append((name, short))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
